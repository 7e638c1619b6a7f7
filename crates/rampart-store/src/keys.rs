//! API keys on both engines. The SQL is the same text for SQLite and PostgreSQL (both bind
//! `$N` parameters by position), so one macro writes both implementations.

use rampart_core::{ApiKeyRecord, Role, StoreError};

pub(crate) const INSERT: &str = "INSERT INTO api_keys (id, name, tenant_id, user_id, roles, salt, hash, \
     created_unix_ms, expires_unix_ms, revoked_unix_ms, last_used_unix_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
pub(crate) const SELECT_ONE: &str = "SELECT * FROM api_keys WHERE id = $1";
pub(crate) const SELECT_ALL: &str = "SELECT * FROM api_keys ORDER BY created_unix_ms DESC, id";
pub(crate) const SELECT_TENANT: &str = "SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_unix_ms DESC, id";
pub(crate) const REVOKE: &str = "UPDATE api_keys SET revoked_unix_ms = COALESCE(revoked_unix_ms, $2) WHERE id = $1";
pub(crate) const TOUCH: &str = "UPDATE api_keys SET last_used_unix_ms = $2 \
     WHERE id = $1 AND (last_used_unix_ms IS NULL OR last_used_unix_ms < $2)";
pub(crate) const COUNT_ACTIVE: &str = "SELECT COUNT(*) FROM api_keys \
     WHERE revoked_unix_ms IS NULL AND (expires_unix_ms IS NULL OR expires_unix_ms > $1)";

/// A row of `api_keys` as both engines return it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredKey {
    id: String,
    name: Option<String>,
    tenant_id: String,
    user_id: Option<String>,
    roles: String,
    salt: String,
    hash: String,
    created_unix_ms: i64,
    expires_unix_ms: Option<i64>,
    revoked_unix_ms: Option<i64>,
    last_used_unix_ms: Option<i64>,
}

impl StoredKey {
    pub(crate) fn into_record(self) -> Result<ApiKeyRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Query { detail: format!("api key '{}' has a corrupt {what}", self.id) };
        let roles = if self.roles.is_empty() {
            Vec::new()
        } else {
            self.roles
                .split(',')
                .map(|role| role.parse::<Role>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| corrupt("role list"))?
        };
        let salt = hex_array::<16>(&self.salt).ok_or_else(|| corrupt("salt"))?;
        let hash = hex_array::<32>(&self.hash).ok_or_else(|| corrupt("hash"))?;
        Ok(ApiKeyRecord {
            id: self.id,
            name: self.name,
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            roles,
            salt,
            hash,
            created_unix_ms: self.created_unix_ms,
            expires_unix_ms: self.expires_unix_ms,
            revoked_unix_ms: self.revoked_unix_ms,
            last_used_unix_ms: self.last_used_unix_ms,
        })
    }
}

/// A taken id is a [`StoreError::Conflict`]; anything else a query error.
pub(crate) fn insert_error(id: &str, error: sqlx::Error) -> StoreError {
    match error.as_database_error() {
        Some(database) if database.is_unique_violation() => {
            StoreError::Conflict { detail: format!("an API key with id '{id}' already exists") }
        }
        _ => crate::query_error(error),
    }
}

pub(crate) fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(",")
}

fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

/// `impl ApiKeyStore` for a store type with `pool` (reads) and `write_pool` fields; the SQL above serves both engines.
/// `$begin` opens a write transaction (`BEGIN IMMEDIATE` on SQLite takes the write lock up
/// front, so waiting for it is covered by the busy timeout).
macro_rules! impl_api_key_store {
    ($store:ty, $begin:literal) => {
        #[async_trait::async_trait]
        impl rampart_core::ApiKeyStore for $store {
            async fn insert_key(&self, key: &rampart_core::ApiKeyRecord) -> Result<(), rampart_core::StoreError> {
                sqlx::query($crate::keys::INSERT)
                    .bind(&key.id)
                    .bind(&key.name)
                    .bind(&key.tenant_id)
                    .bind(&key.user_id)
                    .bind($crate::keys::roles_text(&key.roles))
                    .bind(hex::encode(key.salt))
                    .bind(hex::encode(key.hash))
                    .bind(key.created_unix_ms)
                    .bind(key.expires_unix_ms)
                    .bind(key.revoked_unix_ms)
                    .bind(key.last_used_unix_ms)
                    .execute(&self.write_pool)
                    .await
                    .map_err(|error| $crate::keys::insert_error(&key.id, error))?;
                Ok(())
            }

            async fn find_key(&self, id: &str) -> Result<Option<rampart_core::ApiKeyRecord>, rampart_core::StoreError> {
                sqlx::query_as::<_, $crate::keys::StoredKey>($crate::keys::SELECT_ONE)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::query_error)?
                    .map($crate::keys::StoredKey::into_record)
                    .transpose()
            }

            async fn list_keys(
                &self,
                tenant_id: Option<&str>,
            ) -> Result<Vec<rampart_core::ApiKeyRecord>, rampart_core::StoreError> {
                let rows = match tenant_id {
                    Some(tenant) => {
                        sqlx::query_as::<_, $crate::keys::StoredKey>($crate::keys::SELECT_TENANT)
                            .bind(tenant)
                            .fetch_all(&self.pool)
                            .await
                    }
                    None => {
                        sqlx::query_as::<_, $crate::keys::StoredKey>($crate::keys::SELECT_ALL)
                            .fetch_all(&self.pool)
                            .await
                    }
                };
                rows.map_err($crate::query_error)?.into_iter().map($crate::keys::StoredKey::into_record).collect()
            }

            async fn revoke_key(&self, id: &str, at_unix_ms: i64) -> Result<bool, rampart_core::StoreError> {
                let done = sqlx::query($crate::keys::REVOKE)
                    .bind(id)
                    .bind(at_unix_ms)
                    .execute(&self.write_pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn touch_keys(&self, uses: &[(String, i64)]) -> Result<(), rampart_core::StoreError> {
                if uses.is_empty() {
                    return Ok(());
                }
                let mut transaction = self.write_pool.begin_with($begin).await.map_err($crate::query_error)?;
                let written = async {
                    for (id, at) in uses {
                        sqlx::query($crate::keys::TOUCH)
                            .bind(id)
                            .bind(*at)
                            .execute(&mut *transaction)
                            .await
                            .map_err($crate::query_error)?;
                    }
                    Ok(())
                }
                .await;
                $crate::finish(transaction, written).await
            }

            async fn count_active_keys(&self, now_unix_ms: i64) -> Result<u64, rampart_core::StoreError> {
                let count: i64 = sqlx::query_scalar($crate::keys::COUNT_ACTIVE)
                    .bind(now_unix_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::query_error)?;
                Ok(u64::try_from(count).unwrap_or(0))
            }
        }
    };
}

pub(crate) use impl_api_key_store;
