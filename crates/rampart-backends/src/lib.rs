//! HTTP adapters for model servers: OpenAI-compatible, Anthropic Messages and Ollama native.
//!
//! Each adapter is a [`rampart_core::Backend`] that translates the canonical OpenAI-shaped
//! request to its wire format and back, streaming included. Adapters hold a pooled HTTP
//! client each; they never retry, route or log requests (the router and gateway do), and
//! never let an upstream secret reach an error message.

mod anthropic;
mod http;
mod ndjson;
mod ollama;
mod openai;
mod sse;
mod trace_context;

use std::sync::Arc;

use rampart_config::{BackendConfig, BackendKindConfig};
use rampart_core::Backend;

pub use anthropic::AnthropicBackend;
pub use http::{BackendBuildError, ensure_crypto_provider};
pub use ollama::OllamaBackend;
pub use openai::OpenAiBackend;
pub use sse::{SseEvent, SseParser};

/// Builds the adapter a `[[backends]]` entry asks for.
pub fn build_backend(config: &BackendConfig) -> Result<Arc<dyn Backend>, BackendBuildError> {
    Ok(match config.kind {
        BackendKindConfig::Openai => Arc::new(OpenAiBackend::new(config)?),
        BackendKindConfig::Anthropic => Arc::new(AnthropicBackend::new(config)?),
        BackendKindConfig::Ollama => Arc::new(OllamaBackend::new(config)?),
        BackendKindConfig::Embedded => {
            return Err(BackendBuildError::NotHttp { backend: config.name.clone() });
        }
    })
}
