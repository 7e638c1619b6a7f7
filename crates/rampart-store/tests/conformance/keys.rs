//! The API-key checks of the conformance suite.

use std::sync::Arc;

use rampart_core::{ApiKeyRecord, Role, Store};

use super::BASE_TIME_MS;

fn key(id: &str, tenant: &str, created_offset_ms: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        name: Some(format!("{id}-name")),
        tenant_id: tenant.to_owned(),
        user_id: Some("alice".to_owned()),
        roles: vec![Role::User, Role::Agent],
        salt: [7; 16],
        hash: [0xab; 32],
        created_unix_ms: BASE_TIME_MS + created_offset_ms,
        expires_unix_ms: None,
        revoked_unix_ms: None,
        last_used_unix_ms: None,
    }
}

pub async fn api_keys_round_trip_and_ids_are_unique(store: Arc<dyn Store>) {
    let mut full = key("k1", "acme", 0);
    full.expires_unix_ms = Some(BASE_TIME_MS + 60_000);
    full.salt = std::array::from_fn(|index| index as u8);
    full.hash = std::array::from_fn(|index| 255 - index as u8);
    store.insert_key(&full).await.unwrap();
    assert_eq!(store.find_key("k1").await.unwrap(), Some(full.clone()));

    let mut bare = key("k2", "acme", 1);
    (bare.name, bare.user_id, bare.roles) = (None, None, Vec::new());
    store.insert_key(&bare).await.unwrap();
    assert_eq!(store.find_key("k2").await.unwrap(), Some(bare));
    assert_eq!(store.find_key("nope").await.unwrap(), None);

    let duplicate = store.insert_key(&key("k1", "other", 5)).await;
    assert!(
        matches!(duplicate, Err(rampart_core::StoreError::Conflict { .. })),
        "a taken id must be refused: {duplicate:?}"
    );
    assert_eq!(store.find_key("k1").await.unwrap(), Some(full), "the first key is untouched");
}

pub async fn api_keys_list_per_tenant_newest_first(store: Arc<dyn Store>) {
    for (id, tenant, offset) in [("a1", "acme", 0), ("b1", "beta", 1), ("a2", "acme", 2), ("a3", "acme", 3)] {
        store.insert_key(&key(id, tenant, offset)).await.unwrap();
    }
    let ids = |keys: Vec<ApiKeyRecord>| keys.into_iter().map(|key| key.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_keys(Some("acme")).await.unwrap()), ["a3", "a2", "a1"]);
    assert_eq!(ids(store.list_keys(Some("beta")).await.unwrap()), ["b1"]);
    assert!(store.list_keys(Some("nobody")).await.unwrap().is_empty());
    assert_eq!(ids(store.list_keys(None).await.unwrap()), ["a3", "a2", "b1", "a1"]);
}

pub async fn api_keys_revoke_once_and_count_only_active_keys(store: Arc<dyn Store>) {
    let now = BASE_TIME_MS + 1_000;
    let mut expired = key("expired", "acme", 0);
    expired.expires_unix_ms = Some(now);
    let mut later = key("later", "acme", 1);
    later.expires_unix_ms = Some(now + 1);
    for record in [expired, later, key("forever", "acme", 2), key("revoked", "acme", 3)] {
        store.insert_key(&record).await.unwrap();
    }
    assert_eq!(store.count_active_keys(now).await.unwrap(), 3, "a key expiring at `now` is no longer active");

    assert!(store.revoke_key("revoked", now + 10).await.unwrap());
    assert!(store.revoke_key("revoked", now + 99).await.unwrap());
    assert_eq!(store.find_key("revoked").await.unwrap().unwrap().revoked_unix_ms, Some(now + 10), "first time kept");
    assert!(!store.revoke_key("missing", now).await.unwrap());
    assert_eq!(store.count_active_keys(now).await.unwrap(), 2);
    assert_eq!(store.count_active_keys(now + 1).await.unwrap(), 1);
}

pub async fn api_keys_last_used_never_moves_backwards(store: Arc<dyn Store>) {
    store.insert_key(&key("k", "acme", 0)).await.unwrap();
    store.touch_keys(&[]).await.unwrap();
    store.touch_keys(&[("k".to_owned(), 500), ("missing".to_owned(), 1)]).await.unwrap();
    assert_eq!(store.find_key("k").await.unwrap().unwrap().last_used_unix_ms, Some(500));
    store.touch_keys(&[("k".to_owned(), 400)]).await.unwrap();
    assert_eq!(store.find_key("k").await.unwrap().unwrap().last_used_unix_ms, Some(500));
    store.touch_keys(&[("k".to_owned(), 900)]).await.unwrap();
    assert_eq!(store.find_key("k").await.unwrap().unwrap().last_used_unix_ms, Some(900));
}
