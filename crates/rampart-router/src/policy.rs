//! What a failure means for the next step (retry, fall back, give up) and how long to wait.

use std::time::Duration;

use rampart_config::RouterConfig;
use rampart_core::BackendError;

/// The next step after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Transient: the same model may answer if asked again, after `retry_after` when the
    /// upstream said so.
    Retry { retry_after: Option<Duration> },
    /// This backend cannot serve it (misconfigured, unsupported, broken answer): try the next
    /// candidate, without retrying this one.
    Fallback,
    /// The request itself is at fault; every backend would refuse it. Answer the client now.
    GiveUp,
}

impl Next {
    pub fn after(error: &BackendError) -> Next {
        match error {
            BackendError::Unreachable { .. } | BackendError::Timeout { .. } => Next::Retry { retry_after: None },
            BackendError::Upstream {
                status: 408 | 409 | 425 | 429 | 500 | 502 | 503 | 504 | 529,
                retry_after_secs,
                ..
            } => Next::Retry { retry_after: retry_after_secs.map(Duration::from_secs) },
            BackendError::Upstream { status: 400 | 413 | 422, .. } => Next::GiveUp,
            BackendError::Upstream { .. } | BackendError::InvalidResponse { .. } | BackendError::Unsupported { .. } => {
                Next::Fallback
            }
        }
    }
}

/// Whether a failure counts against the backend's circuit. A request the backend cannot
/// express, or one the client got wrong, says nothing about the backend's health.
pub fn counts_against_backend(error: &BackendError) -> bool {
    !matches!(error, BackendError::Unsupported { .. } | BackendError::Upstream { status: 400 | 404 | 413 | 422, .. })
}

/// Jittered exponential backoff: `base * 2^retry`, capped, then scaled by a random factor in
/// [0.5, 1) so that clients failed together do not retry together ("equal jitter").
pub fn backoff(settings: &RouterConfig, retry: u32, retry_after: Option<Duration>) -> Duration {
    let exponential =
        settings.retry_backoff_ms.saturating_mul(1u64 << retry.min(20)).min(settings.retry_backoff_max_ms);
    let jittered = Duration::from_millis(exponential).mul_f64(0.5 + fastrand::f64() / 2.0);
    match retry_after {
        Some(wait) => wait.max(jittered),
        None => jittered,
    }
}

/// Why a request must stay on Tier 1, if it must.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteHints {
    /// `x-rampart-privacy-mode` / `metadata.privacy_mode`.
    pub privacy_mode: bool,
    /// `x-rampart-classification` / `metadata.classification`.
    pub classification: Option<String>,
    /// `x-rampart-tier` / `metadata.tier`: `1` keeps the request on-premises, `2` tries cloud
    /// models first.
    pub tier: Option<u8>,
    /// Models a `[[routes]]` rule names after the one it chose, tried before the chosen
    /// model's own fallbacks.
    pub alternates: Vec<String>,
}

impl RouteHints {
    /// The reason the request must stay on Tier 1, or `None` when it may use the cloud.
    pub fn tier1_reason(&self, settings: &RouterConfig, model_privacy: bool) -> Option<String> {
        if settings.privacy_mode {
            return Some("the gateway runs in privacy mode".to_owned());
        }
        if model_privacy {
            return Some("the model is configured with privacy_mode".to_owned());
        }
        if self.privacy_mode {
            return Some("the request asked for privacy mode".to_owned());
        }
        if let Some(classification) = &self.classification
            && settings.confidential_classifications.iter().any(|level| level.eq_ignore_ascii_case(classification))
        {
            return Some(format!("its data is classified '{classification}'"));
        }
        if self.tier == Some(1) {
            return Some("the request asked for Tier 1".to_owned());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(status: u16, retry_after_secs: Option<u64>) -> BackendError {
        BackendError::Upstream {
            backend: "b".into(),
            status,
            message: "m".into(),
            error_type: None,
            code: None,
            retry_after_secs,
        }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert_eq!(Next::after(&upstream(503, None)), Next::Retry { retry_after: None });
        assert_eq!(Next::after(&upstream(429, Some(3))), Next::Retry { retry_after: Some(Duration::from_secs(3)) });
        assert_eq!(Next::after(&upstream(400, None)), Next::GiveUp);
        assert_eq!(Next::after(&upstream(401, None)), Next::Fallback);
        let refused = BackendError::Unreachable { backend: "b".into(), detail: "refused".into() };
        assert_eq!(Next::after(&refused), Next::Retry { retry_after: None });
        assert!(counts_against_backend(&refused));
        assert!(!counts_against_backend(&upstream(400, None)));
    }

    #[test]
    fn backoff_doubles_within_jitter_and_honours_retry_after() {
        let settings = RouterConfig { retry_backoff_ms: 100, retry_backoff_max_ms: 1_000, ..RouterConfig::default() };
        for _ in 0..50 {
            let first = backoff(&settings, 0, None);
            assert!(first >= Duration::from_millis(50) && first < Duration::from_millis(100), "{first:?}");
            let third = backoff(&settings, 2, None);
            assert!(third >= Duration::from_millis(200) && third < Duration::from_millis(400), "{third:?}");
            let capped = backoff(&settings, 10, None);
            assert!(capped >= Duration::from_millis(500) && capped < Duration::from_millis(1_000), "{capped:?}");
        }
        assert_eq!(backoff(&settings, 0, Some(Duration::from_secs(2))), Duration::from_secs(2));
    }

    #[test]
    fn confidential_data_and_privacy_mode_stay_on_tier_1() {
        let settings = RouterConfig::default();
        let open = RouteHints::default();
        assert_eq!(open.tier1_reason(&settings, false), None);
        assert!(open.tier1_reason(&settings, true).is_some());
        let secret = RouteHints { classification: Some("SECRET".into()), ..RouteHints::default() };
        assert!(secret.tier1_reason(&settings, false).is_some());
        let public = RouteHints { classification: Some("public".into()), ..RouteHints::default() };
        assert_eq!(public.tier1_reason(&settings, false), None);
        let asked = RouteHints { privacy_mode: true, ..RouteHints::default() };
        assert!(asked.tier1_reason(&settings, false).is_some());
        let everything = RouterConfig { privacy_mode: true, ..RouterConfig::default() };
        assert!(open.tier1_reason(&everything, false).is_some());
    }
}
