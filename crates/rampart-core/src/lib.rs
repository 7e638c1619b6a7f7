//! Rampart's domain: the traits every capability plugs into and the values they exchange.
//!
//! - [`Backend`]: one model server (OpenAI-compatible, Anthropic, Ollama, embedded runtime).
//! - [`Store`]: durable state (SQLite embedded, PostgreSQL at scale).
//! - [`Principal`]: who a request is charged to.
//! - [`ApiKeyStore`]: API keys, stored as salted hashes.
//! - [`IdentityEnvelope`]: who is calling, with roles, after authentication.
//! - [`ConversationStore`]: encrypted conversation history with retention and erasure.
//! - [`AuditLog`]: the append-only, hash-chained record of every decision.
//! - [`RetrievalIndex`]: documents and memory items, searched by words and by meaning.
//! - [`ContentCipher`]: content sealed at rest under a per-tenant key.
//! - [`LimitLedger`]: rate-limit and budget counters, reserved and settled atomically.
//!
//! This crate performs no I/O of its own and must never depend on a concrete engine: engines
//! live in their own crates and are chosen by the binary at start-up.

pub mod audit;
pub mod backend;
pub mod cipher;
pub mod conversations;
pub mod identity;
pub mod keys;
pub mod limits;
pub mod principal;
pub mod retrieval;
pub mod store;
pub mod url_secrets;
pub mod usage;
pub mod worker;

pub use audit::*;
pub use backend::*;
pub use cipher::*;
pub use conversations::*;
pub use identity::*;
pub use keys::*;
pub use limits::*;
pub use principal::*;
pub use retrieval::*;
pub use store::*;
pub use url_secrets::{redact_url_password, scrub_url_password};
pub use usage::*;

/// Seconds since the Unix epoch, as the OpenAI API reports `created`.
pub fn unix_now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
