//! API key authentication over a store that counts what it is asked: verification, expiry,
//! revocation, the cache, and batched last-used times.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::{Credential, Role, StoreError, unix_now_millis};
use rampart_identity::AuthError;
use rampart_identity::key_store::{ApiKeyRecord, ApiKeyStore, MemoryKeyStore};
use rampart_identity::keys::{ApiKeyAuthConfig, ApiKeyAuthenticator, IssuedApiKey, KeyFormatError, NewApiKey};

/// A [`MemoryKeyStore`] that counts lookups, records touch batches, and can be made to fail.
#[derive(Default)]
struct CountingStore {
    inner: MemoryKeyStore,
    finds: AtomicUsize,
    touches: Mutex<Vec<Vec<(String, i64)>>>,
    failing: AtomicBool,
}

impl CountingStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Query { detail: "connection refused".into() });
        }
        Ok(())
    }

    fn finds(&self) -> usize {
        self.finds.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ApiKeyStore for CountingStore {
    async fn insert_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.insert_key(record).await
    }

    async fn find_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.find_key(id).await
    }

    async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.list_keys(tenant).await
    }

    async fn revoke_key(&self, id: &str, at_unix_ms: i64) -> Result<bool, StoreError> {
        self.inner.revoke_key(id, at_unix_ms).await
    }

    async fn touch_keys(&self, uses: &[(String, i64)]) -> Result<(), StoreError> {
        self.check()?;
        self.touches.lock().unwrap().push(uses.to_vec());
        self.inner.touch_keys(uses).await
    }

    async fn count_active_keys(&self, now_unix_ms: i64) -> Result<u64, StoreError> {
        self.inner.count_active_keys(now_unix_ms).await
    }
}

fn authenticator(cache_ttl_secs: u64) -> (Arc<CountingStore>, ApiKeyAuthenticator) {
    let store = Arc::new(CountingStore::default());
    let config = ApiKeyAuthConfig { cache_ttl_secs, ..ApiKeyAuthConfig::default() };
    (Arc::clone(&store), ApiKeyAuthenticator::new(store, &config))
}

async fn issue(authenticator: &ApiKeyAuthenticator, expires_unix_ms: Option<i64>) -> IssuedApiKey {
    let new = NewApiKey {
        name: Some("ci".into()),
        tenant_id: "acme".into(),
        user_id: Some("alice".into()),
        roles: vec![Role::User, Role::Operator, Role::User],
        expires_unix_ms,
    };
    authenticator.issue_key(new).await.unwrap()
}

#[test]
fn the_default_cache_keeps_keys_five_seconds() {
    assert_eq!(ApiKeyAuthConfig::default().cache_ttl_secs, 5);
}

#[tokio::test]
async fn an_issued_key_authenticates_as_its_record() {
    let (store, authenticator) = authenticator(5);
    let issued = issue(&authenticator, None).await;
    assert!(format!("{issued:?}").contains(&issued.record.id));
    assert!(!format!("{issued:?}").contains(&issued.plaintext));
    let envelope = authenticator.authenticate(&issued.plaintext).await.unwrap();
    assert_eq!(envelope.tenant_id, "acme");
    assert_eq!(envelope.user_id, "alice");
    assert_eq!(envelope.roles, [Role::Operator, Role::User]);
    assert_eq!(envelope.credential, Credential::ApiKey { key_id: issued.record.id.clone() });
    assert_eq!(envelope.api_key_id(), Some(issued.record.id.as_str()));
    assert!(!envelope.privacy_mode && envelope.policy_version.is_empty());
    // The store holds the hash, never the plaintext's secret.
    let stored = store.inner.find_key(&issued.record.id).await.unwrap().unwrap();
    assert!(!format!("{stored:?}").contains(&issued.plaintext[16..]));
}

#[tokio::test]
async fn a_service_key_acts_as_its_own_id() {
    let (_store, authenticator) = authenticator(5);
    let new = NewApiKey { name: None, tenant_id: "acme".into(), user_id: None, roles: vec![], expires_unix_ms: None };
    let issued = authenticator.issue_key(new).await.unwrap();
    let envelope = authenticator.authenticate(&issued.plaintext).await.unwrap();
    assert_eq!(envelope.user_id, format!("key:{}", issued.record.id));
}

#[tokio::test]
async fn a_wrong_secret_or_an_unknown_id_is_refused_alike() {
    let (_store, authenticator) = authenticator(5);
    let issued = issue(&authenticator, None).await;
    let other = issue(&authenticator, None).await;
    // Warm the cache: the secret must be checked on cached keys too.
    authenticator.authenticate(&issued.plaintext).await.unwrap();
    let wrong_secret = format!("{}{}", &issued.plaintext[..16], &other.plaintext[16..]);
    assert_eq!(authenticator.authenticate(&wrong_secret).await, Err(AuthError::InvalidApiKey));
    let unknown_id = format!("rk_000000000000_{}", &issued.plaintext[16..]);
    assert_eq!(authenticator.authenticate(&unknown_id).await, Err(AuthError::InvalidApiKey));
    assert!(!AuthError::InvalidApiKey.to_string().contains(&issued.plaintext[16..]));
}

