//! Output moderation by phrase lexicons (not a classifier): violence, self-harm, sexual
//! content, hate and illicit instructions. Small, multi-word phrases to keep false positives
//! down; a deployment that needs more plugs a classifier in front.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::{EntityInfo, Finding};
use crate::kinds::{Category, Severity};

pub(crate) const ENTITIES: [&str; 5] = ["violence", "self_harm", "sexual", "hate", "illicit"];

const PHRASES: &[(&str, &str, Severity)] = &[
    ("violence", "how to kill someone", Severity::High),
    ("violence", "i will kill you", Severity::High),
    ("violence", "build a bomb", Severity::High),
    ("violence", "make a bomb", Severity::High),
    ("violence", "pipe bomb", Severity::High),
    ("violence", "mass shooting", Severity::Medium),
    ("violence", "shoot up the", Severity::High),
    ("violence", "torture them", Severity::Medium),
    ("self_harm", "kill myself", Severity::High),
    ("self_harm", "want to die", Severity::Medium),
    ("self_harm", "end my life", Severity::High),
    ("self_harm", "how to commit suicide", Severity::High),
    ("self_harm", "cut myself", Severity::Medium),
    ("self_harm", "overdose on", Severity::Medium),
    ("sexual", "explicit sex", Severity::Medium),
    ("sexual", "sexual content involving minors", Severity::High),
    ("sexual", "child pornography", Severity::High),
    ("sexual", "nude photos of", Severity::Medium),
    ("hate", "inferior race", Severity::High),
    ("hate", "ethnic cleansing", Severity::High),
    ("hate", "should be exterminated", Severity::High),
    ("hate", "go back to your country", Severity::Medium),
    ("illicit", "synthesize methamphetamine", Severity::High),
    ("illicit", "cook meth", Severity::High),
    ("illicit", "make ricin", Severity::High),
    ("illicit", "nerve agent synthesis", Severity::High),
    ("illicit", "launder money", Severity::Medium),
    ("illicit", "buy a stolen credit card", Severity::High),
    ("illicit", "write ransomware", Severity::High),
    ("illicit", "ddos attack on", Severity::Medium),
];

pub(crate) fn infos() -> Vec<EntityInfo> {
    let describe = |id| match id {
        "violence" => "violent threats or instructions (lexicon)",
        "self_harm" => "self-harm (lexicon)",
        "sexual" => "sexual content (lexicon)",
        "hate" => "hateful content (lexicon)",
        _ => "instructions for illicit activity (lexicon)",
    };
    ENTITIES
        .iter()
        .map(|&id| EntityInfo {
            id,
            category: Category::Moderation,
            default_severity: Severity::Medium,
            description: describe(id),
        })
        .collect()
}

pub(crate) struct Lexicon {
    automaton: AhoCorasick,
}

impl Lexicon {
    pub fn new() -> Result<Self, aho_corasick::BuildError> {
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(PHRASES.iter().map(|(_, phrase, _)| phrase))?;
        Ok(Lexicon { automaton })
    }

    pub fn detect(&self, text: &str, wanted: &dyn Fn(&'static str) -> bool) -> Vec<Finding> {
        let automaton = &self.automaton;
        let bytes = text.as_bytes();
        automaton
            .find_iter(text)
            .filter(|found| {
                let before_ok = found.start() == 0 || !bytes[found.start() - 1].is_ascii_alphanumeric();
                let after_ok = found.end() == bytes.len() || !bytes[found.end()].is_ascii_alphanumeric();
                before_ok && after_ok
            })
            .filter_map(|found| {
                let (entity, _, severity) = PHRASES[found.pattern().as_usize()];
                wanted(entity).then_some(Finding {
                    entity,
                    category: Category::Moderation,
                    severity,
                    start: found.start(),
                    end: found.end(),
                    score: 1.0,
                })
            })
            .collect()
    }
}
