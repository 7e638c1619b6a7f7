//! `/api/v1/keys`: create, list and revoke API keys over HTTP (the CLI's `rampart keys` does
//! the same against the store directly, which is how the first key is made).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rampart_core::{ApiKeyRecord, Role, unix_now_millis};
use rampart_identity::keys::NewApiKey;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::audit::event;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// What a new key may do.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub tenant: String,
    /// One or more of admin, operator, user, agent, auditor.
    pub roles: Vec<String>,
    pub name: Option<String>,
    /// The user the key acts for; unset for a service key.
    pub user: Option<String>,
    /// Days until the key stops working; unset: it never expires.
    pub expires_in_days: Option<u32>,
}

/// A key as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    pub id: String,
    pub name: Option<String>,
    pub tenant: String,
    pub user: Option<String>,
    pub roles: Vec<String>,
    pub created_unix_ms: i64,
    pub expires_unix_ms: Option<i64>,
    pub revoked_unix_ms: Option<i64>,
    pub last_used_unix_ms: Option<i64>,
}

impl From<&ApiKeyRecord> for KeyInfo {
    fn from(record: &ApiKeyRecord) -> Self {
        KeyInfo {
            id: record.id.clone(),
            name: record.name.clone(),
            tenant: record.tenant_id.clone(),
            user: record.user_id.clone(),
            roles: record.roles.iter().map(|role| role.as_str().to_owned()).collect(),
            created_unix_ms: record.created_unix_ms,
            expires_unix_ms: record.expires_unix_ms,
            revoked_unix_ms: record.revoked_unix_ms,
            last_used_unix_ms: record.last_used_unix_ms,
        }
    }
}

/// A created key: `key` is shown this once and stored nowhere.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub object: &'static str,
    pub data: Vec<KeyInfo>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KeyListParams {
    /// Only this tenant's keys (admins); others always see their own tenant's.
    pub tenant: Option<String>,
}

const MILLIS_PER_DAY: i64 = 86_400_000;

#[utoipa::path(post, path = "/api/v1/keys", tag = "rampart", request_body = CreateKeyRequest,
    responses((status = 201, description = "The new key, shown once", body = CreatedKey),
              (status = 400, description = "Bad request", body = rampart_types::ErrorResponse),
              (status = 403, description = "Not an admin", body = rampart_types::ErrorResponse)))]
pub async fn create_key(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    caller.require_any(&[Role::Admin], "creating API keys")?;
    let value = crate::body::read_json(&headers, body, state.limits.body_limit_bytes).await?;
    let request: CreateKeyRequest =
        serde_json::from_value(value).map_err(|error| ApiError::invalid(error.to_string(), None))?;
    let roles = parse_roles(&request.roles)?;
    if request.tenant.trim().is_empty() {
        return Err(ApiError::invalid("'tenant' must not be empty", Some("tenant")));
    }
    let api_keys = state.gatekeeper.api_keys().ok_or_else(|| unavailable("API keys are not configured"))?;
    let expires_unix_ms =
        request.expires_in_days.map(|days| unix_now_millis().saturating_add(i64::from(days) * MILLIS_PER_DAY));
    let new =
        NewApiKey { name: request.name, tenant_id: request.tenant, user_id: request.user, roles, expires_unix_ms };
    let issued = api_keys.issue_key(new).await.map_err(|error| unavailable(&error.to_string()))?;
    let info = KeyInfo::from(&issued.record);
    let recorded = state
        .audit
        .record(event(
            "admin",
            Some(info.tenant.clone()),
            Some(caller.actor()),
            None,
            json!({ "action": "key.create", "key_id": info.id, "roles": info.roles, "expires_unix_ms": info.expires_unix_ms }),
        ))
        .await;
    if let Err(error) = recorded {
        // Unrecorded, the key must not work: take it back before answering.
        let _ = api_keys.revoke_key(&info.id, unix_now_millis()).await;
        return Err(error);
    }
    state.gatekeeper.note_key_created();
    Ok((StatusCode::CREATED, Json(CreatedKey { key: issued.plaintext, info })))
}

#[utoipa::path(get, path = "/api/v1/keys", tag = "rampart", params(KeyListParams),
    responses((status = 200, description = "Keys, newest first, without secrets", body = KeyList),
              (status = 403, description = "Not an admin or operator", body = rampart_types::ErrorResponse)))]
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    params: Result<Query<KeyListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<KeyList>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::invalid(rejection.body_text(), None))?;
    caller.require_any(&[Role::Admin, Role::Operator, Role::Auditor], "listing API keys")?;
    let tenant = caller.tenant_scope(params.tenant.as_deref())?;
    let keys = state.store.list_keys(tenant.as_deref()).await.map_err(|error| unavailable(&error.to_string()))?;
    Ok(Json(KeyList { object: "list", data: keys.iter().map(KeyInfo::from).collect() }))
}

#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "rampart",
    params(("id" = String, Path, description = "The key id (the 12 hex digits after `rk_`)")),
    responses((status = 200, description = "Revoked", body = KeyInfo),
              (status = 404, description = "No such key", body = rampart_types::ErrorResponse)))]
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<KeyInfo>, ApiError> {
    caller.require_any(&[Role::Admin], "revoking API keys")?;
    let api_keys = state.gatekeeper.api_keys().ok_or_else(|| unavailable("API keys are not configured"))?;
    let not_found = || ApiError::NotFound { message: format!("no API key has id '{id}'") };
    let record =
        state.store.find_key(&id).await.map_err(|error| unavailable(&error.to_string()))?.ok_or_else(not_found)?;
    state
        .audit
        .record(event(
            "admin",
            Some(record.tenant_id.clone()),
            Some(caller.actor()),
            None,
            json!({ "action": "key.revoke", "key_id": id }),
        ))
        .await?;
    api_keys.revoke_key(&id, unix_now_millis()).await.map_err(|error| unavailable(&error.to_string()))?;
    let revoked =
        state.store.find_key(&id).await.map_err(|error| unavailable(&error.to_string()))?.ok_or_else(not_found)?;
    Ok(Json(KeyInfo::from(&revoked)))
}

fn parse_roles(names: &[String]) -> Result<Vec<Role>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::invalid("'roles' must name at least one role", Some("roles")));
    }
    names
        .iter()
        .map(|name| name.parse::<Role>().map_err(|error| ApiError::invalid(error.to_string(), Some("roles"))))
        .collect()
}

fn unavailable(detail: &str) -> ApiError {
    ApiError::Unavailable { message: format!("the key store is unavailable: {detail}"), retry_after_secs: 5 }
}
