//! Structured data as text a retriever can match: each JSON record, JSON Lines line or CSV
//! row becomes one paragraph of `field: value` lines, so a chunk holds whole records and a
//! citation points at one. Top-level JSON keys holding objects or arrays become headings.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

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
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        compound => record(compound),
    }
}

/// A JSON value whose objects keep their members in document order. serde_json's own `Value`
/// sorts keys unless its `preserve_order` feature is on, and that feature would change every
/// crate's maps (features unify across a workspace), so documents get this type instead.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Value, E> {
        Ok(Value::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Value, E> {
        Ok(Value::Number(number.into()))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Value, E> {
        Ok(Value::Number(number.into()))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Value, E> {
        // JSON text cannot hold NaN or infinity, so `from_f64` only fails on input serde_json
        // never produces; null is the honest reading if it ever did.
        Ok(serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_owned()))
    }

    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(Value::String(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut values = Vec::with_capacity(items.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = items.next_element()? {
            values.push(item);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut members: Vec<(String, Value)> = Vec::new();
        while let Some((key, member)) = entries.next_entry::<String, Value>()? {
            // A repeated key keeps its first place and takes the last value, as serde_json does.
            match members.iter_mut().find(|(existing, _)| *existing == key) {
                Some(slot) => slot.1 = member,
                None => members.push((key, member)),
            }
        }
        Ok(Value::Object(members))
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
    fn json_keys_keep_document_order() {
        let sections = json(r#"{"zeta": 1, "alpha": 2, "mid": {"y": true, "b": null, "a": 1.5}}"#).unwrap();
        assert_eq!(sections[0].paragraphs, ["zeta: 1\nalpha: 2"]);
        assert_eq!(sections[1].heading, ["mid"]);
        assert_eq!(sections[1].paragraphs, ["y: true\nb: \na: 1.5"]);
        let repeated = json_lines(r#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        assert_eq!(repeated[0].paragraphs, ["b: 3\na: 2"]);
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
