//! `/api/v1/documents`: list what the caller owns or may read, delete by document id or
//! content-hash prefix, and move documents between lifecycle states (revoke, quarantine,
//! re-activate). Curators (operators, admins) manage their whole tenant; everyone else
//! manages only their own user and session memory.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use rampart_core::{DocumentRecord, DocumentSelector, MemoryState, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{api_error, curates, enabled, parse_kind, parse_scope};
use crate::audit::event;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Shortest hash prefix accepted, so a typo cannot select half the tenant.
const MIN_PREFIX: usize = 6;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DocumentFilter {
    /// Another tenant (admins only).
    pub tenant: Option<String>,
    pub scope: Option<String>,
    pub kind: Option<String>,
    /// `provisional`, `active`, `quarantined` or `revoked`.
    pub state: Option<String>,
    /// At most this many, newest first (default 100).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub object: &'static str,
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<DocumentRecord>,
}

/// The selector for what this caller may manage, narrowed by the filter.
fn selector(caller: &Caller, filter: &DocumentFilter) -> Result<DocumentSelector, ApiError> {
    let identity = &caller.0;
    let tenant = match &filter.tenant {
        Some(tenant) if *tenant != identity.tenant_id && !identity.has_role(Role::Admin) => {
            return Err(ApiError::Forbidden {
                message: format!("tenant '{tenant}' is not yours: you may manage tenant '{}' only", identity.tenant_id),
                code: "tenant_forbidden",
            });
        }
        Some(tenant) => tenant.clone(),
        None => identity.tenant_id.clone(),
    };
    let mut selector = DocumentSelector {
        tenant,
        scope: filter.scope.as_deref().map(parse_scope).transpose()?,
        kind: filter.kind.as_deref().map(parse_kind).transpose()?,
        state: filter
            .state
            .as_deref()
            .map(|state| state.parse::<MemoryState>().map_err(|message| ApiError::invalid(message, Some("state"))))
            .transpose()?,
        ..DocumentSelector::default()
    };
    if !curates(identity) {
        // Only one's own memory: a user-scoped selector always names the caller.
        selector.user = Some(identity.user_id.clone());
    }
    Ok(selector)
}

#[utoipa::path(
    get,
    path = "/api/v1/documents",
    tag = "retrieval",
    params(DocumentFilter),
    responses(
        (status = 200, description = "Documents and memory items, newest first", body = DocumentList),
        (status = 403, description = "Another tenant", body = rampart_types::ErrorResponse),
    )
)]
pub async fn list_documents(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Query(filter): Query<DocumentFilter>,
) -> Result<Json<DocumentList>, ApiError> {
    let retrieval = enabled(&state)?;
    let selector = selector(&caller, &filter)?;
    let limit = filter.limit.unwrap_or(100).min(10_000);
    let data =
        retrieval.retriever.index().documents(&selector, limit).await.map_err(|error| api_error(error.into()))?;
    Ok(Json(DocumentList { object: "list", data }))
}

/// The documents `key` names: a document id, or a hash prefix of at least six characters.
async fn resolve_key(
    state: &AppState,
    caller: &Caller,
    key: &str,
    filter: &DocumentFilter,
) -> Result<Vec<DocumentRecord>, ApiError> {
    let key = key.trim().to_ascii_lowercase();
    if key.len() < MIN_PREFIX || !key.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            format!("`{key}` is neither a document id nor a hash prefix: give at least {MIN_PREFIX} hex characters"),
            Some("id"),
        ));
    }
    let retrieval = enabled(state)?;
    let selector = selector(caller, filter)?;
    let documents =
        retrieval.retriever.index().documents(&selector, 0).await.map_err(|error| api_error(error.into()))?;
    let by_id: Vec<DocumentRecord> = documents.iter().filter(|document| document.id == key).cloned().collect();
    if !by_id.is_empty() {
        return Ok(by_id);
    }
    let matched: Vec<DocumentRecord> =
        documents.into_iter().filter(|document| document.hash.starts_with(&key)).collect();
    if matched.is_empty() {
        return Err(ApiError::NotFound {
            message: format!("no document you may manage has id or hash prefix `{key}`"),
        });
    }
    Ok(matched)
}

/// Selects exactly one document (by its owner and full hash).
fn exact(document: &DocumentRecord) -> DocumentSelector {
    DocumentSelector {
        tenant: document.owner.tenant.clone(),
        hash_prefix: Some(document.hash.clone()),
        scope: Some(document.owner.scope),
        user: document.owner.user.clone(),
        session: document.owner.session.clone(),
        kind: Some(document.kind),
        state: None,
    }
}

