//! `GET /api/v1/limits`: the `[[limits]]` that count a principal, with each counter's use,
//! room and reset time in its current window.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use rampart_core::{Principal, unix_now_secs};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LimitsParams {
    /// The API key id (`key_` and 16 hex digits, as `GET /api/v1/usage` reports it).
    pub key: Option<String>,
    pub tenant: Option<String>,
    pub user: Option<String>,
}

/// One counter of one limit in its current window.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitCounter {
    /// The limit's configured name.
    pub limit: String,
    /// `global`, `api_key`, `tenant` or `user`.
    pub scope: &'static str,
    /// Who is counted (`*` for a global limit).
    pub subject: String,
    /// The models the limit applies to; empty for every model.
    pub models: Vec<String>,
    /// `requests`, `tokens` or `spend`.
    pub meter: &'static str,
    /// `minute`, `day` or `month` (UTC).
    pub window: &'static str,
    /// The window's limit: a count, or US dollars for `spend`.
    pub max: f64,
    /// Used so far, in-flight reservations included.
    pub used: f64,
    pub remaining: f64,
    /// When the window ends and the counter starts again (Unix seconds).
    pub resets_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsReport {
    /// `sqlite`, `postgres` or `redis`: where the counters live.
    pub ledger: &'static str,
    pub data: Vec<LimitCounter>,
}

#[utoipa::path(get, path = "/api/v1/limits", tag = "rampart", params(LimitsParams),
    responses((status = 200, description = "The limits that count the principal, with their counters", body = LimitsReport),
              (status = 400, description = "Bad query", body = rampart_types::ErrorResponse),
              (status = 503, description = "The limits' ledger is unreachable", body = rampart_types::ErrorResponse)))]
/// Without query parameters, reports on the caller (its bearer token, `x-rampart-tenant` and
/// `x-rampart-user`); with them, on the principal they name.
pub async fn limits_status(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    headers: HeaderMap,
    params: Result<Query<LimitsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LimitsReport>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::invalid(rejection.body_text(), None))?;
    let own = caller.principal(&headers, None);
    let principal = if params.key.is_none() && params.tenant.is_none() && params.user.is_none() {
        own
    } else {
        let asked = Principal { api_key_id: params.key, tenant: params.tenant, user: params.user };
        // Another principal's counters are for admins and auditors, or for one's own tenant.
        if !caller.0.reads_all_tenants()
            && asked.tenant.as_ref().is_none_or(|tenant| Some(tenant) != own.tenant.as_ref())
        {
            return Err(ApiError::Forbidden {
                message: "only admins and auditors read other principals' limits; ask for your own tenant".to_owned(),
                code: "tenant_forbidden",
            });
        }
        asked
    };
    let statuses = state.limiter.status(&principal, unix_now_secs()).await?;
    let data = statuses
        .into_iter()
        .map(|status| {
            let scale = if status.meter == "spend" { 1e-9 } else { 1.0 };
            LimitCounter {
                limit: status.limit,
                scope: status.scope,
                subject: status.subject,
                models: status.models,
                meter: status.meter,
                window: status.window,
                max: status.max as f64 * scale,
                used: status.used as f64 * scale,
                remaining: status.max.saturating_sub(status.used).max(0) as f64 * scale,
                resets_at: status.resets_at_unix,
            }
        })
        .collect();
    Ok(Json(LimitsReport { ledger: state.limiter.ledger_engine(), data }))
}
