//! The embedded models as a [`Backend`], so the gateway serves them like any other.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::{Backend, BackendError, BackendKind, ChunkStream, EmbedCall, EmbedInputs, Embeddings};
use rampart_types::{ChatCompletionRequest, ChatCompletionResponse};

use crate::bert::BertEmbedder;
use crate::error::InferenceError;

enum Loaded {
    Embedder(Arc<BertEmbedder>),
    #[cfg(feature = "llama")]
    Chat(Arc<crate::llama::LlamaChatModel>),
}

/// Settings of an in-process model from its `[[backends]]` entry.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedSettings {
    /// CPU threads for a chat model.
    pub threads: usize,
    /// Tokens of context per sequence of a chat model (capped at what it was trained for).
    pub context_window: u32,
    /// Sequences a chat model decodes together (parallel slots).
    pub slots: u32,
    /// Generations that may wait for the model; past it, requests get 429.
    pub queue: usize,
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        EmbeddedSettings {
            threads: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            context_window: 4096,
            slots: 4,
            queue: 16,
        }
    }
}

pub struct EmbeddedBackend {
    name: String,
    model: Loaded,
}

impl EmbeddedBackend {
    /// Loads the model at `path`: a `.gguf` file is a chat model (llama.cpp), a directory a
    /// sentence-transformers embedding model.
    pub fn load(name: &str, path: &Path, settings: EmbeddedSettings) -> Result<Self, InferenceError> {
        let is_gguf = path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("gguf"));
        let model =
            if is_gguf { load_chat(path, settings)? } else { Loaded::Embedder(Arc::new(BertEmbedder::load(path)?)) };
        Ok(EmbeddedBackend { name: name.to_owned(), model })
    }

    fn unsupported(&self, what: &str, param: Option<&str>) -> BackendError {
        BackendError::Unsupported { backend: self.name.clone(), what: what.to_owned(), param: param.map(str::to_owned) }
    }
}

#[cfg(feature = "llama")]
fn load_chat(path: &Path, settings: EmbeddedSettings) -> Result<Loaded, InferenceError> {
    let settings = crate::llama::LlamaSettings {
        threads: i32::try_from(settings.threads.max(1)).unwrap_or(1),
        context_window: settings.context_window,
        slots: settings.slots.max(1),
        queue: settings.queue.max(1),
    };
    Ok(Loaded::Chat(Arc::new(crate::llama::LlamaChatModel::load(path, settings)?)))
}

#[cfg(not(feature = "llama"))]
fn load_chat(path: &Path, _settings: EmbeddedSettings) -> Result<Loaded, InferenceError> {
    Err(InferenceError::Unsupported {
        path: path.to_path_buf(),
        detail: "this build has no llama.cpp runtime (the `llama` feature is off)".to_owned(),
    })
}

#[async_trait]
impl Backend for EmbeddedBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Embedded
    }

    async fn chat(&self, request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, BackendError> {
        match &self.model {
            #[cfg(feature = "llama")]
            Loaded::Chat(model) => crate::chat::complete(&self.name, model, request).await,
            Loaded::Embedder(_) => {
                Err(self.unsupported("chat completions (it serves an embedding model)", Some("model")))
            }
        }
    }

    async fn chat_stream(&self, request: &ChatCompletionRequest) -> Result<ChunkStream, BackendError> {
        match &self.model {
            #[cfg(feature = "llama")]
            Loaded::Chat(model) => crate::chat::stream(&self.name, model, request),
            Loaded::Embedder(_) => {
                Err(self.unsupported("chat completions (it serves an embedding model)", Some("model")))
            }
        }
    }

    fn count_prompt_tokens(&self, request: &ChatCompletionRequest) -> Option<u64> {
        match &self.model {
            #[cfg(feature = "llama")]
            Loaded::Chat(model) => Some(crate::chat::count_prompt_tokens(model, request)),
            Loaded::Embedder(_) => None,
        }
    }

    async fn embed(&self, call: &EmbedCall) -> Result<Embeddings, BackendError> {
        let embedder = match &self.model {
            Loaded::Embedder(embedder) => embedder.clone(),
            #[cfg(feature = "llama")]
            Loaded::Chat(_) => return Err(self.unsupported("embeddings (it serves a chat model)", Some("model"))),
        };
        let EmbedInputs::Texts(texts) = &call.inputs else {
            return Err(self.unsupported("token-array inputs (send text)", Some("input")));
        };
        if let Some(dimensions) = call.dimensions
            && dimensions as usize != embedder.dimensions()
        {
            return Err(self.unsupported(
                &format!("dimensions = {dimensions} (this model produces {})", embedder.dimensions()),
                Some("dimensions"),
            ));
        }
        let texts = texts.clone();
        let name = self.name.clone();
        // The forward pass is CPU-bound: keep it off the async workers.
        let result = tokio::task::spawn_blocking(move || embedder.embed(&texts))
            .await
            .map_err(|error| BackendError::InvalidResponse { backend: name.clone(), detail: error.to_string() })?;
        let (vectors, prompt_tokens) =
            result.map_err(|error| BackendError::InvalidResponse { backend: name, detail: error.to_string() })?;
        Ok(Embeddings { vectors, prompt_tokens })
    }

    async fn health(&self) -> Result<(), BackendError> {
        Ok(())
    }
}
