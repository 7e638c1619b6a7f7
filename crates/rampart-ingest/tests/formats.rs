//! Every supported format end to end through `parse` and `chunk`, and every kind of bad
//! file with the error a user sees.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_ingest::{ChunkerConfig, Format, ParseError, ParseLimits, WordEstimate, chunk, parse};

/// A minimal, valid PDF with one Helvetica text line per page and a correct xref table.
fn pdf(pages: &[&str]) -> Vec<u8> {
    let mut objects: Vec<String> = Vec::new();
    let page_ids: Vec<usize> = (0..pages.len()).map(|page| 4 + page * 2).collect();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = page_ids.iter().map(|id| format!("{id} 0 R")).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into());
    for (page, text) in pages.iter().enumerate() {
        let content_id = page_ids[page] + 1;
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ));
        let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
        objects.push(format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

fn limits() -> ParseLimits {
    ParseLimits::default()
}

#[test]
fn pdf_pages_become_sections_headed_by_page() {
    let parsed =
        parse("manual.pdf", &pdf(&["Rotate the keys every ninety days.", "Backups run at midnight."]), &limits())
            .expect("a valid PDF parses");
    assert_eq!(parsed.format, Format::Pdf);
    assert_eq!(parsed.sections.len(), 2);
    assert_eq!(parsed.sections[0].heading, ["page 1"]);
    assert!(parsed.sections[0].paragraphs.join(" ").contains("Rotate the keys every ninety days."), "{parsed:?}");
    assert_eq!(parsed.sections[1].heading, ["page 2"]);
    assert!(parsed.sections[1].paragraphs.join(" ").contains("Backups run at midnight."), "{parsed:?}");
    let chunks = chunk(&parsed, &ChunkerConfig::default(), &WordEstimate);
    assert_eq!(chunks[1].heading, ["page 2"]);
}

#[test]
fn corrupt_and_truncated_pdfs_are_corrupt_not_panics() {
    for bytes in [b"%PDF-1.7\nthis is not a pdf at all".to_vec(), pdf(&["whole"])[..120].to_vec()] {
        match parse("broken.pdf", &bytes, &limits()) {
            Err(ParseError::Corrupt { format: Format::Pdf, reason }) => assert!(!reason.is_empty()),
            other => panic!("expected a corrupt-PDF error, got {other:?}"),
        }
    }
}

#[test]
fn a_pdf_without_a_text_layer_says_so() {
    let error = parse("scan.pdf", &pdf(&[""]), &limits()).unwrap_err();
    assert_eq!(error, ParseError::NoText { format: Format::Pdf });
    assert!(error.to_string().contains("OCR"));
}

#[test]
fn binary_files_are_refused_whatever_their_name() {
    let elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00";
    assert_eq!(parse("tool", elf, &limits()), Err(ParseError::Binary));
    assert_eq!(parse("notes.txt", elf, &limits()), Err(ParseError::Binary));
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10";
    assert_eq!(parse("diagram.md", png, &limits()), Err(ParseError::Binary));
}

#[test]
fn each_format_yields_text_under_its_headings() {
    // (file name, bytes, detected format, first paragraph, its heading path)
    type Case<'a> = (&'a str, &'a [u8], Format, &'a str, &'a [&'a str]);
    let cases: [Case; 6] = [
        ("guide.md", b"# Deploy\n\nShip on Fridays never.\n", Format::Markdown, "Ship on Fridays never.", &["Deploy"]),
        (
            "page.html",
            b"<html><body><h2>Contacts</h2><p>Call the on-call engineer.</p></body></html>",
            Format::Html,
            "Call the on-call engineer.",
            &["Contacts"],
        ),
        (
            "faq.json",
            br#"{"faq": [{"q": "Who approves?", "a": "The owner"}]}"#,
            Format::Json,
            "q: Who approves?\na: The owner",
            &["faq"],
        ),
        ("log.jsonl", b"{\"event\":\"deploy\",\"ok\":true}\n", Format::Jsonl, "event: deploy\nok: true", &[]),
        ("hosts.csv", b"host,role\ndb1,primary\n", Format::Csv, "host: db1\nrole: primary", &[]),
        ("README", b"Plain words.\n", Format::Text, "Plain words.", &[]),
    ];
    for (name, bytes, format, text, heading) in cases {
        let parsed = parse(name, bytes, &limits()).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(parsed.format, format, "{name}");
        let section = &parsed.sections[0];
        assert_eq!(section.heading, heading, "{name}");
        assert_eq!(section.paragraphs[0], text, "{name}");
    }
}

#[test]
fn errors_name_the_fix() {
    let too_large = ParseError::TooLarge { size: 100 << 20, limit: 32 << 20 };
    assert!(too_large.to_string().contains("[retrieval] max_file_bytes"));
    let unsupported = parse("deck.pptx", b"PK-looking but not zip", &limits()).unwrap_err();
    assert!(unsupported.to_string().contains(".pdf"), "{unsupported}");
}
