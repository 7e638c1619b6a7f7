//! HTML to sections: `<h1>`–`<h6>` are headings, block elements end paragraphs, list items
//! and table rows keep their own lines, and script, style and other non-content elements are
//! dropped. A tolerant scanner rather than a full HTML5 parser: pages people ingest are
//! often malformed, and text is all we need from them.

use crate::Section;
use crate::text::{Sections, collapse_whitespace};

/// Elements whose content is not prose.
const SKIPPED: &[&str] = &["script", "style", "noscript", "template", "svg", "head", "nav", "iframe", "object"];
/// Elements that end the paragraph before and after them.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "form",
    "fieldset",
    "figure",
    "figcaption",
    "hr",
    "address",
    "details",
    "summary",
    "body",
    "html",
];
/// Elements that end a line but not the paragraph.
const LINES: &[&str] = &["br", "li", "tr"];
const CELLS: &[&str] = &["td", "th"];

pub(super) fn parse(html: &str) -> (Option<String>, Vec<Section>) {
    let mut scanner = Scanner { html, position: 0, last_was_close: false };
    let mut sections = Sections::default();
    let mut paragraph = String::new();
    let mut title: Option<String> = None;
    let mut heading: Option<(u8, String)> = None;
    let mut preformatted = 0usize;
    while let Some(token) = scanner.next() {
        match token {
            Token::Text(raw) => {
                let text = decode_entities(raw);
                let target = match heading.as_mut() {
                    Some((_, heading)) => heading,
                    None => &mut paragraph,
                };
                if preformatted > 0 {
                    target.push_str(&text);
                } else {
                    // Words of adjacent text nodes (`the <b>nightly</b> job`) stay apart.
                    if text.starts_with(char::is_whitespace)
                        && !target.is_empty()
                        && !target.ends_with(char::is_whitespace)
                    {
                        target.push(' ');
                    }
                    target.push_str(&text.split_whitespace().collect::<Vec<_>>().join(" "));
                    if text.ends_with(char::is_whitespace) && !target.ends_with(char::is_whitespace) {
                        target.push(' ');
                    }
                }
            }
            Token::Open(name) if SKIPPED.contains(&name.as_str()) => {
                if name == "head" {
                    title = title.or_else(|| scanner.title_inside_head());
                }
                scanner.skip_to_close(&name);
            }
            Token::Open(name) if name == "title" => {
                let text = scanner.text_until_close("title");
                title = title.or(Some(collapse_whitespace(&decode_entities(&text))).filter(|title| !title.is_empty()));
            }
            Token::Open(name) if heading_level(&name).is_some() => {
                end_paragraph(&mut sections, &mut paragraph);
                heading = heading_level(&name).map(|level| (level, String::new()));
            }
            Token::Close(name) if heading_level(&name).is_some() => {
                if let Some((level, text)) = heading.take() {
                    sections.heading(level, &text);
                }
            }
            Token::Open(name) | Token::SelfClosing(name) | Token::Close(name) if BLOCKS.contains(&name.as_str()) => {
                end_paragraph(&mut sections, &mut paragraph);
                if name == "pre" {
                    preformatted =
                        if scanner.last_was_close { preformatted.saturating_sub(1) } else { preformatted + 1 };
                }
            }
            Token::Open(name) | Token::SelfClosing(name) if LINES.contains(&name.as_str()) => {
                new_line(&mut paragraph);
                if name == "li" {
                    paragraph.push_str("- ");
                }
            }
            Token::Open(name) if CELLS.contains(&name.as_str()) => {
                if !paragraph.ends_with('\n') && !paragraph.is_empty() {
                    paragraph.push_str(" | ");
                }
            }
            Token::Open(_) | Token::SelfClosing(_) | Token::Close(_) => {}
        }
    }
    if let Some((level, text)) = heading.take() {
        sections.heading(level, &text);
    }
    end_paragraph(&mut sections, &mut paragraph);
    (title, sections.finish())
}

fn heading_level(name: &str) -> Option<u8> {
    match name.as_bytes() {
        [b'h', digit @ b'1'..=b'6'] => Some(digit - b'0'),
        _ => None,
    }
}

fn new_line(paragraph: &mut String) {
    let trimmed = paragraph.trim_end_matches(' ').len();
    paragraph.truncate(trimmed);
    if !paragraph.is_empty() && !paragraph.ends_with('\n') {
        paragraph.push('\n');
    }
}

fn end_paragraph(sections: &mut Sections, paragraph: &mut String) {
    let lines: Vec<String> =
        paragraph.lines().map(str::trim).filter(|line| !line.is_empty() && *line != "-").map(str::to_owned).collect();
    sections.paragraph(&lines.join("\n"));
    paragraph.clear();
}

enum Token<'a> {
    Text(&'a str),
    Open(String),
    SelfClosing(String),
    Close(String),
}

struct Scanner<'a> {
    html: &'a str,
    position: usize,
    last_was_close: bool,
}

