//! Retrieval for Rampart: documents and memory items searched by words and by meaning, with
//! the caller's visibility applied inside every search.
//!
//! - [`EmbeddedIndex`]: the default engine, one Tantivy index (BM25) and one in-memory HNSW
//!   graph per tenant, under the data directory.
//! - [`Retriever`]: hybrid search — BM25 and vectors over the same visibility, fused by
//!   reciprocal rank ([`fusion`]), with an optional [`Reranker`].
//! - [`Ingestor`]: the ingest pipeline (hash, parse and chunk with `rampart-ingest`, embed,
//!   one durable write), idempotent per owner and content.
//!
//! The engine sits behind `rampart_core::RetrievalIndex`; the conformance suite in
//! `tests/conformance.rs` is what any engine must pass.

pub mod embedded;
pub mod fusion;
pub mod ingest;
pub mod retriever;

pub use embedded::EmbeddedIndex;
pub use fusion::{FusedHit, FusionWeights, RankedScore, fuse};
pub use ingest::{IngestError, IngestRequest, IngestSettings, Ingested, Ingestor, document_id};
pub use retriever::{
    BackendEmbedder, Embedder, MAX_RESULTS, Reranker, RetrievalError, Retrieved, Retriever, SearchMode, SearchRequest,
    normalise,
};
