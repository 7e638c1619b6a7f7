//! Passages encrypted at rest: a layer over any [`RetrievalIndex`] engine that seals each
//! chunk's heading and text with the owning tenant's data key before the engine stores it, and
//! opens them again on the way out.
//!
//! What stays in clear, because search needs it: the engine's term index (the embedded engine
//! keeps stemmed words and their counts per chunk, no positions; PostgreSQL's `tsvector`
//! keeps stemmed words with positions), the vectors, and the document records (name, owner,
//! hash, provenance). What is sealed: every passage and heading a reader is shown. Each seal
//! binds the tenant and the chunk id, so bytes moved to another row or tenant do not open.
//!
//! Without a cipher the layer still stands guard: chunks stored sealed are refused with an
//! error naming the fix, never handed out as empty text.

use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::{
    ChunkRecord, CipherError, ContentCipher, DocumentRecord, DocumentSelector, IndexError, InsertOutcome, MemoryState,
    NewDocument, RetrievalIndex, ScoredChunk, Visibility,
};
use serde::{Deserialize, Serialize};

/// What one sealed blob holds.
#[derive(Serialize, Deserialize)]
struct Passage {
    heading: Vec<String>,
    text: String,
}

/// A [`RetrievalIndex`] whose stored passages are sealed when it has a cipher.
pub struct SealedIndex {
    inner: Arc<dyn RetrievalIndex>,
    cipher: Option<Arc<dyn ContentCipher>>,
}

impl SealedIndex {
    /// Seals every chunk written from now on; reads open sealed chunks and pass chunks written
    /// before encryption was turned on through as they are.
    pub fn new(inner: Arc<dyn RetrievalIndex>, cipher: Arc<dyn ContentCipher>) -> Self {
        SealedIndex { inner, cipher: Some(cipher) }
    }

    /// Writes in clear; refuses to read chunks that were stored sealed.
    pub fn plain(inner: Arc<dyn RetrievalIndex>) -> Self {
        SealedIndex { inner, cipher: None }
    }

    async fn seal(&self, tenant: &str, chunk: &mut ChunkRecord) -> Result<(), IndexError> {
        let Some(cipher) = &self.cipher else { return Ok(()) };
        let passage = Passage { heading: chunk.heading.clone(), text: chunk.text.clone() };
        let bytes = serde_json::to_vec(&passage)
            .map_err(|error| IndexError::Invalid(format!("a chunk does not serialise: {error}")))?;
        chunk.sealed = Some(cipher.seal(tenant, &chunk.id, &bytes).await.map_err(cipher_error)?);
        Ok(())
    }

    async fn open(&self, tenant: &str, chunk: &mut ChunkRecord) -> Result<(), IndexError> {
        let Some(sealed) = chunk.sealed.take() else { return Ok(()) };
        let Some(cipher) = &self.cipher else {
            return Err(IndexError::Unavailable(format!(
                "chunk '{}' is stored encrypted, but encryption at rest is off: set [retrieval] encrypt = true \
                 with the master key that sealed it",
                chunk.id
            )));
        };
        let bytes = cipher.open(tenant, &chunk.id, &sealed).await.map_err(cipher_error)?;
        let passage: Passage = serde_json::from_slice(&bytes)
            .map_err(|error| IndexError::Corrupt(format!("sealed chunk '{}' holds no passage: {error}", chunk.id)))?;
        chunk.heading = passage.heading;
        chunk.text = passage.text;
        Ok(())
    }
}

fn cipher_error(error: CipherError) -> IndexError {
    match error {
        CipherError::Tampered { .. } => IndexError::Corrupt(error.to_string()),
        CipherError::Key(_) | CipherError::Crypto(_) => IndexError::Unavailable(format!("encryption at rest: {error}")),
    }
}

#[async_trait]
impl RetrievalIndex for SealedIndex {
    async fn insert_batch(&self, mut documents: Vec<NewDocument>) -> Result<Vec<InsertOutcome>, IndexError> {
        for new in &mut documents {
            let tenant = new.document.owner.tenant.clone();
            for chunk in &mut new.chunks {
                self.seal(&tenant, chunk).await?;
            }
        }
        self.inner.insert_batch(documents).await
    }

    async fn search_lexical(
        &self,
        visibility: &Visibility,
        query: &str,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        self.inner.search_lexical(visibility, query, limit).await
    }

    async fn search_vector(
        &self,
        visibility: &Visibility,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, IndexError> {
        self.inner.search_vector(visibility, vector, limit).await
    }

    async fn chunks(
        &self,
        visibility: &Visibility,
        ids: &[String],
    ) -> Result<Vec<(ChunkRecord, DocumentRecord)>, IndexError> {
        let mut found = self.inner.chunks(visibility, ids).await?;
        for (chunk, document) in &mut found {
            self.open(&document.owner.tenant, chunk).await?;
        }
        Ok(found)
    }

    async fn document_chunks(&self, tenant: &str, document_id: &str) -> Result<Vec<ChunkRecord>, IndexError> {
        let mut chunks = self.inner.document_chunks(tenant, document_id).await?;
        for chunk in &mut chunks {
            self.open(tenant, chunk).await?;
        }
        Ok(chunks)
    }

    async fn documents(&self, selector: &DocumentSelector, limit: usize) -> Result<Vec<DocumentRecord>, IndexError> {
        self.inner.documents(selector, limit).await
    }

    async fn set_state(&self, selector: &DocumentSelector, state: MemoryState) -> Result<u64, IndexError> {
        self.inner.set_state(selector, state).await
    }

    async fn delete(&self, selector: &DocumentSelector) -> Result<u64, IndexError> {
        self.inner.delete(selector).await
    }

    async fn delete_expired(&self, now_unix_ms: i64) -> Result<u64, IndexError> {
        self.inner.delete_expired(now_unix_ms).await
    }
}
