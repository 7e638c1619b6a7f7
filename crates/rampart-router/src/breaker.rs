//! One circuit breaker per backend: consecutive failures or an error rate over a sliding
//! window open it; after `open_for` one probe call is let through (half-open), and its outcome
//! closes or re-opens the circuit.
//!
//! Pure state: the caller passes the time, so transitions are tested without sleeping.

use std::time::{Duration, Instant};

use rampart_config::BreakerConfig;
use serde::Serialize;

/// Sub-windows the error-rate window is divided into; the oldest is dropped as time moves.
const BUCKETS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    /// For the `rampart_circuit_state` gauge.
    pub fn gauge_value(self) -> i64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::HalfOpen => 1,
            CircuitState::Open => 2,
        }
    }
}

/// Whether a call may go to the backend now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// The circuit is closed.
    Call,
    /// The circuit is half-open and this call is its one probe: its outcome decides.
    Probe,
    /// The circuit is open (or its probe is in flight).
    Refuse,
}

/// A change of state, for logs, events and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: CircuitState,
    pub to: CircuitState,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Index of the sub-window this bucket counts (time since `epoch` / bucket width).
    slot: u64,
    calls: u32,
    failures: u32,
}

#[derive(Debug)]
pub struct Breaker {
    settings: BreakerConfig,
    state: State,
    consecutive_failures: u32,
    buckets: [Bucket; BUCKETS as usize],
    epoch: Instant,
    /// Why the circuit last opened, for errors while it is open.
    open_reason: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { probe_in_flight: bool },
}

impl Breaker {
    pub fn new(settings: BreakerConfig, now: Instant) -> Self {
        Breaker {
            settings,
            state: State::Closed,
            consecutive_failures: 0,
            buckets: [Bucket::default(); BUCKETS as usize],
            epoch: now,
            open_reason: None,
        }
    }