#[tokio::test]
async fn malformed_keys_are_refused_before_any_lookup() {
    let (store, authenticator) = authenticator(5);
    let issued = issue(&authenticator, None).await;
    let truncated = &issued.plaintext[..issued.plaintext.len() - 1];
    let cases = [
        ("", KeyFormatError::MissingPrefix),
        ("sk-abcdef", KeyFormatError::MissingPrefix),
        ("rk_short", KeyFormatError::BadId),
        ("rk_ABCDEF123456_x", KeyFormatError::BadId),
        (truncated, KeyFormatError::BadSecret),
    ];
    for (text, expected) in cases {
        let error = authenticator.authenticate(text).await.unwrap_err();
        assert_eq!(error, AuthError::MalformedApiKey(expected), "{text:?}");
        if !text.is_empty() {
            assert!(!error.to_string().contains(text), "{error}");
        }
    }
    assert_eq!(store.finds(), 0);
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let (_store, authenticator) = authenticator(5);
    let expired = issue(&authenticator, Some(unix_now_millis() - 1)).await;
    let error = authenticator.authenticate(&expired.plaintext).await.unwrap_err();
    assert_eq!(error, AuthError::ApiKeyExpired { key_id: expired.record.id.clone() });
    assert!(!error.is_unavailable());
    let later = issue(&authenticator, Some(unix_now_millis() + 60_000)).await;
    authenticator.authenticate(&later.plaintext).await.unwrap();
}

#[tokio::test]
async fn a_key_revoked_through_the_authenticator_is_refused_at_once_even_when_cached() {
    let (store, authenticator) = authenticator(300);
    let issued = issue(&authenticator, None).await;
    authenticator.authenticate(&issued.plaintext).await.unwrap();
    authenticator.authenticate(&issued.plaintext).await.unwrap();
    assert_eq!(store.finds(), 1, "the second request was served from the cache");

    assert!(authenticator.revoke_key(&issued.record.id, unix_now_millis()).await.unwrap());
    let error = authenticator.authenticate(&issued.plaintext).await.unwrap_err();
    assert_eq!(error, AuthError::ApiKeyRevoked { key_id: issued.record.id.clone() });
    assert_eq!(authenticator.authenticate(&issued.plaintext).await, Err(error), "a revoked key is never cached");
    assert_eq!(store.finds(), 3);
    assert!(!authenticator.revoke_key("000000000000", unix_now_millis()).await.unwrap());
}

#[tokio::test]
async fn a_revocation_made_elsewhere_takes_effect_within_the_cache_ttl() {
    let (store, authenticator) = authenticator(1);
    let issued = issue(&authenticator, None).await;
    authenticator.authenticate(&issued.plaintext).await.unwrap();
    // Revoked straight in the store (another replica, the CLI): the cache may serve it until
    // its entry is older than the TTL, and not after.
    store.inner.revoke_key(&issued.record.id, unix_now_millis()).await.unwrap();
    authenticator.authenticate(&issued.plaintext).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let error = authenticator.authenticate(&issued.plaintext).await.unwrap_err();
    assert_eq!(error, AuthError::ApiKeyRevoked { key_id: issued.record.id.clone() });
}

#[tokio::test]
async fn with_the_cache_off_every_request_reads_the_store() {
    let (store, authenticator) = authenticator(0);
    let issued = issue(&authenticator, None).await;
    for _ in 0..3 {
        authenticator.authenticate(&issued.plaintext).await.unwrap();
    }
    assert_eq!(store.finds(), 3);
}

#[tokio::test]
async fn last_used_times_are_coalesced_in_memory_and_flushed_once() {
    let (store, authenticator) = authenticator(5);
    let first = issue(&authenticator, None).await;
    let second = issue(&authenticator, None).await;
    let before = unix_now_millis();
    for _ in 0..5 {
        authenticator.authenticate(&first.plaintext).await.unwrap();
    }
    authenticator.authenticate(&second.plaintext).await.unwrap();
    assert!(store.touches.lock().unwrap().is_empty(), "no write per request");

    assert_eq!(authenticator.flush_last_used().await.unwrap(), 2);
    let touches = store.touches.lock().unwrap().clone();
    assert_eq!(touches.len(), 1, "one batch");
    let mut ids: Vec<&str> = touches[0].iter().map(|(id, _)| id.as_str()).collect();
    ids.sort();
    let mut expected = [first.record.id.as_str(), second.record.id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    let last_used = store.inner.find_key(&first.record.id).await.unwrap().unwrap().last_used_unix_ms.unwrap();
    assert!(last_used >= before && last_used <= unix_now_millis());

    assert_eq!(authenticator.flush_last_used().await.unwrap(), 0);
    assert_eq!(store.touches.lock().unwrap().len(), 1, "nothing new, nothing written");
}

#[tokio::test]
async fn a_failed_flush_keeps_the_times_for_the_next_one() {
    let (store, authenticator) = authenticator(5);
    let issued = issue(&authenticator, None).await;
    authenticator.authenticate(&issued.plaintext).await.unwrap();
    store.failing.store(true, Ordering::SeqCst);
    assert!(authenticator.flush_last_used().await.is_err());
    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(authenticator.flush_last_used().await.unwrap(), 1);
    assert!(store.inner.find_key(&issued.record.id).await.unwrap().unwrap().last_used_unix_ms.is_some());
}

#[tokio::test]
async fn an_unreachable_store_is_unavailable_not_a_pass() {
    let (store, authenticator) = authenticator(5);
    let issued = issue(&authenticator, None).await;
    store.failing.store(true, Ordering::SeqCst);
    let error = authenticator.authenticate(&issued.plaintext).await.unwrap_err();
    assert_eq!(error, AuthError::KeyStoreUnavailable);
    assert!(error.is_unavailable());
}
