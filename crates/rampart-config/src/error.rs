use std::path::PathBuf;

/// A configuration problem, phrased so that a user knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    /// Syntax errors, unknown keys and wrong types; `message` carries line and column.
    #[error("invalid config file {file}: {message}")]
    Parse { file: String, message: String },
    /// A value that parses but makes no sense (unknown backend, duplicate name, bad address).
    #[error("{}", render_invalid(.file, .line, .key, .message))]
    Invalid { file: String, line: Option<usize>, key: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{}", render_invalid(.file, .line, .key, &format!("refers to environment variable {var}, which is not set (set it, or write ${{{var}:-default}})")))]
    MissingVariable { file: String, line: Option<usize>, key: String, var: String },
}

fn render_invalid(file: &str, line: &Option<usize>, key: &str, message: &str) -> String {
    match line {
        Some(line) => format!("{file}:{line}: key '{key}' {message}"),
        None => format!("{file}: key '{key}' {message}"),
    }
}
