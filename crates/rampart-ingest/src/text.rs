//! Text helpers every parser shares: decoding bytes to text and building sections.

use crate::{ParseError, Section};

/// Decodes a text file: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252 for
/// legacy files. Bytes that look like a program or an image (NUL bytes, many control
/// characters) are [`ParseError::Binary`].
pub(crate) fn decode(bytes: &[u8]) -> Result<String, ParseError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_utf8(rest);
    }
    for (bom, encoding) in [(b"\xFF\xFE", encoding_rs::UTF_16LE), (b"\xFE\xFF", encoding_rs::UTF_16BE)] {
        if bytes.starts_with(bom) {
            let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[2..]);
            return if had_errors || looks_binary(&text) { Err(ParseError::Binary) } else { Ok(text.into_owned()) };
        }
    }
    decode_utf8(bytes)
}

fn decode_utf8(bytes: &[u8]) -> Result<String, ParseError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) if bytes.contains(&0) => return Err(ParseError::Binary),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(),
    };
    if looks_binary(&text) {
        return Err(ParseError::Binary);
    }
    Ok(text)
}

/// NUL anywhere, or more than 1 in 20 of the first 8 KiB's characters a control character
/// other than whitespace.
fn looks_binary(text: &str) -> bool {
    if text.contains('\0') {
        return true;
    }
    let sample = text.chars().take(8192);
    let (mut total, mut control) = (0usize, 0usize);
    for character in sample {
        total += 1;
        if character.is_control() && !matches!(character, '\n' | '\r' | '\t' | '\x0C') {
            control += 1;
        }
    }
    control * 20 > total
}

/// Collapses runs of whitespace to one space and trims.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Splits plain text into paragraphs at blank lines, collapsing the whitespace inside each.
pub(crate) fn paragraphs(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split("\n\n")
        .flat_map(|block| block.split("\r\n\r\n"))
        .map(collapse_whitespace)
        .filter(|paragraph| !paragraph.is_empty())
}

/// Accumulates paragraphs under a heading path that headings at numbered levels change.
#[derive(Debug, Default)]
pub(crate) struct Sections {
    done: Vec<Section>,
    heading: Vec<(u8, String)>,
    paragraphs: Vec<String>,
}

impl Sections {
    /// A heading of `level` (1 outermost) closes the current section and replaces every
    /// heading at its level or deeper.
    pub(crate) fn heading(&mut self, level: u8, title: &str) {
        let title = collapse_whitespace(title);
        if title.is_empty() {
            return;
        }
        self.close();
        self.heading.retain(|(existing, _)| *existing < level);
        self.heading.push((level, title));
    }

    pub(crate) fn paragraph(&mut self, text: &str) {
        let text = text.trim();
        if !text.is_empty() {
            self.paragraphs.push(text.to_owned());
        }
    }

    /// Starts a new section under a fixed heading path (PDF pages), dropping any heading.
    pub(crate) fn replace_heading(&mut self, title: &str) {
        self.close();
        self.heading = vec![(1, title.to_owned())];
    }

    fn close(&mut self) {
        if self.paragraphs.is_empty() {
            return;
        }
        self.done.push(Section {
            heading: self.heading.iter().map(|(_, title)| title.clone()).collect(),
            paragraphs: std::mem::take(&mut self.paragraphs),
        });
    }

    pub(crate) fn finish(mut self) -> Vec<Section> {
        self.close();
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_utf16_and_legacy_text() {
        assert_eq!(decode("héllo".as_bytes()).unwrap(), "héllo");
        assert_eq!(decode(b"\xEF\xBB\xBFbom").unwrap(), "bom");
        assert_eq!(decode(b"\xFF\xFEh\0i\0").unwrap(), "hi");
        assert_eq!(decode(b"caf\xE9").unwrap(), "café");
    }

    #[test]
    fn binary_is_refused() {
        assert_eq!(decode(b"\x7FELF\x02\x01\x01\0\0\0"), Err(ParseError::Binary));
        let noise: Vec<u8> = (0..400u32).map(|i| (i % 9) as u8 + 1).collect();
        assert_eq!(decode(&noise), Err(ParseError::Binary));
    }

    #[test]
    fn headings_nest_by_level() {
        let mut sections = Sections::default();
        sections.paragraph("preface");
        sections.heading(1, "Guide");
        sections.heading(2, "Install");
        sections.paragraph("step one");
        sections.heading(2, "Use");
        sections.paragraph("run it");
        sections.heading(1, "Appendix");
        sections.paragraph("notes");
        let headings: Vec<Vec<String>> = sections.finish().into_iter().map(|section| section.heading).collect();
        assert_eq!(
            headings,
            vec![
                vec![],
                vec!["Guide".to_owned(), "Install".into()],
                vec!["Guide".into(), "Use".into()],
                vec!["Appendix".into()]
            ]
        );
    }
}
