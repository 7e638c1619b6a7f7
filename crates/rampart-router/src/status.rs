//! What `GET /api/v1/router` shows: the mode, every backend's circuit and load, and recent
//! events (circuit and mode changes, Tier 1 refusals).

use std::collections::VecDeque;

use serde::Serialize;
use utoipa::ToSchema;

use crate::breaker::CircuitState;

/// Events kept in memory for the status endpoint; older ones are in the log.
pub const EVENT_HISTORY: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouterMode {
    /// Tier 2 is reachable (or none is configured).
    Normal,
    /// Every Tier 2 backend is unavailable: Tier 2 work runs on Tier 1.
    SoloSustain,
}

impl RouterMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RouterMode::Normal => "normal",
            RouterMode::SoloSustain => "solo_sustain",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouterEvent {
    pub time_unix_ms: i64,
    /// `circuit`, `mode` or `tier1_refusal`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackendStatus {
    pub name: String,
    pub kind: &'static str,
    pub circuit: CircuitState,
    /// Serves a Tier 2 model.
    pub cloud: bool,
    pub consecutive_failures: u32,
    /// Failed share of the calls in the breaker's window.
    pub error_rate: f64,
    pub window_calls: u32,
    /// Seconds until an open circuit lets a probe through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_in_secs: Option<u64>,
    pub in_flight: u64,
    pub queued: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    pub max_queue: usize,
    pub ewma_latency_ms: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouterStatus {
    pub mode: RouterMode,
    /// When the current mode began (Unix ms); absent if it has not changed since start-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_since_unix_ms: Option<i64>,
    pub privacy_mode: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sustain_model: Option<String>,
    pub backends: Vec<BackendStatus>,
    /// Newest first.
    pub events: Vec<RouterEvent>,
}

/// A bounded history, newest last.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    events: VecDeque<RouterEvent>,
}

impl EventLog {
    pub(crate) fn push(&mut self, event: RouterEvent) {
        if self.events.len() == EVENT_HISTORY {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub(crate) fn newest_first(&self) -> Vec<RouterEvent> {
        self.events.iter().rev().cloned().collect()
    }
}
