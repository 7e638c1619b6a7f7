//! Checks presented API keys against an [`ApiKeyStore`], with a short in-process cache and
//! last-used times written in batches.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rampart_core::{Credential, IdentityEnvelope, Role, unix_now_millis};

use super::{RandomnessError, generate_api_key, parse_api_key, verify_secret};
use crate::error::{AuthError, KeyStoreError};
use crate::key_store::{ApiKeyRecord, ApiKeyStore};

/// Settings of [`ApiKeyAuthenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyAuthConfig {
    /// How long a key that authenticated is served from memory before the store is asked
    /// again. This bounds how late a revocation made elsewhere (another replica, the database)
    /// takes effect; revocations made through this authenticator take effect at once.
    /// 0 turns the cache off.
    pub cache_ttl_secs: u64,
    /// At most this many keys are cached; past it, new keys are looked up every time.
    pub cache_capacity: usize,
}

impl Default for ApiKeyAuthConfig {
    fn default() -> Self {
        ApiKeyAuthConfig { cache_ttl_secs: 5, cache_capacity: 10_000 }
    }
}

/// What to create a key for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: Option<String>,
    pub tenant_id: String,
    pub user_id: Option<String>,
    pub roles: Vec<Role>,
    pub expires_unix_ms: Option<i64>,
}

/// A key just created: `plaintext` is shown once to whoever asked and kept nowhere.
#[derive(Clone)]
pub struct IssuedApiKey {
    pub plaintext: String,
    pub record: ApiKeyRecord,
}

impl fmt::Debug for IssuedApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("IssuedApiKey").field("record", &self.record).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueKeyError {
    #[error(transparent)]
    Randomness(#[from] RandomnessError),
    #[error(transparent)]
    Store(#[from] KeyStoreError),
}

struct CachedKey {
    record: Arc<ApiKeyRecord>,
    cached_at: Instant,
}

#[derive(Default)]
struct KeyCache {
    entries: HashMap<String, CachedKey>,
    /// Bumped by every invalidation, so a lookup that read the store before a revocation
    /// cannot put the old record back afterwards.
    generation: u64,
}

/// Authenticates `rk_…` keys. Share one per process (it holds the cache and the pending
/// last-used times); call [`ApiKeyAuthenticator::flush_last_used`] from a timer.
pub struct ApiKeyAuthenticator {
    store: Arc<dyn ApiKeyStore>,
    cache_ttl: Duration,
    cache_capacity: usize,
    cache: Mutex<KeyCache>,
    /// Key id → latest use not yet written to the store.
    pending_last_used: Mutex<HashMap<String, i64>>,
}

impl fmt::Debug for ApiKeyAuthenticator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ApiKeyAuthenticator")
            .field("cache_ttl", &self.cache_ttl)
            .field("cache_capacity", &self.cache_capacity)
            .finish_non_exhaustive()
    }
}

