//! `POST /api/v1/memory`: what a user, an agent or a curator proposes to remember goes
//! through the memory gate ([`rampart_retrieval::MemoryGate`]) and comes back admitted
//! (`active`), held for review (`quarantined`), or refused with the reasons.
//! `POST /api/v1/memory/gc` deletes what has expired now, instead of at the next sweep.
//!
//! The proposal is audited (the Trace step: its content hash, kind, scope and writer) before
//! the gate runs, and the outcome after; no audit record, no memory.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use rampart_core::{IdentityEnvelope, MemoryKind, MemoryScope, MemoryState, Owner, Provenance, Role};
use rampart_guardrails::{Category, Guardrails, Severity, Stage};
use rampart_retrieval::{GateError, GateOutcome, Proposal, Sanitizer, Screening, Writer};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{SESSION_HEADER, curates, enabled, expiry_after, ingest_failure, owner_for, parse_kind, parse_scope};
use crate::audit::event;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

/// The Sanitize step, with the gateway's detectors: secrets, personal data and injected
/// instructions, whatever `[guardrails]` rules say for prompts and answers.
pub struct GuardrailsSanitizer {
    guardrails: Arc<Guardrails>,
}

impl GuardrailsSanitizer {
    pub fn new(guardrails: Arc<Guardrails>) -> Self {
        GuardrailsSanitizer { guardrails }
    }
}

