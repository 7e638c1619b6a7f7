//! PDF: the text layer of each page, through `pdf-extract` (which decodes fonts, CMaps and
//! encodings properly, unlike a raw content-stream scan). Each page is a section headed
//! `page N`, so a citation says where to look. Scanned pages have no text layer; a PDF with
//! none at all is [`ParseError::NoText`].

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::text::{Sections, paragraphs};
use crate::{Format, ParseError, Section};

pub(super) fn parse(bytes: &[u8]) -> Result<(Option<String>, Vec<Section>), ParseError> {
    // The extractor panics on some malformed files instead of returning an error; a bad
    // upload must fail alone, not take the worker with it.
    let pages = catch_unwind(AssertUnwindSafe(|| pdf_extract::extract_text_from_mem_by_pages(bytes)))
        .map_err(|_| corrupt("the PDF structure could not be read"))?
        .map_err(|error| corrupt(&error.to_string()))?;
    let mut sections = Sections::default();
    for (number, page) in pages.iter().enumerate() {
        sections.replace_heading(&format!("page {}", number + 1));
        let page = page.replace("\r\n", "\n");
        for paragraph in paragraphs(&page) {
            sections.paragraph(&paragraph);
        }
    }
    Ok((None, sections.finish()))
}

fn corrupt(reason: &str) -> ParseError {
    ParseError::Corrupt { format: Format::Pdf, reason: reason.to_owned() }
}
