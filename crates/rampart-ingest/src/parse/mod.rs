//! One parser per format, all producing [`ParsedDocument`].

mod data;
mod docx;
mod html;
mod markdown;
mod pdf;

use crate::text::{self, Sections};
use crate::{Format, ParseError, ParseLimits, ParsedDocument};

/// Reads one file. `name` is used for its extension only.
pub fn parse(name: &str, bytes: &[u8], limits: &ParseLimits) -> Result<ParsedDocument, ParseError> {
    let size = bytes.len() as u64;
    if size > limits.max_bytes {
        return Err(ParseError::TooLarge { size, limit: limits.max_bytes });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let format = Format::detect(name, bytes)?;
    let (title, sections) = match format {
        Format::Text => (None, plain(&text::decode(bytes)?)),
        Format::Markdown => (None, markdown::parse(&text::decode(bytes)?)),
        Format::Html => html::parse(&text::decode(bytes)?),
        Format::Pdf => pdf::parse(bytes)?,
        Format::Docx => docx::parse(bytes, limits)?,
        Format::Json => (None, data::json(&text::decode(bytes)?)?),
        Format::Jsonl => (None, data::json_lines(&text::decode(bytes)?)?),
        Format::Csv => (None, data::csv(&text::decode(bytes)?, name)?),
    };
    if sections.is_empty() {
        return Err(ParseError::NoText { format });
    }
    Ok(ParsedDocument { format, title, sections })
}

fn plain(text: &str) -> Vec<crate::Section> {
    let mut sections = Sections::default();
    let text = text.replace("\r\n", "\n");
    for paragraph in text::paragraphs(&text) {
        sections.paragraph(&paragraph);
    }
    sections.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_oversized_files_are_refused_before_parsing() {
        let limits = ParseLimits::with_max_bytes(10);
        assert_eq!(parse("a.txt", b"  \n\t", &limits), Err(ParseError::Empty));
        assert_eq!(parse("a.txt", b"", &limits), Err(ParseError::Empty));
        assert_eq!(parse("a.txt", b"eleven bytes", &limits), Err(ParseError::TooLarge { size: 12, limit: 10 }));
    }

    #[test]
    fn plain_text_splits_at_blank_lines() {
        let parsed = parse("notes.txt", b"first  line\nwraps\r\n\r\nsecond\n\n\n", &ParseLimits::default()).unwrap();
        assert_eq!(parsed.format, Format::Text);
        assert_eq!(parsed.sections[0].paragraphs, ["first line wraps", "second"]);
    }
}
