//! One model call's bookkeeping: request-log entry, token and cost metrics, written exactly
//! once when the call ends, whether it succeeded, failed or the client went away.

use std::sync::Arc;
use std::time::Instant;

use rampart_core::{Principal, RequestLogEntry, unix_now_millis};
use rampart_limits::Permit;
use rampart_types::Usage;

use crate::state::AppState;
use rampart_router::ResolvedModel;

/// Status recorded when the client disconnects before the response is complete (nginx's 499).
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

pub struct CallRecord {
    state: Arc<AppState>,
    request_id: String,
    endpoint: &'static str,
    started: Instant,
    started_unix_ms: i64,
    pub requested_model: String,
    /// The model that answered (the one asked for, or a fallback).
    pub model: Option<Arc<ResolvedModel>>,
    /// The backend that answered.
    pub backend: Option<String>,
    /// Upstream attempts made, retries and fallbacks included.
    pub attempts: u32,
    pub stream: bool,
    /// Whether a stream's client asked for usage (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Usage seen so far (streams report it at the end).
    pub usage: Option<Usage>,
    /// Who the call is charged to (`crate::principal::principal_from`); nobody until set.
    pub principal: Principal,
    /// The call's reservation on `[[limits]]`, settled when the call ends.
    pub permit: Permit,
    /// The prompt as counted before sending, when something needed it.
    pub prompt_tokens: Option<u64>,
    /// Output tokens counted as a stream went out, for settling when the upstream never
    /// reported usage (a cut or abandoned stream).
    pub streamed_tokens: Option<u64>,
    /// For a call under token or spend limits: the encoding that counts a stream's output as
    /// it goes out, and the cap a budget set on the answer, if any.
    pub stream_meter: Option<(rampart_tokens::Encoding, Option<u64>)>,
    /// `Some(true)` when the answer came from the response cache (no tokens, no cost),
    /// `Some(false)` when the request used the cache and missed; `None` when it did not use it.
    pub cache: Option<bool>,
    /// Who called: the decision's identity and the outcome's audit record.
    caller: crate::auth::Caller,
    finished: bool,
}

