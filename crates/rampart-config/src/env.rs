//! `${VAR}` interpolation and `RAMPART_SECTION__KEY` overrides, applied to the parsed table.

use crate::error::ConfigError;
use crate::locate::{KeyPath, line_of};

/// Environment variables that configure the CLI rather than the config tree.
pub(crate) const OVERRIDE_PREFIX: &str = "RAMPART_";
const OVERRIDE_SEPARATOR: &str = "__";

/// Replaces `${VAR}` and `${VAR:-default}` in every string value; `$${` stays a literal `${`.
pub(crate) fn interpolate(
    table: &mut toml::Table,
    vars: &[(String, String)],
    text: &str,
    file: &str,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter_mut() {
        interpolate_value(value, &KeyPath::default().key(key), vars, text, file)?;
    }
    Ok(())
}

fn interpolate_value(
    value: &mut toml::Value,
    path: &KeyPath,
    vars: &[(String, String)],
    text: &str,
    file: &str,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(string) if string.contains("${") => {
            *string = expand(string, vars).map_err(|var| ConfigError::MissingVariable {
                file: file.to_owned(),
                line: line_of(text, path),
                key: path.to_string(),
                var,
            })?;
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_value(item, &path.index(index), vars, text, file)?;
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                interpolate_value(item, &path.key(key), vars, text, file)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expands one string; on a missing variable with no default, returns its name.
pub(crate) fn expand(input: &str, vars: &[(String, String)]) -> Result<String, String> {
    let mut output = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find('$') {
        output.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(escaped) = after.strip_prefix("$${") {
            output.push_str("${");
            rest = escaped;
        } else if let Some(body) = after.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                output.push_str(after);
                rest = "";
                break;
            };
            let expression = &body[..end];
            let (name, default) = match expression.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expression, None),
            };
            let found = vars.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
            match (found, default) {
                (Some(value), _) if !(value.is_empty() && default.is_some()) => output.push_str(value),
                (_, Some(default)) => output.push_str(default),
                (None, None) => return Err(name.to_owned()),
                (Some(value), None) => output.push_str(value),
            }
            rest = &body[end + 1..];
        } else {
            output.push('$');
            rest = &after[1..];
        }
    }
    output.push_str(rest);
    Ok(output)
}

/// The override variables present, sorted for a deterministic order.
pub(crate) fn overrides(vars: &[(String, String)]) -> Vec<(&str, Vec<String>, &str)> {
    let mut found: Vec<_> = vars
        .iter()
        .filter_map(|(name, value)| {
            let rest = name.strip_prefix(OVERRIDE_PREFIX)?;
            if !rest.contains(OVERRIDE_SEPARATOR) {
                return None;
            }
            let path = rest.split(OVERRIDE_SEPARATOR).map(str::to_ascii_lowercase).collect();
            Some((name.as_str(), path, value.as_str()))
        })
        .collect();
    found.sort_by(|left, right| left.0.cmp(right.0));
    found
}

/// Sets the value at `path`, creating tables on the way; numeric segments index arrays
/// (`RAMPART_BACKENDS__0__API_KEY` sets `backends[0].api_key`).
pub(crate) fn set_path(table: &mut toml::Table, var: &str, path: &[String], raw: &str) -> Result<(), ConfigError> {
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_in(&mut root, path, raw, var);
    if let toml::Value::Table(restored) = root {
        *table = restored;
    }
    result
}

fn set_in(value: &mut toml::Value, path: &[String], raw: &str, var: &str) -> Result<(), ConfigError> {
    let error = |message: String| ConfigError::Env { var: var.to_owned(), message };
    let Some((first, rest)) = path.split_first() else {
        return Err(error("names no config key".to_owned()));
    };
    let child = match value {
        toml::Value::Table(table) => {
            if rest.is_empty() {
                table.insert(first.clone(), parse_override_value(raw));
                return Ok(());
            }
            // A numeric next segment indexes a list (`BACKENDS__0__...`), which must exist.
            let next_is_index = rest.first().is_some_and(|next| next.parse::<usize>().is_ok());
            table.entry(first.clone()).or_insert_with(|| {
                if next_is_index { toml::Value::Array(Vec::new()) } else { toml::Value::Table(toml::Table::new()) }
            })
        }
        toml::Value::Array(items) => {
            let len = items.len();
            let index: usize = first
                .parse()
                .map_err(|_| error(format!("'{first}' should be an index into a list of {len} entries")))?;
            let child = items
                .get_mut(index)
                .ok_or_else(|| error(format!("index {index} is past the end of a list of {len} entries")))?;
            if rest.is_empty() {
                *child = parse_override_value(raw);
                return Ok(());
            }
            child
        }
        _ => return Err(error(format!("'{first}' is inside a value that is not a table"))),
    };
    set_in(child, rest, raw, var)
}

/// Override values are read as TOML values (`8080`, `true`, `["a","b"]`) and otherwise as strings.
fn parse_override_value(raw: &str) -> toml::Value {
    let wrapped = format!("value = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut table) => table.remove("value").unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    #[test]
    fn expands_variables_defaults_and_escapes() {
        let env = vars(&[("KEY", "secret"), ("EMPTY", "")]);
        assert_eq!(expand("Bearer ${KEY}", &env), Ok("Bearer secret".to_owned()));
        assert_eq!(expand("${MISSING:-fallback}", &env), Ok("fallback".to_owned()));
        assert_eq!(expand("${EMPTY:-fallback}", &env), Ok("fallback".to_owned()));
        assert_eq!(expand("$${KEY} costs $5", &env), Ok("${KEY} costs $5".to_owned()));
        assert_eq!(expand("${MISSING}", &env), Err("MISSING".to_owned()));
    }

    #[test]
    fn override_values_are_typed() {
        assert_eq!(parse_override_value("8080"), toml::Value::Integer(8080));
        assert_eq!(parse_override_value("true"), toml::Value::Boolean(true));
        assert_eq!(parse_override_value("127.0.0.1:9"), toml::Value::String("127.0.0.1:9".to_owned()));
    }
}
