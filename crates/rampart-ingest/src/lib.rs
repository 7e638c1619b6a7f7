//! Turns files into text with structure, and text into chunks a retriever can cite.
//!
//! [`parse`] reads txt, Markdown, HTML, PDF, DOCX, JSON, JSON Lines and CSV into a
//! [`ParsedDocument`]: sections, each under its heading path (`["Install", "Linux"]`), made of
//! paragraphs. [`chunk`] then cuts each section into pieces of at most
//! [`ChunkerConfig::max_tokens`], breaking at paragraph, then sentence, then word boundaries,
//! and repeating [`ChunkerConfig::overlap_tokens`] of the previous piece so a sentence cut
//! in two is still found whole. A chunk never spans two sections, so its heading path is a
//! true citation.
//!
//! Everything here is synchronous CPU work with no I/O: callers run it on a blocking pool.

mod chunk;
mod error;
mod format;
mod parse;
mod text;

pub use chunk::{Chunk, ChunkerConfig, TokenCounter, WordEstimate, chunk};
pub use error::ParseError;
pub use format::Format;
pub use parse::parse;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Bounds on what one file may cost to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Largest decompressed part of an archive-based format (DOCX), so a zip bomb is refused
    /// instead of filling memory.
    pub max_expanded_bytes: u64,
}

impl ParseLimits {
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        ParseLimits { max_bytes, max_expanded_bytes: max_bytes.saturating_mul(8).max(64 * 1024 * 1024) }
    }
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits::with_max_bytes(32 * 1024 * 1024)
    }
}

/// A run of paragraphs under one heading path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Headings from the outermost in, e.g. `["Guide", "Install", "Linux"]`; empty before the
    /// first heading. PDF pages appear as `["page 3"]`.
    pub heading: Vec<String>,
    /// Paragraphs in reading order, each trimmed and non-empty.
    pub paragraphs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedDocument {
    pub format: Format,
    /// The document's own title (HTML `<title>`, DOCX core title, PDF info), when it has one.
    pub title: Option<String>,
    pub sections: Vec<Section>,
}

impl ParsedDocument {
    /// All text, sections and paragraphs separated by blank lines.
    pub fn text(&self) -> String {
        let paragraphs: Vec<&str> =
            self.sections.iter().flat_map(|section| section.paragraphs.iter().map(String::as_str)).collect();
        paragraphs.join("\n\n")
    }
}

/// Lower-case hex SHA-256 of the raw bytes: the document's content address.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
