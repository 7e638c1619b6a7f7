//! `POST /query` (hybrid search over what the caller may read) and `POST /embed` (vectors
//! from the retrieval embedding model).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rampart_retrieval::{FusionWeights, MAX_RESULTS, RankedScore, Retrieved, SearchMode, SearchRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{SESSION_HEADER, api_error, enabled as retrieval, parse_kind, visibility_for};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Texts one `/embed` call may carry.
const MAX_EMBED_INPUTS: usize = 2_048;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The question or keywords.
    pub query: String,
    /// How many chunks to return (default `[retrieval] top_k`).
    pub top_k: Option<usize>,
    /// `hybrid` (default), `lexical` (BM25 only) or `vector` (embeddings only).
    #[schema(value_type = Option<String>)]
    pub mode: Option<SearchMode>,
    /// Only these memory kinds (`fact`, `preference`, `policy`, `episodic`, `trace`).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Also search this session's memory (or the `x-rampart-session` header).
    pub session: Option<String>,
    /// Include global items (default true).
    pub include_global: Option<bool>,
    /// Override the fusion weights for this query.
    #[schema(value_type = Option<Object>)]
    pub weights: Option<FusionWeights>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryHit {
    pub object: &'static str,
    pub rank: usize,
    pub score: f32,
    pub chunk_id: String,
    pub chunk_index: u32,
    pub document_id: String,
    pub document_hash: String,
    pub document_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heading: Vec<String>,
    pub text: String,
    pub scope: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub lexical: Option<RankedScore>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub vector: Option<RankedScore>,
}

impl QueryHit {
    pub fn from_retrieved(rank: usize, hit: Retrieved) -> Self {
        QueryHit {
            object: "retrieval.chunk",
            rank,
            score: hit.score,
            chunk_id: hit.chunk.id,
            chunk_index: hit.chunk.index,
            document_id: hit.document.id,
            document_hash: hit.document.hash,
            document_name: hit.document.name,
            heading: hit.chunk.heading,
            text: hit.chunk.text,
            scope: hit.document.owner.scope.as_str().to_owned(),
            kind: hit.document.kind.as_str().to_owned(),
            lexical: hit.lexical,
            vector: hit.vector,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryResponse {
    pub object: &'static str,
    pub query: String,
    pub mode: &'static str,
    pub embedding_model: String,
    pub data: Vec<QueryHit>,
}

async fn read<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let value = crate::body::read_json(headers, body, state.limits.body_limit_bytes).await?;
    serde_json::from_value(value).map_err(|error| ApiError::invalid(format!("the body does not parse: {error}"), None))
}

#[utoipa::path(
    post,
    path = "/query",
    tag = "retrieval",
    request_body = QueryRequest,
    responses(
        (status = 200, description = "Chunks the caller may read, best first, with citations", body = QueryResponse),
        (status = 400, description = "Invalid request", body = rampart_types::ErrorResponse),
        (status = 403, description = "Policy denies this retrieval (`policy_denied`, with its reasons)", body = rampart_types::ErrorResponse),
        (status = 503, description = "Retrieval is off, the embedding model or index is unavailable, or the decision could not be audited", body = rampart_types::ErrorResponse),
    )
)]
pub async fn query(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle_query(&state, &caller, &request_id.0, &headers, body).await {
        Ok(response) => Json(response).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle_query(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<QueryResponse, ApiError> {
    let retrieval = retrieval(state)?;
    let request: QueryRequest = read(state, headers, body).await?;
    crate::decision::decide_retrieval(state, caller, request_id, "/query").await?;
    let limit = request.top_k.unwrap_or(retrieval.settings.top_k);
    if limit == 0 || limit > MAX_RESULTS {
        return Err(ApiError::invalid(format!("top_k must be between 1 and {MAX_RESULTS}"), Some("top_k")));
    }
    let header_session = headers.get(SESSION_HEADER).and_then(|value| value.to_str().ok());
    let mut visibility = visibility_for(&caller.0, request.session.as_deref().or(header_session));
    visibility.kinds = request.kinds.iter().map(|kind| parse_kind(kind)).collect::<Result<_, _>>()?;
    visibility.exclude_global = !request.include_global.unwrap_or(true);
    let mode = request.mode.unwrap_or_default();
    let search = SearchRequest {
        query: request.query.clone(),
        visibility,
        limit,
        mode,
        candidates: retrieval.settings.candidates,
        weights: request.weights,
    };
    let hits = retrieval.retriever.search(&search).await.map_err(api_error)?;
    Ok(QueryResponse {
        object: "list",
        query: request.query,
        mode: match mode {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Lexical => "lexical",
            SearchMode::Vector => "vector",
        },
        embedding_model: retrieval.retriever.embedder().model().to_owned(),
        data: hits.into_iter().enumerate().map(|(position, hit)| QueryHit::from_retrieved(position + 1, hit)).collect(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    /// A text or a list of texts.
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedVector {
    pub object: &'static str,
    pub index: usize,
    pub embedding: Vec<f32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedResponse {
    pub object: &'static str,
    pub model: String,
    pub dimensions: usize,
    pub data: Vec<EmbedVector>,
}

#[utoipa::path(
    post,
    path = "/embed",
    tag = "retrieval",
    request_body = EmbedRequest,
    responses(
        (status = 200, description = "Unit vectors from the retrieval embedding model", body = EmbedResponse),
        (status = 400, description = "Invalid request", body = rampart_types::ErrorResponse),
        (status = 503, description = "Retrieval is off or the embedding model is unavailable", body = rampart_types::ErrorResponse),
    )
)]
pub async fn embed(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    match handle_embed(&state, &headers, body).await {
        Ok(response) => Json(response).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle_embed(state: &AppState, headers: &HeaderMap, body: Body) -> Result<EmbedResponse, ApiError> {
    let retrieval = retrieval(state)?;
    let request: EmbedRequest = read(state, headers, body).await?;
    let texts: Vec<String> = match request.input {
        serde_json::Value::String(text) => vec![text],
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(text) => Ok(text),
                _ => Err(ApiError::invalid("input must be a string or a list of strings", Some("input"))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(ApiError::invalid("input must be a string or a list of strings", Some("input"))),
    };
    if texts.is_empty() || texts.len() > MAX_EMBED_INPUTS {
        return Err(ApiError::invalid(format!("input must hold 1 to {MAX_EMBED_INPUTS} texts"), Some("input")));
    }
    if texts.iter().any(|text| text.trim().is_empty()) {
        return Err(ApiError::invalid("input texts must not be empty", Some("input")));
    }
    let embedder = retrieval.retriever.embedder();
    let vectors = embedder.embed(texts).await.map_err(api_error)?;
    Ok(EmbedResponse {
        object: "list",
        model: embedder.model().to_owned(),
        dimensions: vectors.first().map_or(0, Vec::len),
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| EmbedVector { object: "embedding", index, embedding })
            .collect(),
    })
}
