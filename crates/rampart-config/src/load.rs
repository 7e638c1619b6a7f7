//! Finding and reading the config file, then applying the environment.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::env::{interpolate, overrides, set_path};
use crate::error::ConfigError;
use crate::model::Config;
use crate::validate::validate;

/// Where the effective configuration came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    File(PathBuf),
    /// No file was found: built-in defaults plus environment overrides.
    Defaults,
}

impl ConfigSource {
    pub fn label(&self) -> String {
        match self {
            ConfigSource::File(path) => path.display().to_string(),
            ConfigSource::Defaults => "<defaults>".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub source: ConfigSource,
}

/// Loads the configuration: `explicit` (`--config`), else `RAMPART_CONFIG`, else
/// `./rampart.toml`, else `<user config dir>/rampart/rampart.toml`, else defaults.
pub fn load(explicit: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let source = find_source(explicit, &vars);
    let text = match &source {
        ConfigSource::File(path) => std::fs::read_to_string(path)
            .map_err(|error| ConfigError::Read { path: path.clone(), detail: error.to_string() })?,
        ConfigSource::Defaults => String::new(),
    };
    let config = load_from_str(&text, &source.label(), &vars)?;
    Ok(LoadedConfig { config, source })
}

fn find_source(explicit: Option<&Path>, vars: &[(String, String)]) -> ConfigSource {
    if let Some(path) = explicit {
        return ConfigSource::File(path.to_path_buf());
    }
    if let Some((_, path)) = vars.iter().find(|(key, value)| key == "RAMPART_CONFIG" && !value.is_empty()) {
        return ConfigSource::File(PathBuf::from(path));
    }
    let local = PathBuf::from("rampart.toml");
    if local.is_file() {
        return ConfigSource::File(local);
    }
    if let Some(user) = dirs::config_dir().map(|dir| dir.join("rampart").join("rampart.toml"))
        && user.is_file()
    {
        return ConfigSource::File(user);
    }
    ConfigSource::Defaults
}

/// Parses, interpolates, applies `RAMPART_*__*` overrides from `vars`, and validates.
/// `file` names the source in error messages.
pub fn load_from_str(text: &str, file: &str, vars: &[(String, String)]) -> Result<Config, ConfigError> {
    let parse_error = |error: toml::de::Error| ConfigError::Parse { file: file.to_owned(), message: error.to_string() };
    // Parsing the text straight into the typed tree reports unknown keys and wrong types with
    // their line and column; the table below is what the environment is applied to.
    toml::from_str::<Config>(text).map_err(parse_error)?;
    let mut table: toml::Table = toml::from_str(text).map_err(parse_error)?;
    interpolate(&mut table, vars, text, file)?;
    let mut overridden: Vec<(String, &str)> = Vec::new();
    for (var, path, raw) in overrides(vars) {
        set_path(&mut table, var, &path, raw)?;
        overridden.push((dotted(&path), var));
        Config::deserialize(toml::Value::Table(table.clone()))
            .map_err(|error| ConfigError::Env { var: var.to_owned(), message: error.message().to_owned() })?;
    }
    let config = Config::deserialize(toml::Value::Table(table)).map_err(parse_error)?;
    validate(&config, text, file).map_err(|error| blame_override(error, &overridden))?;
    Ok(config)
}

/// `backends.0.api_key` -> `backends[0].api_key`, the form validation errors use.
fn dotted(path: &[String]) -> String {
    let mut key = String::new();
    for segment in path {
        if segment.parse::<usize>().is_ok() {
            key.push_str(&format!("[{segment}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(segment);
        }
    }
    key
}

/// A bad value that came from an environment override is reported against the variable.
fn blame_override(error: ConfigError, overridden: &[(String, &str)]) -> ConfigError {
    match error {
        ConfigError::Invalid { key, message, .. } if overridden.iter().any(|(path, _)| *path == key) => {
            let var = overridden.iter().rev().find(|(path, _)| *path == key).map(|(_, var)| *var).unwrap_or_default();
            ConfigError::Env { var: var.to_owned(), message: format!("sets '{key}': {key} {message}") }
        }
        other => other,
    }
}
