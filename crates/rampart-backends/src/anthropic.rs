//! Anthropic Messages API (`POST /v1/messages`), spoken through OpenAI chat shapes.
//!
//! The gateway only knows OpenAI's request, response and chunk; this adapter translates each
//! way (`request`, `response`, `stream`). What cannot be expressed fails with
//! [`BackendError::Unsupported`] naming the OpenAI parameter, never silently changes the
//! answer. Ignored on purpose, because Anthropic has no equivalent and dropping them cannot
//! change the shape of the answer: `seed`, `presence_penalty`, `frequency_penalty`, message
//! `name`s, and unknown extra fields (only `top_k` and `thinking` are forwarded).

mod request;
mod response;
mod stream;

use async_trait::async_trait;
use rampart_config::BackendConfig;
use rampart_core::{Backend, BackendError, BackendKind, ChunkStream, EmbedCall, Embeddings, unix_now_secs};
use rampart_types::{ChatCompletionRequest, ChatCompletionResponse};

use crate::http::{BackendBuildError, Upstream};
use request::{MessagesCall, translate_request};
use response::{MessageWire, translate_response};
use stream::{StreamTranslator, chunk_stream};

/// The API version this translation is written against; a config header can override it.
const ANTHROPIC_VERSION: &str = "2023-06-01";
const MESSAGES_PATH: &str = "/v1/messages";
const MODELS_PATH: &str = "/v1/models";

pub struct AnthropicBackend {
    upstream: Upstream,
    /// Anthropic requires `max_tokens`; this is sent when the client sets no limit.
    default_max_tokens: u32,
}

impl AnthropicBackend {
    pub fn new(config: &BackendConfig) -> Result<Self, BackendBuildError> {
        let mut auth = vec![("anthropic-version".to_owned(), ANTHROPIC_VERSION.to_owned())];
        if let Some(key) = &config.api_key
            && !key.is_empty()
        {
            auth.push(("x-api-key".to_owned(), key.clone()));
        }
        // Paths carry `/v1` themselves; operators paste either `https://api.anthropic.com` or
        // `https://api.anthropic.com/v1`, and both must work.
        let trimmed = config.base_url.trim_end_matches('/');
        let root = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        let config = BackendConfig { base_url: root.to_owned(), ..config.clone() };
        Ok(AnthropicBackend { upstream: Upstream::new(&config, auth)?, default_max_tokens: config.default_max_tokens })
    }

    fn translate(&self, request: &ChatCompletionRequest, stream: bool) -> Result<MessagesCall, BackendError> {
        translate_request(request, self.default_max_tokens, stream).map_err(|unsupported| BackendError::Unsupported {
            backend: self.upstream.name.clone(),
            what: unsupported.what,
            param: unsupported.param,
        })
    }
}

#[async_trait]
impl Backend for AnthropicBackend {
    fn name(&self) -> &str {
        &self.upstream.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Anthropic
    }

    async fn chat(&self, request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, BackendError> {
        let call = self.translate(request, false)?;
        let response = self.upstream.post_json(MESSAGES_PATH, &call.body, false).await?;
        let message: MessageWire = self.upstream.read_json(response).await?;
        Ok(translate_response(message, call.forced_json_tool.as_deref(), unix_now_secs()))
    }

    async fn chat_stream(&self, request: &ChatCompletionRequest) -> Result<ChunkStream, BackendError> {
        let call = self.translate(request, true)?;
        let response = self.upstream.post_json(MESSAGES_PATH, &call.body, true).await?;
        let translator = StreamTranslator::new(call.forced_json_tool, unix_now_secs());
        Ok(Box::pin(chunk_stream(self.upstream.clone(), response, translator)))
    }

    async fn embed(&self, _call: &EmbedCall) -> Result<Embeddings, BackendError> {
        Err(BackendError::Unsupported {
            backend: self.upstream.name.clone(),
            what: "embeddings (Anthropic has no embeddings API)".to_owned(),
            param: None,
        })
    }

    async fn health(&self) -> Result<(), BackendError> {
        self.upstream.get(MODELS_PATH).await.map(|_| ())
    }
}
