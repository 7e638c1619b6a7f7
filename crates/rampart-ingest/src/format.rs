//! Which parser a file gets: the extension names it, the first bytes confirm it.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    Json,
    Jsonl,
    Csv,
}

/// Extensions of formats people ask about that are not parsed, so the error names the way
/// out instead of calling the file binary.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("doc", "save it as .docx"),
    ("xls", "export the sheet as .csv"),
    ("xlsx", "export the sheet as .csv"),
    ("ppt", "save it as .pdf"),
    ("pptx", "save it as .pdf"),
    ("odt", "save it as .docx"),
    ("rtf", "save it as .docx or .txt"),
    ("epub", "convert it to .html or .pdf"),
];

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Text,
        Format::Markdown,
        Format::Html,
        Format::Pdf,
        Format::Docx,
        Format::Json,
        Format::Jsonl,
        Format::Csv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    /// The format a file name's extension names; `None` for no or an unknown extension.
    pub fn from_extension(name: &str) -> Option<Format> {
        let extension = extension(name)?;
        Some(match extension.as_str() {
            "txt" | "text" | "log" | "rst" | "adoc" => Format::Text,
            "md" | "markdown" | "mdown" | "mkd" => Format::Markdown,
            "html" | "htm" | "xhtml" => Format::Html,
            "pdf" => Format::Pdf,
            "docx" => Format::Docx,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "csv" | "tsv" => Format::Csv,
            _ => return None,
        })
    }

    /// The format of `bytes` named `name`. Magic numbers win over an extension that
    /// disagrees in kind (a PDF renamed `.txt` is still a PDF); text content under an
    /// unknown extension is text.
    pub fn detect(name: &str, bytes: &[u8]) -> Result<Format, crate::ParseError> {
        if bytes.starts_with(b"%PDF-") {
            return Ok(Format::Pdf);
        }
        let named = Format::from_extension(name);
        if bytes.starts_with(b"PK\x03\x04") {
            return match named {
                Some(Format::Docx) | None => Ok(Format::Docx),
                Some(other) => Err(crate::ParseError::Corrupt {
                    format: other,
                    reason: "the file is a zip archive, not text".into(),
                }),
            };
        }
        if let Some(format) = named {
            return Ok(format);
        }
        if let Some(extension) = extension(name)
            && let Some((_, hint)) = UNSUPPORTED.iter().find(|(unsupported, _)| *unsupported == extension)
        {
            return Err(crate::ParseError::Unsupported { extension, hint: (*hint).to_owned() });
        }
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).trim_start().to_ascii_lowercase();
        if head.starts_with("<!doctype html") || head.starts_with("<html") {
            return Ok(Format::Html);
        }
        Ok(Format::Text)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn extension(name: &str) -> Option<String> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, extension) = file.rsplit_once('.')?;
    (!stem.is_empty()).then(|| extension.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseError;

    #[test]
    fn extensions_name_formats_case_insensitively() {
        assert_eq!(Format::from_extension("notes/Guide.MD"), Some(Format::Markdown));
        assert_eq!(Format::from_extension("a.ndjson"), Some(Format::Jsonl));
        assert_eq!(Format::from_extension("report.pdf"), Some(Format::Pdf));
        assert_eq!(Format::from_extension(".bashrc"), None);
        assert_eq!(Format::from_extension("README"), None);
    }

    #[test]
    fn magic_numbers_beat_extensions() {
        assert_eq!(Format::detect("renamed.txt", b"%PDF-1.7\n...").unwrap(), Format::Pdf);
        assert_eq!(Format::detect("blob", b"PK\x03\x04rest").unwrap(), Format::Docx);
        assert!(matches!(
            Format::detect("data.csv", b"PK\x03\x04rest"),
            Err(ParseError::Corrupt { format: Format::Csv, .. })
        ));
        assert_eq!(Format::detect("page", b"  <!DOCTYPE html><p>x").unwrap(), Format::Html);
        assert_eq!(Format::detect("LICENSE", b"Apache License").unwrap(), Format::Text);
    }

    #[test]
    fn known_unsupported_formats_say_what_to_do() {
        let error = Format::detect("budget.xlsx", b"\xd0\xcf\x11\xe0").unwrap_err();
        assert!(error.to_string().contains(".csv"), "{error}");
    }
}