    pub fn state(&self) -> CircuitState {
        match self.state {
            State::Closed => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Whether a call could be admitted now, without taking the probe.
    pub fn would_admit(&self, now: Instant) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until } => now >= until,
            State::HalfOpen { probe_in_flight } => !probe_in_flight,
        }
    }

    /// Admits a call; an open circuit whose time is up turns half-open and admits one probe.
    pub fn admit(&mut self, now: Instant) -> (Admit, Option<Transition>) {
        match self.state {
            State::Closed => (Admit::Call, None),
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen { probe_in_flight: true };
                let transition = self.transition(CircuitState::Open, "open period over: probing with one call");
                (Admit::Probe, Some(transition))
            }
            State::Open { .. } => (Admit::Refuse, None),
            State::HalfOpen { probe_in_flight: false } => {
                self.state = State::HalfOpen { probe_in_flight: true };
                (Admit::Probe, None)
            }
            State::HalfOpen { probe_in_flight: true } => (Admit::Refuse, None),
        }
    }

    pub fn on_success(&mut self, now: Instant) -> Option<Transition> {
        self.count(now, false);
        self.consecutive_failures = 0;
        match self.state {
            State::HalfOpen { .. } | State::Open { .. } => {
                let from = self.state();
                self.close();
                Some(self.transition(from, "probe succeeded"))
            }
            State::Closed => None,
        }
    }

    pub fn on_failure(&mut self, now: Instant, detail: &str) -> Option<Transition> {
        self.count(now, true);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.state {
            State::HalfOpen { .. } => Some(self.open(now, format!("probe failed: {detail}"))),
            State::Open { .. } => None,
            State::Closed => {
                if self.consecutive_failures >= self.settings.consecutive_failures {
                    let reason = format!("{} consecutive failures; last: {detail}", self.consecutive_failures);
                    return Some(self.open(now, reason));
                }
                let (calls, failures) = self.window_totals(now);
                let rate = f64::from(failures) / f64::from(calls.max(1));
                if calls >= self.settings.min_calls && rate >= self.settings.error_rate {
                    let reason = format!(
                        "{failures} of {calls} calls failed in {} s; last: {detail}",
                        self.settings.window_secs
                    );
                    return Some(self.open(now, reason));
                }
                None
            }
        }
    }

    /// A call whose outcome says nothing about the backend's health (the client went away, or
    /// the request was refused as invalid): a probe slot is handed back.
    pub fn on_neutral(&mut self) {
        if let State::HalfOpen { probe_in_flight: true } = self.state {
            self.state = State::HalfOpen { probe_in_flight: false };
        }
    }

    /// The background health check failed: open now rather than wait for requests to fail.
    pub fn on_failed_health_check(&mut self, now: Instant, detail: &str) -> Option<Transition> {
        match self.state {
            State::Open { .. } | State::HalfOpen { probe_in_flight: true } => None,
            State::Closed | State::HalfOpen { probe_in_flight: false } => {
                Some(self.open(now, format!("health check failed: {detail}")))
            }
        }
    }

    /// The background health check passed: an open circuit may probe at once.
    pub fn on_passed_health_check(&mut self, now: Instant) {
        if let State::Open { until } = self.state
            && until > now
        {
            self.state = State::Open { until: now };
        }
    }

    /// Share of failed calls in the current window, and how many calls it holds.
    pub fn error_rate(&self, now: Instant) -> (f64, u32) {
        let (calls, failures) = self.window_totals(now);
        (f64::from(failures) / f64::from(calls.max(1)), calls)
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// When an open circuit lets its probe through.
    pub fn open_until(&self) -> Option<Instant> {
        match self.state {
            State::Open { until } => Some(until),
            _ => None,
        }
    }

    fn open(&mut self, now: Instant, reason: String) -> Transition {
        let from = self.state();
        self.state = State::Open { until: now + Duration::from_secs(self.settings.open_secs) };
        let transition = self.transition(from, &reason);
        self.open_reason = Some(reason);
        transition
    }

    /// Why the circuit last opened.
    pub fn open_reason(&self) -> Option<&str> {
        self.open_reason.as_deref()
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.consecutive_failures = 0;
        self.buckets = [Bucket::default(); BUCKETS as usize];
    }

    fn transition(&self, from: CircuitState, reason: &str) -> Transition {
        Transition { from, to: self.state(), reason: reason.to_owned() }
    }

    fn bucket_width(&self) -> Duration {
        Duration::from_secs(self.settings.window_secs.max(1)) / BUCKETS
    }

    fn slot_of(&self, now: Instant) -> u64 {
        let width = self.bucket_width().as_micros().max(1);
        u64::try_from(now.saturating_duration_since(self.epoch).as_micros() / width).unwrap_or(u64::MAX)
    }

    fn count(&mut self, now: Instant, failed: bool) {
        let slot = self.slot_of(now);
        let bucket = &mut self.buckets[(slot % u64::from(BUCKETS)) as usize];
        if bucket.slot != slot {
            *bucket = Bucket { slot, calls: 0, failures: 0 };
        }
        bucket.calls = bucket.calls.saturating_add(1);
        if failed {
            bucket.failures = bucket.failures.saturating_add(1);
        }
    }

    fn window_totals(&self, now: Instant) -> (u32, u32) {
        let current = self.slot_of(now);
        let oldest = current.saturating_sub(u64::from(BUCKETS) - 1);
        self.buckets
            .iter()
            .filter(|bucket| bucket.calls > 0 && (oldest..=current).contains(&bucket.slot))
            .fold((0, 0), |(calls, failures), bucket| (calls + bucket.calls, failures + bucket.failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: 3,
            error_rate: 0.5,
            min_calls: 10,
            window_secs: 10,
            open_secs: 5,
            open_on_failed_health_check: true,
        }
    }

    #[test]
    fn consecutive_failures_open_then_a_probe_closes() {
        let start = Instant::now();
        let mut breaker = Breaker::new(settings(), start);
        assert!(breaker.on_failure(start, "503").is_none());
        assert!(breaker.on_failure(start, "503").is_none());
        let opened = breaker.on_failure(start, "503");
        assert_eq!(opened.map(|t| (t.from, t.to)), Some((CircuitState::Closed, CircuitState::Open)));
        assert_eq!(breaker.admit(start + Duration::from_secs(4)).0, Admit::Refuse);

        let (admit, transition) = breaker.admit(start + Duration::from_secs(5));
        assert_eq!(admit, Admit::Probe);
        assert_eq!(transition.map(|t| t.to), Some(CircuitState::HalfOpen));
        // Only one probe at a time.
        assert_eq!(breaker.admit(start + Duration::from_secs(5)).0, Admit::Refuse);
        let closed = breaker.on_success(start + Duration::from_secs(6));
        assert_eq!(closed.map(|t| (t.from, t.to)), Some((CircuitState::HalfOpen, CircuitState::Closed)));
        assert_eq!(breaker.admit(start + Duration::from_secs(6)).0, Admit::Call);
    }

    #[test]
    fn a_failed_probe_reopens_for_another_period() {
        let start = Instant::now();
        let mut breaker = Breaker::new(settings(), start);
        for _ in 0..3 {
            breaker.on_failure(start, "refused");
        }
        let probe_at = start + Duration::from_secs(5);
        assert_eq!(breaker.admit(probe_at).0, Admit::Probe);
        let reopened = breaker.on_failure(probe_at, "refused");
        assert_eq!(reopened.map(|t| (t.from, t.to)), Some((CircuitState::HalfOpen, CircuitState::Open)));
        assert_eq!(breaker.admit(probe_at + Duration::from_secs(4)).0, Admit::Refuse);
        assert_eq!(breaker.admit(probe_at + Duration::from_secs(5)).0, Admit::Probe);
    }

    #[test]
    fn error_rate_opens_only_past_the_minimum_calls_and_forgets_old_calls() {
        let start = Instant::now();
        let mut breaker = Breaker::new(settings(), start);
        // Alternate: never 3 in a row, 50 % failures.
        for index in 0..9 {
            let outcome = if index % 2 == 0 { breaker.on_failure(start, "500") } else { breaker.on_success(start) };
            assert!(outcome.is_none(), "opened after {} calls", index + 1);
        }
        // Ten calls in the window, five failed: at the 50 % rate.
        let opened = breaker.on_success(start);
        assert!(opened.is_none());
        assert_eq!(breaker.state(), CircuitState::Closed);
        let opened = breaker.on_failure(start, "500");
        assert_eq!(opened.map(|t| t.to), Some(CircuitState::Open));

        // The same pattern spread beyond the window never opens it.
        let mut breaker = Breaker::new(settings(), start);
        for index in 0..40u64 {
            let now = start + Duration::from_secs(index * 4);
            let outcome = if index % 2 == 0 { breaker.on_failure(now, "500") } else { breaker.on_success(now) };
            assert!(outcome.is_none(), "opened at call {index}");
        }
    }

    #[test]
    fn a_neutral_outcome_hands_the_probe_back() {
        let start = Instant::now();
        let mut breaker = Breaker::new(settings(), start);
        for _ in 0..3 {
            breaker.on_failure(start, "refused");
        }
        let later = start + Duration::from_secs(5);
        assert_eq!(breaker.admit(later).0, Admit::Probe);
        breaker.on_neutral();
        assert_eq!(breaker.admit(later).0, Admit::Probe);
    }

    #[test]
    fn health_checks_open_early_and_let_recovery_probe_at_once() {
        let start = Instant::now();
        let mut breaker = Breaker::new(settings(), start);
        let opened = breaker.on_failed_health_check(start, "connection refused");
        assert_eq!(opened.map(|t| t.to), Some(CircuitState::Open));
        assert_eq!(breaker.admit(start + Duration::from_secs(1)).0, Admit::Refuse);
        breaker.on_passed_health_check(start + Duration::from_secs(1));
        assert_eq!(breaker.admit(start + Duration::from_secs(1)).0, Admit::Probe);
    }
}
