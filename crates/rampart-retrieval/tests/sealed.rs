//! Encryption at rest: what the engines keep on disk holds no passage in clear, searches and
//! citations still work, and sealed chunks never come out as anything but their plaintext or
//! an error (no key, wrong key).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::sync::Arc;

use rampart_conversations::KeyRing;
use rampart_core::{IndexError, Owner, RetrievalIndex, Visibility};
use rampart_retrieval::{EmbeddedIndex, PostgresIndex, SealedIndex};
use support::{PostgresSchema, document, key_ring, master_key};

/// A sentence whose words appear nowhere else, so finding it anywhere on disk means the
/// passage was stored in clear.
const PASSAGE: &str = "Quokka ledger seventeen unlocks the vault beside the zephyr orchard.";
const HEADING: &str = "Orchard vault procedures";

fn view() -> Visibility {
    Visibility::tenant("acme", 10_000)
}

fn secret_document() -> rampart_core::NewDocument {
    let mut new = document(Owner::tenant("acme"), "vault", &[PASSAGE]);
    new.chunks[0].heading = vec![HEADING.to_owned()];
    new
}

/// Every byte of every file under `dir`.
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(bytes_under(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// Search by words and by id gives the passage back in clear through the sealing layer.
async fn assert_readable(index: &dyn RetrievalIndex) -> String {
    let hits = index.search_lexical(&view(), "quokka zephyr orchard", 5).await.unwrap();
    assert_eq!(hits.len(), 1, "the sealed chunk is still found by its words");
    let found = index.chunks(&view(), &[hits[0].chunk_id.clone()]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0.text, PASSAGE);
    assert_eq!(found[0].0.heading, vec![HEADING.to_owned()]);
    assert_eq!(found[0].0.sealed, None);
    hits[0].chunk_id.clone()
}

#[tokio::test]
async fn embedded_files_hold_no_passage_in_clear() {
    let (cipher, _keys) = key_ring().await;
    let sealed_dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(EmbeddedIndex::open(sealed_dir.path()).unwrap());
    let sealed = SealedIndex::new(engine.clone(), cipher);
    sealed.insert(secret_document()).await.unwrap();
    let chunk_id = assert_readable(&sealed).await;

    // The engine itself holds only the seal.
    let stored = engine.document_chunks("acme", rampart_core::ChunkRecord::document_id_of(&chunk_id)).await.unwrap();
    assert_eq!(stored[0].text, "");
    assert!(stored[0].heading.is_empty());
    let seal = stored[0].sealed.clone().unwrap();
    assert!(!contains(&seal, "Quokka") && !contains(&seal, "vault"));
    drop((sealed, engine, stored));
    let on_disk = bytes_under(sealed_dir.path());
    // Tantivy's store is lz4-compressed, so most of a passage is not on disk verbatim even in
    // clear; its first word is (the control below shows it), and the term index holds only
    // lower-cased stems.
    for phrase in ["Quokka", "the vault beside", HEADING] {
        assert!(!contains(&on_disk, phrase), "{phrase:?} is on disk in clear");
    }

    // Control: without sealing the same document is on disk in clear, so the check above
    // can fail.
    let plain_dir = tempfile::tempdir().unwrap();
    EmbeddedIndex::open(plain_dir.path()).unwrap().insert(secret_document()).await.unwrap();
    assert!(contains(&bytes_under(plain_dir.path()), "Quokka"));
}

#[tokio::test]
async fn postgres_rows_hold_no_passage_in_clear() {
    let schema = PostgresSchema::create().await;
    let (cipher, _keys) = key_ring().await;
    let engine = Arc::new(PostgresIndex::open(&schema.url()).await.unwrap());
    let sealed = SealedIndex::new(engine, cipher);
    sealed.insert(secret_document()).await.unwrap();
    assert_readable(&sealed).await;

    let mut connection = PostgresSchema::connect(&schema.url()).await;
    let (text, heading, seal): (String, serde_json::Value, Vec<u8>) =
        sqlx::query_as("SELECT text, heading, sealed FROM rampart_retrieval_chunks")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert_eq!(text, "");
    assert_eq!(heading, serde_json::json!([]));
    assert!(!contains(&seal, "Quokka") && !contains(&seal, "vault"));
}

#[tokio::test]
async fn sealed_chunks_without_the_key_are_refused_not_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let engine: Arc<dyn RetrievalIndex> = Arc::new(EmbeddedIndex::open(dir.path()).unwrap());
    let (cipher, keys) = key_ring().await;
    SealedIndex::new(engine.clone(), cipher).insert(secret_document()).await.unwrap();

    let plain = SealedIndex::plain(engine.clone());
    let hits = plain.search_lexical(&view(), "quokka", 5).await.unwrap();
    let error = plain.chunks(&view(), &[hits[0].chunk_id.clone()]).await.unwrap_err();
    assert!(matches!(error, IndexError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("encrypt = true"), "{error}");

    // Another master key over the same data keys does not open them either.
    let store =
        rampart_store::open_store(&format!("sqlite://{}", keys.path().join("keys.db").display())).await.unwrap();
    let other = SealedIndex::new(engine, Arc::new(KeyRing::new(master_key(2), store)));
    let error = other.chunks(&view(), &[hits[0].chunk_id.clone()]).await.unwrap_err();
    assert!(error.to_string().contains("master key"), "{error}");
}

#[tokio::test]
async fn chunks_written_in_clear_stay_readable_after_encryption_is_turned_on() {
    let dir = tempfile::tempdir().unwrap();
    let engine: Arc<dyn RetrievalIndex> = Arc::new(EmbeddedIndex::open(dir.path()).unwrap());
    SealedIndex::plain(engine.clone()).insert(secret_document()).await.unwrap();
    let (cipher, _keys) = key_ring().await;
    assert_readable(&SealedIndex::new(engine, cipher)).await;
}
