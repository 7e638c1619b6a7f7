//! The decision before a model call: policy decides with the caller's IdentityEnvelope, its
//! obligations shape the route, and the whole decision is written to the audit log before
//! anything is answered, and before anything is sent to a model outside the organisation
//! (an unrecorded decision never reaches the caller; see [`before_send`]).

use std::sync::Arc;

use rampart_policy::{Classification, Decision, Obligation, PolicyInput};
use rampart_router::{ResolvedModel, RouteHints};
use serde_json::json;

use crate::audit::{PendingRecord, event};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// What the audit record says about the call besides the decision.
pub struct CallFacts<'facts> {
    pub request_id: &'facts str,
    pub endpoint: &'static str,
    pub requested_model: &'facts str,
    pub stream: bool,
    /// SHA-256 of the conversation before its last message (the part that repeats across
    /// turns), so a run can be matched to the prompt it was built on without keeping the text.
    pub prompt_prefix_hash: Option<String>,
}

/// Decides a model call and starts recording the decision. `Err` when policy denies (403, with
/// its reasons, once the denial is recorded) or the denial could not be recorded (503). An
/// allowed call comes with its record still committing: pass it through [`before_send`] just
/// before the call is sent, and await [`PendingRecord::committed`] before anything is answered.
pub async fn decide_model_call(
    state: &AppState,
    caller: &Caller,
    model: &Arc<ResolvedModel>,
    hints: &mut RouteHints,
    facts: CallFacts<'_>,
) -> Result<(Decision, PendingRecord), ApiError> {
    let mut identity = (*caller.0).clone();
    identity.privacy_mode = identity.privacy_mode || hints.privacy_mode;
    // A classification the policy does not know is passed as the most restrictive one, so an
    // unexpected label can never loosen a rule.
    let classification =
        hints.classification.as_deref().map(|label| label.parse::<Classification>().unwrap_or(Classification::Secret));
    let decide = |name: &str, tier: u8| {
        let input = PolicyInput::model_call(&identity, name, tier, classification)
            .with_resource_field("endpoint", facts.endpoint);
        state.policy.decide(&input)
    };
    let mut decision = decide(&model.name, model.tier);
    let mut decided_model = model.name.clone();
    let mut replan_error = None;
    if decision.forced_tier() == Some(1) {
        // The router then drops cloud candidates and falls back on Tier 1 ones; a Tier 2 model
        // the policy refused is decided again as the Tier 1 model that would really answer.
        hints.tier = Some(1);
        hints.privacy_mode = true;
        if !decision.allow && model.tier >= 2 {
            match state.router.plan(model, hints) {
                Ok(candidates) => {
                    if let Some(local) = candidates.first() {
                        decision = decide(&local.name, local.tier);
                        decided_model = local.name.clone();
                    }
                }
                Err(error) => replan_error = Some(error),
            }
        }
    }
    let record = event(
        "decision",
        Some(identity.tenant_id.clone()),
        Some(caller.actor()),
        Some(facts.request_id.to_owned()),
        json!({
            "action": "model.call",
            "endpoint": facts.endpoint,
            "requested_model": facts.requested_model,
            "model": model.name,
            "decided_for": decided_model,
            "model_version": model.upstream_model,
            "tier": model.tier,
            "classification": hints.classification,
            "privacy_mode": hints.privacy_mode,
            "stream": facts.stream,
            "prompt_prefix_hash": facts.prompt_prefix_hash,
            "identity": {
                "tenant_id": identity.tenant_id,
                "user_id": identity.user_id,
                "roles": identity.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
                "credential": caller.actor(),
                "agent": identity.agent.as_ref().map(|agent| json!({
                    "run_id": agent.run_id,
                    "parent_run_id": agent.parent_run_id,
                })),
            },
            "policy": {
                "version": decision.policy_version,
                "allow": decision.allow,
                "reasons": decision.reasons,
                "obligations": decision.obligations.iter().map(Obligation::to_json).collect::<Vec<_>>(),
            },
        }),
    );
    let pending = state.audit.record_pending(record);
    state.metrics.record_policy_decision(decision.allow);
    if let Some(error) = replan_error {
        // No Tier 1 model can take the work: the router's own refusal (tier1_required).
        pending.committed().await?;
        return Err(error.into());
    }
    if !decision.allow {
        pending.committed().await?;
        return Err(policy_denied(&decision, "call"));
    }
    Ok((decision, pending))
}

