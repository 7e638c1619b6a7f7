//! API keys as the store keeps them: a public lookup id and a salted hash of the secret, never
//! the secret itself.

use async_trait::async_trait;

use crate::identity::Role;
use crate::store::StoreError;

/// One API key. The secret part of `rk_<id>_<secret>` exists only in the caller's hands and as
/// `hash = SHA-256(salt ‖ secret)` here. Times are Unix milliseconds.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public lookup id, shown in listings and request logs.
    pub id: String,
    /// What the operator called it (`ci-pipeline`, `alice-laptop`).
    pub name: Option<String>,
    pub tenant_id: String,
    pub user_id: Option<String>,
    pub roles: Vec<Role>,
    pub salt: [u8; 16],
    pub hash: [u8; 32],
    pub created_unix_ms: i64,
    pub expires_unix_ms: Option<i64>,
    pub revoked_unix_ms: Option<i64>,
    pub last_used_unix_ms: Option<i64>,
}

impl ApiKeyRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_unix_ms.is_some()
    }

    /// The key is refused from its expiry instant on.
    pub fn is_expired_at(&self, now_unix_ms: i64) -> bool {
        self.expires_unix_ms.is_some_and(|expires| now_unix_ms >= expires)
    }

    /// Not revoked and not past its expiry at `now_unix_ms`.
    pub fn is_active(&self, now_unix_ms: i64) -> bool {
        !self.is_revoked() && !self.is_expired_at(now_unix_ms)
    }
}

/// Salt and hash are left out: they are not secrets, but nobody needs them in a log.
impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("tenant_id", &self.tenant_id)
            .field("user_id", &self.user_id)
            .field("roles", &self.roles)
            .field("created_unix_ms", &self.created_unix_ms)
            .field("expires_unix_ms", &self.expires_unix_ms)
            .field("revoked_unix_ms", &self.revoked_unix_ms)
            .field("last_used_unix_ms", &self.last_used_unix_ms)
            .finish_non_exhaustive()
    }
}

/// Durable API keys. Writes are acknowledged only once committed.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the id is taken; never overwrites.
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    async fn find_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Every key of a tenant (all keys for `None`), newest first.
    async fn list_keys(&self, tenant_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Marks a key revoked at `at_unix_ms`; `false` when no such key exists. Revoking twice
    /// keeps the first time.
    async fn revoke_key(&self, id: &str, at_unix_ms: i64) -> Result<bool, StoreError>;

    /// Records last-used times in one transaction; a time never moves backwards.
    async fn touch_keys(&self, uses: &[(String, i64)]) -> Result<(), StoreError>;

    /// Keys neither revoked nor expired at `now_unix_ms`: authentication turns on by itself
    /// once there is one.
    async fn count_active_keys(&self, now_unix_ms: i64) -> Result<u64, StoreError>;
}
