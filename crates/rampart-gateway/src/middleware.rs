//! The layer every request passes: request id, panic isolation, in-flight and latency metrics.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::FutureExt;
use http_body::{Frame, SizeHint};
use tracing::Instrument;

use crate::error::ApiError;
use crate::metrics::{Metrics, RequestLabels, RouteLabels};
use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The client's `x-request-id`, or a generated UUIDv7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The configured model a response was for, set by model handlers for the metrics labels.
#[derive(Debug, Clone)]
pub struct ModelLabel(pub String);

/// Route templates used as metric labels; anything else is `other`, so labels stay bounded.
fn route_label(path: &str) -> &'static str {
    const ROUTES: &[&str] = &[
        "/",
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/models",
        "/health",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/api/v1/requests",
    ];
    if let Some(route) = ROUTES.iter().find(|route| **route == path) {
        return route;
    }
    if path.starts_with("/v1/models/") {
        return "/v1/models/{id}";
    }
    if path.starts_with("/ui/") {
        return "/ui/{asset}";
    }
    "other"
}

/// Accepts a client request id if it is short and printable; otherwise makes one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty() && value.len() <= 128 && value.bytes().all(|byte| byte.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub async fn observe(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let id = request_id(&request);
    request.extensions_mut().insert(RequestId(id.clone()));
    let route = route_label(request.uri().path());
    // Spans for API calls only: probes, metrics scrapes and page assets would drown them.
    let path = request.uri().path();
    let spanned = path.starts_with("/v1/") || path.starts_with("/api/");
    let trace = if spanned {
        crate::spans::start_server_span(&state.tracer, request.headers(), request.method(), route, path, &id)
    } else {
        crate::spans::incoming_context(request.headers())
    };
    request.extensions_mut().insert(crate::spans::RequestTrace(trace.clone()));
    let guard = InFlight::start(state.metrics.clone(), route, spanned.then_some(trace));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), route);
    let outcome = AssertUnwindSafe(next.run(request)).catch_unwind().instrument(span).await;
    let mut response = match outcome {
        Ok(response) => response,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(request_id = %id, %detail, "handler panicked; answered 500");
            ApiError::Internal { request_id: id.clone() }.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let model = response.extensions().get::<ModelLabel>().map(|label| label.0.clone()).unwrap_or_default();
    let status = response.status().as_u16();
    let guard = guard.labelled(model, status);
    response.map(|body| Body::new(ObservedBody { inner: body, _guard: guard }))
}

/// Counts a request as in flight until its response body is finished or dropped, then
/// records its count and duration.
struct InFlight {
    metrics: Arc<Metrics>,
    route: &'static str,
    started: Instant,
    outcome: Option<(String, u16)>,
    /// The server span, ended with the status when the response is done.
    trace: Option<opentelemetry::Context>,
}

impl InFlight {
    fn start(metrics: Arc<Metrics>, route: &'static str, trace: Option<opentelemetry::Context>) -> Self {
        metrics.in_flight.inc();
        InFlight { metrics, route, started: Instant::now(), outcome: None, trace }
    }

    fn labelled(mut self, model: String, status: u16) -> Self {
        self.outcome = Some((model, status));
        self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        // A request dropped before it had a response is a client disconnect.
        let (model, status) = self.outcome.take().unwrap_or((String::new(), crate::record::CLIENT_CLOSED_REQUEST));
        if let Some(trace) = self.trace.take() {
            crate::spans::end_server_span(&trace, status);
        }
        self.metrics.requests.get_or_create(&RequestLabels { route: self.route.to_owned(), model, status }).inc();
        self.metrics
            .request_duration
            .get_or_create(&RouteLabels { route: self.route.to_owned() })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

struct ObservedBody {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for ObservedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_bounded() {
        assert_eq!(route_label("/v1/chat/completions"), "/v1/chat/completions");
        assert_eq!(route_label("/v1/models/gpt-4o"), "/v1/models/{id}");
        assert_eq!(route_label("/"), "/");
        assert_eq!(route_label("/ui/app.js"), "/ui/{asset}");
        assert_eq!(route_label("/wp-admin/evil"), "other");
    }
}
