//! The ingest pipeline: bytes → SHA-256 → (already there? done) → parse → chunk → embed →
//! one durable index write. Each file succeeds or fails on its own, with a reason a user can
//! act on.

use std::sync::Arc;

use rampart_core::{
    ChunkRecord, DocumentRecord, DocumentSelector, IndexError, InsertOutcome, MemoryKind, MemoryState, NewDocument,
    Owner, Provenance, RetrievalIndex,
};
use rampart_ingest::{ChunkerConfig, ParseError, ParseLimits, TokenCounter, WordEstimate};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::retriever::{Embedder, RetrievalError};

/// How documents are cut and embedded.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub chunker: ChunkerConfig,
    pub limits: ParseLimits,
    /// Chunks per embedding call.
    pub embed_batch: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings { chunker: ChunkerConfig::default(), limits: ParseLimits::default(), embed_batch: 32 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
    #[error("{0}")]
    Invalid(String),
}

impl From<IndexError> for IngestError {
    fn from(error: IndexError) -> Self {
        IngestError::Retrieval(RetrievalError::Index(error))
    }
}

/// One file to ingest.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub name: String,
    pub bytes: Vec<u8>,
    pub owner: Owner,
    pub kind: MemoryKind,
    /// The state it is written in: `Active` for documents; the memory gate also writes
    /// `Quarantined`.
    pub state: MemoryState,
    /// A memory item's text rather than a file: read as plain text whatever `name` looks
    /// like, and recorded with format `memory`.
    pub memory: bool,
    pub expires_unix_ms: Option<i64>,
    pub provenance: Provenance,
}

impl IngestRequest {
    /// An active document from a file.
    pub fn file(name: impl Into<String>, bytes: Vec<u8>, owner: Owner, kind: MemoryKind) -> Self {
        IngestRequest {
            name: name.into(),
            bytes,
            owner,
            kind,
            state: MemoryState::Active,
            memory: false,
            expires_unix_ms: None,
            provenance: Provenance::default(),
        }
    }
}

/// Format name recorded for memory items written through the gate.
pub const MEMORY_FORMAT: &str = "memory";

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingested {
    pub document_id: String,
    pub hash: String,
    pub name: String,
    pub format: String,
    pub chunks: u32,
    /// Its lifecycle state (that of the copy already there, for a duplicate).
    pub state: MemoryState,
    /// The same bytes under the same owner were already there; nothing was written.
    pub duplicate: bool,
}

/// What the embedder reads for a chunk: its heading path, then its text, so "Restore" under
/// "Backups" is found by a question about restoring backups.
pub fn embedding_text(heading: &[String], text: &str) -> String {
    if heading.is_empty() { text.to_owned() } else { format!("{}\n{}", heading.join(" / "), text) }
}

/// A document's id inside its tenant: the owner and the content hash, hashed again, so two
/// owners of the same bytes hold two documents and a lookup by one reveals nothing of the
/// other.
pub fn document_id(owner: &Owner, hash: &str) -> String {
    let mut digest = Sha256::new();
    for part in [
        owner.tenant.as_str(),
        owner.scope.as_str(),
        owner.user.as_deref().unwrap_or(""),
        owner.session.as_deref().unwrap_or(""),
        hash,
    ] {
        digest.update(part.as_bytes());
        digest.update([0u8]);
    }
    hex::encode(digest.finalize())[..32].to_owned()
}

#[derive(Clone)]
pub struct Ingestor {
    index: Arc<dyn RetrievalIndex>,
    embedder: Arc<dyn Embedder>,
    settings: IngestSettings,
    counter: Arc<dyn TokenCounter>,
}

impl Ingestor {
    pub fn new(index: Arc<dyn RetrievalIndex>, embedder: Arc<dyn Embedder>, settings: IngestSettings) -> Self {
        Ingestor { index, embedder, settings, counter: Arc::new(WordEstimate) }
    }

    /// Counts chunk sizes with the embedding model's own tokenizer instead of the estimate.
    pub fn with_token_counter(mut self, counter: Arc<dyn TokenCounter>) -> Self {
        self.counter = counter;
        self
    }

