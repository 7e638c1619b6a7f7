//! The audit log as the store keeps it: append-only, hash-chained records and signed
//! checkpoints. What the hashes and signatures mean is `rampart-audit`'s business; the store
//! seals records with it inside its write transaction, so the chain has one order even when
//! several gateways share a database.

use async_trait::async_trait;

use crate::store::StoreError;

/// One decision or event to record, before the store gives it a place in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub time_unix_ms: i64,
    /// The tenant the event belongs to; `None` for platform events (start, key creation by
    /// the CLI, policy reloads).
    pub tenant: Option<String>,
    /// `auth`, `policy`, `route`, `request`, `error`, `admin`, ...
    pub kind: String,
    /// Who acted: a key id, `oidc:<issuer>#<subject>`, `cli`, `gateway`.
    pub actor: Option<String>,
    pub request_id: Option<String>,
    pub data: serde_json::Value,
}

/// A sealed record as stored: its place in the chain, its canonical JSON text (which holds
/// `seq` and `prev_hash`), and `hash` in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditRecord {
    pub seq: u64,
    pub canonical: String,
    pub hash_hex: String,
}

/// A signed tree head: the log's first `tree_size` records have Merkle root `root_hash` and
/// the last of them has chain hash `head_hash`, signed with the gateway's Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    pub head_hash: [u8; 32],
    pub time_unix_ms: i64,
    pub key_id: String,
    pub signature: Vec<u8>,
}

/// Where the chain stands: how many records, the last one's hash, and the Merkle root over
/// all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHead {
    pub size: u64,
    pub head_hash: [u8; 32],
    pub root_hash: [u8; 32],
}

/// Filters for reading audit records; newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub limit: u32,
    /// Only records with a smaller seq (cursor for paging).
    pub before_seq: Option<u64>,
    /// Only this tenant's records (set by the gateway for callers who may not read all).
    pub tenant: Option<String>,
    pub kind: Option<String>,
    pub request_id: Option<String>,
}

/// The durable audit log. `append` answers only once its records are committed, and a failed
/// append means none of them were.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Seals and appends events in order; returns their seqs.
    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<Vec<u64>, StoreError>;

    async fn audit_head(&self) -> Result<AuditHead, StoreError>;

    /// Records with `seq >= from_seq` in seq order, at most `limit`.
    async fn read_audit(&self, from_seq: u64, limit: u32) -> Result<Vec<StoredAuditRecord>, StoreError>;

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<StoredAuditRecord>, StoreError>;

    /// Keeps a checkpoint; one already kept for the same size is left as it is.
    async fn save_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError>;

    /// Checkpoints with `from_size <= tree_size <= to_size`, by size.
    async fn checkpoints(&self, from_size: u64, to_size: u64) -> Result<Vec<AuditCheckpoint>, StoreError>;
}
