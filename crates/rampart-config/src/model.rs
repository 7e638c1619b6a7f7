//! The typed configuration tree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration. Every section has defaults, so an empty file is valid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub logging: LoggingConfig,
    pub backends: Vec<BackendConfig>,
    pub models: Vec<ModelConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// Largest accepted request body; larger bodies get `413`.
    pub body_limit_bytes: u64,
    /// Deadline for a whole non-streaming request, upstream call included (`504` past it).
    pub request_timeout_secs: u64,
    /// Time a client has to send its request headers (slow-loris protection).
    pub header_read_timeout_secs: u64,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".to_owned(),
            body_limit_bytes: 16 * 1024 * 1024,
            request_timeout_secs: 600,
            header_read_timeout_secs: 10,
            shutdown_grace_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite:///path/rampart.db` or `postgres://user@host/db`. Unset: SQLite in `data_dir`.
    pub url: Option<String>,
    /// Where Rampart keeps its files. Unset: the user data dir (`~/.local/share/rampart`).
    pub data_dir: Option<PathBuf>,
}

impl StorageConfig {
    pub fn effective_data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| dirs::data_dir().map(|dir| dir.join("rampart")).unwrap_or_else(|| PathBuf::from("data")))
    }

    pub fn effective_url(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.effective_data_dir().join("rampart.db").display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// A `tracing` filter: `info`, `debug`, `rampart_gateway=debug,info`, ...
    pub level: String,
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig { level: "info".to_owned(), format: LogFormat::Text }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// One model server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub name: String,
    pub kind: BackendKindConfig,
    /// For `openai`, the URL that ends before `/chat/completions` (usually `.../v1`);
    /// for `anthropic`, `https://api.anthropic.com` (or `.../v1`); for `ollama`, the server root.
    /// Not used by `embedded`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_url: String,
    /// For `embedded`: the model on disk, a `.gguf` file (chat, llama.cpp) or a
    /// sentence-transformers directory (embeddings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// For `embedded` chat: CPU threads (default: all cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// For `embedded` chat: tokens of context per sequence (default 4096, capped at the
    /// model's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    /// For `embedded` chat: sequences decoded together in one batch (parallel slots, default 4).
    /// Each has its own `context_window` of KV cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
    /// For `embedded` chat: requests that may wait for the model; past it, 429 (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Per-attempt upstream timeout (a stream's time to first byte and between chunks).
    #[serde(default = "default_upstream_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Extra headers sent on every upstream request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Anthropic requires `max_tokens`; used when the client sets none.
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u32,
}

fn default_upstream_timeout_secs() -> u64 {
    600
}

fn default_connect_timeout_secs() -> u64 {
    10
}

fn default_max_tokens() -> u32 {
    4096
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKindConfig {
    Openai,
    Anthropic,
    Ollama,
    /// A model run inside the binary, loaded from `path`.
    Embedded,
}

/// A model clients can ask for, served by one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// What clients put in `model`.
    pub name: String,
    /// The `[[backends]]` entry that serves it.
    pub backend: String,
    /// The model name the backend knows; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_model: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// 1 on-premises, 2 cloud.
    #[serde(default = "default_tier")]
    pub tier: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    #[serde(default)]
    pub price_per_mtok: PricePerMillionTokens,
    /// `chat` models answer `/v1/chat/completions`, `embedding` models `/v1/embeddings`.
    #[serde(default)]
    pub kind: ModelKind,
}

impl ModelConfig {
    pub fn upstream_model(&self) -> &str {
        self.upstream_model.as_deref().unwrap_or(&self.name)
    }
}

fn default_tier() -> u8 {
    1
}

/// Price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricePerMillionTokens {
    pub input: f64,
    pub output: f64,
}

impl PricePerMillionTokens {
    pub fn cost_usd(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input + tokens_out as f64 * self.output) / 1_000_000.0
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    Chat,
    Embedding,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
        }
    }
}

impl Config {
    /// A copy safe to print: API keys and header values are masked.
    pub fn redacted(&self) -> Config {
        let mut copy = self.clone();
        for backend in &mut copy.backends {
            if let Some(key) = &mut backend.api_key {
                *key = mask_secret(key);
            }
            for value in backend.headers.values_mut() {
                *value = mask_secret(value);
            }
        }
        copy
    }
}

/// Keeps nothing of a secret but the fact that it is set.
pub fn mask_secret(secret: &str) -> String {
    if secret.is_empty() { String::new() } else { "***".to_owned() }
}
