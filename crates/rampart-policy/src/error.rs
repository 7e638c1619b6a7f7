//! Why a policy bundle was refused.

use std::path::PathBuf;

/// A bundle that cannot serve: nothing of it is used, and whatever served before keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy bundle {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("policy file {path} is not UTF-8")]
    NotUtf8 { path: PathBuf },

    #[error("policy bundle {dir} has no .rego files (test files `*_test.rego` do not count)")]
    NoPolicies { dir: PathBuf },

    /// Rego that does not parse or compile; `file` and `line` are where regorus placed it.
    #[error("{}: {message}", location(file, *line))]
    Rego { file: String, line: Option<u32>, message: String },

    #[error("{file}: not a JSON object to merge as data: {message}")]
    Data { file: String, message: String },

    /// The bundle compiled, but evaluating `data.rampart.decision` on the built-in sample input
    /// failed or did not produce a well-formed decision.
    #[error("smoke evaluation of {entrypoint} failed: {message}")]
    SmokeEvaluation { entrypoint: String, message: String },
}

fn location(file: &str, line: Option<u32>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    }
}

impl PolicyError {
    /// Turns a regorus error into `Rego`, taking file and line from its `--> file:line:col`
    /// marker when it has one (parse and compile errors do), else naming `fallback_file`.
    /// (regorus errors are `anyhow::Error`s; `{:#}` prints their whole chain.)
    pub(crate) fn from_regorus(error: &dyn std::fmt::Display, fallback_file: &str) -> Self {
        let text = format!("{error:#}");
        let (file, line) = source_location(&text)
            .map(|(file, line)| (file.to_owned(), Some(line)))
            .unwrap_or_else(|| (fallback_file.to_owned(), None));
        PolicyError::Rego { file, line, message: regorus_message(&text) }
    }
}

/// `path:line` from regorus' `--> path:line:col` marker.
pub(crate) fn source_location(text: &str) -> Option<(&str, u32)> {
    let marker = text.find("--> ")?;
    let rest = text[marker + 4..].lines().next()?.trim();
    let mut parts = rest.rsplitn(3, ':');
    let _column = parts.next()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next()?;
    Some((file, line))
}

/// The `error: …` line of a regorus diagnostic (the rest is a source excerpt), or the whole
/// text when it has none.
pub(crate) fn regorus_message(text: &str) -> String {
    text.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regorus_diagnostics_give_file_line_and_message() {
        let text = "\n--> helpers_test.rego:44:43\n   |\n44 | x := y with input as z\n   |   ^\nerror: unexpected keyword `with`";
        assert_eq!(source_location(text), Some(("helpers_test.rego", 44)));
        assert_eq!(regorus_message(text), "unexpected keyword `with`");
        assert_eq!(source_location("plain failure"), None);
        assert_eq!(regorus_message(" plain failure\n"), "plain failure");
    }
}
