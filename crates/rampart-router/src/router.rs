//! The router: for one request, the ordered candidates (the model, its fallbacks, the
//! solo-sustain model), a replica per attempt, retries with backoff, and the bookkeeping that
//! drives circuits, backpressure and the solo-sustain mode.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rampart_config::RouterConfig;
use rampart_core::{Backend, BackendError, ChunkStream, EmbedCall, Embeddings, unix_now_millis};
use rampart_types::{ChatCompletionRequest, ChatCompletionResponse};

use crate::admission::Refusal;
use crate::breaker::{Admit, Transition};
use crate::catalog::{BackendHandle, ModelCatalog, ResolvedModel};
use crate::error::RouteError;
use crate::guard::{CallGuard, GuardedStream};
use crate::metrics::{BackendLabel, FallbackLabels, LoadGauges, ModelLabel, RouterMetrics, TransitionLabels};
use crate::policy::{Next, RouteHints, backoff};
use crate::status::{BackendStatus, EventLog, RouterEvent, RouterMode, RouterStatus};

/// What answered a routed call.
pub struct Routed<T> {
    pub value: T,
    /// The model that answered: the one asked for, or a fallback.
    pub model: Arc<ResolvedModel>,
    pub backend: String,
    /// Attempts made, the successful one included.
    pub attempts: u32,
}

#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    catalog: ModelCatalog,
    settings: RouterConfig,
    metrics: RouterMetrics,
    mode: Mutex<ModeState>,
    events: Mutex<EventLog>,
}

struct ModeState {
    mode: RouterMode,
    since_unix_ms: Option<i64>,
}

