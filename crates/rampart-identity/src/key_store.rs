//! Where API keys live: [`ApiKeyRecord`], the [`ApiKeyStore`] trait, and [`MemoryKeyStore`].
//!
//! The record and the trait live in `rampart-core` (every `Store` is an [`ApiKeyStore`]); they
//! are re-exported here with the in-memory store. Any implementation must hold:
//! - only the public id and [`StoredKeyHash`] of a key, never its secret or plaintext;
//! - `insert_key` refuses an id that exists ([`StoreError::Conflict`]), never overwrites;
//! - `revoke_key` keeps the first revocation time when called again, and returns whether the key
//!   exists;
//! - `list_keys` answers newest first (ties by id);
//! - `touch_keys` only moves `last_used_unix_ms` forward and ignores ids it does not have.
//!
//! [`MemoryKeyStore`] is the reference implementation and what the tests use.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::keys::StoredKeyHash;
use rampart_core::StoreError;

pub use rampart_core::{ApiKeyRecord, ApiKeyStore};

/// The salt and hash a record keeps, as [`crate::keys::verify_secret`] takes them.
pub fn stored_hash(record: &ApiKeyRecord) -> StoredKeyHash {
    StoredKeyHash { salt: record.salt, hash: record.hash }
}

/// An in-process [`ApiKeyStore`]: for tests and for trying Rampart out. Keys are lost on exit.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: Mutex<BTreeMap<String, ApiKeyRecord>>,
}

impl MemoryKeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ApiKeyRecord>> {
        // A panic while holding the lock cannot leave a map half-written, so carry on.
        self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl ApiKeyStore for MemoryKeyStore {
    async fn insert_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut keys = self.keys();
        if keys.contains_key(&record.id) {
            return Err(StoreError::Conflict { detail: format!("an API key with id '{}' already exists", record.id) });
        }
        keys.insert(record.id.clone(), record.clone());
        Ok(())
    }

    async fn find_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.keys().get(id).cloned())
    }

    async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut keys: Vec<ApiKeyRecord> = self
            .keys()
            .values()
            .filter(|record| tenant.is_none_or(|tenant| record.tenant_id == tenant))
            .cloned()
            .collect();
        keys.sort_by(|a, b| b.created_unix_ms.cmp(&a.created_unix_ms).then_with(|| a.id.cmp(&b.id)));
        Ok(keys)
    }

    async fn revoke_key(&self, id: &str, at_unix_ms: i64) -> Result<bool, StoreError> {
        let mut keys = self.keys();
        let Some(record) = keys.get_mut(id) else { return Ok(false) };
        record.revoked_unix_ms.get_or_insert(at_unix_ms);
        Ok(true)
    }

    async fn touch_keys(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        let mut keys = self.keys();
        for (id, at) in uses {
            if let Some(record) = keys.get_mut(id) {
                record.last_used_unix_ms = Some(record.last_used_unix_ms.map_or(*at, |previous| previous.max(*at)));
            }
        }
        Ok(())
    }

    async fn count_active_keys(&self, now_unix_ms: i64) -> Result<u64, StoreError> {
        Ok(self.keys().values().filter(|record| record.is_active(now_unix_ms)).count() as u64)
    }
}

#[cfg(test)]
mod tests {
    use rampart_core::Role;

    use super::*;

    fn record(id: &str, tenant: &str) -> ApiKeyRecord {
        // Later ids were created later.
        let created_unix_ms = i64::from(id.as_bytes()[0]);
        ApiKeyRecord {
            id: id.to_owned(),
            name: None,
            tenant_id: tenant.to_owned(),
            user_id: None,
            roles: vec![Role::User],
            salt: [1; 16],
            hash: [2; 32],
            created_unix_ms,
            expires_unix_ms: None,
            revoked_unix_ms: None,
            last_used_unix_ms: None,
        }
    }

    #[tokio::test]
    async fn memory_store_keeps_the_rules_every_store_keeps() {
        let store = MemoryKeyStore::new();
        store.insert_key(&record("aaaaaaaaaaaa", "acme")).await.unwrap();
        store.insert_key(&record("bbbbbbbbbbbb", "globex")).await.unwrap();
        assert!(matches!(
            store.insert_key(&record("aaaaaaaaaaaa", "other")).await,
            Err(StoreError::Conflict { detail }) if detail.contains("'aaaaaaaaaaaa' already exists")
        ));
        assert_eq!(store.find_key("aaaaaaaaaaaa").await.unwrap().unwrap().tenant_id, "acme");
        let all = store.list_keys(None).await.unwrap();
        assert_eq!(all.iter().map(|key| key.id.as_str()).collect::<Vec<_>>(), ["bbbbbbbbbbbb", "aaaaaaaaaaaa"]);
        assert_eq!(store.count_active_keys(0).await.unwrap(), 2);
        let acme = store.list_keys(Some("acme")).await.unwrap();
        assert_eq!(acme.iter().map(|key| key.id.as_str()).collect::<Vec<_>>(), ["aaaaaaaaaaaa"]);

        assert!(store.revoke_key("aaaaaaaaaaaa", 10).await.unwrap());
        assert!(store.revoke_key("aaaaaaaaaaaa", 20).await.unwrap());
        assert!(!store.revoke_key("cccccccccccc", 20).await.unwrap());
        assert_eq!(store.find_key("aaaaaaaaaaaa").await.unwrap().unwrap().revoked_unix_ms, Some(10));
        assert_eq!(store.count_active_keys(0).await.unwrap(), 1);

        store.touch_keys(&[("bbbbbbbbbbbb".into(), 50), ("cccccccccccc".into(), 50)]).await.unwrap();
        store.touch_keys(&[("bbbbbbbbbbbb".into(), 40)]).await.unwrap();
        assert_eq!(store.find_key("bbbbbbbbbbbb").await.unwrap().unwrap().last_used_unix_ms, Some(50));
    }

    #[test]
    fn debug_leaves_the_hash_out() {
        let shown = format!("{:?}", record("aaaaaaaaaaaa", "acme"));
        assert!(shown.contains("aaaaaaaaaaaa") && !shown.contains("hash"), "{shown}");
    }
}
