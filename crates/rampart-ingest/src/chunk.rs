//! Structure-aware chunking: pack whole paragraphs into chunks of at most `max_tokens`;
//! split a paragraph that is too long at sentence ends, a sentence that is too long at
//! words, and a word that is too long (a key, a hash) at characters. Each chunk after the
//! first in a section starts with the last `overlap_tokens` of the one before it.

use serde::Serialize;

use crate::ParsedDocument;

/// Counts tokens as the embedding model will. The estimate serves when the model's
/// tokenizer is not at hand; the real tokenizer makes chunk sizes exact.
pub trait TokenCounter: Send + Sync {
    fn count(&self, text: &str) -> usize;
}

/// An estimate of WordPiece/BPE token counts for Latin-script text: a short word is one
/// token, a long one one per 6 characters, each punctuation mark one; each CJK character
/// one. Within about 15% of MiniLM's tokenizer on English prose.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordEstimate;

impl TokenCounter for WordEstimate {
    fn count(&self, text: &str) -> usize {
        let mut tokens = 0;
        let mut run = 0usize;
        let close_run = |run: &mut usize, tokens: &mut usize| {
            if *run > 0 {
                *tokens += run.div_ceil(6);
                *run = 0;
            }
        };
        for character in text.chars() {
            if character.is_alphanumeric() && !is_cjk(character) {
                run += 1;
            } else {
                close_run(&mut run, &mut tokens);
                if !character.is_whitespace() {
                    tokens += 1;
                }
            }
        }
        close_run(&mut run, &mut tokens);
        tokens
    }
}

