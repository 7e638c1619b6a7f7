//! Why a request was not admitted.

use rampart_core::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// A per-minute limit is reached: try again after `retry_after_secs`.
    #[error("{message}")]
    RateLimited { limit: String, message: String, retry_after_secs: u64, reset_unix: i64 },
    /// A spend budget is exhausted until its window resets.
    #[error("{message}")]
    QuotaExceeded { limit: String, message: String, retry_after_secs: u64, reset_unix: i64 },
    /// The counters could not be read or written, so nothing is admitted.
    #[error("rate limits and budgets cannot be checked, so the request is refused: {0}")]
    Ledger(#[from] StoreError),
}

impl LimitError {
    /// The limit that refused, for metrics; `ledger` when the counters were unreachable.
    pub fn limit_name(&self) -> &str {
        match self {
            LimitError::RateLimited { limit, .. } | LimitError::QuotaExceeded { limit, .. } => limit,
            LimitError::Ledger(_) => "ledger",
        }
    }
}
