//! Conversation history as stored: metadata in clear (for listing, retention and erasure),
//! content only as AES-256-GCM ciphertext under a per-tenant data key, which is itself stored
//! only wrapped by the master key (envelope encryption; `rampart-conversations` does the
//! cryptography, stores only keep bytes).

use async_trait::async_trait;

use crate::StoreError;

/// One stored conversation turn (a request and its answer).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    /// UUIDv7.
    pub id: String,
    pub tenant: String,
    pub user: Option<String>,
    pub request_id: Option<String>,
    pub model: String,
    pub created_unix_ms: i64,
    /// When retention deletes it; `None`: kept until erased.
    pub expires_unix_ms: Option<i64>,
    /// Entity types guardrails found in it (`email`, `credit_card`, …), never values.
    pub pii_tags: Vec<String>,
    pub data_key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// A tenant's data key, wrapped (encrypted) by the master key named by `master_key_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct WrappedDataKey {
    pub id: String,
    pub tenant: String,
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
    pub created_unix_ms: i64,
}

/// Which conversations to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationQuery {
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub since_unix_ms: Option<i64>,
    /// At most this many (0: no limit).
    pub limit: u32,
}

#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Appends in one transaction.
    async fn append_conversations(&self, records: &[ConversationRecord]) -> Result<(), StoreError>;

    async fn list_conversations(&self, query: &ConversationQuery) -> Result<Vec<ConversationRecord>, StoreError>;

    async fn get_conversation(&self, id: &str) -> Result<Option<ConversationRecord>, StoreError>;

    /// Deletes conversations whose `expires_unix_ms` is at or before `now_unix_ms`.
    async fn delete_expired_conversations(&self, now_unix_ms: i64) -> Result<u64, StoreError>;

    /// Right to erasure: every conversation of this tenant's user.
    async fn delete_user_conversations(&self, tenant: &str, user: &str) -> Result<u64, StoreError>;

    /// [`StoreError::Conflict`] when the tenant has a data key already (one per tenant,
    /// enforced by the database, so two gateways racing cannot make two).
    async fn insert_data_key(&self, key: &WrappedDataKey) -> Result<(), StoreError>;

    async fn data_keys(&self, tenant: Option<&str>) -> Result<Vec<WrappedDataKey>, StoreError>;

    /// Replaces wrapped keys and their master key id, all in one transaction.
    async fn rewrap_data_keys(&self, rewrapped: &[WrappedDataKey]) -> Result<(), StoreError>;
}
