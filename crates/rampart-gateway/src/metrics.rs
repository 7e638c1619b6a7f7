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
    pub guardrail_hits: Family<GuardrailLabels, Counter>,
    pub time_to_first_token: Family<ModelLabels, Histogram>,
}

/// A guardrail hit: the configured rule (bounded by the config), what it did, where, and
/// the detector's category; never the matched text.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GuardrailLabels {
    pub rule: String,
    pub action: &'static str,
    pub stage: &'static str,
    pub category: &'static str,
}

fn first_token_histogram() -> Histogram {
    // 10 ms .. 30 s: an in-process model's first token at the low end, a queued cloud call's
    // at the high end.
    Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
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
        let guardrail_hits = Family::<GuardrailLabels, Counter>::default();
        registry.register(
            "rampart_guardrail_hits",
            "Guardrail findings by rule, action (block, redact, flag), stage and category",
            guardrail_hits.clone(),
        );
        let time_to_first_token =
            Family::<ModelLabels, Histogram>::new_with_constructor(first_token_histogram as fn() -> Histogram);
        registry.register(
            "rampart_time_to_first_token_seconds",
            "Time from request to the first streamed token, by model",
            time_to_first_token.clone(),
        );
        Metrics {
            guardrail_hits,
            time_to_first_token,
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

    pub fn guardrail_hit(&self, hit: &rampart_guardrails::Hit) {
        self.guardrail_hits
            .get_or_create(&GuardrailLabels {
                rule: hit.rule.to_string(),
                action: hit.action.as_str(),
                stage: hit.stage.as_str(),
                category: hit.category.as_str(),
            })
            .inc();
    }

    pub fn observe_time_to_first_token(&self, model: &str, elapsed: std::time::Duration) {
        self.time_to_first_token.get_or_create(&ModelLabels { model: model.to_owned() }).observe(elapsed.as_secs_f64());
    }

    pub fn cache_lookup(&self, model: &str, result: &'static str) {
        self.cache_lookups.get_or_create(&CacheLabels { model: model.to_owned(), result }).inc();
    }

    /// The exposition in Prometheus text format 0.0.4 (what `/metrics` declares and what
    /// `promtool check metrics` reads): the encoder writes OpenMetrics, whose counter families
    /// are named without `_total` and which ends with `# EOF`.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        to_text_format(&text)
    }
}

/// OpenMetrics text → Prometheus text 0.0.4: `# HELP` / `# TYPE` of counters name the
/// `_total` series, and `# EOF` / `# UNIT` lines go.
fn to_text_format(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len() + 64 * counters.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod text_format_tests {
    #[test]
    fn counters_are_described_under_their_total_series() {
        let open = "# HELP a_requests Requests.\n# TYPE a_requests counter\na_requests_total{x=\"1\"} 3\n# HELP b Gauge.\n# TYPE b gauge\nb 1\n# EOF\n";
        assert_eq!(
            super::to_text_format(open),
            "# HELP a_requests_total Requests.\n# TYPE a_requests_total counter\na_requests_total{x=\"1\"} 3\n# HELP b Gauge.\n# TYPE b gauge\nb 1\n"
        );
    }
}
