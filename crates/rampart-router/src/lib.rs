//! Routing and resilience between the gateway and the backends.
//!
//! For each request the [`Router`] plans the candidates (the model asked for, its fallbacks,
//! and in solo-sustain the Tier 1 model that takes over cloud work), keeps confidential work
//! on Tier 1, and for each attempt picks a replica by power of two choices among those whose
//! circuit is closed, waits for a turn within the backend's concurrency limit (or sheds the
//! request when its queue is full), and retries transient failures with jittered exponential
//! backoff that honours `Retry-After`. A stream is handed over only after its first chunk, so
//! nothing is retried once the client has seen a byte.
//!
//! This crate holds no engine and does no I/O of its own: backends come in as
//! `rampart_core::Backend`s.

mod admission;
mod breaker;
mod catalog;
mod error;
mod guard;
mod metrics;
mod policy;
mod router;
mod routes;
mod status;

pub use admission::{Admission, AdmissionPermit, Refusal};
pub use breaker::{Admit, Breaker, CircuitState, Transition};
pub use catalog::{BackendHandle, CatalogError, DEFAULT_MAX_QUEUE, ModelCatalog, ResolvedModel};
pub use error::RouteError;
pub use metrics::RouterMetrics;
pub use policy::{Next, RouteHints, backoff, counts_against_backend};
pub use router::{Routed, Router};
pub use routes::{Route, RouteChoice, RouteRequest, RouteTable};
pub use status::{BackendStatus, RouterEvent, RouterMode, RouterStatus};