/// How one candidate model's attempts ended, when none succeeded.
enum CandidateOutcome {
    Failed(BackendError),
    Overloaded(RouteError),
    /// Every replica's circuit was open.
    CircuitsOpen,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Poisoning means another thread panicked mid-update of plain data; keep serving.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Router {
    pub fn new(catalog: ModelCatalog, settings: RouterConfig) -> Self {
        let metrics = RouterMetrics::default();
        for handle in catalog.backends() {
            let label = BackendLabel { backend: handle.name().to_owned() };
            metrics.circuit_state.get_or_create(&label).set(0);
            // Kept on the handle so the per-call updates allocate no labels.
            let _ = handle.load_gauges.set(LoadGauges {
                in_flight: metrics.in_flight.get_or_create(&label).clone(),
                queue_depth: metrics.queue_depth.get_or_create(&label).clone(),
            });
        }
        Router {
            shared: Arc::new(Shared {
                catalog,
                settings,
                metrics,
                mode: Mutex::new(ModeState { mode: RouterMode::Normal, since_unix_ms: None }),
                events: Mutex::new(EventLog::default()),
            }),
        }
    }

    pub fn catalog(&self) -> &ModelCatalog {
        &self.shared.catalog
    }

    pub fn settings(&self) -> &RouterConfig {
        &self.shared.settings
    }

    pub fn metrics(&self) -> &RouterMetrics {
        &self.shared.metrics
    }

    pub fn mode(&self) -> RouterMode {
        lock(&self.shared.mode).mode
    }

    /// A non-streaming chat completion. `request.model` is set to each candidate's upstream
    /// name in turn.
    pub async fn chat(
        &self,
        model: &Arc<ResolvedModel>,
        request: &ChatCompletionRequest,
        hints: &RouteHints,
        deadline: tokio::time::Instant,
    ) -> Result<Routed<ChatCompletionResponse>, RouteError> {
        self.run(
            model,
            hints,
            deadline,
            |backend, candidate| {
                let request = for_candidate(request, &candidate);
                async move { backend.chat(&request).await }
            },
            |response, _guard| response,
        )
        .await
    }

    /// A streaming chat completion. An attempt succeeds once its first chunk arrives: only
    /// then is the stream handed to the caller, so retries and fallbacks never happen after
    /// the client has seen a byte.
    pub async fn chat_stream(
        &self,
        model: &Arc<ResolvedModel>,
        request: &ChatCompletionRequest,
        hints: &RouteHints,
        deadline: tokio::time::Instant,
    ) -> Result<Routed<ChunkStream>, RouteError> {
        self.run(
            model,
            hints,
            deadline,
            |backend, candidate| {
                let request = for_candidate(request, &candidate);
                async move {
                    let mut chunks = backend.chat_stream(&request).await?;
                    match chunks.next().await {
                        Some(Err(error)) => Err(error),
                        Some(Ok(first)) => {
                            let rest: ChunkStream =
                                Box::pin(futures_util::stream::once(async { Ok(first) }).chain(chunks));
                            Ok(rest)
                        }
                        None => Ok(chunks),
                    }
                }
            },
            GuardedStream::wrap,
        )
        .await
    }

    pub async fn embed(
        &self,
        model: &Arc<ResolvedModel>,
        call: &EmbedCall,
        hints: &RouteHints,
        deadline: tokio::time::Instant,
    ) -> Result<Routed<Embeddings>, RouteError> {
        self.run(
            model,
            hints,
            deadline,
            |backend, candidate| {
                let mut call = call.clone();
                call.upstream_model = candidate.upstream_model.clone();
                async move { backend.embed(&call).await }
            },
            |embeddings, _guard| embeddings,
        )
        .await
    }

    /// Feeds a background health check into the backend's circuit.
    pub fn observe_health(&self, backend: &str, result: Result<(), String>) {
        let Some(handle) = self.shared.catalog.backend(backend) else { return };
        let now = Instant::now();
        let transition = match result {
            Ok(()) => {
                handle.breaker().on_passed_health_check(now);
                None
            }
            Err(detail) if self.shared.settings.breaker.open_on_failed_health_check => {
                handle.breaker().on_failed_health_check(now, &detail)
            }
            Err(_) => None,
        };
        if let Some(transition) = transition {
            self.shared.circuit_changed(handle, transition);
        }
    }

    pub fn status(&self) -> RouterStatus {
        let now = Instant::now();
        let mode = lock(&self.shared.mode);
        let backends = self
            .shared
            .catalog
            .backends()
            .iter()
            .map(|handle| {
                let breaker = handle.breaker();
                let (error_rate, window_calls) = breaker.error_rate(now);
                BackendStatus {
                    name: handle.name().to_owned(),
                    kind: handle.backend.kind().as_str(),
                    circuit: breaker.state(),
                    cloud: handle.serves_cloud,
                    consecutive_failures: breaker.consecutive_failures(),
                    error_rate,
                    window_calls,
                    probe_in_secs: breaker.open_until().map(|until| until.saturating_duration_since(now).as_secs()),
                    in_flight: handle.outstanding(),
                    queued: handle.queued(),
                    max_concurrency: handle.max_concurrency(),
                    max_queue: handle.max_queue(),
                    ewma_latency_ms: handle.ewma_latency_ms(),
                }
            })
            .collect();
        RouterStatus {
            mode: mode.mode,
            mode_since_unix_ms: mode.since_unix_ms,
            privacy_mode: self.shared.settings.privacy_mode,
            sustain_model: self.shared.settings.sustain_model.clone(),
            backends,
            events: lock(&self.shared.events).newest_first(),
        }
    }

    /// Whether every model [`Router::plan`] may try for `model` is on Tier 1 (on-premises): the
    /// call cannot leave the organisation's own hardware, whichever candidate answers.
    pub fn stays_on_premises(&self, model: &Arc<ResolvedModel>, hints: &RouteHints) -> bool {
        // Held to Tier 1, `plan` keeps only the Tier 1 candidates (or refuses).
        hints.tier1_reason(&self.shared.settings, model.privacy_mode).is_some()
            || self.candidates(model, hints).iter().all(|candidate| candidate.tier == 1)
    }

    /// The candidates for `model`, in the order they are tried.
    pub fn plan(&self, model: &Arc<ResolvedModel>, hints: &RouteHints) -> Result<Vec<Arc<ResolvedModel>>, RouteError> {
        let mut chain = self.candidates(model, hints);
        if let Some(reason) = hints.tier1_reason(&self.shared.settings, model.privacy_mode) {
            chain.retain(|candidate| candidate.tier == 1);
            if chain.is_empty() {
                self.shared.metrics.tier1_refusals.get_or_create(&ModelLabel { model: model.name.clone() }).inc();
                tracing::warn!(model = %model.name, %reason, "refused: the request must stay on Tier 1 and the model has no Tier 1 candidate");
                self.shared.record_event(RouterEvent {
                    time_unix_ms: unix_now_millis(),
                    kind: "tier1_refusal",
                    backend: None,
                    model: Some(model.name.clone()),
                    from: None,
                    to: None,
                    detail: reason.clone(),
                });
                return Err(RouteError::Tier1Required { model: model.name.clone(), reason });
            }
        }
        Ok(chain)
    }

    /// `model`, then the request's alternates and the model's fallbacks, then (for Tier 2 work
    /// with no local candidate) the sustain model; cloud first when escalation is asked for.
    /// Before the Tier 1 rules of [`Router::plan`].
    fn candidates(&self, model: &Arc<ResolvedModel>, hints: &RouteHints) -> Vec<Arc<ResolvedModel>> {
        let catalog = &self.shared.catalog;
        let mut chain: Vec<Arc<ResolvedModel>> = vec![model.clone()];
        for name in hints.alternates.iter().chain(&model.fallbacks) {
            if let Some(fallback) = catalog.resolve(name)
                && !chain.iter().any(|known| known.name == fallback.name)
            {
                chain.push(fallback.clone());
            }
        }
        let has_local_candidate = chain.iter().any(|candidate| candidate.tier == 1);
        if model.tier >= 2
            && model.sustain
            && !has_local_candidate
            && let Some(sustain) = self.shared.settings.sustain_model.as_deref().and_then(|name| catalog.resolve(name))
            && sustain.kind == model.kind
        {
            chain.push(sustain.clone());
        }
        if hints.tier == Some(2) {
            // Escalation asked for: cloud candidates first, local ones as fallbacks.
            chain.sort_by_key(|candidate| std::cmp::Reverse(candidate.tier));
        }
        chain
    }

    async fn run<T, Call, Fut>(
        &self,
        model: &Arc<ResolvedModel>,
        hints: &RouteHints,
        deadline: tokio::time::Instant,
        call: Call,
        keep: fn(T, CallGuard) -> T,
    ) -> Result<Routed<T>, RouteError>
    where
        Call: Fn(Arc<dyn Backend>, Arc<ResolvedModel>) -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let chain = self.plan(model, hints)?;
        let settings = &self.shared.settings;
        let budget_secs = deadline.saturating_duration_since(tokio::time::Instant::now()).as_secs_f64().round() as u64;
        let mut attempts = 0u32;
        let mut last_failure: Option<BackendError> = None;
        let mut overloaded: Option<RouteError> = None;
        let mut open_circuits = Vec::new();
        for (position, candidate) in chain.iter().enumerate() {
            if position > 0 {
                let from = chain[position - 1].name.clone();
                self.shared.metrics.fallbacks.get_or_create(&FallbackLabels { from, to: candidate.name.clone() }).inc();
            }
            let mut tried: Vec<String> = Vec::new();
            let mut retry = 0u32;
            let outcome = loop {
                let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                if remaining.is_zero() {
                    return Err(deadline_error(last_failure, budget_secs));
                }
                let Some(handle) = self.pick(candidate, &tried) else {
                    break CandidateOutcome::CircuitsOpen;
                };
                let attempt_limit = remaining.min(Duration::from_secs(settings.attempt_timeout_secs));
                let attempt_deadline = tokio::time::Instant::now() + attempt_limit;
                let depth = handle.load_gauges.get().map(|gauges| gauges.queue_depth.clone());
                let queue_changed = move |queued: usize| {
                    if let Some(depth) = &depth {
                        depth.set(i64::try_from(queued).unwrap_or(i64::MAX));
                    }
                };
                let permit = match handle.admission.enter(attempt_deadline, queue_changed).await {
                    Ok(permit) => permit,
                    Err(refusal) => {
                        handle.breaker().on_neutral();
                        self.shared
                            .metrics
                            .shed
                            .get_or_create(&BackendLabel { backend: handle.name().to_owned() })
                            .inc();
                        tried.push(handle.name().to_owned());
                        let error = overload_error(&handle, refusal);
                        if tried.len() < candidate.replicas.len() {
                            overloaded = Some(error);
                            continue;
                        }
                        break CandidateOutcome::Overloaded(error);
                    }
                };
                let mut guard = CallGuard::new(self.shared.clone(), handle.clone(), permit);
                attempts += 1;
                let result =
                    tokio::time::timeout_at(attempt_deadline, call(handle.backend.clone(), candidate.clone())).await;
                let error = match result {
                    Ok(Ok(value)) => {
                        guard.succeeded();
                        return Ok(Routed {
                            value: keep(value, guard),
                            model: candidate.clone(),
                            backend: handle.name().to_owned(),
                            attempts,
                        });
                    }
                    Ok(Err(error)) => error,
                    Err(_) => BackendError::Timeout { backend: handle.name().to_owned(), timeout: attempt_limit },
                };
                guard.failed(&error);
                drop(guard);
                tracing::warn!(model = %candidate.name, backend = handle.name(), attempt = attempts, error = %error, "attempt failed");
                tried.push(handle.name().to_owned());
                match Next::after(&error) {
                    Next::GiveUp => return Err(RouteError::Backend(error)),
                    Next::Fallback => break CandidateOutcome::Failed(error),
                    Next::Retry { retry_after } => {
                        if retry >= settings.max_retries {
                            break CandidateOutcome::Failed(error);
                        }
                        if retry_after.is_some_and(|wait| wait > Duration::from_secs(settings.max_retry_after_secs)) {
                            break CandidateOutcome::Failed(error);
                        }
                        let delay = backoff(settings, retry, retry_after);
                        if tokio::time::Instant::now() + delay >= deadline {
                            break CandidateOutcome::Failed(error);
                        }
                        retry += 1;
                        self.shared
                            .metrics
                            .retries
                            .get_or_create(&BackendLabel { backend: handle.name().to_owned() })
                            .inc();
                        last_failure = Some(error);
                        tokio::time::sleep(delay).await;
                    }
                }
            };
            match outcome {
                CandidateOutcome::Failed(error) => last_failure = Some(error),
                CandidateOutcome::Overloaded(error) => overloaded = Some(error),
                CandidateOutcome::CircuitsOpen => open_circuits.push(candidate.clone()),
            }
        }
        if let Some(error) = overloaded {
            return Err(error);
        }
        if let Some(error) = last_failure {
            return Err(RouteError::Backend(error));
        }
        let now = Instant::now();
        let retry_after_secs = open_circuits
            .iter()
            .flat_map(|candidate| candidate.replicas.iter())
            .filter_map(|handle| handle.breaker().open_until())
            .map(|until| until.saturating_duration_since(now).as_secs().max(1))
            .min()
            .unwrap_or(1);
        let reasons: Vec<String> = open_circuits
            .iter()
            .flat_map(|candidate| candidate.replicas.iter())
            .map(|handle| {
                let breaker = handle.breaker();
                let reason = breaker.open_reason().unwrap_or("repeated failures");
                format!("backend '{}' is skipped while its circuit is open ({reason})", handle.name())
            })
            .collect();
        Err(RouteError::Unavailable { model: model.name.clone(), detail: reasons.join("; "), retry_after_secs })
    }

