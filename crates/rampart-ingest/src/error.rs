use crate::Format;

/// Why one file could not be read. Each message says what was wrong with the file and, where
/// there is one, what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes, over the limit of {limit}; split it or raise [retrieval] max_file_bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("the file is binary, not text or a supported document format (txt, md, html, pdf, docx, json, jsonl, csv)")]
    Binary,
    #[error(".{extension} files are not supported: {hint}")]
    Unsupported { extension: String, hint: String },
    #[error("the {format} file is corrupt: {reason}")]
    Corrupt { format: Format, reason: String },
    #[error("the {format} file has no text to index (a scanned PDF needs OCR first)")]
    NoText { format: Format },
}
