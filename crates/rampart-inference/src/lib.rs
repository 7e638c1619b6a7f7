//! In-process inference: models that run inside the `rampart` binary, with no model server.
//!
//! - Sentence embeddings with BERT-family models (candle), pooled and normalised exactly as
//!   sentence-transformers does it for the model's own `modules.json`.
//! - GGUF chat through llama.cpp (feature `llama`, on by default): parallel slots decoded
//!   together (continuous batching), prompt-prefix KV reuse, a bounded queue (429 when full),
//!   token streaming, stop sequences, JSON output by grammar, cancellation within a step of the
//!   caller leaving. Not yet: tool calls.
//! - Text classification (BERT and DeBERTa-v2/v3 sequence classifiers): guardrails' injection
//!   classifier, where an operator supplies one.
//!
//! This crate never does network I/O.

mod backend;
mod bert;
#[cfg(feature = "llama")]
mod chat;
mod classify;
mod error;
#[cfg(feature = "llama")]
mod llama;

pub use backend::{EmbeddedBackend, EmbeddedSettings};
pub use bert::BertEmbedder;
pub use classify::TextClassifier;
pub use error::InferenceError;
