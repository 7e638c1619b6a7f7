//! Round trips, wrong and rotated keys, tampering, retention and erasure, on a real SQLite
//! store whose file is searched for plaintext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rampart_conversations::{
    ConversationContent, ConversationError, ConversationLog, MasterKey, NewConversation, rotate_master_key,
};
use rampart_core::{ConversationQuery, Store};
use serde_json::json;

const MARKER: &str = "the-launch-code-is-7781-zebra";

async fn store() -> (Arc<dyn Store>, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.db");
    let store = rampart_store::open_store(&format!("sqlite://{}", path.display())).await.unwrap();
    (store, dir, path)
}

fn key(byte: u8) -> MasterKey {
    MasterKey::parse(&hex::encode([byte; 32])).unwrap()
}

fn content() -> ConversationContent {
    ConversationContent {
        messages: json!([{"role": "user", "content": MARKER}]),
        response: json!({"content": "noted"}),
    }
}

fn new(tenant: &str, user: &str, days: u32) -> NewConversation {
    NewConversation {
        tenant: tenant.into(),
        user: Some(user.into()),
        request_id: Some("req-1".into()),
        model: "gpt-fake".into(),
        pii_tags: vec!["email".into()],
        retention_days: days,
    }
}

#[tokio::test]
async fn content_round_trips_and_is_not_in_the_database_in_clear() {
    let (store, _dir, path) = store().await;
    let log = ConversationLog::new(key(1), store.clone());
    let id = log.record(new("acme", "alice", 30), &content()).await.unwrap();
    let read = log.read(&id).await.unwrap();
    assert_eq!(read.content, content());
    assert_eq!(
        (read.tenant.as_str(), read.user.as_deref(), read.pii_tags.clone()),
        ("acme", Some("alice"), vec!["email".to_owned()])
    );
    let expires = read.expires_unix_ms.unwrap() - read.created_unix_ms;
    assert_eq!(expires, 30 * 86_400_000);
    drop(log);
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    let needle = MARKER.as_bytes();
    for file in [&bytes, &wal] {
        assert!(!file.windows(needle.len()).any(|window| window == needle), "plaintext found in the database files");
    }
}

#[tokio::test]
async fn a_wrong_master_key_is_named_and_never_yields_garbage() {
    let (store, _dir, _) = store().await;
    let id = ConversationLog::new(key(1), store.clone()).record(new("acme", "alice", 0), &content()).await.unwrap();
    let error = ConversationLog::new(key(2), store.clone()).read(&id).await.err().unwrap();
    match &error {
        ConversationError::WrongMasterKey { expected_id, got_id } => {
            assert_eq!(expected_id, &key(1).id());
            assert_eq!(got_id, &key(2).id());
        }
        other => panic!("expected WrongMasterKey, got {other:?}"),
    }
    assert!(error.to_string().contains("rotate-key"), "{error}");
}

#[tokio::test]
async fn rotation_rewraps_keys_without_touching_conversations() {
    let (store, _dir, _) = store().await;
    let old = key(1);
    let log = ConversationLog::new(key(1), store.clone());
    let first = log.record(new("acme", "alice", 0), &content()).await.unwrap();
    let second = log.record(new("globex", "bob", 0), &content()).await.unwrap();
    let before: Vec<_> = store.list_conversations(&ConversationQuery::default()).await.unwrap();
    let new_key = key(3);
    assert_eq!(rotate_master_key(store.as_ref(), &old, &new_key).await.unwrap(), 2);
    let after: Vec<_> = store.list_conversations(&ConversationQuery::default()).await.unwrap();
    assert_eq!(before, after, "conversation rows are byte-for-byte unchanged");
    let rotated = ConversationLog::new(key(3), store.clone());
    for id in [&first, &second] {
        assert_eq!(rotated.read(id).await.unwrap().content, content());
    }
    assert!(matches!(
        ConversationLog::new(key(1), store.clone()).read(&first).await,
        Err(ConversationError::WrongMasterKey { .. })
    ));
}