#[async_trait]
impl Sanitizer for GuardrailsSanitizer {
    async fn screen(&self, text: &str) -> Result<Screening, String> {
        let mut screening = Screening::default();
        for finding in self.guardrails.detect(text, Stage::Memory) {
            match finding.category {
                Category::Secret => screening.secrets.push(finding.entity.to_owned()),
                Category::Pii => screening.personal.push((finding.entity.to_owned(), finding.start, finding.end)),
                Category::Injection if finding.severity >= Severity::Medium => {
                    screening.injections.push(finding.entity.to_owned());
                }
                _ => {}
            }
        }
        screening.secrets.sort_unstable();
        screening.secrets.dedup();
        Ok(screening)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryRequest {
    /// The statement to remember (at most 8,000 characters; ingest documents with `/ingest`).
    pub text: String,
    /// `preference`, `fact`, `episodic`, `trace`, or `policy` (operators and admins only).
    pub kind: String,
    /// `user` (default for users and agents), `session`, `tenant` (default for operators and
    /// admins; from anyone else it waits for a curator's approval) or `global` (curators).
    pub scope: Option<String>,
    /// Where it came from: a document, URL, tool call or person. Required for `fact`.
    pub source: Option<String>,
    /// Shown in lists; the first words of the text when absent.
    pub title: Option<String>,
    /// Forget it this many seconds from now (session memory defaults to a day, traces to a week).
    pub ttl_secs: Option<u64>,
    /// The session of `session` memory (or the `x-rampart-session` header).
    pub session: Option<String>,
}

/// The gate's answer for a stored item.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemoryResponse {
    pub object: &'static str,
    pub document_id: String,
    pub hash: String,
    pub name: String,
    /// `active` (admitted) or `quarantined` (held until a curator decides).
    pub state: String,
    /// The same text was already remembered by this owner; nothing new was written.
    pub duplicate: bool,
    /// Why it was quarantined, and what sanitizing changed.
    pub notes: Vec<String>,
    /// The gate steps it passed, as recorded in its provenance.
    pub gate: Vec<String>,
}

fn writer_of(identity: &IdentityEnvelope) -> Writer {
    if curates(identity) {
        Writer::Curator
    } else if identity.agent.is_some() || identity.has_role(Role::Agent) {
        Writer::Agent
    } else {
        Writer::User
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/memory",
    tag = "retrieval",
    request_body = MemoryRequest,
    responses(
        (status = 201, description = "Stored: admitted or quarantined", body = MemoryResponse),
        (status = 200, description = "Already remembered", body = MemoryResponse),
        (status = 400, description = "Refused by the gate (code memory_rejected), or a bad request", body = rampart_types::ErrorResponse),
        (status = 403, description = "The caller may not write this kind or scope", body = rampart_types::ErrorResponse),
        (status = 503, description = "Retrieval is off, or the audit log, embedding model or index is unavailable", body = rampart_types::ErrorResponse),
    )
)]
pub async fn propose_memory(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
    headers: axum::http::HeaderMap,
    Json(request): Json<MemoryRequest>,
) -> Result<(StatusCode, Json<MemoryResponse>), ApiError> {
    let retrieval = enabled(&state)?;
    let identity = &caller.0;
    let kind = parse_kind(&request.kind)?;
    let scope = request.scope.as_deref().map(parse_scope).transpose()?;
    let header_session = headers.get(SESSION_HEADER).and_then(|value| value.to_str().ok());
    let session = request.session.as_deref().or(header_session);
    let writer = writer_of(identity);
    // Anyone may propose tenant memory; the gate holds it for a curator unless one wrote it.
    let owner = match scope {
        Some(MemoryScope::Tenant) if kind != MemoryKind::Policy => Owner::tenant(identity.tenant_id.clone()),
        _ => owner_for(identity, scope, session, kind)?,
    };
    crate::decision::decide_memory_write(&state, &caller, &owner, &request_id.0, "/api/v1/memory").await?;
    let hash = rampart_ingest::content_hash(request.text.trim().as_bytes());
    let trace = json!({
        "action": "memory.propose",
        "hash": hash,
        "kind": kind,
        "scope": owner.scope,
        "writer": writer,
        "source": request.source,
    });
    let record = |data: serde_json::Value| {
        event("memory", Some(identity.tenant_id.clone()), Some(caller.actor()), Some(request_id.0.clone()), data)
    };
    state.audit.record(record(trace)).await?;
    let proposal = Proposal {
        owner,
        kind,
        text: request.text,
        title: request.title,
        writer,
        expires_unix_ms: expiry_after(request.ttl_secs)?,
        provenance: Provenance {
            source: request.source.filter(|source| !source.trim().is_empty()),
            author: Some(caller.actor()),
            request_id: Some(request_id.0.clone()),
            ..Provenance::default()
        },
    };
    let outcome = retrieval.gate.propose(proposal).await;
    let audited = match &outcome {
        Ok(outcome) => json!({
            "action": match (outcome.stored.duplicate, outcome.state) {
                (true, _) => "memory.duplicate",
                (false, MemoryState::Quarantined) => "memory.quarantined",
                (false, _) => "memory.admitted",
            },
            "document_id": outcome.stored.document_id,
            "hash": outcome.stored.hash,
            "state": outcome.state,
            "gate": outcome.gate,
        }),
        Err(error) => json!({ "action": "memory.rejected", "hash": hash, "reason": error.to_string() }),
    };
    state.audit.record(record(audited)).await?;
    let GateOutcome { stored, state: stored_state, notes, gate } = outcome.map_err(gate_error)?;
    let status = if stored.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((
        status,
        Json(MemoryResponse {
            object: "memory",
            document_id: stored.document_id,
            hash: stored.hash,
            name: stored.name,
            state: stored_state.to_string(),
            duplicate: stored.duplicate,
            notes,
            gate,
        }),
    ))
}

fn gate_error(error: GateError) -> ApiError {
    match error {
        GateError::Forbidden(message) => ApiError::Forbidden { message, code: "permission_denied" },
        GateError::Rejected(_) => ApiError::InvalidRequest {
            message: error.to_string(),
            param: Some("text".into()),
            code: Some("memory_rejected"),
        },
        GateError::Store(error) => ingest_failure(error),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GcResult {
    pub object: &'static str,
    /// Documents and memory items deleted because their time had run out.
    pub deleted: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/memory/gc",
    tag = "retrieval",
    responses(
        (status = 200, description = "What was collected", body = GcResult),
        (status = 403, description = "Operators and admins only", body = rampart_types::ErrorResponse),
    )
)]
pub async fn collect_expired(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Extension(request_id): Extension<RequestId>,
) -> Result<Json<GcResult>, ApiError> {
    let retrieval = enabled(&state)?;
    caller.require_any(&[Role::Admin, Role::Operator], "collecting expired memory")?;
    let deleted = retrieval
        .retriever
        .index()
        .delete_expired(rampart_core::unix_now_millis())
        .await
        .map_err(|error| super::api_error(error.into()))?;
    state
        .audit
        .record(event(
            "memory",
            Some(caller.0.tenant_id.clone()),
            Some(caller.actor()),
            Some(request_id.0.clone()),
            json!({ "action": "memory.gc", "deleted": deleted }),
        ))
        .await?;
    Ok(Json(GcResult { object: "memory.gc", deleted }))
}
