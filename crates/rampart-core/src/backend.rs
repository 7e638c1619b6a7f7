//! The model backend contract.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::Stream;
use rampart_types::{ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Usage};

/// The wire protocol a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// OpenAI Chat Completions: OpenAI, vLLM, llama.cpp server, LM Studio, hosted APIs.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Ollama's native `/api/chat` and `/api/embed`.
    Ollama,
    /// A model run inside the binary.
    Embedded,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::OpenAi => "openai",
            BackendKind::Anthropic => "anthropic",
            BackendKind::Ollama => "ollama",
            BackendKind::Embedded => "embedded",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong talking to a backend. The gateway maps these to HTTP statuses once.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// The request is valid OpenAI but this backend cannot express it (e.g. `n > 1` on Anthropic).
    #[error("backend '{backend}' does not support {what}")]
    Unsupported { backend: String, what: String, param: Option<String> },
    /// Could not connect or the connection broke before a response.
    #[error("backend '{backend}' is unreachable: {detail}")]
    Unreachable { backend: String, detail: String },
    /// No response within the backend's timeout.
    #[error("backend '{backend}' did not answer within {timeout:?}")]
    Timeout { backend: String, timeout: Duration },
    /// The upstream answered with an error status. `message` has secrets redacted.
    #[error("backend '{backend}' answered {status}: {message}")]
    Upstream {
        backend: String,
        status: u16,
        message: String,
        error_type: Option<String>,
        code: Option<String>,
        /// Seconds from the upstream's `Retry-After`, when it sent one.
        retry_after_secs: Option<u64>,
    },
    /// The upstream answered 2xx with something that is not its documented wire format.
    #[error("backend '{backend}' sent a response that could not be read: {detail}")]
    InvalidResponse { backend: String, detail: String },
}

impl BackendError {
    /// The configured name of the backend that failed.
    pub fn backend(&self) -> &str {
        match self {
            BackendError::Unsupported { backend, .. }
            | BackendError::Unreachable { backend, .. }
            | BackendError::Timeout { backend, .. }
            | BackendError::Upstream { backend, .. }
            | BackendError::InvalidResponse { backend, .. } => backend,
        }
    }

    /// A short, low-cardinality label for metrics.
    pub fn metric_kind(&self) -> &'static str {
        match self {
            BackendError::Unsupported { .. } => "unsupported",
            BackendError::Unreachable { .. } => "unreachable",
            BackendError::Timeout { .. } => "timeout",
            BackendError::Upstream { .. } => "upstream_status",
            BackendError::InvalidResponse { .. } => "invalid_response",
        }
    }
}

/// A stream of chat chunks. It ends after the last chunk; an `Err` item ends it early.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatCompletionChunk, BackendError>> + Send>>;

/// One embeddings call, after the gateway resolved the model.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedCall {
    pub upstream_model: String,
    pub inputs: EmbedInputs,
    pub dimensions: Option<u32>,
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EmbedInputs {
    Texts(Vec<String>),
    Tokens(Vec<Vec<u32>>),
}

impl EmbedInputs {
    pub fn len(&self) -> usize {
        match self {
            EmbedInputs::Texts(texts) => texts.len(),
            EmbedInputs::Tokens(tokens) => tokens.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// One vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u64,
}

/// A model server. Implementations translate the canonical OpenAI-shaped request into their
/// wire format and back, and never retry on their own (routing decides that).
#[async_trait]
pub trait Backend: Send + Sync {
    /// The configured name, used in logs, metrics and errors.
    fn name(&self) -> &str;

    fn kind(&self) -> BackendKind;

    /// A non-streaming completion. `request.model` is already the upstream model name.
    async fn chat(&self, request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, BackendError>;

    /// A streaming completion. The stream must end with a usage-only chunk when the upstream
    /// reports usage, whatever the client asked for: the gateway decides what to forward.
    async fn chat_stream(&self, request: &ChatCompletionRequest) -> Result<ChunkStream, BackendError>;

    async fn embed(&self, call: &EmbedCall) -> Result<Embeddings, BackendError>;

    /// A cheap liveness probe of the upstream (lists models or pings).
    async fn health(&self) -> Result<(), BackendError>;

    /// The tokens `request`'s prompt takes with this backend's own tokenizer and chat
    /// template, for backends that have them locally (embedded models); `None` otherwise,
    /// and the gateway estimates.
    fn count_prompt_tokens(&self, _request: &ChatCompletionRequest) -> Option<u64> {
        None
    }
}

/// Token counts collected from a finished response or stream.
pub fn usage_total(usage: Option<Usage>) -> (u64, u64) {
    usage.map(|usage| (usage.prompt_tokens, usage.completion_tokens)).unwrap_or((0, 0))
}

/// A configured backend that could not be brought up (say, a local model file that will not
/// load). It keeps its name in the catalog so the rest of the gateway serves on: every call
/// fails with the reason, and health reports it.
pub struct UnavailableBackend {
    name: String,
    kind: BackendKind,
    reason: String,
}

impl UnavailableBackend {
    pub fn new(name: impl Into<String>, kind: BackendKind, reason: impl Into<String>) -> Self {
        UnavailableBackend { name: name.into(), kind, reason: reason.into() }
    }

    fn error(&self) -> BackendError {
        BackendError::Unreachable { backend: self.name.clone(), detail: self.reason.clone() }
    }
}

#[async_trait]
impl Backend for UnavailableBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        self.kind
    }

    async fn chat(&self, _request: &ChatCompletionRequest) -> Result<ChatCompletionResponse, BackendError> {
        Err(self.error())
    }

    async fn chat_stream(&self, _request: &ChatCompletionRequest) -> Result<ChunkStream, BackendError> {
        Err(self.error())
    }

    async fn embed(&self, _call: &EmbedCall) -> Result<Embeddings, BackendError> {
        Err(self.error())
    }

    async fn health(&self) -> Result<(), BackendError> {
        Err(self.error())
    }
}