    /// Power of two choices among the replicas whose circuit admits a call, preferring ones
    /// this request has not tried yet.
    fn pick(&self, model: &ResolvedModel, tried: &[String]) -> Option<Arc<BackendHandle>> {
        let now = Instant::now();
        let mut open: Vec<&Arc<BackendHandle>> =
            model.replicas.iter().filter(|handle| handle.breaker().would_admit(now)).collect();
        if open.iter().any(|handle| !tried.iter().any(|name| name == handle.name())) {
            open.retain(|handle| !tried.iter().any(|name| name == handle.name()));
        }
        while !open.is_empty() {
            let chosen = match open.len() {
                1 => 0,
                len => {
                    let first = fastrand::usize(..len);
                    let second = (first + 1 + fastrand::usize(..len - 1)) % len;
                    if open[second].load_score() < open[first].load_score() { second } else { first }
                }
            };
            let handle = open.swap_remove(chosen);
            let (admit, transition) = handle.breaker().admit(now);
            if let Some(transition) = transition {
                self.shared.circuit_changed(handle, transition);
            }
            if admit != Admit::Refuse {
                return Some(handle.clone());
            }
        }
        None
    }
}

/// The chat request as `candidate`'s backend knows the model.
fn for_candidate(request: &ChatCompletionRequest, candidate: &ResolvedModel) -> ChatCompletionRequest {
    let mut request = request.clone();
    request.model = candidate.upstream_model.clone();
    request
}

