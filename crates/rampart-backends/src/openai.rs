//! OpenAI-compatible servers: OpenAI, vLLM, llama.cpp server, LM Studio, hosted APIs.
//!
//! The request goes out as the client sent it (unknown fields included) with the upstream
//! model name; streams always ask for usage so the gateway can count tokens.

use async_trait::async_trait;
use futures_util::StreamExt;
use rampart_config::BackendConfig;
use rampart_core::{Backend, BackendError, BackendKind, ChunkStream, EmbedCall, EmbedInputs, Embeddings};
use rampart_types::{ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, StreamOptions};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{BackendBuildError, Upstream, upstream_error_fields};
use crate::sse::sse_events;

pub struct OpenAiBackend {
    upstream: Upstream,
}

impl OpenAiBackend {
    pub fn new(config: &BackendConfig) -> Result<Self, BackendBuildError> {
        let auth = match &config.api_key {
            Some(key) if !key.is_empty() => vec![("authorization".to_owned(), format!("Bearer {key}"))],
            _ => Vec::new(),
        };
        Ok(OpenAiBackend { upstream: Upstream::new(config, auth)? })
    }
}

#[derive(Deserialize)]
struct EmbeddingsWire {
    data: Vec<EmbeddingWire>,
    #[serde(default)]
    usage: Option<EmbeddingUsageWire>,
}

#[derive(Deserialize)]
struct EmbeddingWire {
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct EmbeddingUsageWire {
    #[serde(default)]
    prompt_tokens: u64,
}

#[async_trait]
impl Backend for OpenAiBackend {
    fn name(&self) -> &str {
        &self.upstream.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::OpenAi
    }

    async fn chat(&self, request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, BackendError> {
        let body = request.to_wire(false, None);
        let response = self.upstream.post_json("/chat/completions", &body, false).await?;
        self.upstream.read_json(response).await
    }

    async fn chat_stream(&self, request: &ChatCompletionRequest) -> Result<ChunkStream, BackendError> {
        // Usage is always asked for, so the gateway can count a stream's tokens.
        let body = request.to_wire(true, Some(StreamOptions { include_usage: Some(true) }));
        let response = self.upstream.post_json("/chat/completions", &body, true).await?;
        let upstream = self.upstream.clone();
        let chunks = sse_events(self.upstream.clone(), response)
            .take_while(|event| std::future::ready(!matches!(event, Ok(event) if event.data.trim() == "[DONE]")))
            .filter_map(move |event| {
                let item = match event {
                    Err(error) => Some(Err(error)),
                    Ok(event) if event.data.trim().is_empty() => None,
                    Ok(event) => Some(parse_chunk(&upstream, &event.data)),
                };
                std::future::ready(item)
            });
        Ok(Box::pin(chunks))
    }

    async fn embed(&self, call: &EmbedCall) -> Result<Embeddings, BackendError> {
        let input = match &call.inputs {
            EmbedInputs::Texts(texts) => json!(texts),
            EmbedInputs::Tokens(tokens) => json!(tokens),
        };
        let mut body = json!({"model": call.upstream_model, "input": input, "encoding_format": "float"});
        if let Some(dimensions) = call.dimensions {
            body["dimensions"] = json!(dimensions);
        }
        if let Some(user) = &call.user {
            body["user"] = json!(user);
        }
        let response = self.upstream.post_json("/embeddings", &body, false).await?;
        let mut wire: EmbeddingsWire = self.upstream.read_json(response).await?;
        if wire.data.len() != call.inputs.len() {
            return Err(self.upstream.invalid(format!(
                "{} embeddings for {} inputs",
                wire.data.len(),
                call.inputs.len()
            )));
        }
        wire.data.sort_by_key(|item| item.index);
        Ok(Embeddings {
            vectors: wire.data.into_iter().map(|item| item.embedding).collect(),
            prompt_tokens: wire.usage.map(|usage| usage.prompt_tokens).unwrap_or(0),
        })
    }

    /// `GET /models`. A server that answers it with 404 or 405 is up all the same: not every
    /// OpenAI-compatible server lists its models, and its chat endpoint must not be taken out
    /// of service for it.
    async fn health(&self) -> Result<(), BackendError> {
        match self.upstream.get("/models").await {
            Ok(_) | Err(BackendError::Upstream { status: 404 | 405, .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// One `data:` payload: a chunk, or an error object some servers send mid-stream.
fn parse_chunk(upstream: &Upstream, data: &str) -> Result<ChatCompletionChunk, BackendError> {
    match serde_json::from_str::<ChatCompletionChunk>(data) {
        Ok(chunk) => Ok(chunk),
        Err(parse_error) => {
            if let Ok(value) = serde_json::from_str::<Value>(data)
                && value.get("error").is_some()
            {
                let (message, error_type, code) = upstream_error_fields(data.as_bytes());
                return Err(BackendError::Upstream {
                    backend: upstream.name.clone(),
                    status: 502,
                    message: upstream.redact(&message),
                    error_type,
                    code,
                    retry_after_secs: None,
                });
            }
            Err(upstream.invalid(format!("stream chunk is not a chat.completion.chunk: {parse_error}")))
        }
    }
}
