//! OpenTelemetry spans for each request, following the GenAI semantic conventions.
//!
//! One server span per API request (`POST /v1/chat/completions`), continuing the caller's
//! W3C `traceparent`; one client span per model call (`chat {model}`, `embeddings {model}`)
//! under it, carrying `gen_ai.*` attributes and an event per guardrail hit. The model call
//! runs inside the client span's context, so backends send its `traceparent` upstream.
//! Prompts and answers are never put on spans.

use std::sync::Arc;

use opentelemetry::global::{BoxedSpan, BoxedTracer};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The trace context of the request being served: the server span's, or the caller's when
/// no span is recorded.
#[derive(Clone)]
pub struct RequestTrace(pub Context);

/// Reads W3C `traceparent` / `tracestate` from request headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The caller's trace context, or an empty one.
pub fn incoming_context(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Starts the server span of an API request as a child of the caller's context.
pub fn start_server_span(
    tracer: &BoxedTracer,
    headers: &http::HeaderMap,
    method: &http::Method,
    route: &'static str,
    path: &str,
    request_id: &str,
) -> Context {
    let parent = incoming_context(headers);
    // HTTP conventions: `{method} {route}`, or the method alone when there is no template.
    let name = if route == "other" { method.to_string() } else { format!("{method} {route}") };
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.as_str().to_owned()),
        KeyValue::new("url.path", path.to_owned()),
        KeyValue::new("rampart.request_id", request_id.to_owned()),
    ];
    if route != "other" {
        attributes.push(KeyValue::new("http.route", route));
    }
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(tracer, &parent);
    parent.with_span(span)
}

/// Ends the server span with the response status (an error status for 5xx).
pub fn end_server_span(context: &Context, status: u16) {
    let span = context.span();
    span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
    if status >= 500 {
        span.set_status(Status::error(format!("HTTP {status}")));
        span.set_attribute(KeyValue::new("error.type", status.to_string()));
    }
    span.end();
}

/// The client span of one model call; ended (once) by `ModelCallSpan::end`.
pub struct ModelCallSpan {
    context: Context,
    operation: &'static str,
}

impl ModelCallSpan {
    /// Starts `{operation} {requested model}` under the request's span.
    pub fn start(tracer: &BoxedTracer, parent: Option<&RequestTrace>, operation: &'static str) -> Self {
        let parent = parent.map(|trace| trace.0.clone()).unwrap_or_default();
        let span: BoxedSpan = tracer
            .span_builder(operation)
            .with_kind(SpanKind::Client)
            .with_attributes([KeyValue::new("gen_ai.operation.name", operation)])
            .start_with_context(tracer, &parent);
        ModelCallSpan { context: parent.with_span(span), operation }
    }

    /// The context the model call runs in, so backends pass its `traceparent` on.
    pub fn context(&self) -> Context {
        self.context.clone()
    }

    pub fn is_recording(&self) -> bool {
        self.context.span().is_recording()
    }

    /// Names the span after the requested model, as the conventions ask.
    pub fn requested(&self, model: &str, request: &ModelRequestFacts) {
        let span = self.context.span();
        span.update_name(format!("{} {model}", self.operation));
        span.set_attribute(KeyValue::new("gen_ai.request.model", model.to_owned()));
        let mut attributes = Vec::new();
        if let Some(value) = request.max_tokens {
            attributes.push(KeyValue::new("gen_ai.request.max_tokens", i64::try_from(value).unwrap_or(i64::MAX)));
        }
        if let Some(value) = request.temperature {
            attributes.push(KeyValue::new("gen_ai.request.temperature", value));
        }
        if let Some(value) = request.top_p {
            attributes.push(KeyValue::new("gen_ai.request.top_p", value));
        }
        if let Some(value) = request.seed {
            attributes.push(KeyValue::new("gen_ai.request.seed", value));
        }
        if request.stream {
            attributes.push(KeyValue::new("rampart.stream", true));
        }
        span.set_attributes(attributes);
    }

