//! Wire shapes spoken at Rampart's edges: the OpenAI Chat Completions, Embeddings and Models
//! APIs (the canonical request representation inside the gateway), and the error envelope.
//!
//! This crate holds data only: no I/O, no policy, no defaults that depend on configuration.
//! Unknown top-level request fields are kept in `extra` so that OpenAI-compatible upstreams
//! receive parameters Rampart does not model itself (vLLM's `top_k`, for instance).

pub mod chat;
pub mod embeddings;
pub mod error;
pub mod models;

pub use chat::*;
pub use embeddings::*;
pub use error::*;
pub use models::*;
