//! `[retrieval]`: document ingest, the search index and retrieval in chat.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::locate::KeyPath;
use crate::model::{Config, ModelKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrievalConfig {
    /// Serve `/ingest`, `/query`, `/embed` and retrieval in chat. On by default: the index
    /// costs nothing until a document arrives.
    pub enabled: bool,
    /// Where the embedded index lives (one directory per tenant). Unset: `index` in the data
    /// directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `postgres://…`: keep documents and chunks in PostgreSQL instead (full-text search and an
    /// exact vector scan), so several gateways share one index. Unset: the embedded index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Seal every stored passage and heading with its tenant's data key (AES-256-GCM), the
    /// envelope keys of `[conversations]`: its `master_key_file` or `master_key_env` wraps
    /// them, and the key file is created on first start when missing. Search terms and
    /// vectors stay in clear (search needs them); see docs/retrieval.md. Chunks ingested
    /// before this was turned on stay readable as they are.
    pub encrypt: bool,
    /// The `[[models]]` name (kind `embedding`) that embeds chunks and queries. Unset: the only
    /// embedding model, or the embedded `all-minilm-l6-v2` of the default setup. Changing it
    /// means re-ingesting: vectors of two models do not compare.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// Largest chunk, in tokens of the embedding model (MiniLM reads 256 at most).
    pub chunk_tokens: usize,
    /// Tokens a chunk repeats from the one before it, so a sentence cut at a boundary is
    /// still found whole.
    pub chunk_overlap_tokens: usize,
    /// Largest file `/ingest` and `rampart ingest` accept.
    pub max_file_bytes: u64,
    /// Weight of BM25 in reciprocal rank fusion.
    pub lexical_weight: f32,
    /// Weight of vector similarity in reciprocal rank fusion.
    pub vector_weight: f32,
    /// The fusion rank constant (60 in the original paper).
    pub rrf_k: f32,
    /// Results each retriever hands to fusion.
    pub candidates: usize,
    /// Results a query returns unless it asks for another number.
    pub top_k: usize,
    /// Tokens of retrieved text a chat request may receive (the "retrieved" layer).
    pub context_budget_tokens: usize,
    /// How often expired documents and memory items are deleted while serving.
    pub gc_interval_secs: u64,
    /// Lifetime of session memory written without `ttl_secs` (default one day).
    pub session_ttl_secs: u64,
    /// Lifetime of trace memory written without `ttl_secs` (default one week).
    pub trace_ttl_secs: u64,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            enabled: true,
            path: None,
            url: None,
            encrypt: false,
            embedding_model: None,
            chunk_tokens: 200,
            chunk_overlap_tokens: 40,
            max_file_bytes: 32 * 1024 * 1024,
            lexical_weight: 1.0,
            vector_weight: 1.0,
            rrf_k: 60.0,
            candidates: 50,
            top_k: 5,
            context_budget_tokens: 1200,
            gc_interval_secs: 600,
            session_ttl_secs: 86_400,
            trace_ttl_secs: 7 * 86_400,
        }
    }
}

impl RetrievalConfig {
    pub fn effective_path(&self, data_dir: &std::path::Path) -> PathBuf {
        self.path.clone().unwrap_or_else(|| data_dir.join("index"))
    }

    /// The embedding model retrieval uses: the configured one, else the only embedding model.
    pub fn effective_embedding_model<'config>(&'config self, config: &'config Config) -> Option<&'config str> {
        if let Some(name) = &self.embedding_model {
            return Some(name);
        }
        let mut embedding = config.models.iter().filter(|model| model.kind == ModelKind::Embedding);
        match (embedding.next(), embedding.next()) {
            (Some(only), None) => Some(&only.name),
            _ => None,
        }
    }
}

pub(crate) fn validate_retrieval(
    config: &Config,
    invalid: &impl Fn(KeyPath, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let section = KeyPath::default().key("retrieval");
    let settings = &config.retrieval;
    if let Some(url) = &settings.url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return Err(invalid(
            section.key("url"),
            "must be a postgres:// URL; leave it unset for the embedded index (set path to move it)".to_owned(),
        ));
    }
    if let Some(name) = &settings.embedding_model {
        match config.models.iter().find(|model| model.name == *name || model.aliases.contains(name)) {
            None => {
                return Err(invalid(
                    section.key("embedding_model"),
                    format!("names '{name}', which is not a configured model name"),
                ));
            }
            Some(model) if model.kind != ModelKind::Embedding => {
                return Err(invalid(
                    section.key("embedding_model"),
                    format!("names '{name}', a {} model: use a model of kind \"embedding\"", model.kind.as_str()),
                ));
            }
            Some(_) => {}
        }
    }
    if settings.chunk_tokens < 16 {
        return Err(invalid(section.key("chunk_tokens"), format!("is {}: use at least 16", settings.chunk_tokens)));
    }
    if settings.chunk_overlap_tokens >= settings.chunk_tokens {
        return Err(invalid(
            section.key("chunk_overlap_tokens"),
            format!(
                "is {}: it must be smaller than chunk_tokens ({})",
                settings.chunk_overlap_tokens, settings.chunk_tokens
            ),
        ));
    }
    for (key, value) in [
        ("max_file_bytes", settings.max_file_bytes),
        ("candidates", settings.candidates as u64),
        ("top_k", settings.top_k as u64),
        ("gc_interval_secs", settings.gc_interval_secs),
        ("session_ttl_secs", settings.session_ttl_secs),
        ("trace_ttl_secs", settings.trace_ttl_secs),
    ] {
        if value == 0 {
            return Err(invalid(section.key(key), "must be greater than 0".to_owned()));
        }
    }
    for (key, value) in [("lexical_weight", settings.lexical_weight), ("vector_weight", settings.vector_weight)] {
        if !value.is_finite() || value < 0.0 {
            return Err(invalid(section.key(key), format!("is {value}: use a number of 0 or more")));
        }
    }
    if settings.lexical_weight == 0.0 && settings.vector_weight == 0.0 {
        return Err(invalid(
            section.key("vector_weight"),
            "and lexical_weight are both 0: keep one above 0".to_owned(),
        ));
    }
    if !settings.rrf_k.is_finite() || settings.rrf_k < 1.0 {
        return Err(invalid(section.key("rrf_k"), format!("is {}: use 1 or more (60 is usual)", settings.rrf_k)));
    }
    Ok(())
}
