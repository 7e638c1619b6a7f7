//! Encrypted conversations and their wrapped data keys on both engines (same `$N` SQL text).
//! Bytes are stored as base64 text so one schema serves SQLite and PostgreSQL.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rampart_core::{ConversationRecord, StoreError, WrappedDataKey};

pub(crate) const INSERT: &str = "INSERT INTO conversations (id, tenant, user_id, request_id, model, created_unix_ms, \
     expires_unix_ms, pii_tags, data_key_id, nonce, ciphertext) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
pub(crate) const SELECT_ONE: &str = "SELECT * FROM conversations WHERE id = $1";
/// `$1` tenant, `$2` user, `$3` since (each NULL for any), `$4` limit.
pub(crate) const SELECT: &str = "SELECT * FROM conversations WHERE ($1 IS NULL OR tenant = $1) \
     AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR created_unix_ms >= $3) \
     ORDER BY created_unix_ms DESC, id DESC LIMIT $4";
pub(crate) const DELETE_EXPIRED: &str =
    "DELETE FROM conversations WHERE expires_unix_ms IS NOT NULL AND expires_unix_ms <= $1";
pub(crate) const DELETE_USER: &str = "DELETE FROM conversations WHERE tenant = $1 AND user_id = $2";
pub(crate) const INSERT_KEY: &str =
    "INSERT INTO conversation_keys (id, tenant, master_key_id, wrapped, created_unix_ms) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const SELECT_KEYS: &str =
    "SELECT * FROM conversation_keys WHERE ($1 IS NULL OR tenant = $1) ORDER BY tenant, id";
pub(crate) const REWRAP: &str = "UPDATE conversation_keys SET master_key_id = $2, wrapped = $3 WHERE id = $1";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredConversation {
    id: String,
    tenant: String,
    user_id: Option<String>,
    request_id: Option<String>,
    model: String,
    created_unix_ms: i64,
    expires_unix_ms: Option<i64>,
    pii_tags: String,
    data_key_id: String,
    nonce: String,
    ciphertext: String,
}

