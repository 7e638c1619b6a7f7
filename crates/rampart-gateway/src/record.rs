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
    /// The model call's span (`chat {model}`), ended with the outcome.
    pub span: crate::spans::ModelCallSpan,
    /// Why each choice ended, and the answer's id, for the span.
    pub finish_reasons: Vec<String>,
    pub response_id: Option<String>,
    /// What guardrails caught, by rule (never the text), for metrics, span and audit.
    pub guardrail_hits: Vec<rampart_guardrails::Hit>,
    /// What the conversation log keeps of the call, when it is on.
    pub conversation: Option<crate::conversation_log::ConversationDraft>,
    /// Sources retrieval added to the prompt, returned with the answer as `rampart.citations`.
    pub citations: Option<serde_json::Value>,
    /// When the first streamed token went out, for time to first token.
    first_token_seen: bool,
    finished: bool,
}

impl CallRecord {
    pub fn new(
        state: Arc<AppState>,
        request_id: String,
        endpoint: &'static str,
        caller: crate::auth::Caller,
        trace: Option<&crate::spans::RequestTrace>,
    ) -> Self {
        let operation = if endpoint == "embeddings" { "embeddings" } else { "chat" };
        let span = crate::spans::ModelCallSpan::start(&state.tracer, trace, operation);
        CallRecord {
            span,
            finish_reasons: Vec::new(),
            response_id: None,
            guardrail_hits: Vec::new(),
            conversation: None,
            citations: None,
            first_token_seen: false,
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

    /// Notes a streamed chunk with output: the first one sets time to first token.
    pub fn token_streamed(&mut self) {
        if std::mem::replace(&mut self.first_token_seen, true) {
            return;
        }
        if let Some(model) = &self.model {
            self.state.metrics.observe_time_to_first_token(&model.name, self.started.elapsed());
        }
    }

    /// Notes a whole answer's id and finish reasons.
    pub fn note_response(&mut self, response: &rampart_types::ChatCompletionResponse) {
        self.response_id = Some(response.id.clone());
        self.finish_reasons =
            response.choices.iter().filter_map(|choice| choice.finish_reason).map(finish_reason_name).collect();
    }

    /// Notes a streamed chunk: its id, any finish reason, and the first token's time.
    pub fn note_chunk(&mut self, chunk: &rampart_types::ChatCompletionChunk) {
        if self.response_id.is_none() && !chunk.id.is_empty() {
            self.response_id = Some(chunk.id.clone());
        }
        let mut has_output = false;
        for choice in &chunk.choices {
            has_output |= choice.delta.content.as_deref().is_some_and(|text| !text.is_empty())
                || choice.delta.tool_calls.is_some()
                || choice.delta.reasoning_content.is_some();
            if let Some(reason) = choice.finish_reason {
                self.finish_reasons.push(finish_reason_name(reason));
            }
        }
        if has_output {
            self.token_streamed();
        }
    }

    /// Guardrail hits, counted and put on the span as they are found.
    pub fn guardrail_hits(&mut self, hits: impl IntoIterator<Item = rampart_guardrails::Hit>) {
        for hit in hits {
            self.state.metrics.guardrail_hit(&hit);
            self.span.guardrail_hit(&hit);
            self.guardrail_hits.push(hit);
        }
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
        let model = if self.requested_model.is_empty() { model_name.clone() } else { self.requested_model.clone() };
        let provider = self.model.as_ref().and_then(|resolved| {
            let backend = self.backend.as_deref().unwrap_or_else(|| resolved.primary_backend());
            resolved
                .replicas
                .iter()
                .find(|replica| replica.name() == backend)
                .map(|replica| replica.backend.kind().as_str())
        });
        self.span.end(crate::spans::ModelCallOutcome {
            status,
            tenant: &self.caller.0.tenant_id,
            response_model: (!model_name.is_empty()).then_some(model_name.as_str()),
            provider: if self.cache == Some(true) { None } else { provider },
            backend: self.backend.as_deref(),
            attempts: self.attempts,
            tokens_in,
            tokens_out,
            cost_usd,
            cache_hit: self.cache,
            response_id: self.response_id.as_deref(),
            finish_reasons: &self.finish_reasons,
            error: error.as_deref(),
            error_type: (status >= 400).then(|| error_type(status)),
        });
        if status == 200
            && let (Some(recorder), Some(draft)) = (&self.state.conversations, self.conversation.take())
        {
            let tags = self
                .guardrail_hits
                .iter()
                .filter(|hit| hit.category == rampart_guardrails::Category::Pii)
                .map(|hit| hit.entity.to_owned())
                .collect();
            // Who the call is charged to: the authenticated user, or (authentication off) the
            // request's `user`.
            let user = self
                .principal
                .user
                .clone()
                .filter(|user| !user.is_empty())
                .or_else(|| Some(self.caller.0.user_id.clone()).filter(|user| !user.is_empty()));
            let who = (self.caller.0.tenant_id.clone(), user);
            recorder.record(who, self.request_id.clone(), model.clone(), draft, tags);
        }
        let guardrails: Vec<serde_json::Value> = self
            .guardrail_hits
            .iter()
            .map(|hit| {
                serde_json::json!({
                    "rule": &*hit.rule,
                    "entity": hit.entity,
                    "action": hit.action.as_str(),
                    "stage": hit.stage.as_str(),
                })
            })
            .collect();
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
                "guardrails": guardrails,
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
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let state = self.state.clone();
        let request_id = self.request_id.clone();
        crate::background::spawn(async move {
            if let Err(error) = state.limiter.settle(&permit, usage).await {
                tracing::error!(%request_id, %error, "could not settle a request's limits; its reservation stays charged");
            }
        });
    }
}

fn finish_reason_name(reason: rampart_types::FinishReason) -> String {
    serde_json::to_value(reason).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// `error.type` of a failed call, by status: bounded, as the conventions want.
fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        429 => "rate_limited",
        CLIENT_CLOSED_REQUEST => "client_closed",
        502 => "upstream_error",
        503 => "unavailable",
        504 => "timeout",
        _ if status >= 500 => "internal",
        _ => "error",
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
