//! Why routing gave up. The gateway maps these to HTTP statuses once.

use rampart_core::BackendError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RouteError {
    /// The last failure of the chain, or a failure that is the request's own fault (an
    /// upstream 400), which no other backend would answer differently.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Privacy mode or the data classification keeps the request on Tier 1, and the model and
    /// its fallbacks are all Tier 2. Nothing was sent.
    #[error(
        "model '{model}' runs in the cloud (Tier 2), and this request must stay on-premises ({reason}); \
         configure a Tier 1 fallback for it or ask for a Tier 1 model"
    )]
    Tier1Required { model: String, reason: String },
    /// Every candidate's queue is full: shed load rather than queue without bound.
    #[error(
        "backend '{backend}' is at capacity (all {concurrency} slots busy and {queued} requests waiting); retry after {retry_after_secs} s"
    )]
    Overloaded { backend: String, concurrency: usize, queued: usize, retry_after_secs: u64 },
    /// Every candidate's circuit is open, and nothing else could be tried.
    #[error("no backend can take requests for model '{model}' now: {detail}")]
    Unavailable { model: String, detail: String, retry_after_secs: u64 },
    #[error("the request did not finish within {secs} s")]
    DeadlineExceeded { secs: u64 },
}
