//! Ollama's native API: `/api/chat` (NDJSON streaming), `/api/embed` and `/api/version`.
//!
//! The native API rather than Ollama's OpenAI-compatible one because it exposes what that one
//! hides (`thinking`, `keep_alive`, `options` such as `num_ctx`). Translation lives in
//! `ollama/request.rs` and `ollama/response.rs`; this file only moves bytes.
//! docs/compatibility-ollama.md lists what maps to what.

mod request;
mod response;

use std::collections::VecDeque;

use async_trait::async_trait;
use rampart_config::BackendConfig;
use rampart_core::{Backend, BackendError, BackendKind, ChunkStream, EmbedCall, Embeddings};
use rampart_types::{ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse};

use crate::http::{BackendBuildError, Upstream};
use crate::ndjson::NdjsonSplitter;
use response::{ChatLineWire, ChunkTranslator, EmbedResponseWire};

pub struct OllamaBackend {
    upstream: Upstream,
}

impl OllamaBackend {
    pub fn new(config: &BackendConfig) -> Result<Self, BackendBuildError> {
        // Ollama itself has no authentication; a key is for the reverse proxy in front of it.
        let auth = match &config.api_key {
            Some(key) if !key.is_empty() => vec![("authorization".to_owned(), format!("Bearer {key}"))],
            _ => Vec::new(),
        };
        Ok(OllamaBackend { upstream: Upstream::new(config, auth)? })
    }
}

#[async_trait]
impl Backend for OllamaBackend {
    fn name(&self) -> &str {
        &self.upstream.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Ollama
    }

    async fn chat(&self, request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, BackendError> {
        let body = request::chat_body(&self.upstream.name, request, false)?;
        let response = self.upstream.post_json("/api/chat", &body, false).await?;
        let wire: ChatLineWire = self.upstream.read_json(response).await?;
        response::chat_response(&self.upstream, &request.model, wire)
    }

    async fn chat_stream(&self, request: &ChatCompletionRequest) -> Result<ChunkStream, BackendError> {
        let body = request::chat_body(&self.upstream.name, request, true)?;
        let response = self.upstream.post_json("/api/chat", &body, true).await?;
        let translator = ChunkTranslator::new(self.upstream.clone(), &request.model);
        Ok(Box::pin(chunk_stream(self.upstream.clone(), response, translator)))
    }

    async fn embed(&self, call: &EmbedCall) -> Result<Embeddings, BackendError> {
        let body = request::embed_body(&self.upstream.name, call)?;
        let response = self.upstream.post_json("/api/embed", &body, false).await?;
        let wire: EmbedResponseWire = self.upstream.read_json(response).await?;
        if wire.embeddings.len() != call.inputs.len() {
            return Err(self.upstream.invalid(format!(
                "{} embeddings for {} inputs",
                wire.embeddings.len(),
                call.inputs.len()
            )));
        }
        Ok(Embeddings { vectors: wire.embeddings, prompt_tokens: wire.prompt_eval_count.unwrap_or(0) })
    }

    async fn health(&self) -> Result<(), BackendError> {
        // The cheapest route: answers without touching models or disk.
        self.upstream.get("/api/version").await.map(|_| ())
    }
}

/// The chunks of a streamed `/api/chat` answer. The stream ends after the usage chunk that
/// follows Ollama's `done` line; bytes after it are not read.
fn chunk_stream(
    upstream: Upstream,
    response: reqwest::Response,
    translator: ChunkTranslator,
) -> impl futures_util::Stream<Item = Result<ChatCompletionChunk, BackendError>> + Send {
    struct State {
        upstream: Upstream,
        response: reqwest::Response,
        splitter: NdjsonSplitter,
        translator: ChunkTranslator,
        /// Chunks translated but not yet handed out (one line can make several).
        pending: VecDeque<Result<ChatCompletionChunk, BackendError>>,
        /// The response body has no more bytes.
        body_ended: bool,
        /// Nothing more will be translated; the stream ends once `pending` is empty.
        finished: bool,
    }

    impl State {
        fn translate(&mut self, line: &[u8]) {
            match self.translator.line(line) {
                Ok(chunks) => self.pending.extend(chunks.into_iter().map(Ok)),
                Err(error) => {
                    self.pending.push_back(Err(error));
                    self.finished = true;
                }
            }
            if self.translator.is_done() {
                self.finished = true;
            }
        }
    }

    let state = State {
        upstream,
        response,
        splitter: NdjsonSplitter::default(),
        translator,
        pending: VecDeque::new(),
        body_ended: false,
        finished: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.pending.pop_front() {
                return Some((item, state));
            }
            if state.finished {
                return None;
            }
            if let Some(line) = state.splitter.next_line() {
                state.translate(&line);
                continue;
            }
            if state.body_ended {
                if let Some(line) = state.splitter.finish() {
                    state.translate(&line);
                } else {
                    // Without the `done` line the answer may be cut anywhere: say so rather
                    // than let a partial answer pass for a complete one.
                    let error = state.upstream.invalid("the stream ended before Ollama's final line (done: true)");
                    state.pending.push_back(Err(error));
                    state.finished = true;
                }
                continue;
            }
            match state.response.chunk().await {
                Ok(Some(bytes)) => state.splitter.push(&bytes),
                Ok(None) => state.body_ended = true,
                Err(error) => {
                    let error = state.upstream.transport_error(&error);
                    state.pending.push_back(Err(error));
                    state.finished = true;
                }
            }
        }
    })
}
