//! The typed configuration tree.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::limits::{CacheConfig, ContextConfig, LimitConfig};

/// The whole configuration. Every section has defaults, so an empty file is valid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub logging: LoggingConfig,
    pub backends: Vec<BackendConfig>,
    pub models: Vec<ModelConfig>,
    /// Names whose model is chosen per request by rules.
    pub routes: Vec<crate::routes::RouteConfig>,
    pub router: RouterConfig,
    /// Rate limits and budgets per API key, tenant, user or for everyone.
    pub limits: Vec<LimitConfig>,
    pub context: ContextConfig,
    pub cache: CacheConfig,
    pub auth: crate::governance::AuthConfig,
    pub policy: crate::governance::PolicyConfig,
    pub audit: crate::governance::AuditConfig,
    pub guardrails: crate::observability::GuardrailsConfig,
    pub conversations: crate::observability::ConversationsConfig,
    pub telemetry: crate::observability::TelemetryConfig,
    pub retrieval: crate::retrieval::RetrievalConfig,
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
    /// Threads that serve connections, each with a runtime of its own. Unset: one per CPU
    /// the process may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".to_owned(),
            body_limit_bytes: 16 * 1024 * 1024,
            request_timeout_secs: 600,
            header_read_timeout_secs: 10,
            shutdown_grace_secs: 30,
            workers: None,
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
    /// Where `[[limits]]` counters live: `redis://host:6379` when several gateways share
    /// limits without sharing a database, or another `sqlite:`/`postgres://` URL. Unset: in
    /// the store at `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits_url: Option<String>,
    /// When a SQLite store's commits reach the disk (see [`SqliteSynchronous`]). Applies to
    /// SQLite only: with PostgreSQL, the server's `synchronous_commit` decides.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `synchronous` setting for the store, as far as Rampart offers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// Every commit is synced to disk before it is acknowledged: acknowledged writes survive a
    /// killed process and a power loss. Requests that wait for an audit record or a limit
    /// reservation wait for the disk.
    #[default]
    Full,
    /// Commits are handed to the operating system before they are acknowledged and synced at
    /// WAL checkpoints: acknowledged writes survive a killed process (`kill -9`), but a power
    /// loss or kernel crash can lose the last ones. The file stays consistent either way.
    Normal,
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
    /// Requests sent to this backend at once; more wait in a queue of `max_queue`. Unset: no
    /// limit at the gateway (an embedded chat model is still limited by its `parallel` slots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Requests that may wait for this backend; past it, `429` with `Retry-After`
    /// (default 16). For a remote backend it applies with `max_concurrency`; for an embedded
    /// chat model, to requests waiting for a free slot.
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

/// A model clients can ask for, served by one backend or by several as replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// What clients put in `model`.
    pub name: String,
    /// The `[[backends]]` entry that serves it (or use `backends` for replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Several `[[backends]]` serving the same model: requests are balanced across them
    /// (power of two choices) and a failing one is skipped while its circuit is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<String>,
    /// Models to try, in order, when this one fails or is overloaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    /// Keep every request for this model on Tier 1: Tier 2 fallbacks are never tried.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privacy_mode: bool,
    /// For a Tier 2 model: whether its work may move to `[router] sustain_model` (Tier 1) when
    /// the cloud is unreachable. `false` keeps such work failing rather than running locally.
    #[serde(default = "default_true")]
    pub sustain: bool,
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
    /// Keep this model's complete answers in the response cache this long, and answer an
    /// identical request from it (`x-rampart-cache: skip` opts a request out). Unset: only
    /// requests that send `x-rampart-cache: use` are cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_secs: Option<u64>,
}

impl ModelConfig {
    pub fn upstream_model(&self) -> &str {
        self.upstream_model.as_deref().unwrap_or(&self.name)
    }

    /// The backends serving this model: `backend` then `backends`, in configuration order.
    pub fn replicas(&self) -> Vec<&str> {
        self.backend.iter().chain(self.backends.iter()).map(String::as_str).collect()
    }
}

fn default_tier() -> u8 {
    1
}

fn default_true() -> bool {
    true
}

/// `[router]`: how a request finds a backend that answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Retries of one model after a retryable failure (connection refused, timeout, 429,
    /// 5xx), before its fallbacks are tried. Never once a stream has sent its first byte.
    pub max_retries: u32,
    /// First retry delay; it doubles per retry, with jitter, up to `retry_backoff_max_ms`.
    pub retry_backoff_ms: u64,
    pub retry_backoff_max_ms: u64,
    /// An upstream `Retry-After` up to this long is waited out; a longer one moves on to the
    /// next fallback at once.
    pub max_retry_after_secs: u64,
    /// Time one attempt may take: the whole answer, or a stream's first chunk.
    pub attempt_timeout_secs: u64,
    /// Keep every request on Tier 1 (on-premises) models.
    pub privacy_mode: bool,
    /// Data classifications (`x-rampart-classification` or `metadata.classification`) that
    /// keep a request on Tier 1.
    pub confidential_classifications: Vec<String>,
    /// The Tier 1 model that takes over Tier 2 work when the cloud is unreachable
    /// (solo-sustain), for models without a Tier 1 fallback of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sustain_model: Option<String>,
    /// How often every backend is health-checked in the background; a failed check opens its
    /// circuit (see `breaker.open_on_failed_health_check`), a passed one lets it probe.
    pub health_check_secs: u64,
    pub breaker: BreakerConfig,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            max_retries: 2,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 2_000,
            max_retry_after_secs: 10,
            attempt_timeout_secs: 120,
            privacy_mode: false,
            confidential_classifications: ["confidential", "secret", "top-secret", "restricted"]
                .map(str::to_owned)
                .to_vec(),
            sustain_model: None,
            health_check_secs: 15,
            breaker: BreakerConfig::default(),
        }
    }
}

/// `[router.breaker]`: one circuit breaker per backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit.
    pub consecutive_failures: u32,
    /// Share of failed calls in the window (0..1) that opens the circuit ...
    pub error_rate: f64,
    /// ... once the window holds at least this many calls.
    pub min_calls: u32,
    pub window_secs: u64,
    /// How long an open circuit refuses calls before one probe is let through (half-open).
    pub open_secs: u64,
    /// Open the circuit when the background health check fails, before any request does.
    pub open_on_failed_health_check: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            consecutive_failures: 5,
            error_rate: 0.5,
            min_calls: 20,
            window_secs: 30,
            open_secs: 15,
            open_on_failed_health_check: true,
        }
    }
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
        for value in copy.telemetry.otlp_headers.values_mut() {
            *value = mask_secret(value);
        }
        copy
    }
}

/// Keeps nothing of a secret but the fact that it is set.
pub fn mask_secret(secret: &str) -> String {
    if secret.is_empty() { String::new() } else { "***".to_owned() }
}