fn is_cjk(character: char) -> bool {
    matches!(character as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkerConfig {
    /// Largest chunk, in tokens.
    pub max_tokens: usize,
    /// Tokens repeated from the end of the previous chunk of the same section.
    pub overlap_tokens: usize,
}

impl Default for ChunkerConfig {
    fn default() -> Self {
        ChunkerConfig { max_tokens: 200, overlap_tokens: 40 }
    }
}

impl ChunkerConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_tokens < 16 {
            return Err(format!(
                "chunks of {} tokens are too small to mean anything; use at least 16",
                self.max_tokens
            ));
        }
        if self.overlap_tokens * 2 > self.max_tokens {
            return Err(format!(
                "an overlap of {} tokens is more than half of a {}-token chunk; chunks would mostly repeat each other",
                self.overlap_tokens, self.max_tokens
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub index: usize,
    /// The heading path of the section the chunk comes from.
    pub heading: Vec<String>,
    pub text: String,
    /// Tokens in `text` by the counter used to cut it.
    pub tokens: usize,
}

/// Cuts every section of `document` into chunks; see the module docs for how.
pub fn chunk(document: &ParsedDocument, config: &ChunkerConfig, counter: &dyn TokenCounter) -> Vec<Chunk> {
    let max = config.max_tokens.max(1);
    let mut chunks: Vec<Chunk> = Vec::new();
    for section in &document.sections {
        let mut pending = Pending::default();
        for piece in pieces(&section.paragraphs, max, counter) {
            if !pending.is_empty() && pending.tokens + piece.tokens > max {
                let text = pending.take_text();
                let overlap = tail(&text, config.overlap_tokens, counter);
                chunks.push(Chunk {
                    index: chunks.len(),
                    heading: section.heading.clone(),
                    tokens: counter.count(&text),
                    text,
                });
                if let Some(overlap) = overlap.filter(|overlap| overlap.tokens + piece.tokens <= max) {
                    pending.push(overlap);
                }
            }
            pending.push(piece);
        }
        if !pending.is_empty() {
            let text = pending.take_text();
            chunks.push(Chunk {
                index: chunks.len(),
                heading: section.heading.clone(),
                tokens: counter.count(&text),
                text,
            });
        }
    }
    chunks
}

/// A unit that is never split further, and what joins it to the unit before.
#[derive(Debug, Clone)]
struct Piece {
    text: String,
    tokens: usize,
    joiner: &'static str,
}

#[derive(Debug, Default)]
struct Pending {
    text: String,
    tokens: usize,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn push(&mut self, piece: Piece) {
        if !self.text.is_empty() {
            self.text.push_str(piece.joiner);
        }
        self.text.push_str(&piece.text);
        self.tokens += piece.tokens;
    }

    fn take_text(&mut self) -> String {
        self.tokens = 0;
        std::mem::take(&mut self.text)
    }
}

fn pieces(paragraphs: &[String], max: usize, counter: &dyn TokenCounter) -> Vec<Piece> {
    let mut out = Vec::new();
    for paragraph in paragraphs {
        let tokens = counter.count(paragraph);
        if tokens <= max {
            out.push(Piece { text: paragraph.clone(), tokens, joiner: "\n\n" });
            continue;
        }
        let mut joiner = "\n\n";
        for sentence in sentences(paragraph) {
            let tokens = counter.count(sentence);
            if tokens <= max {
                out.push(Piece { text: sentence.to_owned(), tokens, joiner });
            } else {
                for (position, window) in word_windows(sentence, max, counter).into_iter().enumerate() {
                    out.push(Piece { joiner: if position == 0 { joiner } else { " " }, ..window });
                }
            }
            joiner = " ";
        }
    }
    out
}

/// Sentence spans of `text`: a break after `.`, `!`, `?` or `…` (and any closing quote or
/// bracket) followed by white space and a capital, digit or opening quote, unless the word is
/// a common abbreviation; after CJK full stops; and at line breaks (list items).
fn sentences(text: &str) -> Vec<&str> {
    const ABBREVIATIONS: &[&str] = &[
        "e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "no.", "fig.", "inc.", "ltd.",
        "approx.",
    ];
    let mut spans = Vec::new();
    let mut start = 0;
    let characters: Vec<(usize, char)> = text.char_indices().collect();
    for (position, &(offset, character)) in characters.iter().enumerate() {
        let end = offset + character.len_utf8();
        let boundary = match character {
            '\n' => true,
            '。' | '！' | '？' => true,
            '.' | '!' | '?' | '…' => {
                let mut next = position + 1;
                while characters.get(next).is_some_and(|(_, c)| matches!(c, '"' | '\'' | ')' | ']' | '”' | '’')) {
                    next += 1;
                }
                let spaced = characters.get(next).is_some_and(|(_, c)| c.is_whitespace());
                let following = characters[next..].iter().map(|(_, c)| *c).find(|c| !c.is_whitespace());
                let starts_sentence =
                    following.is_some_and(|c| c.is_uppercase() || c.is_numeric() || "\"'“‘([".contains(c));
                let word = text[start..end].rsplit(char::is_whitespace).next().unwrap_or_default().to_lowercase();
                spaced && starts_sentence && !ABBREVIATIONS.contains(&word.as_str())
            }
            _ => false,
        };
        if boundary {
            let span = text[start..end].trim();
            if !span.is_empty() {
                spans.push(span);
            }
            start = end;
        }
    }
    let span = text[start..].trim();
    if !span.is_empty() {
        spans.push(span);
    }
    spans
}

/// Consecutive runs of words of at most `max` tokens; a single word over `max` is cut at
/// characters.
fn word_windows(text: &str, max: usize, counter: &dyn TokenCounter) -> Vec<Piece> {
    let mut windows = Vec::new();
    let mut current = Pending::default();
    for word in text.split_whitespace() {
        let tokens = counter.count(word);
        if tokens > max {
            if !current.is_empty() {
                windows.push(finished(&mut current));
            }
            windows.extend(character_windows(word, max, counter));
            continue;
        }
        if !current.is_empty() && current.tokens + tokens > max {
            windows.push(finished(&mut current));
        }
        current.push(Piece { text: word.to_owned(), tokens, joiner: " " });
    }
    if !current.is_empty() {
        windows.push(finished(&mut current));
    }
    windows
}

fn finished(pending: &mut Pending) -> Piece {
    let tokens = pending.tokens;
    Piece { text: pending.take_text(), tokens, joiner: " " }
}

fn character_windows(word: &str, max: usize, counter: &dyn TokenCounter) -> Vec<Piece> {
    let boundaries: Vec<usize> = word.char_indices().map(|(offset, _)| offset).chain([word.len()]).collect();
    let mut windows = Vec::new();
    let mut first = 0;
    while first + 1 < boundaries.len() {
        // The longest window from `first` that fits, by binary search: counting once per
        // character would be quadratic on a megabyte of base64.
        let (mut fits, mut over) = (first + 1, boundaries.len());
        while fits + 1 < over {
            let middle = fits + (over - fits) / 2;
            if counter.count(&word[boundaries[first]..boundaries[middle]]) <= max {
                fits = middle;
            } else {
                over = middle;
            }
        }
        let text = &word[boundaries[first]..boundaries[fits]];
        windows.push(Piece { text: text.to_owned(), tokens: counter.count(text), joiner: " " });
        first = fits;
    }
    windows
}

/// The last words of `text` worth at most `budget` tokens, starting at a sentence start when
/// the tail holds one.
fn tail(text: &str, budget: usize, counter: &dyn TokenCounter) -> Option<Piece> {
    if budget == 0 {
        return None;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut tokens = 0;
    let mut first = words.len();
    while first > 0 {
        let cost = counter.count(words[first - 1]);
        if tokens + cost > budget {
            break;
        }
        tokens += cost;
        first -= 1;
    }
    if first == words.len() || first == 0 {
        // Nothing fits, or the whole chunk would repeat.
        return None;
    }
    // Prefer to start at a sentence start inside the tail.
    let start = (first..words.len())
        .find(|index| *index > first && words[index - 1].ends_with(['.', '!', '?']))
        .filter(|index| *index < words.len())
        .unwrap_or(first);
    let text = words[start..].join(" ");
    Some(Piece { tokens: counter.count(&text), text, joiner: " " })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Section};

    fn document(sections: Vec<(Vec<&str>, Vec<String>)>) -> ParsedDocument {
        ParsedDocument {
            format: Format::Text,
            title: None,
            sections: sections
                .into_iter()
                .map(|(heading, paragraphs)| Section {
                    heading: heading.into_iter().map(str::to_owned).collect(),
                    paragraphs,
                })
                .collect(),
        }
    }

    #[test]
    fn the_estimate_counts_words_long_words_and_punctuation() {
        assert_eq!(WordEstimate.count("the cat sat."), 4);
        assert_eq!(WordEstimate.count("internationalisation"), 4);
        assert_eq!(WordEstimate.count("数据库"), 3);
        assert_eq!(WordEstimate.count("  "), 0);
    }

    #[test]
    fn small_paragraphs_pack_together_and_sections_never_mix() {
        let doc =
            document(vec![(vec!["A"], vec!["one two".into(), "three four".into()]), (vec!["B"], vec!["five".into()])]);
        let chunks = chunk(&doc, &ChunkerConfig { max_tokens: 16, overlap_tokens: 2 }, &WordEstimate);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].text, "one two\n\nthree four");
        assert_eq!(chunks[0].heading, ["A"]);
        assert_eq!((chunks[1].index, chunks[1].text.as_str()), (1, "five"));
    }

    #[test]
    fn long_text_splits_under_the_limit_with_overlap() {
        let sentence = |n: usize| format!("Sentence number {n} talks about topic {n} at some length here.");
        let paragraph = (0..40).map(sentence).collect::<Vec<_>>().join(" ");
        let doc = document(vec![(vec![], vec![paragraph.clone()])]);
        let config = ChunkerConfig { max_tokens: 40, overlap_tokens: 12 };
        let chunks = chunk(&doc, &config, &WordEstimate);
        assert!(chunks.len() > 5, "{}", chunks.len());
        for chunk in &chunks {
            assert!(chunk.tokens <= 40, "{} tokens: {}", chunk.tokens, chunk.text);
        }
        for pair in chunks.windows(2) {
            // Each chunk begins with a whole sentence carried over from the end of the one before.
            let first_sentence = pair[1].text.split(". ").next().unwrap();
            assert!(pair[0].text.contains(first_sentence), "{:?} / {:?}", pair[0].text, pair[1].text);
        }
        // Nothing is lost: every sentence appears in some chunk.
        for n in 0..40 {
            assert!(chunks.iter().any(|chunk| chunk.text.contains(&sentence(n))), "sentence {n} lost");
        }
    }

    #[test]
    fn unbroken_text_is_cut_at_words_then_characters() {
        let words = vec!["word"; 100].join(" ");
        let key = "k".repeat(500);
        let doc = document(vec![(vec![], vec![words, key.clone()])]);
        let chunks = chunk(&doc, &ChunkerConfig { max_tokens: 20, overlap_tokens: 0 }, &WordEstimate);
        assert!(chunks.iter().all(|chunk| chunk.tokens <= 20));
        let rebuilt: String =
            chunks.iter().filter(|chunk| chunk.text.starts_with('k')).map(|chunk| chunk.text.as_str()).collect();
        assert_eq!(rebuilt, key);
    }

    #[test]
    fn sentences_respect_abbreviations_and_lowercase_continuations() {
        assert_eq!(
            sentences("Use e.g. the CLI. It works. version 2.1 is out! Next? yes.\n- item"),
            ["Use e.g. the CLI.", "It works. version 2.1 is out!", "Next? yes.", "- item"]
        );
        assert_eq!(sentences("第一句。第二句。"), ["第一句。", "第二句。"]);
    }

    #[test]
    fn config_validation_explains() {
        assert!(ChunkerConfig::default().validate().is_ok());
        assert!(ChunkerConfig { max_tokens: 8, overlap_tokens: 0 }.validate().unwrap_err().contains("16"));
        assert!(ChunkerConfig { max_tokens: 100, overlap_tokens: 60 }.validate().unwrap_err().contains("half"));
    }
}
