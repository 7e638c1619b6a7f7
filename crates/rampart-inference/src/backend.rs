//! The embedded models as a [`Backend`], so the gateway serves them like any other.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use rampart_core::{Backend, BackendError, BackendKind, ChunkStream, EmbedCall, EmbedInputs, Embeddings};
use rampart_types::{ChatCompletionRequest, ChatCompletionResponse};

use crate::bert::BertEmbedder;
use crate::error::InferenceError;

pub struct EmbeddedBackend {
    name: String,
    embedder: Arc<BertEmbedder>,
}

impl EmbeddedBackend {
    /// Loads the model at `path`: a sentence-transformers directory. GGUF chat models are
    /// not supported yet and are refused with a clear error.
    pub fn load(name: &str, path: &Path) -> Result<Self, InferenceError> {
        if path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("gguf")) {
            return Err(InferenceError::Unsupported {
                path: path.to_path_buf(),
                detail: "GGUF chat models are not served in-process yet (the llama.cpp runtime is the next \
                         milestone); serve it with llama.cpp server or Ollama and add it as an openai or ollama backend"
                    .to_owned(),
            });
        }
        Ok(EmbeddedBackend { name: name.to_owned(), embedder: Arc::new(BertEmbedder::load(path)?) })
    }

    fn unsupported(&self, what: &str, param: Option<&str>) -> BackendError {
        BackendError::Unsupported { backend: self.name.clone(), what: what.to_owned(), param: param.map(str::to_owned) }
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Embedded
    }

    async fn chat(&self, _request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, BackendError> {
        Err(self.unsupported("chat completions (it serves an embedding model)", Some("model")))
    }

    async fn chat_stream(&self, _request: &ChatCompletionRequest) -> Result<ChunkStream, BackendError> {
        Err(self.unsupported("chat completions (it serves an embedding model)", Some("model")))
    }

    async fn embed(&self, call: &EmbedCall) -> Result<Embeddings, BackendError> {
        let EmbedInputs::Texts(texts) = &call.inputs else {
            return Err(self.unsupported("token-array inputs (send text)", Some("input")));
        };
        if let Some(dimensions) = call.dimensions
            && dimensions as usize != self.embedder.dimensions()
        {
            return Err(self.unsupported(
                &format!("dimensions = {dimensions} (this model produces {})", self.embedder.dimensions()),
                Some("dimensions"),
            ));
        }
        let embedder = self.embedder.clone();
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
