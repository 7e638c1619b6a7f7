//! The routing table: the models clients can ask for, by name or alias, each with the
//! backends that serve it (replicas) and the models to fall back to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use rampart_config::{Config, ModelKind, PricePerMillionTokens};
use rampart_core::Backend;

use crate::admission::Admission;
use crate::breaker::{Breaker, CircuitState};
use crate::metrics::LoadGauges;

/// Requests that may wait for a backend with `max_concurrency` when `max_queue` is unset.
pub const DEFAULT_MAX_QUEUE: usize = 16;

/// A backend with what the router keeps about it: circuit, admission, load.
pub struct BackendHandle {
    pub backend: Arc<dyn Backend>,
    breaker: Mutex<Breaker>,
    pub(crate) admission: Admission,
    /// Calls sent and not yet finished (streams count until they end).
    outstanding: AtomicU64,
    /// Exponentially weighted time to answer (first chunk for streams), in microseconds.
    ewma_latency_us: AtomicU64,
    /// Serves at least one Tier 2 (cloud) model: its circuits decide solo-sustain.
    pub serves_cloud: bool,
    /// Set once the router registers its metrics.
    pub(crate) load_gauges: OnceLock<LoadGauges>,
}

impl BackendHandle {
    pub fn name(&self) -> &str {
        self.backend.name()
    }

    pub fn circuit(&self) -> CircuitState {
        self.breaker().state()
    }

    pub(crate) fn breaker(&self) -> MutexGuard<'_, Breaker> {
        // A poisoned lock only means another thread panicked mid-update; the state is still
        // a valid breaker, so keep using it rather than failing every request.
        self.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn outstanding(&self) -> u64 {
        self.outstanding.load(Ordering::Acquire)
    }

    pub fn ewma_latency_ms(&self) -> f64 {
        self.ewma_latency_us.load(Ordering::Acquire) as f64 / 1000.0
    }

    pub fn queued(&self) -> usize {
        self.admission.queued()
    }

    pub fn max_concurrency(&self) -> Option<usize> {
        self.admission.max_concurrency()
    }

    pub fn max_queue(&self) -> usize {
        self.admission.max_queue()
    }

    pub(crate) fn call_started(&self) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn call_ended(&self) {
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
    }

    /// Publishes in-flight and queued counts to the backend's gauges.
    pub(crate) fn publish_load(&self) {
        if let Some(gauges) = self.load_gauges.get() {
            gauges.in_flight.set(i64::try_from(self.outstanding()).unwrap_or(i64::MAX));
            gauges.queue_depth.set(i64::try_from(self.queued()).unwrap_or(i64::MAX));
        }
    }

    pub(crate) fn observe_latency(&self, micros: u64) {
        // alpha = 0.3: recent calls dominate within a handful of samples.
        let _ = self.ewma_latency_us.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
            Some(if old == 0 { micros } else { (old * 7 + micros * 3) / 10 })
        });
    }

    /// Power-of-two-choices score: lower is better.
    pub(crate) fn load_score(&self) -> u128 {
        let latency = u128::from(self.ewma_latency_us.load(Ordering::Acquire).max(1));
        latency * u128::from(self.outstanding() + 1)
    }

    /// How long a refused caller should wait before trying again.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        let latency_secs = self.ewma_latency_ms() / 1000.0;
        let per_turn = self.max_concurrency().unwrap_or(1).max(1) as f64;
        let wait = latency_secs * (self.queued() as f64 + 1.0) / per_turn;
        (wait.ceil() as u64).clamp(1, 60)
    }
}

/// One configured model with the backends that serve it.
pub struct ResolvedModel {
    /// The configured name (never an alias).
    pub name: String,
    pub upstream_model: String,
    /// At least one; balanced across.
    pub replicas: Vec<Arc<BackendHandle>>,
    /// Model names tried in order after this one.
    pub fallbacks: Vec<String>,
    pub tier: u8,
    pub kind: ModelKind,
    pub context_window: Option<u32>,
    pub price: PricePerMillionTokens,
    pub aliases: Vec<String>,
    pub privacy_mode: bool,
    pub sustain: bool,
    /// How long this model's answers are kept in the response cache; `None`: only on request.
    pub cache_ttl_secs: Option<u64>,
}

impl ResolvedModel {
    /// The first configured backend, for listings.
    pub fn primary_backend(&self) -> &str {
        self.replicas.first().map(|replica| replica.name()).unwrap_or_default()
    }
}

/// Name-or-alias lookup over the configured models, in configuration order.
#[derive(Clone, Default)]
pub struct ModelCatalog {
    models: Vec<Arc<ResolvedModel>>,
    by_name: HashMap<String, Arc<ResolvedModel>>,
    backends: Vec<Arc<BackendHandle>>,
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
        let now = Instant::now();
        let cloud_backends: Vec<&str> =
            config.models.iter().filter(|model| model.tier >= 2).flat_map(|model| model.replicas()).collect();
        let handles: Vec<Arc<BackendHandle>> = backends
            .into_iter()
            .map(|backend| {
                let settings = config.backends.iter().find(|entry| entry.name == backend.name());
                let max_concurrency = settings.and_then(|entry| entry.max_concurrency).map(|limit| limit as usize);
                let max_queue = settings.and_then(|entry| entry.max_queue).unwrap_or(DEFAULT_MAX_QUEUE);
                Arc::new(BackendHandle {
                    serves_cloud: cloud_backends.contains(&backend.name()),
                    backend,
                    breaker: Mutex::new(Breaker::new(config.router.breaker.clone(), now)),
                    admission: Admission::new(max_concurrency, max_queue),
                    outstanding: AtomicU64::new(0),
                    ewma_latency_us: AtomicU64::new(0),
                    load_gauges: OnceLock::new(),
                })
            })
            .collect();
        let mut catalog = ModelCatalog { backends: handles.clone(), ..ModelCatalog::default() };
        for model in &config.models {
            let replicas = model
                .replicas()
                .into_iter()
                .map(|name| {
                    handles
                        .iter()
                        .find(|handle| handle.name() == name)
                        .cloned()
                        .ok_or_else(|| CatalogError { model: model.name.clone(), backend: name.to_owned() })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let resolved = Arc::new(ResolvedModel {
                name: model.name.clone(),
                upstream_model: model.upstream_model().to_owned(),
                replicas,
                fallbacks: model.fallbacks.clone(),
                tier: model.tier,
                kind: model.kind,
                context_window: model.context_window,
                price: model.price_per_mtok,
                aliases: model.aliases.clone(),
                privacy_mode: model.privacy_mode,
                sustain: model.sustain,
                cache_ttl_secs: model.cache_ttl_secs,
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

    pub fn backends(&self) -> &[Arc<BackendHandle>] {
        &self.backends
    }

    pub fn backend(&self, name: &str) -> Option<&Arc<BackendHandle>> {
        self.backends.iter().find(|handle| handle.name() == name)
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
