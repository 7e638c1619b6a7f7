//! The durable state contract: the request log, usage totals over it, and (through the
//! [`LimitLedger`] supertrait) rate-limit and budget counters.

use async_trait::async_trait;

use crate::audit::AuditLog;
use crate::keys::ApiKeyStore;
use crate::limits::LimitLedger;
use crate::usage::{UsageQuery, UsageRow};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage URL '{url}' is not supported: {reason}")]
    UnsupportedUrl { url: String, reason: String },
    #[error("cannot open storage at '{location}': {detail}")]
    Open { location: String, detail: String },
    #[error("storage migration failed: {detail}")]
    Migration { detail: String },
    #[error("storage query failed: {detail}")]
    Query { detail: String },
    /// A write that would replace something that must stay (an id already taken).
    #[error("{detail}")]
    Conflict { detail: String },
}

/// One gateway request as it is kept in the request log.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLogEntry {
    /// UUIDv7, so ids sort by time.
    pub id: String,
    /// The `x-request-id` the client sent or the gateway generated.
    pub request_id: String,
    pub time_unix_ms: i64,
    /// `chat.completions`, `embeddings`, ...
    pub endpoint: String,
    /// The model the client asked for (alias or name); empty when the body had none.
    pub model: String,
    /// The backend that served it; empty when none was reached.
    pub backend: String,
    pub status: u16,
    pub stream: bool,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
    pub cost_usd: f64,
    pub error: Option<String>,
    /// Who the request is charged to (see [`crate::Principal`]); `None` when it did not say.
    pub api_key_id: Option<String>,
    pub tenant: Option<String>,
    pub user: Option<String>,
}

/// Filters for reading the request log; newest entries first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestLogQuery {
    pub limit: u32,
    /// Only entries strictly older than this id (cursor for paging).
    pub before_id: Option<String>,
    pub since_unix_ms: Option<i64>,
    pub model: Option<String>,
    pub status: Option<u16>,
    /// Only this tenant's entries (the gateway sets it for callers who may not read all).
    pub tenant: Option<String>,
}

/// Durable storage. `record_requests` is acknowledged only once the rows are committed.
///
/// Every store is also a [`LimitLedger`] that keeps its counters in the same database, so a
/// gateway without a shared ledger of its own uses its store (`Arc<dyn Store>` coerces to
/// `Arc<dyn LimitLedger>`).
#[async_trait]
pub trait Store: LimitLedger + ApiKeyStore + AuditLog + crate::ConversationStore + Send + Sync {
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// A round trip to the engine, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Appends entries in one transaction.
    async fn record_requests(&self, entries: &[RequestLogEntry]) -> Result<(), StoreError>;

    async fn list_requests(&self, query: &RequestLogQuery) -> Result<Vec<RequestLogEntry>, StoreError>;

    /// Totals of the request log per group, highest cost first, then by key (byte order).
    /// Sums of tokens saturate at `i64::MAX`.
    async fn usage_summary(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError>;
}