impl StoredConversation {
    pub(crate) fn into_record(self) -> Result<ConversationRecord, StoreError> {
        let corrupt =
            |what: &str| StoreError::Query { detail: format!("conversation '{}' has a corrupt {what}", self.id) };
        let nonce = B64.decode(&self.nonce).map_err(|_| corrupt("nonce"))?;
        let ciphertext = B64.decode(&self.ciphertext).map_err(|_| corrupt("ciphertext"))?;
        let pii_tags = self.pii_tags.split(',').filter(|tag| !tag.is_empty()).map(str::to_owned).collect();
        Ok(ConversationRecord {
            id: self.id,
            tenant: self.tenant,
            user: self.user_id,
            request_id: self.request_id,
            model: self.model,
            created_unix_ms: self.created_unix_ms,
            expires_unix_ms: self.expires_unix_ms,
            pii_tags,
            data_key_id: self.data_key_id,
            nonce,
            ciphertext,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredKey {
    id: String,
    tenant: String,
    master_key_id: String,
    wrapped: String,
    created_unix_ms: i64,
}

impl StoredKey {
    pub(crate) fn into_key(self) -> Result<WrappedDataKey, StoreError> {
        let wrapped = B64
            .decode(&self.wrapped)
            .map_err(|_| StoreError::Query { detail: format!("data key '{}' is corrupt", self.id) })?;
        Ok(WrappedDataKey {
            id: self.id,
            tenant: self.tenant,
            master_key_id: self.master_key_id,
            wrapped,
            created_unix_ms: self.created_unix_ms,
        })
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub(crate) fn key_insert_error(key: &WrappedDataKey, error: sqlx::Error) -> StoreError {
    match error.as_database_error() {
        Some(database) if database.is_unique_violation() => {
            StoreError::Conflict { detail: format!("tenant '{}' has a conversation data key already", key.tenant) }
        }
        _ => crate::query_error(error),
    }
}

/// `impl ConversationStore` for a store type with `pool` (reads) and `write_pool` fields.
macro_rules! impl_conversation_store {
    ($store:ty, $begin:literal) => {
        #[async_trait::async_trait]
        impl rampart_core::ConversationStore for $store {
            async fn append_conversations(
                &self,
                records: &[rampart_core::ConversationRecord],
            ) -> Result<(), rampart_core::StoreError> {
                if records.is_empty() {
                    return Ok(());
                }
                let mut transaction = self.write_pool.begin_with($begin).await.map_err($crate::query_error)?;
                let written = async {
                    for record in records {
                        sqlx::query($crate::conversations::INSERT)
                            .bind(&record.id)
                            .bind(&record.tenant)
                            .bind(&record.user)
                            .bind(&record.request_id)
                            .bind(&record.model)
                            .bind(record.created_unix_ms)
                            .bind(record.expires_unix_ms)
                            .bind(record.pii_tags.join(","))
                            .bind(&record.data_key_id)
                            .bind($crate::conversations::b64(&record.nonce))
                            .bind($crate::conversations::b64(&record.ciphertext))
                            .execute(&mut *transaction)
                            .await
                            .map_err($crate::query_error)?;
                    }
                    Ok(())
                }
                .await;
                $crate::finish(transaction, written).await
            }

            async fn list_conversations(
                &self,
                query: &rampart_core::ConversationQuery,
            ) -> Result<Vec<rampart_core::ConversationRecord>, rampart_core::StoreError> {
                let limit = if query.limit == 0 { i64::MAX } else { i64::from(query.limit) };
                sqlx::query_as::<_, $crate::conversations::StoredConversation>($crate::conversations::SELECT)
                    .bind(&query.tenant)
                    .bind(&query.user)
                    .bind(query.since_unix_ms)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::query_error)?
                    .into_iter()
                    .map($crate::conversations::StoredConversation::into_record)
                    .collect()
            }

            async fn get_conversation(
                &self,
                id: &str,
            ) -> Result<Option<rampart_core::ConversationRecord>, rampart_core::StoreError> {
                sqlx::query_as::<_, $crate::conversations::StoredConversation>($crate::conversations::SELECT_ONE)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::query_error)?
                    .map($crate::conversations::StoredConversation::into_record)
                    .transpose()
            }

            async fn delete_expired_conversations(&self, now_unix_ms: i64) -> Result<u64, rampart_core::StoreError> {
                let done = sqlx::query($crate::conversations::DELETE_EXPIRED)
                    .bind(now_unix_ms)
                    .execute(&self.write_pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok(done.rows_affected())
            }

            async fn delete_user_conversations(
                &self,
                tenant: &str,
                user: &str,
            ) -> Result<u64, rampart_core::StoreError> {
                let done = sqlx::query($crate::conversations::DELETE_USER)
                    .bind(tenant)
                    .bind(user)
                    .execute(&self.write_pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok(done.rows_affected())
            }

            async fn insert_data_key(
                &self,
                key: &rampart_core::WrappedDataKey,
            ) -> Result<(), rampart_core::StoreError> {
                sqlx::query($crate::conversations::INSERT_KEY)
                    .bind(&key.id)
                    .bind(&key.tenant)
                    .bind(&key.master_key_id)
                    .bind($crate::conversations::b64(&key.wrapped))
                    .bind(key.created_unix_ms)
                    .execute(&self.write_pool)
                    .await
                    .map_err(|error| $crate::conversations::key_insert_error(key, error))?;
                Ok(())
            }

            async fn data_keys(
                &self,
                tenant: Option<&str>,
            ) -> Result<Vec<rampart_core::WrappedDataKey>, rampart_core::StoreError> {
                sqlx::query_as::<_, $crate::conversations::StoredKey>($crate::conversations::SELECT_KEYS)
                    .bind(tenant)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::query_error)?
                    .into_iter()
                    .map($crate::conversations::StoredKey::into_key)
                    .collect()
            }

            async fn rewrap_data_keys(
                &self,
                rewrapped: &[rampart_core::WrappedDataKey],
            ) -> Result<(), rampart_core::StoreError> {
                let mut transaction = self.write_pool.begin_with($begin).await.map_err($crate::query_error)?;
                let written = async {
                    for key in rewrapped {
                        sqlx::query($crate::conversations::REWRAP)
                            .bind(&key.id)
                            .bind(&key.master_key_id)
                            .bind($crate::conversations::b64(&key.wrapped))
                            .execute(&mut *transaction)
                            .await
                            .map_err($crate::query_error)?;
                    }
                    Ok(())
                }
                .await;
                $crate::finish(transaction, written).await
            }
        }
    };
}

pub(crate) use impl_conversation_store;