#[tokio::test]
async fn tampered_or_moved_ciphertext_fails_authentication() {
    let (store, _dir, _) = store().await;
    let log = ConversationLog::new(key(1), store.clone());
    let id = log.record(new("acme", "alice", 0), &content()).await.unwrap();
    let mut record = store.get_conversation(&id).await.unwrap().unwrap();
    record.ciphertext[3] ^= 1;
    assert!(matches!(log.open(record.clone()).await, Err(ConversationError::Corrupt { .. })));
    record.ciphertext[3] ^= 1;
    let mut moved = record.clone();
    moved.id = "another-row".into();
    assert!(matches!(log.open(moved).await, Err(ConversationError::Corrupt { .. })), "bound to its row id");
    assert_eq!(log.open(record).await.unwrap().content, content());
}

#[tokio::test]
async fn retention_and_erasure() {
    let (store, _dir, _) = store().await;
    let log = ConversationLog::new(key(1), store.clone());
    let kept = log.record(new("acme", "alice", 30), &content()).await.unwrap();
    let forever = log.record(new("acme", "bob", 0), &content()).await.unwrap();
    let created = log.read(&kept).await.unwrap().created_unix_ms;
    assert_eq!(log.purge_expired(created + 30 * 86_400_000 - 1).await.unwrap(), 0, "a millisecond early: kept");
    assert_eq!(log.purge_expired(created + 30 * 86_400_000).await.unwrap(), 1);
    assert!(matches!(log.read(&kept).await, Err(ConversationError::NotFound(_))));
    assert_eq!(log.erase_user("acme", "bob").await.unwrap(), 1);
    assert!(matches!(log.read(&forever).await, Err(ConversationError::NotFound(_))));
}

#[test]
fn master_keys_parse_hex_or_base64_and_never_print() {
    let hex_key = MasterKey::parse(&"ab".repeat(32)).unwrap();
    let b64 = MasterKey::parse("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=").unwrap();
    assert_eq!(hex_key.id(), b64.id());
    assert!(!format!("{hex_key:?}").contains("abab"));
    assert!(MasterKey::parse("short").is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let made = MasterKey::generate_file(&path).unwrap();
    assert_eq!(MasterKey::from_file(&path).unwrap().id(), made.id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn content_seals_bind_tenant_and_context_and_survive_rotation() {
    use rampart_conversations::KeyRing;
    use rampart_core::{CipherError, ContentCipher};
    let (store, _dir, _path) = store().await;
    let ring = KeyRing::new(key(1), store.clone());
    let sealed = ring.seal("acme", "doc:0", MARKER.as_bytes()).await.unwrap();
    assert!(!sealed.windows(MARKER.len()).any(|window| window == MARKER.as_bytes()));
    assert_eq!(ring.open("acme", "doc:0", &sealed).await.unwrap(), MARKER.as_bytes());
    // Two seals of the same text differ (fresh nonce), both open.
    let again = ring.seal("acme", "doc:0", MARKER.as_bytes()).await.unwrap();
    assert_ne!(sealed, again);

    // Moved to another row or tenant, truncated or altered: refused, never garbage.
    ring.seal("globex", "other", b"x").await.unwrap();
    for (tenant, context) in [("acme", "doc:1"), ("globex", "doc:0")] {
        let error = ring.open(tenant, context, &sealed).await.unwrap_err();
        assert!(matches!(error, CipherError::Tampered { .. } | CipherError::Key(_)), "{tenant}/{context}: {error}");
    }
    let mut altered = sealed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    for bad in [&altered[..], &sealed[..10], &[][..]] {
        assert!(matches!(ring.open("acme", "doc:0", bad).await, Err(CipherError::Tampered { .. })));
    }

    // A wrong master key names the problem; after rotation the new one opens old seals.
    let error = KeyRing::new(key(2), store.clone()).open("acme", "doc:0", &sealed).await.unwrap_err();
    assert!(error.to_string().contains("master key"), "{error}");
    rotate_master_key(store.as_ref(), &key(1), &key(3)).await.unwrap();
    assert_eq!(KeyRing::new(key(3), store.clone()).open("acme", "doc:0", &sealed).await.unwrap(), MARKER.as_bytes());
}
