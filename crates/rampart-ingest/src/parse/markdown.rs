//! Markdown: ATX (`## Title`) and setext (`Title` over `===`) headings make sections; fenced
//! code stays verbatim and its `#` lines are not headings; YAML front matter is skipped.

use crate::Section;
use crate::text::{Sections, collapse_whitespace};

pub(super) fn parse(text: &str) -> Vec<Section> {
    let text = text.replace("\r\n", "\n");
    let mut lines: Vec<&str> = text.lines().collect();
    skip_front_matter(&mut lines);
    let mut sections = Sections::default();
    let mut block: Vec<&str> = Vec::new();
    let mut fence: Option<&str> = None;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let trimmed = line.trim_start();
        if let Some(marker) = fence {
            block.push(line);
            if trimmed.starts_with(marker) {
                fence = None;
                flush(&mut sections, &mut block, true);
            }
            index += 1;
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            flush(&mut sections, &mut block, false);
            fence = Some(&trimmed[..3]);
            block.push(line);
        } else if let Some((level, title)) = atx_heading(trimmed) {
            flush(&mut sections, &mut block, false);
            sections.heading(level, title);
        } else if let Some(level) = lines.get(index + 1).and_then(|next| setext_level(next))
            && !trimmed.is_empty()
            && block.is_empty()
        {
            sections.heading(level, trimmed);
            index += 1;
        } else if trimmed.is_empty() {
            flush(&mut sections, &mut block, false);
        } else {
            block.push(line);
        }
        index += 1;
    }
    flush(&mut sections, &mut block, fence.is_some());
    sections.finish()
}

fn skip_front_matter(lines: &mut Vec<&str>) {
    if lines.first().map(|line| line.trim_end()) != Some("---") {
        return;
    }
    if let Some(end) = lines.iter().skip(1).position(|line| matches!(line.trim_end(), "---" | "...")) {
        lines.drain(..end + 2);
    }
}

/// `#`×1–6, then a space or the end; trailing `#`s are decoration.
fn atx_heading(line: &str) -> Option<(u8, &str)> {
    let level = line.bytes().take_while(|byte| *byte == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    Some((level as u8, rest.trim().trim_end_matches('#').trim_end()))
}

fn setext_level(line: &str) -> Option<u8> {
    let line = line.trim();
    if line.len() >= 2 && line.bytes().all(|byte| byte == b'=') {
        Some(1)
    } else if line.len() >= 3 && line.bytes().all(|byte| byte == b'-') {
        Some(2)
    } else {
        None
    }
}

/// A block of lines becomes one paragraph: code keeps its lines, prose is joined.
fn flush(sections: &mut Sections, block: &mut Vec<&str>, code: bool) {
    if block.is_empty() {
        return;
    }
    let text = if code || block.iter().all(|line| line.starts_with("    ") || line.starts_with('\t')) {
        block.join("\n")
    } else if block.iter().any(|line| is_list_item(line) || line.trim_start().starts_with('|')) {
        // Lists and tables keep one item per line so each stays readable in a citation.
        block.iter().map(|line| collapse_whitespace(line)).collect::<Vec<_>>().join("\n")
    } else {
        collapse_whitespace(&block.join(" "))
    };
    sections.paragraph(&text);
    block.clear();
}

fn is_list_item(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("- ")
        || line.starts_with("* ")
        || line.starts_with("+ ")
        || line
            .split_once(". ")
            .is_some_and(|(number, _)| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headings(sections: &[Section]) -> Vec<String> {
        sections.iter().map(|section| section.heading.join(" > ")).collect()
    }

    #[test]
    fn atx_and_setext_headings_nest() {
        let sections = parse(
            "Intro text\n\n# Guide\n\nWelcome.\n\n## Install ##\nRun\nthe installer.\n\nUsage\n-----\n\nCall it.\n",
        );
        assert_eq!(headings(&sections), ["", "Guide", "Guide > Install", "Guide > Usage"]);
        assert_eq!(sections[2].paragraphs, ["Run the installer."]);
    }

    #[test]
    fn code_fences_hide_hashes_and_keep_lines() {
        let sections = parse("# Shell\n\n```sh\n# not a heading\nls -la\n```\nAfter.\n");
        assert_eq!(headings(&sections), ["Shell"]);
        assert_eq!(sections[0].paragraphs, ["```sh\n# not a heading\nls -la\n```", "After."]);
    }

    #[test]
    fn front_matter_is_skipped_and_lists_keep_lines() {
        let sections = parse("---\ntitle: x\n---\n# Steps\n\n1. first\n2. second\n\n#hashtag is text\n");
        assert_eq!(sections[0].paragraphs, ["1. first\n2. second", "#hashtag is text"]);
    }
}
