//! In-process inference: models that run inside the `rampart` binary, with no model server.
//!
//! Today: sentence embeddings with BERT-family models (candle), pooled and normalised exactly
//! as sentence-transformers does it for the model's own `modules.json`. GGUF chat (llama.cpp)
//! is the next part of this crate and is not here yet: a GGUF path is refused with an error
//! that says so. This crate never does network I/O.

mod backend;
mod bert;
mod error;

pub use backend::EmbeddedBackend;
pub use bert::BertEmbedder;
pub use error::InferenceError;