/// Just before a decided call is sent. A call that may reach a cloud model (every call, with
/// `[audit] record_before_send = "always"`) waits here for its decision's record, so nothing
/// leaves the organisation unrecorded; one that stays on Tier 1 goes out while the record
/// commits, so the disk sync overlaps the model's own time. Either way, the caller must await
/// [`PendingRecord::committed`] on what is returned before answering anything, the upstream's
/// error included: an unrecorded decision never reaches the client.
pub async fn before_send(
    state: &AppState,
    decided: PendingRecord,
    model: &Arc<ResolvedModel>,
    hints: &RouteHints,
) -> Result<PendingRecord, ApiError> {
    let wait = state.audit.waits_before_send(|| state.router.stays_on_premises(model, hints));
    decided.before_send(wait).await
}

/// Decides a memory write (an ingest, a memory proposal) into `owner`'s scope and records the
/// decision. `Err` when policy denies (403, with its reasons) or the record fails (503).
pub async fn decide_memory_write(
    state: &AppState,
    caller: &Caller,
    owner: &rampart_core::Owner,
    request_id: &str,
    endpoint: &'static str,
) -> Result<(), ApiError> {
    let tenant = (owner.scope != rampart_core::MemoryScope::Global).then_some(owner.tenant.as_str());
    let input = PolicyInput::memory_write(&caller.0, owner.scope, tenant).with_resource_field("endpoint", endpoint);
    let facts = json!({"action": "memory.write", "endpoint": endpoint, "scope": owner.scope, "tenant_id": tenant});
    decide_and_record(state, caller, request_id, &input, facts, "memory write").await
}

/// The collection name retrieval decisions carry: one per tenant, its documents and memory.
pub const RETRIEVAL_COLLECTION: &str = "documents";

/// Decides a search of the caller's own tenant (`/query`, retrieval in chat) and records the
/// decision, before anything is searched. `Err` when policy denies (403) or the record fails
/// (503).
pub async fn decide_retrieval(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
    endpoint: &'static str,
) -> Result<(), ApiError> {
    let tenant = caller.0.tenant_id.as_str();
    let input =
        PolicyInput::retrieval(&caller.0, RETRIEVAL_COLLECTION, tenant, None).with_resource_field("endpoint", endpoint);
    let facts =
        json!({"action": "retrieval", "endpoint": endpoint, "collection": RETRIEVAL_COLLECTION, "tenant_id": tenant});
    decide_and_record(state, caller, request_id, &input, facts, "retrieval").await
}

/// Evaluates `input`, writes the decision to the audit log (with `facts` and the policy's
/// verdict) and counts it; an unrecorded decision is not carried out.
async fn decide_and_record(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
    input: &PolicyInput,
    mut facts: serde_json::Value,
    what: &str,
) -> Result<(), ApiError> {
    let identity = &caller.0;
    let decision = state.policy.decide(input);
    facts["policy"] =
        json!({ "version": decision.policy_version, "allow": decision.allow, "reasons": decision.reasons });
    let record =
        event("decision", Some(identity.tenant_id.clone()), Some(caller.actor()), Some(request_id.to_owned()), facts);
    state.audit.record(record).await?;
    state.metrics.record_policy_decision(decision.allow);
    if decision.allow { Ok(()) } else { Err(policy_denied(&decision, what)) }
}

/// The 403 for a denied decision, with the policy's reasons.
fn policy_denied(decision: &Decision, what: &str) -> ApiError {
    let reasons =
        if decision.reasons.is_empty() { "no rule allows it".to_owned() } else { decision.reasons.join("; ") };
    ApiError::Forbidden {
        message: format!("policy {} denies this {what}: {reasons}", decision.policy_version),
        code: "policy_denied",
    }
}

/// SHA-256 (hex) of everything before the last message, serialised as JSON; `None` for a
/// one-message conversation.
pub fn prompt_prefix_hash(messages: &[rampart_types::ChatMessage]) -> Option<String> {
    use sha2::{Digest, Sha256};
    let prefix = messages.split_last().map(|(_, prefix)| prefix).filter(|prefix| !prefix.is_empty())?;
    let text = serde_json::to_vec(prefix).ok()?;
    Some(hex::encode(Sha256::digest(text)))
}
