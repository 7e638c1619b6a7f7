//! `/api/v1/audit*` and `/api/v1/traces/{request_id}`: reading the audit log, verifying it,
//! proving a record, and a request's trace envelope assembled from its records.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rampart_audit::{InclusionProofDocument, VerifyRange, VerifyReport, prove_stored_record, verify_stored_log};
use rampart_core::{AuditQuery, Role, StoredAuditRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Records per page, 1..=1000 (default 100).
    pub limit: Option<u32>,
    /// Cursor: only records with a smaller seq (the previous page's `next_before`).
    pub before: Option<u64>,
    /// Only this tenant's records (admins and auditors; everyone else sees their own tenant).
    pub tenant: Option<String>,
    /// `auth`, `decision`, `outcome`, `admin`, ...
    pub kind: Option<String>,
    pub request_id: Option<String>,
}

/// One record: its place, its chain hash, and the record itself (the canonical JSON parsed).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordView {
    pub seq: u64,
    pub hash: String,
    #[schema(value_type = Object)]
    pub record: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub object: &'static str,
    pub data: Vec<AuditRecordView>,
    pub next_before: Option<u64>,
}

fn view(record: StoredAuditRecord) -> AuditRecordView {
    // A record that does not parse is shown as its text: verification says what is wrong.
    let parsed = serde_json::from_str(&record.canonical).unwrap_or(Value::String(record.canonical));
    AuditRecordView { seq: record.seq, hash: record.hash_hex, record: parsed }
}

fn unavailable(error: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable { message: format!("the audit log is unavailable: {error}"), retry_after_secs: 5 }
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "rampart", params(AuditParams),
    responses((status = 200, description = "Audit records, newest first", body = AuditPage),
              (status = 403, description = "Another tenant's records", body = rampart_types::ErrorResponse)))]
pub async fn list_records(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::invalid(rejection.body_text(), None))?;
    caller.require_any(&[Role::Admin, Role::Auditor, Role::Operator], "reading the audit log")?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(format!("'limit' is {limit}: use 1 to 1000"), Some("limit")));
    }
    let query = AuditQuery {
        limit,
        before_seq: params.before,
        tenant: caller.tenant_scope(params.tenant.as_deref())?,
        kind: params.kind,
        request_id: params.request_id,
    };
    let records = state.store.query_audit(&query).await.map_err(unavailable)?;
    let next_before = (records.len() == limit as usize).then(|| records.last().map(|record| record.seq)).flatten();
    Ok(Json(AuditPage { object: "list", data: records.into_iter().map(view).collect(), next_before }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    /// First seq to check (default 1).
    pub from: Option<u64>,
    /// Last seq to check (default: the log's head).
    pub to: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "rampart", params(VerifyParams),
    responses((status = 200, description = "The log verified clean", body = Object),
              (status = 409, description = "The log was tampered with: `first_problem` names the record", body = Object),
              (status = 403, description = "Not an admin or auditor", body = rampart_types::ErrorResponse)))]
pub async fn verify(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    params: Result<Query<VerifyParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::invalid(rejection.body_text(), None))?;
    caller.require_any(&[Role::Admin, Role::Auditor], "verifying the audit log")?;
    let range = VerifyRange { from: params.from, to: params.to };
    let report: VerifyReport =
        verify_stored_log(state.store.as_ref(), state.audit_public_key, range).await.map_err(|error| match error {
            rampart_audit::StoredLogError::Range(message) => ApiError::invalid(message, None),
            other => unavailable(other),
        })?;
    let status = if report.is_clean() { StatusCode::OK } else { StatusCode::CONFLICT };
    Ok((status, Json(report)).into_response())
}

#[utoipa::path(get, path = "/api/v1/audit/proof/{seq}", tag = "rampart",
    params(("seq" = u64, Path, description = "The record's seq")),
    responses((status = 200, description = "An inclusion proof a third party can check with the public key", body = Object),
              (status = 404, description = "No checkpoint covers the record yet", body = rampart_types::ErrorResponse)))]
pub async fn proof(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(seq): Path<u64>,
) -> Result<Json<InclusionProofDocument>, ApiError> {
    caller.require_any(&[Role::Admin, Role::Auditor], "proving audit records")?;
    let public_key = state.audit_public_key.ok_or_else(|| unavailable("audit signing is not enabled"))?;
    prove_stored_record(state.store.as_ref(), seq, &public_key).await.map(Json).map_err(|error| match error {
        rampart_audit::StoredLogError::Range(message) => ApiError::NotFound { message },
        other => unavailable(other),
    })
}

/// The newest signed checkpoint and the key that signed it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    #[schema(value_type = Object)]
    pub checkpoint: Option<rampart_audit::Checkpoint>,
    /// Hex of the raw Ed25519 public key.
    pub public_key: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "rampart",
    responses((status = 200, description = "The newest signed tree head", body = CheckpointView)))]
pub async fn latest_checkpoint(State(state): State<Arc<AppState>>) -> Result<Json<CheckpointView>, ApiError> {
    let newest = state.store.checkpoints(0, u64::MAX).await.map_err(unavailable)?.into_iter().last();
    Ok(Json(CheckpointView {
        checkpoint: newest.map(rampart_audit::Checkpoint::from),
        public_key: state.audit_public_key.map(hex::encode),
    }))
}

/// A request's trace envelope: every audit record it left, in order (decision, outcome), with
/// identity, model, policy version, prompt-prefix hash, tokens and cost among them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceEnvelope {
    pub request_id: String,
    pub tenant: Option<String>,
    pub records: Vec<AuditRecordView>,
}

#[utoipa::path(get, path = "/api/v1/traces/{request_id}", tag = "rampart",
    params(("request_id" = String, Path, description = "The request's x-request-id")),
    responses((status = 200, description = "The trace envelope", body = TraceEnvelope),
              (status = 404, description = "No such request (or not yours)", body = rampart_types::ErrorResponse)))]
pub async fn trace(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(request_id): Path<String>,
) -> Result<Json<TraceEnvelope>, ApiError> {
    let tenant = caller.tenant_scope(None)?;
    let query = AuditQuery {
        limit: 1000,
        tenant: tenant.clone(),
        request_id: Some(request_id.clone()),
        ..AuditQuery::default()
    };
    let mut records = state.store.query_audit(&query).await.map_err(unavailable)?;
    if records.is_empty() {
        // Another tenant's request looks exactly like one that does not exist.
        return Err(ApiError::NotFound { message: format!("no trace for request '{request_id}'") });
    }
    records.reverse();
    let records: Vec<AuditRecordView> = records.into_iter().map(view).collect();
    let tenant =
        records.first().and_then(|record| record.record.get("tenant")).and_then(Value::as_str).map(str::to_owned);
    Ok(Json(TraceEnvelope { request_id, tenant, records }))
}
