//! W3C trace context on upstream requests: a model server that traces (vLLM, a collector-
//! instrumented proxy) joins the caller's trace under Rampart's model-call span.

use opentelemetry::Context;
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value))
        {
            self.0.insert(name, value);
        }
    }
}

/// Adds `traceparent` (and `tracestate`) of the current context, when it has a valid span.
pub fn propagate(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let context = Context::current();
    if !context.span().span_context().is_valid() {
        return request;
    }
    let mut headers = http::HeaderMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(&mut headers));
    request.headers(headers)
}
