//! Hybrid search: BM25 and vector search over the same visibility, fused by reciprocal rank,
//! optionally reranked, returned with the chunk text and its document for citations.

use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::{
    Backend, ChunkRecord, DocumentRecord, EmbedCall, EmbedInputs, IndexError, RetrievalIndex, Visibility,
};
use serde::{Deserialize, Serialize};

use crate::fusion::{FusedHit, FusionWeights, RankedScore, fuse};

#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("embedding model `{model}` failed: {reason}")]
    Embed { model: String, reason: String },
    #[error("reranker failed: {0}")]
    Rerank(String),
    #[error("{0}")]
    Invalid(String),
}

/// Turns texts into unit vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// The configured model name, recorded in provenance.
    fn model(&self) -> &str;

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, RetrievalError>;
}

/// An [`Embedder`] over any backend's embeddings endpoint (the embedded MiniLM or a model
/// server). Vectors are normalised here, since not every server returns unit vectors and the
/// index compares by dot product.
pub struct BackendEmbedder {
    backend: Arc<dyn Backend>,
    model: String,
    upstream_model: String,
}

impl BackendEmbedder {
    pub fn new(backend: Arc<dyn Backend>, model: impl Into<String>, upstream_model: impl Into<String>) -> Self {
        BackendEmbedder { backend, model: model.into(), upstream_model: upstream_model.into() }
    }
}

/// Scales `vector` to unit length (left as is when it is all zeros).
pub fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for value in vector.iter_mut() {
            *value /= norm;
        }
    }
}

#[async_trait]
impl Embedder for BackendEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, RetrievalError> {
        let expected = texts.len();
        let call = EmbedCall {
            upstream_model: self.upstream_model.clone(),
            inputs: EmbedInputs::Texts(texts),
            dimensions: None,
            user: None,
        };
        let embeddings = self
            .backend
            .embed(&call)
            .await
            .map_err(|error| RetrievalError::Embed { model: self.model.clone(), reason: error.to_string() })?;
        if embeddings.vectors.len() != expected {
            return Err(RetrievalError::Embed {
                model: self.model.clone(),
                reason: format!("asked for {expected} vectors, got {}", embeddings.vectors.len()),
            });
        }
        let mut vectors = embeddings.vectors;
        for vector in &mut vectors {
            if vector.iter().any(|value| !value.is_finite()) {
                return Err(RetrievalError::Embed {
                    model: self.model.clone(),
                    reason: "a vector holds NaN or infinity".into(),
                });
            }
            normalise(vector);
        }
        Ok(vectors)
    }
}

/// Reorders fused candidates (a cross-encoder, a model call). Returning fewer drops the rest;
/// an error fails the search rather than silently returning unreranked results.
#[async_trait]
pub trait Reranker: Send + Sync {
    async fn rerank(&self, query: &str, candidates: Vec<Retrieved>) -> Result<Vec<Retrieved>, RetrievalError>;
}

/// Which retrievers a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Lexical,
    Vector,
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub visibility: Visibility,
    pub limit: usize,
    pub mode: SearchMode,
    /// How many results each retriever contributes to fusion (at least `limit`).
    pub candidates: usize,
    /// Overrides the retriever's fusion weights for this search.
    pub weights: Option<FusionWeights>,
}

/// One result: the chunk, its document (for the citation) and how it scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retrieved {
    pub chunk: ChunkRecord,
    pub document: DocumentRecord,
    /// The fused score (or the single retriever's score in lexical / vector mode).
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexical: Option<RankedScore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<RankedScore>,
}

pub const MAX_RESULTS: usize = 1_000;

#[derive(Clone)]
pub struct Retriever {
    index: Arc<dyn RetrievalIndex>,
    embedder: Arc<dyn Embedder>,
    weights: FusionWeights,
    reranker: Option<Arc<dyn Reranker>>,
}

impl Retriever {
    pub fn new(index: Arc<dyn RetrievalIndex>, embedder: Arc<dyn Embedder>, weights: FusionWeights) -> Self {
        Retriever { index, embedder, weights, reranker: None }
    }

    pub fn with_reranker(mut self, reranker: Arc<dyn Reranker>) -> Self {
        self.reranker = Some(reranker);
        self
    }

    pub fn index(&self) -> &Arc<dyn RetrievalIndex> {
        &self.index
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    pub async fn search(&self, request: &SearchRequest) -> Result<Vec<Retrieved>, RetrievalError> {
        if request.query.trim().is_empty() {
            return Err(RetrievalError::Invalid("the query is empty".into()));
        }
        if request.limit == 0 || request.limit > MAX_RESULTS {
            return Err(RetrievalError::Invalid(format!("limit must be between 1 and {MAX_RESULTS}")));
        }
        let weights = request.weights.unwrap_or(self.weights);
        weights.validate().map_err(RetrievalError::Invalid)?;
        let candidates = request.candidates.clamp(request.limit, MAX_RESULTS);
        let visibility = &request.visibility;
        // BM25 runs while the query is embedded.
        let lexical = async {
            match request.mode {
                SearchMode::Vector => Ok(Vec::new()),
                _ => self.index.search_lexical(visibility, &request.query, candidates).await,
            }
        };
        let vector = async {
            if request.mode == SearchMode::Lexical {
                return Ok(Vec::new());
            }
            let mut vectors = self.embedder.embed(vec![request.query.clone()]).await?;
            let query_vector = vectors.pop().ok_or_else(|| RetrievalError::Embed {
                model: self.embedder.model().into(),
                reason: "no vector came back".into(),
            })?;
            Ok::<_, RetrievalError>(self.index.search_vector(visibility, &query_vector, candidates).await?)
        };
        let (lexical, vector) = tokio::join!(lexical, vector);
        let (lexical, vector) = (lexical?, vector?);
        let fused: Vec<FusedHit> = match request.mode {
            SearchMode::Hybrid => fuse(&lexical, &vector, &weights, candidates),
            SearchMode::Lexical => single(&lexical, true),
            SearchMode::Vector => single(&vector, false),
        };
        // Only a reranker needs every candidate's text.
        let wanted = if self.reranker.is_some() { fused.len() } else { request.limit };
        let ids: Vec<String> = fused.iter().take(wanted).map(|hit| hit.chunk_id.clone()).collect();
        let chunks = self.index.chunks(visibility, &ids).await?;
        let mut results: Vec<Retrieved> = Vec::with_capacity(chunks.len());
        for (chunk, document) in chunks {
            // `chunks` re-checks visibility, so a document revoked mid-search drops out here.
            if let Some(hit) = fused.iter().find(|hit| hit.chunk_id == chunk.id) {
                results.push(Retrieved { chunk, document, score: hit.score, lexical: hit.lexical, vector: hit.vector });
            }
        }
        if let Some(reranker) = &self.reranker {
            results = reranker.rerank(&request.query, results).await?;
        }
        results.truncate(request.limit);
        Ok(results)
    }
}

fn single(list: &[rampart_core::ScoredChunk], is_lexical: bool) -> Vec<FusedHit> {
    list.iter()
        .enumerate()
        .map(|(position, hit)| {
            let ranked = Some(RankedScore { rank: position + 1, score: hit.score });
            FusedHit {
                chunk_id: hit.chunk_id.clone(),
                score: hit.score,
                lexical: if is_lexical { ranked } else { None },
                vector: if is_lexical { None } else { ranked },
            }
        })
        .collect()
}
