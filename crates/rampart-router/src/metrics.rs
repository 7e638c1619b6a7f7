//! The router's Prometheus metrics, registered into the gateway's registry. Labels are
//! configured backend and model names only.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabel {
    pub backend: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    pub backend: String,
    pub to: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FallbackLabels {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabel {
    pub model: String,
}

/// One backend's load gauges, kept on its handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadGauges {
    pub(crate) in_flight: Gauge,
    pub(crate) queue_depth: Gauge,
}

#[derive(Clone, Default)]
pub struct RouterMetrics {
    pub solo_sustain: Gauge,
    pub circuit_state: Family<BackendLabel, Gauge>,
    pub circuit_transitions: Family<TransitionLabels, Counter>,
    pub queue_depth: Family<BackendLabel, Gauge>,
    pub in_flight: Family<BackendLabel, Gauge>,
    pub retries: Family<BackendLabel, Counter>,
    pub fallbacks: Family<FallbackLabels, Counter>,
    pub shed: Family<BackendLabel, Counter>,
    pub tier1_refusals: Family<ModelLabel, Counter>,
}

impl RouterMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rampart_router_solo_sustain",
            "1 while every Tier 2 backend is unavailable and Tier 2 work runs on Tier 1",
            self.solo_sustain.clone(),
        );
        registry.register(
            "rampart_circuit_state",
            "Circuit of each backend: 0 closed, 1 half-open, 2 open",
            self.circuit_state.clone(),
        );
        registry.register(
            "rampart_circuit_transitions",
            "Circuit state changes by backend and new state",
            self.circuit_transitions.clone(),
        );
        registry.register(
            "rampart_backend_queue_depth",
            "Requests waiting for a turn at each backend",
            self.queue_depth.clone(),
        );
        registry.register("rampart_backend_in_flight", "Requests running at each backend", self.in_flight.clone());
        registry.register("rampart_router_retries", "Retries of a failed attempt, by backend", self.retries.clone());
        registry.register(
            "rampart_router_fallbacks",
            "Requests handed from one model to a fallback",
            self.fallbacks.clone(),
        );
        registry.register(
            "rampart_backpressure_rejections",
            "Requests refused with 429 because a backend's queue was full",
            self.shed.clone(),
        );
        registry.register(
            "rampart_router_tier1_refusals",
            "Requests refused because they had to stay on Tier 1 and the model is Tier 2",
            self.tier1_refusals.clone(),
        );
    }
}