/// A panic while one of these locks is held cannot leave a half-written map behind.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ApiKeyAuthenticator {
    pub fn new(store: Arc<dyn ApiKeyStore>, config: &ApiKeyAuthConfig) -> Self {
        ApiKeyAuthenticator {
            store,
            cache_ttl: Duration::from_secs(config.cache_ttl_secs),
            cache_capacity: config.cache_capacity,
            cache: Mutex::default(),
            pending_last_used: Mutex::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn ApiKeyStore> {
        &self.store
    }

    /// Checks `rk_<id>_<secret>`: format, known id, secret, then revocation and expiry.
    pub async fn authenticate(&self, presented: &str) -> Result<IdentityEnvelope, AuthError> {
        let parsed = parse_api_key(presented)?;
        let now = unix_now_millis();
        let (record, generation_before_read) = self.lookup(&parsed.id).await?;
        let Some(record) = record.filter(|record| record.id == parsed.id) else {
            tracing::debug!(key_id = %parsed.id, "API key refused: unknown id");
            return Err(AuthError::InvalidApiKey);
        };
        if !verify_secret(&parsed.secret, &crate::key_store::stored_hash(&record)) {
            tracing::debug!(key_id = %record.id, "API key refused: wrong secret");
            return Err(AuthError::InvalidApiKey);
        }
        if record.is_revoked() {
            return Err(AuthError::ApiKeyRevoked { key_id: record.id.clone() });
        }
        if record.is_expired_at(now) {
            return Err(AuthError::ApiKeyExpired { key_id: record.id.clone() });
        }
        if let Some(generation) = generation_before_read {
            self.remember(&record, generation);
        }
        self.note_use(&record.id, now);
        Ok(envelope_for(&record))
    }

    /// The record for `id`, from the cache when fresh. The second value is the cache
    /// generation read before asking the store (`None` when the cache answered).
    async fn lookup(&self, id: &str) -> Result<(Option<Arc<ApiKeyRecord>>, Option<u64>), AuthError> {
        let generation = {
            let cache = lock(&self.cache);
            if let Some(entry) = cache.entries.get(id)
                && entry.cached_at.elapsed() < self.cache_ttl
            {
                return Ok((Some(Arc::clone(&entry.record)), None));
            }
            cache.generation
        };
        let found = self.store.find_key(id).await.map_err(|error| {
            tracing::warn!(%error, key_id = %id, "API key lookup failed");
            AuthError::KeyStoreUnavailable
        })?;
        Ok((found.map(Arc::new), Some(generation)))
    }

    /// Caches a key that just authenticated, unless an invalidation happened since it was read.
    fn remember(&self, record: &Arc<ApiKeyRecord>, generation_before_read: u64) {
        if self.cache_ttl.is_zero() {
            return;
        }
        let mut cache = lock(&self.cache);
        if cache.generation != generation_before_read {
            return;
        }
        if cache.entries.len() >= self.cache_capacity {
            let ttl = self.cache_ttl;
            cache.entries.retain(|_, entry| entry.cached_at.elapsed() < ttl);
            if cache.entries.len() >= self.cache_capacity {
                return;
            }
        }
        cache.entries.insert(record.id.clone(), CachedKey { record: Arc::clone(record), cached_at: Instant::now() });
    }

    fn note_use(&self, id: &str, at_unix_ms: i64) {
        let mut pending = lock(&self.pending_last_used);
        let latest = pending.entry(id.to_owned()).or_insert(at_unix_ms);
        *latest = (*latest).max(at_unix_ms);
    }

    /// Drops `id` from the cache (and stops in-flight lookups from caching it again).
    pub fn invalidate(&self, id: &str) {
        let mut cache = lock(&self.cache);
        cache.entries.remove(id);
        cache.generation = cache.generation.wrapping_add(1);
    }

    /// Creates a key and stores its hash. The plaintext is in the answer and nowhere else.
    pub async fn issue_key(&self, new: NewApiKey) -> Result<IssuedApiKey, IssueKeyError> {
        // 48-bit ids collide about never; a collision is retried rather than overwritten.
        let mut attempts_left = 3;
        loop {
            let generated = generate_api_key()?;
            let record = ApiKeyRecord {
                id: generated.id.clone(),
                name: new.name.clone(),
                tenant_id: new.tenant_id.clone(),
                user_id: new.user_id.clone(),
                roles: new.roles.clone(),
                salt: generated.stored.salt,
                hash: generated.stored.hash,
                created_unix_ms: unix_now_millis(),
                expires_unix_ms: new.expires_unix_ms,
                revoked_unix_ms: None,
                last_used_unix_ms: None,
            };
            attempts_left -= 1;
            match self.store.insert_key(&record).await.map_err(KeyStoreError::from) {
                Ok(()) => return Ok(IssuedApiKey { plaintext: generated.plaintext, record }),
                Err(KeyStoreError::DuplicateId { .. }) if attempts_left > 0 => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Revokes a key in the store and drops it from this process's cache, so it is refused
    /// from the next request on. Returns false when no key has this id.
    pub async fn revoke_key(&self, id: &str, at_unix_ms: i64) -> Result<bool, KeyStoreError> {
        self.invalidate(id);
        let result = self.store.revoke_key(id, at_unix_ms).await.map_err(KeyStoreError::from);
        // Again after the write: a lookup that raced the revocation may have cached the key.
        self.invalidate(id);
        result
    }

    /// Writes the last-used times gathered since the previous flush in one `touch_keys` call
    /// and returns how many keys it updated. Call it from a timer (every 30–60 s) and once at
    /// shutdown. On failure the times are kept for the next flush.
    pub async fn flush_last_used(&self) -> Result<usize, KeyStoreError> {
        let mut batch: Vec<(String, i64)> = std::mem::take(&mut *lock(&self.pending_last_used)).into_iter().collect();
        if batch.is_empty() {
            return Ok(0);
        }
        batch.sort();
        match self.store.touch_keys(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(error) => {
                let mut pending = lock(&self.pending_last_used);
                for (id, at) in batch {
                    let latest = pending.entry(id).or_insert(at);
                    *latest = (*latest).max(at);
                }
                Err(error.into())
            }
        }
    }
}

/// Service keys (no user) act as `key:<id>`, so every request still names a user.
fn envelope_for(record: &ApiKeyRecord) -> IdentityEnvelope {
    let mut roles = record.roles.clone();
    roles.sort();
    roles.dedup();
    IdentityEnvelope {
        tenant_id: record.tenant_id.clone(),
        user_id: record.user_id.clone().unwrap_or_else(|| format!("key:{}", record.id)),
        roles,
        privacy_mode: false,
        policy_version: String::new(),
        credential: Credential::ApiKey { key_id: record.id.clone() },
        agent: None,
    }
}