    pub fn set(&self, attribute: KeyValue) {
        self.context.span().set_attribute(attribute);
    }

    /// A guardrail hit, as an event (never the matched text).
    pub fn guardrail_hit(&self, hit: &rampart_guardrails::Hit) {
        self.context.span().add_event(
            "rampart.guardrail",
            vec![
                KeyValue::new("rampart.guardrail.rule", hit.rule.to_string()),
                KeyValue::new("rampart.guardrail.entity", hit.entity),
                KeyValue::new("rampart.guardrail.category", hit.category.as_str()),
                KeyValue::new("rampart.guardrail.action", hit.action.as_str()),
                KeyValue::new("rampart.guardrail.stage", hit.stage.as_str()),
            ],
        );
    }

    /// Ends the span with what the call came to.
    pub fn end(&self, outcome: ModelCallOutcome<'_>) {
        let span = self.context.span();
        let mut attributes = vec![
            KeyValue::new("gen_ai.usage.input_tokens", i64::try_from(outcome.tokens_in).unwrap_or(i64::MAX)),
            KeyValue::new("gen_ai.usage.output_tokens", i64::try_from(outcome.tokens_out).unwrap_or(i64::MAX)),
            KeyValue::new("rampart.attempts", i64::from(outcome.attempts)),
            KeyValue::new("rampart.tenant", outcome.tenant.to_owned()),
            KeyValue::new("http.response.status_code", i64::from(outcome.status)),
        ];
        if let Some(model) = outcome.response_model {
            attributes.push(KeyValue::new("gen_ai.response.model", model.to_owned()));
        }
        if let Some(provider) = outcome.provider {
            attributes.push(KeyValue::new("gen_ai.provider.name", provider));
        }
        if let Some(backend) = outcome.backend {
            attributes.push(KeyValue::new("rampart.backend", backend.to_owned()));
        }
        if let Some(hit) = outcome.cache_hit {
            attributes.push(KeyValue::new("rampart.cache_hit", hit));
        }
        if outcome.cost_usd > 0.0 {
            attributes.push(KeyValue::new("rampart.cost_usd", outcome.cost_usd));
        }
        if let Some(id) = outcome.response_id {
            attributes.push(KeyValue::new("gen_ai.response.id", id.to_owned()));
        }
        if !outcome.finish_reasons.is_empty() {
            let reasons: Vec<opentelemetry::StringValue> =
                outcome.finish_reasons.iter().map(|reason| reason.clone().into()).collect();
            attributes.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                opentelemetry::Value::Array(opentelemetry::Array::String(reasons)),
            ));
        }
        span.set_attributes(attributes);
        if let Some(error) = outcome.error {
            span.set_attribute(KeyValue::new("error.type", outcome.error_type.unwrap_or("error")));
            span.set_status(Status::error(error.to_owned()));
        }
        span.end();
    }
}

/// The request parameters the conventions record.
#[derive(Debug, Default, Clone, Copy)]
pub struct ModelRequestFacts {
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<i64>,
    pub stream: bool,
}

/// What a finished model call came to.
pub struct ModelCallOutcome<'a> {
    pub status: u16,
    pub tenant: &'a str,
    pub response_model: Option<&'a str>,
    pub provider: Option<&'static str>,
    pub backend: Option<&'a str>,
    pub attempts: u32,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
    pub cache_hit: Option<bool>,
    pub response_id: Option<&'a str>,
    pub finish_reasons: &'a [String],
    pub error: Option<&'a str>,
    pub error_type: Option<&'static str>,
}

/// The no-op tracer: spans cost nothing and nothing is exported.
pub fn noop_tracer() -> BoxedTracer {
    BoxedTracer::new(Box::new(opentelemetry::trace::noop::NoopTracer::new()))
}

/// Shared so `AppState` stays `Sync` without naming the SDK.
pub type SharedTracer = Arc<BoxedTracer>;
