//! One model call's bookkeeping: request-log entry, token and cost metrics, written exactly
//! once when the call ends, whether it succeeded, failed or the client went away.

use std::sync::Arc;
use std::time::Instant;

use rampart_core::{RequestLogEntry, unix_now_millis};
use rampart_types::Usage;

use crate::catalog::ResolvedModel;
use crate::state::AppState;

/// Status recorded when the client disconnects before the response is complete (nginx's 499).
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

pub struct CallRecord {
    state: Arc<AppState>,
    request_id: String,
    endpoint: &'static str,
    started: Instant,
    started_unix_ms: i64,
    pub requested_model: String,
    pub model: Option<Arc<ResolvedModel>>,
    pub stream: bool,
    /// Whether a stream's client asked for usage (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Usage seen so far (streams report it at the end).
    pub usage: Option<Usage>,
    finished: bool,
}

impl CallRecord {
    pub fn new(state: Arc<AppState>, request_id: String, endpoint: &'static str) -> Self {
        CallRecord {
            state,
            request_id,
            endpoint,
            started: Instant::now(),
            started_unix_ms: unix_now_millis(),
            requested_model: String::new(),
            model: None,
            stream: false,
            include_usage: false,
            usage: None,
            finished: false,
        }
    }

    /// Tags `response` with the configured model, for the request metrics' labels.
    pub fn label(&self, mut response: axum::response::Response) -> axum::response::Response {
        if let Some(model) = &self.model {
            response.extensions_mut().insert(crate::middleware::ModelLabel(model.name.clone()));
        }
        response
    }

    pub fn state_metrics(&self) -> &crate::metrics::Metrics {
        &self.state.metrics
    }

    pub fn finish(&mut self, status: u16, error: Option<String>) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let (tokens_in, tokens_out) =
            self.usage.map(|usage| (usage.prompt_tokens, usage.completion_tokens)).unwrap_or((0, 0));
        let (model_name, backend, cost_usd) = match &self.model {
            Some(model) => {
                let cost = model.price.cost_usd(tokens_in, tokens_out);
                self.state.metrics.record_usage(&model.name, tokens_in, tokens_out, cost);
                (model.name.clone(), model.backend.name().to_owned(), cost)
            }
            None => (String::new(), String::new(), 0.0),
        };
        let model = if self.requested_model.is_empty() { model_name } else { self.requested_model.clone() };
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
        });
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(CLIENT_CLOSED_REQUEST, Some("client disconnected before the response was complete".to_owned()));
        }
    }
}
