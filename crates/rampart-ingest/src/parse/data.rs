//! Structured data as text a retriever can match: each JSON record, JSON Lines line or CSV
//! row becomes one paragraph of `field: value` lines, so a chunk holds whole records and a
//! citation points at one. Top-level JSON keys holding objects or arrays become headings.

use serde_json::Value;

use crate::text::Sections;
use crate::{Format, ParseError, Section};

/// Object nesting that still becomes headings; deeper members are flattened to dotted paths.
const HEADING_DEPTH: u8 = 3;

pub(super) fn json(text: &str) -> Result<Vec<Section>, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|error| ParseError::Corrupt {
        format: Format::Json,
        reason: format!("line {} column {}: {error}", error.line(), error.column()),
    })?;
    let mut sections = Sections::default();
    render(&mut sections, &value, 1);
    Ok(sections.finish())
}

pub(super) fn json_lines(text: &str) -> Result<Vec<Section>, ParseError> {
    let mut sections = Sections::default();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|error| ParseError::Corrupt {
            format: Format::Jsonl,
            reason: format!("line {}: {error}", number + 1),
        })?;
        sections.paragraph(&record(&value));
    }
    Ok(sections.finish())
}

pub(super) fn csv(text: &str, name: &str) -> Result<Vec<Section>, ParseError> {
    let first_line = text.lines().next().unwrap_or_default();
    let tab_separated =
        name.to_ascii_lowercase().ends_with(".tsv") || (first_line.contains('\t') && !first_line.contains(','));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tab_separated { b'\t' } else { b',' })
        .flexible(true)
        .from_reader(text.as_bytes());
    let corrupt = |error: csv::Error| ParseError::Corrupt {
        format: Format::Csv,
        reason: match error.position() {
            Some(position) => format!("line {}: {error}", position.line()),
            None => error.to_string(),
        },
    };
    let headers: Vec<String> =
        reader.headers().map_err(corrupt)?.iter().map(|header| header.trim().to_owned()).collect();
    let mut sections = Sections::default();
    for row in reader.records() {
        let row = row.map_err(corrupt)?;
        let lines: Vec<String> = row
            .iter()
            .enumerate()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(column, value)| {
                let header = headers.get(column).filter(|header| !header.is_empty()).cloned();
                format!("{}: {}", header.unwrap_or_else(|| format!("column {}", column + 1)), value.trim())
            })
            .collect();
        sections.paragraph(&lines.join("\n"));
    }
    Ok(sections.finish())
}

fn render(sections: &mut Sections, value: &Value, level: u8) {
    match value {
        Value::Object(members) if level <= HEADING_DEPTH => {
            let scalars: Vec<String> = members
                .iter()
                .filter(|(_, member)| !is_compound(member))
                .map(|(key, member)| format!("{key}: {}", scalar(member)))
                .collect();
            sections.paragraph(&scalars.join("\n"));
            for (key, member) in members.iter().filter(|(_, member)| is_compound(member)) {
                sections.heading(level, key);
                render(sections, member, level + 1);
            }
        }
        Value::Array(items) if items.iter().any(is_compound) => {
            for item in items {
                sections.paragraph(&record(item));
            }
        }
        Value::Array(items) => {
            sections.paragraph(&items.iter().map(scalar).collect::<Vec<_>>().join("\n"));
        }
        other => sections.paragraph(&record(other)),
    }
}

/// One value as `path: value` lines.
fn record(value: &Value) -> String {
    let mut lines = Vec::new();
    flatten(value, "", &mut lines);
    lines.join("\n")
}

fn flatten(value: &Value, path: &str, lines: &mut Vec<String>) {
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                flatten(member, &join(key), lines);
            }
        }
        Value::Array(items) if items.iter().any(is_compound) => {
            for (index, item) in items.iter().enumerate() {
                flatten(item, &format!("{path}[{index}]"), lines);
            }
        }
        Value::Array(items) => {
            let values: Vec<String> = items.iter().map(scalar).collect();
            lines.push(labelled(path, &values.join(", ")));
        }
        Value::Null => {}
        scalar_value => lines.push(labelled(path, &scalar(scalar_value))),
    }
}

fn labelled(path: &str, value: &str) -> String {
    if path.is_empty() { value.to_owned() } else { format!("{path}: {value}") }
}

fn is_compound(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_become_headed_sections_and_records() {
        let sections = json(
            r#"{"service": "billing", "owners": [{"name": "Ana", "team": {"id": 7}}, {"name": "Bo"}],
                "limits": {"rps": 50, "burst": [1, 2]}}"#,
        )
        .unwrap();
        assert_eq!(sections[0].paragraphs, ["service: billing"]);
        assert_eq!(sections[1].heading, ["owners"]);
        assert_eq!(sections[1].paragraphs, ["name: Ana\nteam.id: 7", "name: Bo"]);
        assert_eq!(sections[2].heading, ["limits"]);
        assert_eq!(sections[2].paragraphs, ["rps: 50"]);
        assert_eq!(sections[3].heading, ["limits", "burst"]);
    }

    #[test]
    fn bad_json_names_the_position() {
        let error = json("{\n  \"a\": ,\n}").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
        let error = json_lines("{\"a\":1}\n\n{oops}\n").unwrap_err();
        assert!(error.to_string().contains("line 3"), "{error}");
    }

    #[test]
    fn json_lines_are_one_record_each() {
        let sections =
            json_lines("{\"q\":\"reset password\",\"tags\":[\"auth\",\"sso\"]}\n{\"q\":\"quota\"}\n").unwrap();
        assert_eq!(sections[0].paragraphs, ["q: reset password\ntags: auth, sso", "q: quota"]);
    }

    #[test]
    fn csv_rows_are_labelled_by_header() {
        let sections = csv("host,role,notes\ndb1,primary,\"fails over, slowly\"\ndb2,replica\n", "hosts.csv").unwrap();
        assert_eq!(
            sections[0].paragraphs,
            ["host: db1\nrole: primary\nnotes: fails over, slowly", "host: db2\nrole: replica"]
        );
        let tsv = csv("a\tb\n1\t2\n", "data.tsv").unwrap();
        assert_eq!(tsv[0].paragraphs, ["a: 1\nb: 2"]);
    }
}
