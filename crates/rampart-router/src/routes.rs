//! `[[routes]]`: a name clients ask for, whose model is chosen per request by the first rule
//! whose conditions hold, drawn by weight among the rule's candidates.

use std::collections::HashMap;
use std::sync::Arc;

use rampart_config::{Config, ModelKind, RouteCondition};
use serde_json::{Map, Value};

use crate::catalog::{ModelCatalog, ResolvedModel};
use crate::policy::RouteHints;

/// Every configured route by name.
#[derive(Default)]
pub struct RouteTable {
    routes: HashMap<String, Route>,
}

pub struct Route {
    pub name: String,
    pub kind: ModelKind,
    rules: Vec<Rule>,
}

struct Rule {
    when: RouteCondition,
    /// Candidates with their weights, heaviest first (configuration order among equals).
    candidates: Vec<(Arc<ResolvedModel>, u32)>,
}

/// What a rule is checked against.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    /// The request's `metadata` object, before Rampart's own keys are removed.
    pub metadata: Option<&'a Map<String, Value>>,
    /// `x-rampart-tags` and `metadata.tags`.
    pub tags: &'a [String],
    pub hints: &'a RouteHints,
    /// The prompt's estimated tokens, when a rule of the route needs them.
    pub prompt_tokens: Option<u64>,
}

/// The model a route chose, and the rule's other candidates as fallbacks.
#[derive(Clone)]
pub struct RouteChoice {
    pub model: Arc<ResolvedModel>,
    pub alternates: Vec<String>,
    /// Which rule matched (0-based), for logs.
    pub rule: usize,
}

impl RouteTable {
    /// Builds the table from validated config; candidates missing from the catalog (which
    /// validation rules out) are skipped.
    pub fn new(config: &Config, catalog: &ModelCatalog) -> RouteTable {
        let routes = config
            .routes
            .iter()
            .map(|route| {
                let rules: Vec<Rule> = route
                    .rules
                    .iter()
                    .map(|rule| {
                        let mut candidates: Vec<(Arc<ResolvedModel>, u32)> = rule
                            .candidates
                            .iter()
                            .filter_map(|candidate| {
                                catalog.resolve(&candidate.model).map(|model| (model.clone(), candidate.weight))
                            })
                            .collect();
                        candidates.sort_by_key(|(_, weight)| std::cmp::Reverse(*weight));
                        Rule { when: rule.when.clone(), candidates }
                    })
                    .collect();
                let kind = rules
                    .iter()
                    .flat_map(|rule| rule.candidates.first())
                    .map(|(model, _)| model.kind)
                    .next()
                    .unwrap_or_default();
                (route.name.clone(), Route { name: route.name.clone(), kind, rules })
            })
            .collect();
        RouteTable { routes }
    }

    pub fn get(&self, name: &str) -> Option<&Route> {
        self.routes.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }
}

impl Route {
    /// Whether some rule looks at the prompt's size, so it must be counted first.
    pub fn needs_prompt_tokens(&self) -> bool {
        self.rules.iter().any(|rule| rule.when.needs_prompt_tokens())
    }

    /// A model of the route, whose tokenizer estimates the prompt for its rules.
    pub fn first_candidate(&self) -> Option<&Arc<ResolvedModel>> {
        self.rules.iter().flat_map(|rule| rule.candidates.first()).map(|(model, _)| model).next()
    }

    /// The first rule that holds, its model drawn by weight; `None` when no rule holds.
    pub fn choose(&self, request: &RouteRequest<'_>) -> Option<RouteChoice> {
        let (index, rule) = self.rules.iter().enumerate().find(|(_, rule)| holds(&rule.when, request))?;
        let total: u64 = rule.candidates.iter().map(|(_, weight)| u64::from(*weight)).sum();
        let mut draw = fastrand::u64(0..total.max(1));
        let chosen = rule
            .candidates
            .iter()
            .position(|(_, weight)| {
                let weight = u64::from(*weight);
                if draw < weight {
                    return true;
                }
                draw -= weight;
                false
            })
            .unwrap_or(0);
        let model = rule.candidates.get(chosen)?.0.clone();
        let alternates = rule
            .candidates
            .iter()
            .enumerate()
            .filter(|(position, _)| *position != chosen)
            .map(|(_, (model, _))| model.name.clone())
            .collect();
        Some(RouteChoice { model, alternates, rule: index })
    }
}

fn holds(when: &RouteCondition, request: &RouteRequest<'_>) -> bool {
    let metadata_holds = when.metadata.iter().all(|(key, wanted)| {
        request.metadata.and_then(|metadata| metadata.get(key)).is_some_and(|value| match value {
            Value::String(text) => text == wanted,
            Value::Bool(flag) => wanted.as_str() == if *flag { "true" } else { "false" },
            Value::Number(number) => number.as_f64().is_some_and(|number| wanted.parse::<f64>() == Ok(number)),
            _ => false,
        })
    });
    let tags_hold = when.tags.iter().all(|tag| request.tags.iter().any(|have| have == tag));
    let classification_holds = when.classification.is_empty()
        || request.hints.classification.as_ref().is_some_and(|class| when.classification.contains(class));
    let tier_holds = when.tier.is_none() || when.tier == request.hints.tier;
    let tokens = request.prompt_tokens.unwrap_or(0);
    let size_holds = when.min_prompt_tokens.is_none_or(|min| tokens >= min)
        && when.max_prompt_tokens.is_none_or(|max| tokens <= max);
    metadata_holds && tags_hold && classification_holds && tier_holds && size_holds
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
