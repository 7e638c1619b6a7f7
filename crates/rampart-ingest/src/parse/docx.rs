//! DOCX: paragraphs of `word/document.xml`, with `Heading N` and `Title` paragraph styles as
//! headings and table rows as ` | `-separated lines. The title comes from
//! `docProps/core.xml`. Decompressed parts are bounded by
//! [`ParseLimits::max_expanded_bytes`](crate::ParseLimits).

use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::text::{Sections, collapse_whitespace};
use crate::{Format, ParseError, ParseLimits, Section};

pub(super) fn parse(bytes: &[u8], limits: &ParseLimits) -> Result<(Option<String>, Vec<Section>), ParseError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| corrupt(format!("not a readable zip archive ({error})")))?;
    let document = read_part(&mut archive, "word/document.xml", limits)?
        .ok_or_else(|| corrupt("no word/document.xml inside; is it a Word document?".into()))?;
    let title = read_part(&mut archive, "docProps/core.xml", limits)?.and_then(|core| core_title(&core));
    Ok((title, body(&document)?))
}

fn read_part(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limits: &ParseLimits,
) -> Result<Option<String>, ParseError> {
    let mut part = match archive.by_name(name) {
        Ok(part) => part,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(error) => return Err(corrupt(format!("{name}: {error}"))),
    };
    if part.size() > limits.max_expanded_bytes {
        return Err(corrupt(format!(
            "{name} expands to {} bytes, over the limit of {}",
            part.size(),
            limits.max_expanded_bytes
        )));
    }
    let mut text = String::new();
    // The declared size can lie; the reader is capped at the limit either way.
    (&mut part)
        .take(limits.max_expanded_bytes + 1)
        .read_to_string(&mut text)
        .map_err(|error| corrupt(format!("{name}: {error}")))?;
    if text.len() as u64 > limits.max_expanded_bytes {
        return Err(corrupt(format!("{name} expands past the limit of {} bytes", limits.max_expanded_bytes)));
    }
    Ok(Some(text))
}

fn body(xml: &str) -> Result<Vec<Section>, ParseError> {
    let mut reader = Reader::from_str(xml);
    let mut sections = Sections::default();
    let mut paragraph = String::new();
    let mut heading_level: Option<u8> = None;
    let mut in_text = false;
    let mut row: Vec<String> = Vec::new();
    let mut table_depth = 0usize;
    let mut table_lines: Vec<String> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|error| corrupt(format!("word/document.xml at byte {}: {error}", reader.buffer_position())))?;
        match event {
            Event::Start(element) | Event::Empty(element) if local(&element) == b"pStyle" => {
                heading_level = attribute(&element, b"val").and_then(|style| style_heading_level(&style));
            }
            Event::Start(element) if local(&element) == b"t" => in_text = true,
            Event::End(element) if element.local_name().as_ref() == b"t" => in_text = false,
            Event::Text(text) if in_text => {
                let decoded = text.decode().map_err(|error| corrupt(error.to_string()))?;
                paragraph.push_str(&quick_xml::escape::unescape(&decoded).map_err(|error| corrupt(error.to_string()))?);
            }
            Event::GeneralRef(reference) if in_text => {
                let name = reference.decode().map_err(|error| corrupt(error.to_string()))?;
                let entity = format!("&{name};");
                paragraph.push_str(&quick_xml::escape::unescape(&entity).unwrap_or_default());
            }
            Event::Empty(element) if matches!(local(&element), b"tab") => paragraph.push('\t'),
            Event::Empty(element) if matches!(local(&element), b"br" | b"cr") => paragraph.push('\n'),
            Event::Start(element) if local(&element) == b"tbl" => table_depth += 1,
            Event::End(element) if element.local_name().as_ref() == b"tbl" => {
                table_depth = table_depth.saturating_sub(1);
                if table_depth == 0 {
                    sections.paragraph(&table_lines.join("\n"));
                    table_lines.clear();
                }
            }
            Event::End(element) if element.local_name().as_ref() == b"p" => {
                let text = paragraph.lines().map(collapse_whitespace).collect::<Vec<_>>().join("\n");
                let text = text.trim();
                if table_depth > 0 {
                    if !text.is_empty() {
                        row.push(text.to_owned());
                    }
                } else if let Some(level) = heading_level {
                    sections.heading(level, text);
                } else {
                    sections.paragraph(text);
                }
                paragraph.clear();
                heading_level = None;
            }
            Event::End(element) if element.local_name().as_ref() == b"tr" && !row.is_empty() => {
                table_lines.push(row.join(" | "));
                row.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(sections.finish())
}

fn local<'a>(element: &'a BytesStart<'_>) -> &'a [u8] {
    let name = element.name().into_inner();
    name.rsplit(|byte| *byte == b':').next().unwrap_or(name)
}

fn attribute(element: &BytesStart<'_>, wanted: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.local_name().as_ref() == wanted)
        .map(|attribute| String::from_utf8_lossy(&attribute.value).into_owned())
}

/// `Heading1`…`Heading9` (and localised `heading 1`) are levels 1–9; `Title` is level 1.
fn style_heading_level(style: &str) -> Option<u8> {
    let lower = style.to_ascii_lowercase().replace(' ', "");
    if lower == "title" {
        return Some(1);
    }
    let digits = lower.strip_prefix("heading")?;
    digits.parse::<u8>().ok().filter(|level| (1..=9).contains(level))
}

fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(element) if local(&element) == b"title" => in_title = true,
            Event::Text(text) if in_title => {
                let title = collapse_whitespace(&text.decode().ok()?);
                return (!title.is_empty()).then_some(title);
            }
            Event::End(_) if in_title => return None,
            Event::Eof => return None,
            _ => {}
        }
    }
}

