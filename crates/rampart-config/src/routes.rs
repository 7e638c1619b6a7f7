//! `[[routes]]`: names clients ask for whose model is chosen per request by rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A name clients put in `model`, served by whichever candidates the first matching rule
/// names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// What clients put in `model`; must not be a model's name or alias.
    pub name: String,
    /// Tried in order; the first whose `when` holds picks the candidates. A rule without
    /// `when` always holds (put it last, as the default).
    #[serde(default)]
    pub rules: Vec<RouteRuleConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRuleConfig {
    #[serde(default, skip_serializing_if = "RouteCondition::is_empty")]
    pub when: RouteCondition,
    /// Models to serve the request: one is drawn by weight, the others follow as fallbacks in
    /// order of weight.
    pub candidates: Vec<RouteCandidate>,
}

/// What must hold of a request for a rule to apply; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteCondition {
    /// `metadata` entries the request must carry with exactly these (string) values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Tags the request must all carry (`x-rampart-tags: a,b` or `metadata.tags`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The request's data classification must be one of these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classification: Vec<String>,
    /// The tier the request asked for (`x-rampart-tier`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<u8>,
    /// The prompt's estimated tokens are at least this many ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_prompt_tokens: Option<u64>,
    /// ... and at most this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_prompt_tokens: Option<u64>,
}

impl RouteCondition {
    pub fn is_empty(&self) -> bool {
        self == &RouteCondition::default()
    }

    /// Whether checking this condition needs the prompt's token count.
    pub fn needs_prompt_tokens(&self) -> bool {
        self.min_prompt_tokens.is_some() || self.max_prompt_tokens.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCandidate {
    /// A configured model name.
    pub model: String,
    /// Relative share of requests this candidate serves first (default 1; 0: only as a
    /// fallback).
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}
