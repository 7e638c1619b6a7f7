//! Retrieval for Rampart: documents and memory items searched by words and by meaning, with
//! the caller's visibility applied inside every search.
//!
//! - [`EmbeddedIndex`]: the default engine, one Tantivy index (BM25) and one in-memory HNSW
//!   graph per tenant, under the data directory.
//! - [`PostgresIndex`]: the scale-out engine, full-text search and an exact vector scan in
//!   PostgreSQL, shared by several gateway replicas.
//! - [`SealedIndex`]: passages encrypted at rest over either engine, under each tenant's
//!   data key.
//! - [`Retriever`]: hybrid search — BM25 and vectors over the same visibility, fused by
//!   reciprocal rank ([`fusion`]), with an optional [`Reranker`].
//! - [`Ingestor`]: the ingest pipeline (hash, parse and chunk with `rampart-ingest`, embed,
//!   one durable write), idempotent per owner and content.
//! - [`MemoryGate`]: what agents and users propose to remember, through Trace → Sanitize →
//!   Debate → Validators → Quarantine → Admit.
//!
//! The engine sits behind `rampart_core::RetrievalIndex`; the conformance suite in
//! `tests/conformance.rs` is what any engine must pass.

pub mod embedded;
pub mod fusion;
pub mod gate;
pub mod ingest;
pub mod postgres;
pub mod retriever;
pub mod sealed;

pub use embedded::EmbeddedIndex;
pub use fusion::{FusedHit, FusionWeights, RankedScore, fuse};
pub use gate::{
    GateError, GateOutcome, GateSettings, Judge, MemoryGate, Proposal, Sanitizer, Screening, Verdict, Writer,
};
pub use ingest::{
    IngestError, IngestRequest, IngestSettings, Ingested, Ingestor, MEMORY_FORMAT, document_id, embedding_text,
};
pub use postgres::PostgresIndex;
pub use retriever::{
    BackendEmbedder, Embedder, MAX_RESULTS, Reranker, RetrievalError, Retrieved, Retriever, SearchMode, SearchRequest,
    normalise,
};
pub use sealed::SealedIndex;