impl<'a> Scanner<'a> {
    fn rest(&self) -> &'a str {
        &self.html[self.position..]
    }

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return None;
            }
            if !rest.starts_with('<') {
                let end = rest.find('<').unwrap_or(rest.len());
                self.position += end;
                return Some(Token::Text(&rest[..end]));
            }
            if let Some(comment) = rest.strip_prefix("<!--") {
                self.position += 4 + comment.find("-->").map_or(comment.len(), |end| end + 3);
                continue;
            }
            if rest.starts_with("<!") || rest.starts_with("<?") {
                self.position += rest.find('>').map_or(rest.len(), |end| end + 1);
                continue;
            }
            let closing = rest.starts_with("</");
            let name_start = if closing { 2 } else { 1 };
            let name: String = rest[name_start..]
                .chars()
                .take_while(|character| character.is_ascii_alphanumeric() || *character == '-')
                .collect::<String>()
                .to_ascii_lowercase();
            if name.is_empty() {
                // A lone `<` in text, as in `a < b`.
                self.position += 1;
                return Some(Token::Text("<"));
            }
            let end = tag_end(rest).unwrap_or(rest.len());
            let self_closing = rest[..end].ends_with("/>");
            self.position += end;
            self.last_was_close = closing;
            return Some(if closing {
                Token::Close(name)
            } else if self_closing {
                Token::SelfClosing(name)
            } else {
                Token::Open(name)
            });
        }
    }

    /// Skips past `</name>` (case-insensitively), or to the end.
    fn skip_to_close(&mut self, name: &str) {
        let _skipped = self.text_until_close(name);
    }

    /// The raw text up to `</name>`, consuming the closing tag.
    fn text_until_close(&mut self, name: &str) -> String {
        let rest = self.rest();
        let lower = rest.to_ascii_lowercase();
        let needle = format!("</{name}");
        match lower.find(&needle) {
            Some(start) => {
                let end = tag_end(&rest[start..]).map_or(rest.len(), |end| start + end);
                self.position += end;
                rest[..start].to_owned()
            }
            None => {
                self.position = self.html.len();
                rest.to_owned()
            }
        }
    }

    /// The `<title>` inside a `<head>` whose opening tag was just read, without consuming.
    fn title_inside_head(&self) -> Option<String> {
        let rest = self.rest();
        let lower = rest.to_ascii_lowercase();
        let head_end = lower.find("</head").unwrap_or(lower.len());
        let start = lower[..head_end].find("<title")?;
        let open_end = start + tag_end(&rest[start..])?;
        let close = lower[open_end..head_end].find("</title")? + open_end;
        Some(collapse_whitespace(&decode_entities(&rest[open_end..close]))).filter(|title| !title.is_empty())
    }
}

/// Index just past the `>` that ends the tag at the start of `text`, skipping `>` inside
/// quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (index, character) in text.char_indices() {
        match (quote, character) {
            (Some(open), _) if character == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(character),
            (None, '>') => return Some(index + 1),
            _ => {}
        }
    }
    None
}

/// Decodes the named entities that occur in practice and all numeric ones; an unknown
/// entity stays as written.
pub(crate) fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest[1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '#')).map(|end| end + 1);
        let decoded =
            end.filter(|end| rest[*end..].starts_with(';')).and_then(|end| entity(&rest[1..end]).map(|c| (c, end + 1)));
        match decoded {
            Some((character, length)) => {
                out.push(character);
                rest = &rest[length..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "deg" => '°',
        "middot" => '·',
        "bull" => '•',
        "times" => '×',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_lists_and_title() {
        let html = r#"<!DOCTYPE html><html><head><title>Ops &amp; Guide</title><style>p{color:red}</style>
            <script>var x = "<h1>no</h1>";</script></head>
            <body><h1>Backups</h1><p>Run   the <b>nightly</b> job.<br>Check logs.</p>
            <h2 class="x">Restore</h2><ul><li>Stop the service</li><li>Copy &lt;files&gt;</li></ul>
            <!-- hidden --><table><tr><th>Key</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table></body></html>"#;
        let (title, sections) = parse(html);
        assert_eq!(title.as_deref(), Some("Ops & Guide"));
        assert_eq!(sections[0].heading, ["Backups"]);
        assert_eq!(sections[0].paragraphs, ["Run the nightly job.\nCheck logs."]);
        assert_eq!(sections[1].heading, ["Backups", "Restore"]);
        assert_eq!(sections[1].paragraphs, ["- Stop the service\n- Copy <files>", "Key | Value\na | 1"]);
    }

    #[test]
    fn malformed_markup_still_yields_text() {
        let (_, sections) = parse("<p>a < b and <i>unclosed <div attr='x>y'>tail");
        let text: Vec<&str> = sections[0].paragraphs.iter().map(String::as_str).collect();
        assert_eq!(text, ["a < b and unclosed", "tail"]);
    }

    #[test]
    fn entities_decode() {
        assert_eq!(decode_entities("&#65;&#x42;&unknown; &amp"), "AB&unknown; &amp");
    }
}
