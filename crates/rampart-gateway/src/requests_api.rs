//! `GET /api/v1/requests`: the request log, newest first, with cursor paging.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use rampart_core::{RequestLogEntry, RequestLogQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestsParams {
    /// Entries per page, 1..=1000 (default 50).
    pub limit: Option<u32>,
    /// Cursor: only entries older than this id (the previous page's `next_before`).
    pub before: Option<String>,
    /// Only entries at or after this time, in Unix milliseconds.
    pub since: Option<i64>,
    pub model: Option<String>,
    pub status: Option<u16>,
    /// Only this tenant's requests (admins and auditors; everyone else sees their own).
    pub tenant: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestRecord {
    pub id: String,
    pub request_id: String,
    pub time_unix_ms: i64,
    pub endpoint: String,
    pub model: String,
    pub backend: String,
    pub status: u16,
    pub stream: bool,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
    pub cost_usd: f64,
    pub error: Option<String>,
    /// The API key's id; with authentication off, a fingerprint of the bearer token sent.
    pub api_key_id: Option<String>,
    /// The caller's tenant (as sent in `x-rampart-tenant` while authentication is off).
    pub tenant: Option<String>,
    /// The caller's user (the body's `user`, else `x-rampart-user`, while authentication is off).
    pub user: Option<String>,
}

impl From<RequestLogEntry> for RequestRecord {
    fn from(entry: RequestLogEntry) -> Self {
        RequestRecord {
            id: entry.id,
            request_id: entry.request_id,
            time_unix_ms: entry.time_unix_ms,
            endpoint: entry.endpoint,
            model: entry.model,
            backend: entry.backend,
            status: entry.status,
            stream: entry.stream,
            tokens_in: entry.tokens_in,
            tokens_out: entry.tokens_out,
            latency_ms: entry.latency_ms,
            cost_usd: entry.cost_usd,
            error: entry.error,
            api_key_id: entry.api_key_id,
            tenant: entry.tenant,
            user: entry.user,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestPage {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<RequestRecord>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_before: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/requests", tag = "rampart", params(RequestsParams),
    responses((status = 200, description = "Request log page", body = RequestPage),
              (status = 400, description = "Bad query", body = rampart_types::ErrorResponse)))]
pub async fn list_requests(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    params: Result<Query<RequestsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RequestPage>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::invalid(rejection.body_text(), None))?;
    let tenant = caller.tenant_scope(params.tenant.as_deref())?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(format!("'limit' is {limit}: use 1 to 1000"), Some("limit")));
    }
    let query = RequestLogQuery {
        limit,
        before_id: params.before,
        since_unix_ms: params.since,
        model: params.model,
        status: params.status,
        tenant,
    };
    let entries = state.store.list_requests(&query).await.map_err(|error| ApiError::Unavailable {
        message: format!("the request log is unavailable: {error}"),
        retry_after_secs: 5,
    })?;
    let next_before = (entries.len() == limit as usize).then(|| entries.last().map(|entry| entry.id.clone())).flatten();
    Ok(Json(RequestPage { object: "list", data: entries.into_iter().map(RequestRecord::from).collect(), next_before }))
}