/// The overall deadline passed: a timed-out last attempt says more than the deadline does.
fn deadline_error(last_failure: Option<BackendError>, budget_secs: u64) -> RouteError {
    match last_failure {
        Some(error @ BackendError::Timeout { .. }) => RouteError::Backend(error),
        _ => RouteError::DeadlineExceeded { secs: budget_secs },
    }
}

fn overload_error(handle: &BackendHandle, refusal: Refusal) -> RouteError {
    tracing::debug!(backend = handle.name(), ?refusal, "request shed");
    RouteError::Overloaded {
        backend: handle.name().to_owned(),
        concurrency: handle.max_concurrency().unwrap_or(0),
        queued: handle.queued(),
        retry_after_secs: handle.retry_after_secs(),
    }
}

impl Shared {
    pub(crate) fn circuit_changed(&self, handle: &BackendHandle, transition: Transition) {
        let backend = handle.name().to_owned();
        match transition.to {
            crate::CircuitState::Open => {
                tracing::warn!(%backend, from = transition.from.as_str(), reason = %transition.reason, "circuit opened");
            }
            _ => {
                tracing::info!(%backend, from = transition.from.as_str(), to = transition.to.as_str(), reason = %transition.reason, "circuit changed")
            }
        }
        let label = BackendLabel { backend: backend.clone() };
        self.metrics.circuit_state.get_or_create(&label).set(transition.to.gauge_value());
        self.metrics
            .circuit_transitions
            .get_or_create(&TransitionLabels { backend: backend.clone(), to: transition.to.as_str() })
            .inc();
        self.record_event(RouterEvent {
            time_unix_ms: unix_now_millis(),
            kind: "circuit",
            backend: Some(backend),
            model: None,
            from: Some(transition.from.as_str().to_owned()),
            to: Some(transition.to.as_str().to_owned()),
            detail: transition.reason,
        });
        if handle.serves_cloud {
            self.update_mode();
        }
    }

