//! Encrypted conversation logs: each request and its answer stored as AES-256-GCM ciphertext
//! under its tenant's data key; data keys stored only wrapped by a master key from a file or
//! the environment (envelope encryption). Rotating the master key re-wraps the data keys and
//! leaves conversation rows untouched. Metadata (tenant, user, model, time, expiry, PII tags)
//! stays in clear for listing, retention and erasure.
//!
//! Ciphertexts are bound to their row: the additional authenticated data is tenant,
//! conversation id and data key id, so a ciphertext copied to another row or tenant fails to
//! open (`Corrupt`) instead of decrypting as someone else's conversation.

mod keys;

use std::sync::Arc;

use rampart_core::{ConversationQuery, ConversationRecord, ConversationStore, StoreError, unix_now_millis};
use serde::{Deserialize, Serialize};

pub use keys::{KeyRing, MasterKey, rotate_master_key};

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("the conversation master key is unusable: {0}")]
    BadMasterKey(String),
    #[error(
        "the data keys were wrapped by master key {expected_id}, but the configured master key is {got_id}: \
         point [conversations] master_key_file (or master_key_env) at the key in use, or rotate with \
         `rampart conversations rotate-key`"
    )]
    WrongMasterKey { expected_id: String, got_id: String },
    #[error("tenant '{tenant}' has no conversation data key")]
    MissingKey { tenant: String },
    #[error("tenant '{tenant}''s data key does not open with the master key: it was altered")]
    CorruptKey { tenant: String },
    #[error("conversation '{id}' failed authentication: its ciphertext was altered or moved from another row")]
    Corrupt { id: String },
    #[error("conversation '{0}' does not exist")]
    NotFound(String),
    #[error("encryption: {0}")]
    Crypto(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What is encrypted: the messages as sent to the model and the answer, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationContent {
    pub messages: serde_json::Value,
    pub response: serde_json::Value,
}

/// A decrypted conversation with its metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    pub id: String,
    pub tenant: String,
    pub user: Option<String>,
    pub request_id: Option<String>,
    pub model: String,
    pub created_unix_ms: i64,
    pub expires_unix_ms: Option<i64>,
    pub pii_tags: Vec<String>,
    pub content: ConversationContent,
}

/// What `record` needs besides the content.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    pub tenant: String,
    pub user: Option<String>,
    pub request_id: Option<String>,
    pub model: String,
    pub pii_tags: Vec<String>,
    /// Days kept; 0: until erased.
    pub retention_days: u32,
}

fn content_aad(tenant: &str, id: &str, key_id: &str) -> String {
    format!("rampart-conv|{tenant}|{id}|{key_id}")
}

pub struct ConversationLog {
    keys: KeyRing,
    store: Arc<dyn ConversationStore>,
}

impl ConversationLog {
    pub fn new(master: MasterKey, store: Arc<dyn ConversationStore>) -> Self {
        ConversationLog { keys: KeyRing::new(master, store.clone()), store }
    }

    pub fn master_id(&self) -> String {
        self.keys.master_id()
    }

    /// Encrypts and builds the row (one cached key lookup, no round trip once cached); the
    /// caller appends it (the gateway batches them).
    pub async fn seal(
        &self,
        new: NewConversation,
        content: &ConversationContent,
    ) -> Result<ConversationRecord, ConversationError> {
        let (key_id, key) = self.keys.data_key_for(&new.tenant).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let plaintext = serde_json::to_vec(content).map_err(|error| ConversationError::Crypto(error.to_string()))?;
        let (nonce, ciphertext) = keys::seal(&key, &content_aad(&new.tenant, &id, &key_id), &plaintext)?;
        let created = unix_now_millis();
        let expires =
            (new.retention_days > 0).then(|| created.saturating_add(i64::from(new.retention_days) * 86_400_000));
        Ok(ConversationRecord {
            id,
            tenant: new.tenant,
            user: new.user,
            request_id: new.request_id,
            model: new.model,
            created_unix_ms: created,
            expires_unix_ms: expires,
            pii_tags: new.pii_tags,
            data_key_id: key_id,
            nonce,
            ciphertext,
        })
    }

    /// `seal` and append at once.
    pub async fn record(
        &self,
        new: NewConversation,
        content: &ConversationContent,
    ) -> Result<String, ConversationError> {
        let record = self.seal(new, content).await?;
        self.store.append_conversations(std::slice::from_ref(&record)).await?;
        Ok(record.id)
    }

    pub async fn open(&self, record: ConversationRecord) -> Result<Conversation, ConversationError> {
        let key = self.keys.data_key(&record.tenant, &record.data_key_id).await?;
        let plain = keys::open(
            &key,
            &content_aad(&record.tenant, &record.id, &record.data_key_id),
            &record.nonce,
            &record.ciphertext,
        )
        .ok_or_else(|| ConversationError::Corrupt { id: record.id.clone() })?;
        let content: ConversationContent =
            serde_json::from_slice(&plain).map_err(|_| ConversationError::Corrupt { id: record.id.clone() })?;
        Ok(Conversation {
            id: record.id,
            tenant: record.tenant,
            user: record.user,
            request_id: record.request_id,
            model: record.model,
            created_unix_ms: record.created_unix_ms,
            expires_unix_ms: record.expires_unix_ms,
            pii_tags: record.pii_tags,
            content,
        })
    }

    pub async fn read(&self, id: &str) -> Result<Conversation, ConversationError> {
        let record =
            self.store.get_conversation(id).await?.ok_or_else(|| ConversationError::NotFound(id.to_owned()))?;
        self.open(record).await
    }

    /// Metadata only (nothing decrypted).
    pub async fn list(&self, query: &ConversationQuery) -> Result<Vec<ConversationRecord>, ConversationError> {
        Ok(self.store.list_conversations(query).await?)
    }

    /// Deletes what retention has expired; how many.
    pub async fn purge_expired(&self, now_unix_ms: i64) -> Result<u64, ConversationError> {
        Ok(self.store.delete_expired_conversations(now_unix_ms).await?)
    }

    /// Right to erasure: every conversation of the tenant's user; how many.
    pub async fn erase_user(&self, tenant: &str, user: &str) -> Result<u64, ConversationError> {
        Ok(self.store.delete_user_conversations(tenant, user).await?)
    }
}
