//! Rules over detectors: which findings matter where, and what is done about them.

use std::sync::Arc;

use crate::detect::{Detectors, EntityInfo, Finding};
use crate::kinds::{Action, Category, RedactionStyle, Severity, Stage};
use crate::vault::Vault;

/// A rule as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// Entity ids (`email`), category names (`pii`, `secret`, `injection`, `moderation`) or `*`.
    pub entities: Vec<String>,
    pub action: Action,
    pub redaction: RedactionStyle,
    /// Empty: every stage.
    pub stages: Vec<Stage>,
    pub min_severity: Severity,
    /// `false`: off unless a policy obligation switches it on by name.
    pub enabled: bool,
}

impl Rule {
    /// A rule with placeholder redaction, on at every stage, from low severity, enabled.
    pub fn new(name: impl Into<String>, entities: Vec<String>, action: Action) -> Rule {
        Rule {
            name: name.into(),
            entities,
            action,
            redaction: RedactionStyle::Placeholder,
            stages: Vec::new(),
            min_severity: Severity::Low,
            enabled: true,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GuardrailsError {
    #[error("rule '{rule}' names '{entity}', which is neither an entity nor a category{hint}")]
    UnknownEntity { rule: String, entity: String, hint: String },
    #[error("two rules are named '{0}': rule names must be unique (policies switch rules on by name)")]
    DuplicateRule(String),
    #[error("rule '{0}' lists no entities: name entity ids, categories (pii, secret, injection, moderation) or \"*\"")]
    EmptyRule(String),
    #[error("a rule has an empty name")]
    EmptyName,
    #[error("a built-in detector did not compile: {0}")]
    Detectors(String),
}

/// An optional model that scores text for injection (candle or ONNX); its score joins the
/// patterns'. A classifier error counts as a certain injection: fail closed.
///
/// It scores whole texts before a call: prompts and tool results ([`CLASSIFIED_STAGES`]). An
/// answer streams through the patterns alone, since a model's pass per chunk would stall the
/// stream, and a text a pattern already rates high is not scored again.
pub trait InjectionClassifier: Send + Sync {
    fn score(&self, text: &str) -> Result<f32, String>;
}

/// The stages whose texts an injection classifier scores.
pub const CLASSIFIED_STAGES: [Stage; 2] = [Stage::Prompt, Stage::ToolResult];

/// A finding a rule acted on (never the matched text).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: Arc<str>,
    pub entity: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub action: Action,
    pub stage: Stage,
    pub start: usize,
    pub end: usize,
}

/// What checking one text came to.
#[derive(Debug, Default)]
pub struct Checked {
    /// `Some(new text)` when a redaction changed it.
    pub redacted: Option<String>,
    pub hits: Vec<Hit>,
    /// The first block hit, if any: the caller refuses the request or the answer.
    pub blocked: Option<Hit>,
}

impl Checked {
    pub fn text<'a>(&'a self, original: &'a str) -> &'a str {
        self.redacted.as_deref().unwrap_or(original)
    }
}

enum Selector {
    Entity(&'static str),
    Category(Category),
    All,
}

struct CompiledRule {
    rule: Rule,
    name: Arc<str>,
    selectors: Vec<Selector>,
}

impl CompiledRule {
    fn selects(&self, entity: &str, category: Category) -> bool {
        self.selectors.iter().any(|selector| match selector {
            Selector::Entity(id) => *id == entity,
            Selector::Category(wanted) => *wanted == category,
            Selector::All => true,
        })
    }

    fn active_at(&self, stage: Stage, switched_on: &[String]) -> bool {
        (self.rule.enabled || switched_on.contains(&self.rule.name))
            && (self.rule.stages.is_empty() || self.rule.stages.contains(&stage))
    }
}

/// The compiled rules and detectors; built once, shared in an `Arc`.
pub struct Guardrails {
    rules: Vec<CompiledRule>,
    plain_rules: Vec<Rule>,
    detectors: Detectors,
    hash_key: ring::hmac::Key,
    classifier: Option<Arc<dyn InjectionClassifier>>,
}

impl Guardrails {
    /// `hash_key`: the key of the `hash` redaction style; `None` draws a random one, so hashes
    /// correlate within this process only.
    pub fn new(rules: Vec<Rule>, hash_key: Option<Vec<u8>>) -> Result<Self, GuardrailsError> {
        let detectors = Detectors::new().map_err(GuardrailsError::Detectors)?;
        let known = detectors.entities();
        let mut compiled: Vec<CompiledRule> = Vec::with_capacity(rules.len());
        for rule in &rules {
            if rule.name.trim().is_empty() {
                return Err(GuardrailsError::EmptyName);
            }
            if compiled.iter().any(|other| other.rule.name == rule.name) {
                return Err(GuardrailsError::DuplicateRule(rule.name.clone()));
            }
            if rule.entities.is_empty() {
                return Err(GuardrailsError::EmptyRule(rule.name.clone()));
            }
            let selectors = rule
                .entities
                .iter()
                .map(|name| selector(name, &known).ok_or_else(|| unknown(rule, name, &known)))
                .collect::<Result<Vec<_>, _>>()?;
            compiled.push(CompiledRule { rule: rule.clone(), name: Arc::from(rule.name.as_str()), selectors });
        }
        let key_bytes = match hash_key {
            Some(key) => key,
            None => {
                let mut key = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                    .map_err(|_| GuardrailsError::Detectors("no randomness for the hash key".into()))?;
                key.to_vec()
            }
        };
        Ok(Guardrails {
            rules: compiled,
            plain_rules: rules,
            detectors,
            hash_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes),
            classifier: None,
        })
    }

    /// Adds a classifier model to injection detection, at the stages in
    /// [`CLASSIFIED_STAGES`].
    pub fn with_injection_classifier(mut self, classifier: Arc<dyn InjectionClassifier>) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// Whether a classifier model scores texts: then [`Guardrails::check`] at a classified
    /// stage can take a model's time, and callers on an async runtime run it off their thread.
    pub fn has_classifier(&self) -> bool {
        self.classifier.is_some()
    }

    /// What a new user gets with guardrails on and no rules: secrets redacted everywhere,
    /// high-severity injection blocked in prompts, tool results and memory, PII and
    /// moderation findings flagged (counted and traced, text untouched).
    pub fn default_rules() -> Vec<Rule> {
        let mut injection = Rule::new("block-injection", vec!["injection".into()], Action::Block);
        injection.stages = vec![Stage::Prompt, Stage::ToolResult, Stage::Memory];
        injection.min_severity = Severity::High;
        vec![
            Rule::new("redact-secrets", vec!["secret".into()], Action::Redact),
            injection,
            Rule::new("flag-pii", vec!["pii".into()], Action::Flag),
            Rule::new("flag-moderation", vec!["moderation".into()], Action::Flag),
        ]
    }

    pub fn rules(&self) -> &[Rule] {
        &self.plain_rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every entity id the detectors know.
    pub fn entities(&self) -> Vec<EntityInfo> {
        self.detectors.entities()
    }

    /// Every detector's findings (no rules): for evaluation and `explain` tools.
    pub fn detect(&self, text: &str, stage: Stage) -> Vec<Finding> {
        self.detectors.detect(text, stage, &|_, _| true)
    }

    /// The findings the rules active at `stage` care about (no action taken).
    pub(crate) fn detect_active(&self, stage: Stage, text: &str, switched_on: &[String]) -> Vec<Finding> {
        let active: Vec<&CompiledRule> = self.rules.iter().filter(|rule| rule.active_at(stage, switched_on)).collect();
        if active.is_empty() {
            return Vec::new();
        }
        self.detectors.detect(text, stage, &|entity, category| active.iter().any(|rule| rule.selects(entity, category)))
    }

    /// How many bytes a stream guard holds back at most besides a trailing word.
    pub fn holdback_bytes(&self) -> usize {
        crate::stream::WINDOW_BYTES
    }

    /// Applies the rules active at `stage`: enabled ones and those named in `switched_on`.
    pub fn check(&self, stage: Stage, text: &str, switched_on: &[String], vault: &mut Vault) -> Checked {
        self.check_from(stage, text, 0, switched_on, vault)
    }

    /// `check`, ignoring findings that start before `from` (text already handled, kept only
    /// as context): the stream guard's view.
    pub(crate) fn check_from(
        &self,
        stage: Stage,
        text: &str,
        from: usize,
        switched_on: &[String],
        vault: &mut Vault,
    ) -> Checked {
        let active: Vec<&CompiledRule> = self.rules.iter().filter(|rule| rule.active_at(stage, switched_on)).collect();
        if active.is_empty() || text.is_empty() {
            return Checked::default();
        }
        let wanted =
            |entity: &'static str, category: Category| active.iter().any(|rule| rule.selects(entity, category));
        let mut findings: Vec<Finding> =
            self.detectors.detect(text, stage, &wanted).into_iter().filter(|finding| finding.start >= from).collect();
        if let Some(classifier) = &self.classifier
            && CLASSIFIED_STAGES.contains(&stage)
            && wanted(crate::detect::INJECTION_ENTITY, Category::Injection)
            && !findings
                .iter()
                .any(|finding| finding.category == Category::Injection && finding.severity == Severity::High)
        {
            let score = classifier.score(&text[from..]).unwrap_or(1.0);
            if score >= 0.5 {
                findings.push(Finding {
                    entity: crate::detect::INJECTION_ENTITY,
                    category: Category::Injection,
                    severity: Severity::from_score(score),
                    start: from,
                    end: text.len(),
                    score,
                });
            }
        }
        let mut checked = Checked::default();
        let mut replacements: Vec<(usize, usize, String)> = Vec::new();
        for finding in &findings {
            let mut strongest: Option<&CompiledRule> = None;
            for rule in active.iter().filter(|rule| rule.selects(finding.entity, finding.category)) {
                if finding.severity < rule.rule.min_severity {
                    continue;
                }
                let hit = Hit {
                    rule: rule.name.clone(),
                    entity: finding.entity,
                    category: finding.category,
                    severity: finding.severity,
                    action: rule.rule.action,
                    stage,
                    start: finding.start,
                    end: finding.end,
                };
                if rule.rule.action == Action::Block && checked.blocked.is_none() {
                    checked.blocked = Some(hit.clone());
                }
                checked.hits.push(hit);
                if strongest.is_none_or(|current| rule.rule.action > current.rule.action) {
                    strongest = Some(rule);
                }
            }
            if let Some(rule) = strongest
                && rule.rule.action == Action::Redact
            {
                let original = &text[finding.start..finding.end];
                replacements.push((
                    finding.start,
                    finding.end,
                    self.replacement(rule.rule.redaction, finding.entity, original, vault),
                ));
            }
        }
        if !replacements.is_empty() && checked.blocked.is_none() {
            checked.redacted = Some(apply(text, &replacements));
        }
        checked
    }

    fn replacement(&self, style: RedactionStyle, entity: &str, original: &str, vault: &mut Vault) -> String {
        match style {
            RedactionStyle::Placeholder => vault.placeholder_for(entity, original),
            RedactionStyle::Hash => {
                let tag = ring::hmac::sign(&self.hash_key, original.as_bytes());
                format!("[{}:{}]", entity.to_ascii_uppercase(), &hex::encode(tag.as_ref())[..12])
            }
            RedactionStyle::Mask => mask(entity, original),
        }
    }
}

/// Stars for every character but separators, keeping the last four digits of numbers people
/// recognise by them (cards, IBANs, phones).
fn mask(entity: &str, original: &str) -> String {
    let keep_last = if matches!(entity, "credit_card" | "iban" | "phone") { 4 } else { 0 };
    let total = original.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    original
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen > total.saturating_sub(keep_last) { c } else { '*' }
        })
        .collect()
}

fn apply(text: &str, replacements: &[(usize, usize, String)]) -> String {
    let mut sorted: Vec<&(usize, usize, String)> = replacements.iter().collect();
    sorted.sort_by_key(|(start, _, _)| *start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, replacement) in sorted {
        if *start < at {
            continue;
        }
        out.push_str(&text[at..*start]);
        out.push_str(replacement);
        at = *end;
    }
    out.push_str(&text[at..]);
    out
}

fn selector(name: &str, known: &[EntityInfo]) -> Option<Selector> {
    if name == "*" {
        return Some(Selector::All);
    }
    if let Ok(category) = name.parse::<Category>() {
        return Some(Selector::Category(category));
    }
    known.iter().find(|info| info.id == name).map(|info| Selector::Entity(info.id))
}

fn unknown(rule: &Rule, name: &str, known: &[EntityInfo]) -> GuardrailsError {
    let mut close: Vec<&str> = known
        .iter()
        .map(|info| info.id)
        .chain(Category::ALL.iter().map(|category| category.as_str()))
        .filter(|id| strsim::jaro_winkler(id, name) > 0.8)
        .collect();
    close.truncate(3);
    let hint = if close.is_empty() {
        format!(
            " (known: {})",
            Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                + " and the entity ids in docs/guardrails.md"
        )
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    GuardrailsError::UnknownEntity { rule: rule.name.clone(), entity: name.to_owned(), hint }
}
