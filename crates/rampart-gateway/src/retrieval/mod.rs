//! Memory and retrieval over HTTP: `POST /ingest`, `POST /query`, `POST /embed`,
//! `/api/v1/documents` and `/api/v1/memory`. Every call acts inside the caller's tenant; what a caller may read
//! and write follows from its identity (see [`owner_for`] and [`visibility_for`]).

pub(crate) mod documents_api;
pub(crate) mod ingest_api;
pub(crate) mod memory_api;
pub(crate) mod query_api;
pub(crate) mod rag;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::{EmbedCall, EmbedInputs, IdentityEnvelope, MemoryKind, MemoryScope, Owner, Role, Visibility};
use rampart_ingest::ParseError;
use rampart_retrieval::{Embedder, IngestError, Ingestor, MemoryGate, RetrievalError, Retriever, normalise};
use rampart_router::{ModelCatalog, ResolvedModel, RouteHints};

pub use documents_api::{delete_document, list_documents, set_document_state, show_document};
pub use ingest_api::ingest;
pub use memory_api::{GuardrailsSanitizer, collect_expired, propose_memory};
pub use query_api::{embed, query};

use crate::error::ApiError;

/// Header naming the caller's session, for `session`-scoped memory.
pub const SESSION_HEADER: &str = "x-rampart-session";

/// What the retrieval endpoints need, built once at start-up.
pub struct Retrieval {
    pub retriever: Retriever,
    pub ingestor: Ingestor,
    /// The write path of memory items (`POST /api/v1/memory`).
    pub gate: MemoryGate,
    pub settings: rampart_config::RetrievalConfig,
}

/// The retrieval endpoints' state, or 503 when retrieval is off.
fn enabled(state: &crate::state::AppState) -> Result<&Arc<Retrieval>, ApiError> {
    state.retrieval.as_ref().ok_or_else(|| ApiError::Unavailable {
        message: "retrieval is off: set [retrieval] enabled = true and configure an embedding model \
                  ([retrieval] embedding_model)"
            .into(),
        retry_after_secs: 60,
    })
}

/// Embeds through the router, so retrieval's embedding calls get the same circuits,
/// replicas and fallbacks as `/v1/embeddings`.
pub struct RouterEmbedder {
    router: rampart_router::Router,
    model: Arc<ResolvedModel>,
    timeout: Duration,
}

impl RouterEmbedder {
    /// The embedder for `name`, which must be an embedding model of the catalog.
    pub fn new(router: rampart_router::Router, name: &str, timeout: Duration) -> Result<Self, String> {
        let model = resolve_embedding_model(router.catalog(), name)?;
        Ok(RouterEmbedder { router, model, timeout })
    }
}

fn resolve_embedding_model(catalog: &ModelCatalog, name: &str) -> Result<Arc<ResolvedModel>, String> {
    let model = catalog
        .resolve(name)
        .ok_or_else(|| format!("[retrieval] embedding_model '{name}' is not a configured model"))?;
    if model.kind != rampart_config::ModelKind::Embedding {
        return Err(format!("[retrieval] embedding_model '{name}' is not an embedding model"));
    }
    Ok(model.clone())
}