    pub(crate) fn record_event(&self, event: RouterEvent) {
        lock(&self.events).push(event);
    }

    /// Solo-sustain holds while no Tier 2 backend has a closed circuit.
    fn update_mode(&self) {
        let cloud: Vec<&Arc<BackendHandle>> =
            self.catalog.backends().iter().filter(|handle| handle.serves_cloud).collect();
        let cloud_down =
            !cloud.is_empty() && cloud.iter().all(|handle| handle.circuit() != crate::CircuitState::Closed);
        let wanted = if cloud_down { RouterMode::SoloSustain } else { RouterMode::Normal };
        let mut mode = lock(&self.mode);
        if mode.mode == wanted {
            return;
        }
        let from = mode.mode;
        mode.mode = wanted;
        mode.since_unix_ms = Some(unix_now_millis());
        drop(mode);
        self.metrics.solo_sustain.set(i64::from(wanted == RouterMode::SoloSustain));
        let detail = match wanted {
            RouterMode::SoloSustain => {
                "every Tier 2 backend is unavailable: Tier 2 work moves to Tier 1 where it may".to_owned()
            }
            RouterMode::Normal => "a Tier 2 backend answers again: Tier 2 work goes back to it".to_owned(),
        };
        match wanted {
            RouterMode::SoloSustain => tracing::warn!(from = from.as_str(), to = wanted.as_str(), "{detail}"),
            RouterMode::Normal => tracing::info!(from = from.as_str(), to = wanted.as_str(), "{detail}"),
        }
        self.record_event(RouterEvent {
            time_unix_ms: unix_now_millis(),
            kind: "mode",
            backend: None,
            model: None,
            from: Some(from.as_str().to_owned()),
            to: Some(wanted.as_str().to_owned()),
            detail,
        });
    }
}
