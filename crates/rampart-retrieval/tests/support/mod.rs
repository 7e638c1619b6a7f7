//! Shared pieces of the retrieval tests: a deterministic embedder and document builders.

#![allow(dead_code)]

use async_trait::async_trait;
use rampart_core::{ChunkRecord, DocumentRecord, MemoryKind, MemoryState, NewDocument, Owner, Provenance};
use rampart_retrieval::{Embedder, RetrievalError, document_id, normalise};
use sha2::{Digest, Sha256};

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