    pub fn settings(&self) -> &IngestSettings {
        &self.settings
    }

    pub async fn ingest(&self, request: IngestRequest) -> Result<Ingested, IngestError> {
        request.owner.validate().map_err(IngestError::Invalid)?;
        let size = request.bytes.len() as u64;
        if size > self.settings.limits.max_bytes {
            return Err(ParseError::TooLarge { size, limit: self.settings.limits.max_bytes }.into());
        }
        let hash = rampart_ingest::content_hash(&request.bytes);
        let id = document_id(&request.owner, &hash);
        if let Some(existing) = self.existing(&request.owner, &hash, &id).await? {
            return Ok(Ingested {
                document_id: existing.id,
                hash,
                name: existing.name,
                format: existing.format,
                chunks: existing.chunk_count,
                state: existing.state,
                duplicate: true,
            });
        }
        let IngestRequest { name, bytes, owner, kind, state, memory, expires_unix_ms, mut provenance } = request;
        let (limits, chunker, counter) =
            (self.settings.limits.clone(), self.settings.chunker.clone(), self.counter.clone());
        let parse_name = if memory { "memory.txt".to_owned() } else { name.clone() };
        // Parsing a PDF is CPU work; keep it off the async workers.
        let (format, chunks) = tokio::task::spawn_blocking(move || {
            let parsed = rampart_ingest::parse(&parse_name, &bytes, &limits)?;
            let chunks = rampart_ingest::chunk(&parsed, &chunker, counter.as_ref());
            Ok::<_, ParseError>((parsed.format, chunks))
        })
        .await
        .map_err(|error| IngestError::Invalid(format!("parsing `{name}` stopped: {error}")))??;
        if chunks.is_empty() {
            return Err(ParseError::NoText { format }.into());
        }
        let mut records = Vec::with_capacity(chunks.len());
        for batch in chunks.chunks(self.settings.embed_batch.max(1)) {
            let vectors = self
                .embedder
                .embed(batch.iter().map(|chunk| embedding_text(&chunk.heading, &chunk.text)).collect())
                .await?;
            for (chunk, embedding) in batch.iter().zip(vectors) {
                let index = u32::try_from(chunk.index).map_err(|_| IngestError::Invalid("too many chunks".into()))?;
                records.push(ChunkRecord {
                    id: ChunkRecord::chunk_id(&id, index),
                    document_hash: hash.clone(),
                    index,
                    heading: chunk.heading.clone(),
                    text: chunk.text.clone(),
                    embedding,
                    sealed: None,
                });
            }
        }
        provenance.embedding_model.get_or_insert_with(|| self.embedder.model().to_owned());
        provenance.source.get_or_insert_with(|| name.clone());
        let format = if memory { MEMORY_FORMAT } else { format.as_str() };
        let document = DocumentRecord {
            id: id.clone(),
            hash: hash.clone(),
            owner,
            kind,
            state,
            name: name.clone(),
            format: format.to_owned(),
            chunk_count: records.len() as u32,
            created_unix_ms: rampart_core::unix_now_millis(),
            expires_unix_ms,
            provenance,
        };
        let chunk_count = document.chunk_count;
        let outcome = self.index.insert(NewDocument { document, chunks: records }).await?;
        Ok(Ingested {
            document_id: id,
            hash,
            name,
            format: format.to_owned(),
            chunks: chunk_count,
            state,
            duplicate: outcome == InsertOutcome::AlreadyPresent,
        })
    }

    async fn existing(&self, owner: &Owner, hash: &str, id: &str) -> Result<Option<DocumentRecord>, IndexError> {
        let selector = DocumentSelector {
            tenant: owner.tenant.clone(),
            hash_prefix: Some(hash.to_owned()),
            scope: Some(owner.scope),
            user: owner.user.clone(),
            session: owner.session.clone(),
            ..DocumentSelector::default()
        };
        Ok(self.index.documents(&selector, 0).await?.into_iter().find(|document| document.id == id))
    }
}
