//! Detectors: compiled patterns with validators (PII, secrets), a scored pattern set over
//! normalised text (injection) and phrase lexicons (moderation).

mod address;
mod injection;
mod moderation;
mod pii;
mod secrets;

pub(crate) use injection::ENTITY as INJECTION_ENTITY;

use regex::Regex;

use crate::kinds::{Category, Severity, Stage};

/// One detected span, byte offsets into the scanned text.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub entity: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub start: usize,
    pub end: usize,
    pub score: f32,
}

/// What an entity id is.
#[derive(Debug, Clone, Copy)]
pub struct EntityInfo {
    pub id: &'static str,
    pub category: Category,
    pub default_severity: Severity,
    pub description: &'static str,
}

/// A match handed to a validator: the value and where it sits in the text.
pub(crate) struct Candidate<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

impl Candidate<'_> {
    pub fn value(&self) -> &str {
        &self.text[self.start..self.end]
    }

    /// Up to `window` bytes before the match, lowercased, for context words.
    pub fn before(&self, window: usize) -> String {
        let mut from = self.start.saturating_sub(window);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        self.text[from..self.start].to_lowercase()
    }

    /// Up to `window` bytes after the match, lowercased.
    pub fn after(&self, window: usize) -> String {
        let mut to = (self.end + window).min(self.text.len());
        while !self.text.is_char_boundary(to) {
            to += 1;
        }
        self.text[self.end..to].to_lowercase()
    }

    pub fn char_before(&self) -> Option<char> {
        self.text[..self.start].chars().next_back()
    }

    pub fn char_after(&self) -> Option<char> {
        self.text[self.end..].chars().next()
    }
}

/// `Some(score)` accepts the match, `None` rejects it.
pub(crate) type Validator = fn(&Candidate<'_>) -> Option<f32>;

/// A pattern detector: a regex (group `group` is the entity) and a validator.
pub(crate) struct Pattern {
    pub info: EntityInfo,
    pub regex: Regex,
    pub group: usize,
    pub validate: Validator,
    /// Overlaps are resolved in favour of the higher priority (a specific secret over a
    /// generic high-entropy token, a card over a phone number).
    pub priority: u8,
}

pub(crate) fn accept(_: &Candidate<'_>) -> Option<f32> {
    Some(1.0)
}

/// Compiles a pattern with ASCII word boundaries (`\b`) and ASCII digits (`\d`): Unicode
/// boundaries would push the regex engine off its fast path on non-ASCII text, and Unicode's
/// 680 ranges of decimal digits make every automaton that holds `\d` several times larger
/// (the validators read ASCII digits only, so no finding is lost).
pub(crate) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&pattern.replace(r"\b", r"(?-u:\b)").replace(r"\d", "[0-9]"))
}

pub(crate) struct PatternSpec {
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub description: &'static str,
    pub pattern: &'static str,
    pub group: usize,
    pub validate: Validator,
    pub priority: u8,
}

/// Every detector, compiled once per `Guardrails`.
pub(crate) struct Detectors {
    patterns: Vec<Pattern>,
    address: address::AddressDetector,
    injection: injection::InjectionDetector,
    moderation: moderation::Lexicon,
}

impl Detectors {
    /// Fails only on a malformed built-in pattern, which start-up must refuse (fail closed).
    pub fn new() -> Result<Self, String> {
        let mut patterns = Vec::new();
        for spec in pii::specs().into_iter().chain(secrets::specs()) {
            patterns.push(Pattern {
                info: EntityInfo {
                    id: spec.id,
                    category: spec.category,
                    default_severity: spec.severity,
                    description: spec.description,
                },
                regex: compile(spec.pattern).map_err(|error| format!("detector {}: {error}", spec.id))?,
                group: spec.group,
                validate: spec.validate,
                priority: spec.priority,
            });
        }
        Ok(Detectors {
            patterns,
            address: address::AddressDetector::new().map_err(|error| format!("address detector: {error}"))?,
            injection: injection::InjectionDetector::new().map_err(|error| format!("injection detector: {error}"))?,
            moderation: moderation::Lexicon::new().map_err(|error| format!("moderation lexicon: {error}"))?,
        })
    }

    /// Runs the detectors `wanted` selects, resolving overlaps; sorted by start.
    pub fn detect(&self, text: &str, stage: Stage, wanted: &dyn Fn(&'static str, Category) -> bool) -> Vec<Finding> {
        let mut found = Vec::new();
        let has_digit = text.bytes().any(|byte| byte.is_ascii_digit());
        for pattern in &self.patterns {
            if !wanted(pattern.info.id, pattern.info.category) {
                continue;
            }
            if pii::needs_digits(pattern.info.id) && !has_digit {
                continue;
            }
            for captures in pattern.regex.captures_iter(text) {
                let Some(matched) = captures.get(pattern.group) else { continue };
                let candidate = Candidate { text, start: matched.start(), end: matched.end() };
                if let Some(score) = (pattern.validate)(&candidate) {
                    found.push((
                        pattern.priority,
                        Finding {
                            entity: pattern.info.id,
                            category: pattern.info.category,
                            severity: pattern.info.default_severity,
                            start: matched.start(),
                            end: matched.end(),
                            score,
                        },
                    ));
                }
            }
        }
        if has_digit && wanted(address::ENTITY, Category::Pii) {
            // Above phone numbers (30): a ZIP+4 or a long postcode inside an address is not a
            // phone number of its own.
            found.extend(self.address.detect(text).into_iter().map(|finding| (31, finding)));
        }
        if wanted(injection::ENTITY, Category::Injection) {
            found.extend(self.injection.detect(text, stage).into_iter().map(|finding| (50, finding)));
        }
        for entity in moderation::ENTITIES {
            if wanted(entity, Category::Moderation) {
                found.extend(
                    self.moderation.detect(text, &|id| wanted(id, Category::Moderation)).into_iter().map(|f| (10, f)),
                );
                break;
            }
        }
        resolve_overlaps(found)
    }

    pub fn entities(&self) -> Vec<EntityInfo> {
        let mut infos: Vec<EntityInfo> = Vec::new();
        for pattern in &self.patterns {
            if !infos.iter().any(|info| info.id == pattern.info.id) {
                infos.push(pattern.info);
            }
        }
        infos.push(address::INFO);
        infos.push(injection::INFO);
        infos.extend(moderation::infos());
        infos
    }
}

/// Keeps, among overlapping findings, the higher priority, then the longer, then the earlier.
/// Injection and moderation findings describe the text rather than a value and never hide a
/// PII or secret finding inside them.
fn resolve_overlaps(mut found: Vec<(u8, Finding)>) -> Vec<Finding> {
    let (mut spans, labels): (Vec<_>, Vec<_>) =
        found.drain(..).partition(|(_, finding)| matches!(finding.category, Category::Pii | Category::Secret));
    spans.sort_by(|(pa, a), (pb, b)| {
        pb.cmp(pa).then((b.end - b.start).cmp(&(a.end - a.start))).then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<Finding> = Vec::with_capacity(spans.len() + labels.len());
    for (_, finding) in spans {
        if !kept.iter().any(|other| other.start < finding.end && finding.start < other.end) {
            kept.push(finding);
        }
    }
    kept.extend(labels.into_iter().map(|(_, finding)| finding));
    kept.sort_by_key(|finding| (finding.start, finding.end));
    kept
}
