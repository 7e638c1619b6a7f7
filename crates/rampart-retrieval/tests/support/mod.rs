//! Shared pieces of the retrieval tests: a deterministic embedder and document builders.

#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use rampart_conversations::{KeyRing, MasterKey};
use rampart_core::{
    ChunkRecord, ContentCipher, DocumentRecord, MemoryKind, MemoryState, NewDocument, Owner, Provenance,
};
use rampart_retrieval::{Embedder, RetrievalError, document_id, normalise};
use sha2::{Digest, Sha256};
use sqlx::Connection;

pub const DIMENSION: usize = 64;

/// Feature hashing of lower-cased words: texts sharing words get similar vectors. A real
/// vector space with known geometry, so tests can say which chunk must come first without a
/// model (the binary's tests use the embedded MiniLM).
pub struct HashingEmbedder;

pub fn hashed_vector(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; DIMENSION];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()) {
        let digest = Sha256::digest(word.to_lowercase().as_bytes());
        let bucket = digest[0] as usize % DIMENSION;
        let sign = if digest[1] & 1 == 0 { 1.0 } else { -1.0 };
        vector[bucket] += sign;
    }
    if vector.iter().all(|value| *value == 0.0) {
        vector[0] = 1.0;
    }
    normalise(&mut vector);
    vector
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn model(&self) -> &str {
        "hashing-64"
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, RetrievalError> {
        Ok(texts.iter().map(|text| hashed_vector(text)).collect())
    }
}

/// A one-document record whose chunks are `texts`, owned by `owner`.
pub fn document(owner: Owner, name: &str, texts: &[&str]) -> NewDocument {
    let hash = hex::encode(Sha256::digest(texts.join("\n").as_bytes()));
    let id = document_id(&owner, &hash);
    let chunks = texts
        .iter()
        .enumerate()
        .map(|(index, text)| ChunkRecord {
            id: ChunkRecord::chunk_id(&id, index as u32),
            document_hash: hash.clone(),
            index: index as u32,
            heading: vec![name.to_owned()],
            text: (*text).to_owned(),
            embedding: hashed_vector(text),
            sealed: None,
        })
        .collect::<Vec<_>>();
    NewDocument {
        document: DocumentRecord {
            id,
            hash,
            owner,
            kind: MemoryKind::Fact,
            state: MemoryState::Active,
            name: name.to_owned(),
            format: "txt".into(),
            chunk_count: chunks.len() as u32,
            created_unix_ms: 1_000,
            expires_unix_ms: None,
            provenance: Provenance { source: Some(name.to_owned()), ..Provenance::default() },
        },
        chunks,
    }
}

/// A master key made of one repeated byte: two different bytes are two different keys.
pub fn master_key(byte: u8) -> MasterKey {
    MasterKey::parse(&hex::encode([byte; 32])).unwrap()
}

/// Per-tenant data keys wrapped by `master_key(1)` in a SQLite store of their own, as the
/// server keeps them; the directory must outlive the cipher.
pub async fn key_ring() -> (Arc<dyn ContentCipher>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = rampart_store::open_store(&format!("sqlite://{}", dir.path().join("keys.db").display())).await.unwrap();
    (Arc::new(KeyRing::new(master_key(1), store)), dir)
}

/// A schema of its own per test, dropped when the test ends.
pub struct PostgresSchema {
    admin_url: String,
    name: String,
}

impl PostgresSchema {
    pub async fn create() -> PostgresSchema {
        let admin_url = std::env::var("RAMPART_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("rampart_retrieval_test_{:016x}", fastrand::u64(..));
        let mut admin = Self::connect(&admin_url).await;
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut admin).await.unwrap();
        PostgresSchema { admin_url, name }
    }

    pub async fn connect(admin_url: &str) -> sqlx::PgConnection {
        match tokio::time::timeout(std::time::Duration::from_secs(10), sqlx::PgConnection::connect(admin_url)).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => panic!(
                "PostgreSQL at {admin_url} is required by the retrieval conformance suite \
                 (set RAMPART_TEST_POSTGRES_URL to use another): {error}"
            ),
            Err(_) => panic!("PostgreSQL at {admin_url} did not answer within 10 s"),
        }
    }

    pub fn url(&self) -> String {
        let separator = if self.admin_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.admin_url, self.name)
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on itself: a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut admin = PostgresSchema::connect(&admin_url).await;
                sqlx::query(&format!("DROP SCHEMA {name} CASCADE")).execute(&mut admin).await
            })
        });
        if let Ok(Err(error)) = dropped.join() {
            eprintln!("could not drop test schema: {error}");
        }
    }
}
