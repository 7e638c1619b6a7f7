//! The conversation-store checks of the conformance suite.

use std::sync::Arc;

use rampart_core::{ConversationQuery, ConversationRecord, Store, StoreError, WrappedDataKey};

use super::BASE_TIME_MS;

fn record(id: &str, tenant: &str, user: Option<&str>, offset_ms: i64, expires: Option<i64>) -> ConversationRecord {
    ConversationRecord {
        id: id.to_owned(),
        tenant: tenant.to_owned(),
        user: user.map(str::to_owned),
        request_id: Some(format!("req-{id}")),
        model: "gpt-fake".to_owned(),
        created_unix_ms: BASE_TIME_MS + offset_ms,
        expires_unix_ms: expires,
        pii_tags: vec!["email".to_owned(), "phone".to_owned()],
        data_key_id: format!("dk-{tenant}"),
        nonce: vec![1; 12],
        ciphertext: (0..=255).collect(),
    }
}

pub async fn conversations_round_trip_and_list_newest_first_with_filters(store: Arc<dyn Store>) {
    let first = record("c1", "acme", Some("alice"), 0, None);
    let second = record("c2", "acme", Some("bob"), 1_000, Some(BASE_TIME_MS + 5_000));
    let other = record("c3", "globex", Some("alice"), 2_000, None);
    store.append_conversations(&[first.clone(), second.clone()]).await.unwrap();
    store.append_conversations(std::slice::from_ref(&other)).await.unwrap();
    assert_eq!(store.get_conversation("c1").await.unwrap(), Some(first.clone()), "every field and byte kept");
    assert_eq!(store.get_conversation("nope").await.unwrap(), None);
    let ids = |rows: Vec<ConversationRecord>| rows.into_iter().map(|row| row.id).collect::<Vec<_>>();
    let all = store.list_conversations(&ConversationQuery::default()).await.unwrap();
    assert_eq!(ids(all), ["c3", "c2", "c1"]);
    let acme = ConversationQuery { tenant: Some("acme".into()), ..Default::default() };
    assert_eq!(ids(store.list_conversations(&acme).await.unwrap()), ["c2", "c1"]);
    let alice = ConversationQuery { user: Some("alice".into()), limit: 1, ..Default::default() };
    assert_eq!(ids(store.list_conversations(&alice).await.unwrap()), ["c3"]);
    let since = ConversationQuery { since_unix_ms: Some(BASE_TIME_MS + 1_000), ..Default::default() };
    assert_eq!(ids(store.list_conversations(&since).await.unwrap()), ["c3", "c2"]);
}

pub async fn conversation_retention_purges_exactly_what_expired_and_erasure_one_user(store: Arc<dyn Store>) {
    let now = BASE_TIME_MS + 10_000;
    store
        .append_conversations(&[
            record("past", "acme", Some("alice"), 0, Some(now - 1)),
            record("now", "acme", Some("alice"), 1, Some(now)),
            record("later", "acme", Some("alice"), 2, Some(now + 1)),
            record("forever", "acme", Some("bob"), 3, None),
            record("other-tenant", "globex", Some("alice"), 4, None),
        ])
        .await
        .unwrap();
    assert_eq!(store.delete_expired_conversations(now).await.unwrap(), 2, "past and exactly-now expire");
    assert!(store.get_conversation("later").await.unwrap().is_some(), "one millisecond left: kept");
    assert!(store.get_conversation("forever").await.unwrap().is_some());
    assert_eq!(store.delete_user_conversations("acme", "alice").await.unwrap(), 1);
    assert!(store.get_conversation("later").await.unwrap().is_none());
    assert!(store.get_conversation("other-tenant").await.unwrap().is_some(), "another tenant's alice is untouched");
    assert!(store.get_conversation("forever").await.unwrap().is_some(), "another user is untouched");
}

pub async fn conversation_data_keys_are_one_per_tenant_and_rewrap_together(store: Arc<dyn Store>) {
    let key = |id: &str, tenant: &str| WrappedDataKey {
        id: id.to_owned(),
        tenant: tenant.to_owned(),
        master_key_id: "m1".to_owned(),
        wrapped: vec![9; 60],
        created_unix_ms: BASE_TIME_MS,
    };
    store.insert_data_key(&key("k1", "acme")).await.unwrap();
    store.insert_data_key(&key("k2", "globex")).await.unwrap();
    let second = store.insert_data_key(&key("k3", "acme")).await;
    assert!(matches!(second, Err(StoreError::Conflict { .. })), "{second:?}");
    assert_eq!(store.data_keys(Some("acme")).await.unwrap(), vec![key("k1", "acme")]);
    let mut rewrapped = store.data_keys(None).await.unwrap();
    assert_eq!(rewrapped.len(), 2);
    for key in &mut rewrapped {
        key.master_key_id = "m2".to_owned();
        key.wrapped = vec![7; 60];
    }
    store.rewrap_data_keys(&rewrapped).await.unwrap();
    let after = store.data_keys(None).await.unwrap();
    assert!(after.iter().all(|key| key.master_key_id == "m2" && key.wrapped == vec![7; 60]), "{after:?}");
}
