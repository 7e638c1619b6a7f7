//! Prometheus metrics. Labels are bounded: routes are templates, models and backends are
//! configured names (anything else is reported as `other`), never users or request ids.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub model: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub model: String,
    pub direction: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    pub backend: String,
    pub kind: &'static str,
}

/// A response cache lookup: the configured model and `hit`, `miss` or `error`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub model: String,
    pub result: &'static str,
}

/// A `[[limits]]` refusal: the limit's configured name (bounded) and why.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub limit: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<RouteLabels, Histogram>,
    pub in_flight: Gauge,
    pub tokens: Family<TokenLabels, Counter>,
    pub cost_usd: Family<ModelLabels, Counter<f64, AtomicU64>>,
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    pub upstream_duration: Family<BackendLabels, Histogram>,
    pub backend_up: Family<BackendLabels, Gauge>,
    pub request_log_failures: Counter,
    pub limit_refusals: Family<LimitLabels, Counter>,
    pub cache_lookups: Family<CacheLabels, Counter>,
    pub policy_decisions: Family<DecisionLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s: gateway overhead at the low end, long generations at the high end.
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// For other crates' metrics (the router's), registered before serving starts.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("rampart_http_requests", "HTTP requests by route, model and status", requests.clone());
        let request_duration =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "rampart_http_request_duration_seconds",
            "Time from request to the end of the response body",
            request_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "rampart_http_requests_in_flight",
            "Requests being served, streams included",
            in_flight.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register("rampart_model_tokens", "Tokens by model and direction (input, output)", tokens.clone());
        let cost_usd = Family::<ModelLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "rampart_model_cost_usd",
            "Cost in US dollars from the configured price table",
            cost_usd.clone(),
        );
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        registry.register(
            "rampart_upstream_errors",
            "Failed upstream calls by backend and kind",
            upstream_errors.clone(),
        );
        let upstream_duration =
            Family::<BackendLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "rampart_upstream_request_duration_seconds",
            "Upstream time to a complete response or to the stream's headers",
            upstream_duration.clone(),
        );
        let backend_up = Family::<BackendLabels, Gauge>::default();
        registry.register(
            "rampart_backend_up",
            "1 when the last health probe of the backend succeeded",
            backend_up.clone(),
        );
        let request_log_failures = Counter::default();
        registry.register(
            "rampart_request_log_write_failures",
            "Request-log batches that could not be written to the store",
            request_log_failures.clone(),
        );
        let limit_refusals = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rampart_limit_refusals",
            "Requests refused by [[limits]]: reason rate_limited, quota_exceeded or ledger_unavailable",
            limit_refusals.clone(),
        );
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            "rampart_cache_lookups",
            "Response cache lookups by model and result (hit, miss, error)",
            cache_lookups.clone(),
        );
        let policy_decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "rampart_policy_decisions",
            "Policy decisions on model calls: decision allow or deny",
            policy_decisions.clone(),
        );
        Metrics {
            policy_decisions,
            cache_lookups,
            limit_refusals,
            registry,
            requests,
            request_duration,
            in_flight,
            tokens,
            cost_usd,
            upstream_errors,
            upstream_duration,
            backend_up,
            request_log_failures,
        }
    }

    /// Tokens and cost of one finished model call.
    pub fn record_usage(&self, model: &str, tokens_in: u64, tokens_out: u64, cost_usd: f64) {
        self.tokens.get_or_create(&TokenLabels { model: model.to_owned(), direction: "input" }).inc_by(tokens_in);
        self.tokens.get_or_create(&TokenLabels { model: model.to_owned(), direction: "output" }).inc_by(tokens_out);
        if cost_usd > 0.0 {
            self.cost_usd.get_or_create(&ModelLabels { model: model.to_owned() }).inc_by(cost_usd);
        }
    }

    pub fn limit_refused(&self, error: &rampart_limits::LimitError) {
        use rampart_limits::LimitError;
        let reason = match error {
            LimitError::RateLimited { .. } => "rate_limited",
            LimitError::QuotaExceeded { .. } => "quota_exceeded",
            LimitError::Ledger(_) => "ledger_unavailable",
        };
        self.limit_refusals.get_or_create(&LimitLabels { limit: error.limit_name().to_owned(), reason }).inc();
    }

    pub fn record_policy_decision(&self, allow: bool) {
        let decision = if allow { "allow" } else { "deny" };
        self.policy_decisions.get_or_create(&DecisionLabels { decision }).inc();
    }

    pub fn cache_lookup(&self, model: &str, result: &'static str) {
        self.cache_lookups.get_or_create(&CacheLabels { model: model.to_owned(), result }).inc();
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
