//! The models clients can ask for, resolved by name or alias to a backend.

use std::collections::HashMap;
use std::sync::Arc;

use rampart_config::{Config, ModelKind, PricePerMillionTokens};
use rampart_core::Backend;

/// One configured model with its backend.
#[derive(Clone)]
pub struct ResolvedModel {
    /// The configured name (never an alias).
    pub name: String,
    pub upstream_model: String,
    pub backend: Arc<dyn Backend>,
    pub tier: u8,
    pub kind: ModelKind,
    pub context_window: Option<u32>,
    pub price: PricePerMillionTokens,
    pub aliases: Vec<String>,
}

/// Name-or-alias lookup over the configured models, in configuration order.
#[derive(Clone, Default)]
pub struct ModelCatalog {
    models: Vec<Arc<ResolvedModel>>,
    by_name: HashMap<String, Arc<ResolvedModel>>,
    backends: Vec<Arc<dyn Backend>>,
}

#[derive(Debug, thiserror::Error)]
#[error("model '{model}' names backend '{backend}', which is not configured")]
pub struct CatalogError {
    pub model: String,
    pub backend: String,
}

impl ModelCatalog {
    /// Builds the catalog from validated config and the backends built from it.
    pub fn new(config: &Config, backends: Vec<Arc<dyn Backend>>) -> Result<Self, CatalogError> {
        let mut catalog = ModelCatalog { backends: backends.clone(), ..ModelCatalog::default() };
        for model in &config.models {
            let backend = backends
                .iter()
                .find(|backend| backend.name() == model.backend)
                .cloned()
                .ok_or_else(|| CatalogError { model: model.name.clone(), backend: model.backend.clone() })?;
            let resolved = Arc::new(ResolvedModel {
                name: model.name.clone(),
                upstream_model: model.upstream_model().to_owned(),
                backend,
                tier: model.tier,
                kind: model.kind,
                context_window: model.context_window,
                price: model.price_per_mtok,
                aliases: model.aliases.clone(),
            });
            for key in std::iter::once(&model.name).chain(model.aliases.iter()) {
                catalog.by_name.insert(key.clone(), resolved.clone());
            }
            catalog.models.push(resolved);
        }
        Ok(catalog)
    }

    pub fn resolve(&self, name: &str) -> Option<&Arc<ResolvedModel>> {
        self.by_name.get(name)
    }

    pub fn models(&self) -> &[Arc<ResolvedModel>] {
        &self.models
    }

    pub fn backends(&self) -> &[Arc<dyn Backend>] {
        &self.backends
    }

    /// Up to three configured names or aliases close to `name`, closest first.
    pub fn suggestions(&self, name: &str) -> Vec<String> {
        let wanted = name.to_lowercase();
        let mut scored: Vec<(f64, &String)> = self
            .by_name
            .keys()
            .map(|candidate| {
                let lower = candidate.to_lowercase();
                let mut score = strsim::jaro_winkler(&wanted, &lower);
                if !wanted.is_empty() && (lower.contains(&wanted) || wanted.contains(&lower)) {
                    score = score.max(0.9);
                }
                (score, candidate)
            })
            .filter(|(score, _)| *score >= 0.75)
            .collect();
        scored.sort_by(|left, right| right.0.total_cmp(&left.0).then_with(|| left.1.cmp(right.1)));
        scored.into_iter().take(3).map(|(_, name)| name.clone()).collect()
    }
}