impl CallRecord {
    pub fn new(state: Arc<AppState>, request_id: String, endpoint: &'static str, caller: crate::auth::Caller) -> Self {
        CallRecord {
            state,
            request_id,
            endpoint,
            started: Instant::now(),
            started_unix_ms: unix_now_millis(),
            requested_model: String::new(),
            model: None,
            backend: None,
            attempts: 0,
            stream: false,
            include_usage: false,
            usage: None,
            principal: Principal::default(),
            permit: Permit::default(),
            prompt_tokens: None,
            streamed_tokens: None,
            stream_meter: None,
            cache: None,
            caller,
            finished: false,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn caller(&self) -> &crate::auth::Caller {
        &self.caller
    }

    /// Tags `response` with the configured model, for the request metrics' labels.
    pub fn label(&self, mut response: axum::response::Response) -> axum::response::Response {
        if let Some(model) = &self.model {
            response.extensions_mut().insert(crate::middleware::ModelLabel(model.name.clone()));
        }
        response
    }

    /// Notes which model and backend answered, after how many attempts.
    pub fn served<T>(&mut self, routed: &rampart_router::Routed<T>) {
        self.model = Some(routed.model.clone());
        self.backend = Some(routed.backend.clone());
        self.attempts = routed.attempts;
    }

    /// Says who answered, and for a complete answer what it cost: `x-rampart-model`,
    /// `x-rampart-backend`, `x-rampart-attempts` and `x-rampart-cost` (US dollars).
    pub fn served_headers(&self, headers: &mut axum::http::HeaderMap, with_cost: bool) {
        use axum::http::HeaderValue;
        let Some(model) = &self.model else { return };
        if let Ok(value) = HeaderValue::from_str(&model.name) {
            headers.insert("x-rampart-model", value);
        }
        if let Some(backend) = &self.backend
            && let Ok(value) = HeaderValue::from_str(backend)
        {
            headers.insert("x-rampart-backend", value);
        }
        headers.insert("x-rampart-attempts", HeaderValue::from(self.attempts));
        if let Some(hit) = self.cache {
            headers.insert(crate::cache::CACHE_HEADER, HeaderValue::from_static(if hit { "hit" } else { "miss" }));
        }
        if with_cost {
            let (tokens_in, tokens_out) = self.billed_tokens();
            if let Ok(value) = HeaderValue::from_str(&format_cost(model.price.cost_usd(tokens_in, tokens_out))) {
                headers.insert("x-rampart-cost", value);
            }
        }
    }

    pub fn state_metrics(&self) -> &crate::metrics::Metrics {
        &self.state.metrics
    }

    pub fn finish(&mut self, status: u16, error: Option<String>) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        self.settle_limits();
        let (tokens_in, tokens_out) = self.billed_tokens();
        let (model_name, backend, cost_usd) = match &self.model {
            Some(model) => {
                let cost = model.price.cost_usd(tokens_in, tokens_out);
                self.state.metrics.record_usage(&model.name, tokens_in, tokens_out, cost);
                let backend = self.backend.clone().unwrap_or_else(|| model.primary_backend().to_owned());
                (model.name.clone(), backend, cost)
            }
            None => (String::new(), String::new(), 0.0),
        };
        let model = if self.requested_model.is_empty() { model_name } else { self.requested_model.clone() };
        // What happened, after the answer: the decision before the call was recorded (and
        // awaited) already; this record is written without holding the client up.
        self.state.audit.record_later(crate::audit::event(
            "outcome",
            Some(self.caller.0.tenant_id.clone()),
            Some(self.caller.actor()),
            Some(self.request_id.clone()),
            serde_json::json!({
                "endpoint": self.endpoint,
                "model": model,
                "backend": backend,
                "status": status,
                "stream": self.stream,
                "cache": self.cache,
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "cost_usd": cost_usd,
                "latency_ms": u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "error": error,
            }),
        ));
        self.state.request_log.record(RequestLogEntry {
            id: uuid::Uuid::now_v7().to_string(),
            request_id: self.request_id.clone(),
            time_unix_ms: self.started_unix_ms,
            endpoint: self.endpoint.to_owned(),
            model,
            backend,
            status,
            stream: self.stream,
            tokens_in,
            tokens_out,
            latency_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cost_usd,
            error,
            api_key_id: self.principal.api_key_id.clone(),
            tenant: self.principal.tenant.clone(),
            user: self.principal.user.clone(),
        });
    }
}

impl CallRecord {
    /// The upstream tokens this call used: none for an answer from the cache.
    fn billed_tokens(&self) -> (u64, u64) {
        match self.usage {
            Some(usage) if self.cache != Some(true) => (usage.prompt_tokens, usage.completion_tokens),
            _ => (0, 0),
        }
    }

    /// Settles the limits' reservation with the call's usage: what the upstream reported, or
    /// else the prompt as counted plus the tokens streamed; with neither, the whole
    /// reservation stays charged. Runs in the background: the call is over, and a ledger that
    /// cannot be reached costs only the unreturned part of a reservation.
    fn settle_limits(&mut self) {
        let permit = std::mem::take(&mut self.permit);
        if permit.is_empty() {
            return;
        }
        let usage = self.usage.map(|usage| (usage.prompt_tokens, usage.completion_tokens)).or_else(|| {
            let streamed = self.streamed_tokens?;
            Some((self.prompt_tokens?, streamed))
        });
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let state = self.state.clone();
        let request_id = self.request_id.clone();
        runtime.spawn(async move {
            if let Err(error) = state.limiter.settle(&permit, usage).await {
                tracing::error!(%request_id, %error, "could not settle a request's limits; its reservation stays charged");
            }
        });
    }
}

/// US dollars with enough decimals for one cheap call (a millionth of a cent).
pub fn format_cost(cost_usd: f64) -> String {
    format!("{cost_usd:.8}")
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(CLIENT_CLOSED_REQUEST, Some("client disconnected before the response was complete".to_owned()));
        }
    }
}