fn corrupt(reason: String) -> ParseError {
    ParseError::Corrupt { format: Format::Docx, reason }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    pub(crate) fn docx(document_xml: &str) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        writer.start_file("word/document.xml", options).unwrap();
        writer.write_all(document_xml.as_bytes()).unwrap();
        writer.start_file("docProps/core.xml", options).unwrap();
        writer
            .write_all(
                br#"<cp:coreProperties xmlns:cp="c" xmlns:dc="d"><dc:title>Runbook</dc:title></cp:coreProperties>"#,
            )
            .unwrap();
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn headings_paragraphs_and_tables() {
        let xml = r#"<w:document xmlns:w="w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Failover</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Promote the </w:t></w:r><w:r><w:t>replica &amp; wait.</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Step</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Owner</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#;
        let (title, sections) = parse(&docx(xml), &ParseLimits::default()).unwrap();
        assert_eq!(title.as_deref(), Some("Runbook"));
        assert_eq!(sections[0].heading, ["Failover"]);
        assert_eq!(sections[0].paragraphs, ["Promote the replica & wait.", "Step | Owner"]);
    }

    #[test]
    fn zip_without_a_document_and_bad_xml_are_corrupt() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer.start_file("other.txt", zip::write::SimpleFileOptions::default()).unwrap();
        writer.write_all(b"x").unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        let error = parse(&bytes, &ParseLimits::default()).unwrap_err();
        assert!(error.to_string().contains("word/document.xml"), "{error}");
        let error = parse(&docx("<w:document><w:p></w:document>"), &ParseLimits::default()).unwrap_err();
        assert!(matches!(error, ParseError::Corrupt { format: Format::Docx, .. }), "{error}");
    }

    #[test]
    fn expansion_past_the_limit_is_refused() {
        let big = format!("<w:document><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:document>", "a".repeat(5000));
        let limits = ParseLimits { max_bytes: 1 << 20, max_expanded_bytes: 1000 };
        let error = parse(&docx(&big), &limits).unwrap_err();
        assert!(error.to_string().contains("limit"), "{error}");
    }
}