/// One chunk of a shown document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShownChunk {
    pub index: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heading: Vec<String>,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShownDocument {
    pub object: &'static str,
    #[schema(value_type = Object)]
    pub document: DocumentRecord,
    pub chunks: Vec<ShownChunk>,
}

#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    tag = "retrieval",
    params(("id" = String, Path, description = "Document id or content-hash prefix (6+ hex characters)")),
    responses(
        (status = 200, description = "The record and its text, whatever its state (to review quarantined memory)", body = ShownDocument),
        (status = 400, description = "The prefix matches several documents", body = rampart_types::ErrorResponse),
        (status = 404, description = "Nothing the caller may manage matches", body = rampart_types::ErrorResponse),
    )
)]
pub async fn show_document(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Json<ShownDocument>, ApiError> {
    let mut documents = resolve_key(&state, &caller, &key, &DocumentFilter::default()).await?;
    if documents.len() > 1 {
        let ids: Vec<&str> = documents.iter().map(|document| document.id.as_str()).collect();
        return Err(ApiError::invalid(
            format!("`{key}` matches {} documents ({}): give more of the hash or the id", ids.len(), ids.join(", ")),
            Some("id"),
        ));
    }
    let Some(document) = documents.pop() else {
        return Err(ApiError::NotFound {
            message: format!("no document you may manage has id or hash prefix `{key}`"),
        });
    };
    let chunks = enabled(&state)?
        .retriever
        .index()
        .document_chunks(&document.owner.tenant, &document.id)
        .await
        .map_err(|error| api_error(error.into()))?
        .into_iter()
        .map(|chunk| ShownChunk { index: chunk.index, heading: chunk.heading, text: chunk.text })
        .collect();
    Ok(Json(ShownDocument { object: "document", document, chunks }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeResult {
    pub object: &'static str,
    pub action: &'static str,
    pub documents: Vec<String>,
}

#[utoipa::path(
    delete,
    path = "/api/v1/documents/{id}",
    tag = "retrieval",
    params(("id" = String, Path, description = "Document id or content-hash prefix (6+ hex characters)"), DocumentFilter),
    responses(
        (status = 200, description = "What was deleted", body = ChangeResult),
        (status = 404, description = "Nothing the caller may manage matches", body = rampart_types::ErrorResponse),
    )
)]
pub async fn delete_document(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Query(filter): Query<DocumentFilter>,
) -> Result<Json<ChangeResult>, ApiError> {
    let documents = resolve_key(&state, &caller, &key, &filter).await?;
    change(&state, &caller, documents, None).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// `active`, `quarantined` or `revoked`.
    pub state: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/documents/{id}/state",
    tag = "retrieval",
    params(("id" = String, Path, description = "Document id or content-hash prefix (6+ hex characters)")),
    request_body = StateChange,
    responses(
        (status = 200, description = "What changed", body = ChangeResult),
        (status = 404, description = "Nothing the caller may manage matches", body = rampart_types::ErrorResponse),
    )
)]
pub async fn set_document_state(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Json(change_request): Json<StateChange>,
) -> Result<Json<ChangeResult>, ApiError> {
    let target: MemoryState =
        change_request.state.parse().map_err(|message: String| ApiError::invalid(message, Some("state")))?;
    if target == MemoryState::Provisional {
        return Err(ApiError::invalid("documents cannot be moved back to provisional", Some("state")));
    }
    let documents = resolve_key(&state, &caller, &key, &DocumentFilter::default()).await?;
    change(&state, &caller, documents, Some(target)).await
}

/// Audits the change first (fail closed: no record, no change), then applies it.
async fn change(
    state: &AppState,
    caller: &Caller,
    documents: Vec<DocumentRecord>,
    target: Option<MemoryState>,
) -> Result<Json<ChangeResult>, ApiError> {
    let retrieval = enabled(state)?;
    let action = match target {
        None => "document.delete",
        Some(MemoryState::Revoked) => "document.revoke",
        Some(MemoryState::Quarantined) => "document.quarantine",
        Some(_) => "document.activate",
    };
    let ids: Vec<String> = documents.iter().map(|document| document.id.clone()).collect();
    state
        .audit
        .record(event(
            "memory",
            Some(caller.0.tenant_id.clone()),
            Some(caller.actor()),
            None,
            json!({ "action": action, "documents": documents.iter().map(|d| json!({"id": d.id, "hash": d.hash, "name": d.name})).collect::<Vec<_>>() }),
        ))
        .await?;
    let index = retrieval.retriever.index();
    for document in &documents {
        let selector = exact(document);
        match target {
            None => index.delete(&selector).await,
            Some(target) => index.set_state(&selector, target).await,
        }
        .map_err(|error| api_error(error.into()))?;
    }
    Ok(Json(ChangeResult { object: "documents.change", action, documents: ids }))
}