#[async_trait]
impl Embedder for RouterEmbedder {
    fn model(&self) -> &str {
        &self.model.name
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, RetrievalError> {
        let expected = texts.len();
        let call = EmbedCall {
            upstream_model: self.model.upstream_model.clone(),
            inputs: EmbedInputs::Texts(texts),
            dimensions: None,
            user: None,
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let failed = |reason: String| RetrievalError::Embed { model: self.model.name.clone(), reason };
        let routed = self
            .router
            .embed(&self.model, &call, &RouteHints::default(), deadline)
            .await
            .map_err(|error| failed(error.to_string()))?;
        let mut vectors = routed.value.vectors;
        if vectors.len() != expected {
            return Err(failed(format!("asked for {expected} vectors, got {}", vectors.len())));
        }
        for vector in &mut vectors {
            if vector.is_empty() || vector.iter().any(|value| !value.is_finite()) {
                return Err(failed("the model returned an empty or non-finite vector".into()));
            }
            normalise(vector);
        }
        Ok(vectors)
    }
}

/// May the caller write tenant-wide (and global) knowledge? Operators and admins curate it;
/// users and agents write only their own memory.
fn curates(identity: &IdentityEnvelope) -> bool {
    identity.has_role(Role::Admin) || identity.has_role(Role::Operator)
}

/// Who will own what the caller writes, from the scope it asked for (default: the tenant for
/// curators, the caller's own user memory for everyone else).
pub fn owner_for(
    identity: &IdentityEnvelope,
    scope: Option<MemoryScope>,
    session: Option<&str>,
    kind: MemoryKind,
) -> Result<Owner, ApiError> {
    let forbidden = |message: String| ApiError::Forbidden { message, code: "permission_denied" };
    if kind == MemoryKind::Policy && !curates(identity) {
        return Err(forbidden(
            "policy memory is written by operators and admins only, never by users or agents".into(),
        ));
    }
    let scope = scope.unwrap_or(if curates(identity) { MemoryScope::Tenant } else { MemoryScope::User });
    match scope {
        MemoryScope::Global if identity.has_role(Role::Admin) => Ok(Owner::global()),
        MemoryScope::Global => Err(forbidden("global memory is written by admins only".into())),
        MemoryScope::Tenant if curates(identity) => Ok(Owner::tenant(identity.tenant_id.clone())),
        MemoryScope::Tenant => Err(forbidden(
            "tenant-wide documents are added by operators and admins; use scope \"user\" for your own".into(),
        )),
        MemoryScope::User => Ok(Owner::user(identity.tenant_id.clone(), identity.user_id.clone())),
        MemoryScope::Session => match session.filter(|session| !session.trim().is_empty()) {
            Some(session) => Ok(Owner::session(identity.tenant_id.clone(), identity.user_id.clone(), session.trim())),
            None => Err(ApiError::invalid(
                format!("scope \"session\" needs a session id: send the {SESSION_HEADER} header or \"session\""),
                Some("session"),
            )),
        },
    }
}

/// What the caller may read: its tenant, its own user memory, its session's memory.
pub fn visibility_for(identity: &IdentityEnvelope, session: Option<&str>) -> Visibility {
    Visibility {
        tenant: identity.tenant_id.clone(),
        user: Some(identity.user_id.clone()),
        session: session.map(str::trim).filter(|session| !session.is_empty()).map(str::to_owned),
        kinds: Vec::new(),
        now_unix_ms: rampart_core::unix_now_millis(),
        exclude_global: false,
    }
}

/// When an item with `ttl_secs` to live expires, from now; `ttl_secs = 0` is refused.
fn expiry_after(ttl_secs: Option<u64>) -> Result<Option<i64>, ApiError> {
    match ttl_secs {
        Some(0) => Err(ApiError::invalid("ttl_secs must be at least 1", Some("ttl_secs"))),
        Some(secs) => {
            let millis = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            Ok(Some(rampart_core::unix_now_millis().saturating_add(millis)))
        }
        None => Ok(None),
    }
}

pub fn parse_scope(text: &str) -> Result<MemoryScope, ApiError> {
    text.parse().map_err(|message: String| ApiError::invalid(message, Some("scope")))
}

pub fn parse_kind(text: &str) -> Result<MemoryKind, ApiError> {
    text.parse().map_err(|message: String| ApiError::invalid(message, Some("kind")))
}

/// The one place retrieval failures become HTTP statuses.
pub fn api_error(error: RetrievalError) -> ApiError {
    match error {
        RetrievalError::Invalid(message) => ApiError::invalid(message, None),
        RetrievalError::Index(rampart_core::IndexError::Invalid(message)) => ApiError::invalid(message, None),
        RetrievalError::Index(error) => ApiError::Unavailable { message: error.to_string(), retry_after_secs: 5 },
        RetrievalError::Embed { .. } | RetrievalError::Rerank(_) => {
            ApiError::Unavailable { message: error.to_string(), retry_after_secs: 5 }
        }
    }
}

/// A per-file ingest failure as the error a single-file request answers with; its body's
/// `code` goes into the per-file result of a batch.
pub fn ingest_failure(error: IngestError) -> ApiError {
    match error {
        IngestError::Parse(ParseError::TooLarge { size, limit }) => {
            ApiError::FileTooLarge { message: ParseError::TooLarge { size, limit }.to_string() }
        }
        IngestError::Parse(parse) => {
            let code = match &parse {
                ParseError::Empty => "empty_file",
                ParseError::Binary => "binary_file",
                ParseError::Unsupported { .. } => "unsupported_format",
                ParseError::NoText { .. } => "no_text",
                ParseError::Corrupt { .. } | ParseError::TooLarge { .. } => "corrupt_file",
            };
            ApiError::InvalidRequest { message: parse.to_string(), param: None, code: Some(code) }
        }
        IngestError::Invalid(message) => ApiError::invalid(message, None),
        IngestError::Retrieval(error) => api_error(error),
    }
}
