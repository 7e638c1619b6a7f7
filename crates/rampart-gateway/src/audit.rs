//! The gateway's side of the audit log: one event per decision, appended before the decision
//! takes effect (a failed append fails the request), and signed checkpoints on a timer.

use std::sync::Arc;
use std::time::Duration;

use rampart_audit::AuditSigner;
use rampart_config::RecordBeforeSend;
use rampart_core::{AuditEvent, Store, unix_now_millis};
use rampart_identity::AuthError;
use serde_json::{Value, json};

use crate::error::ApiError;

/// Appends audit events to the store, or (with `[audit] enabled = false`) drops them.
pub struct AuditTrail {
    store: Option<Arc<dyn Store>>,
    record_before_send: RecordBeforeSend,
}

impl AuditTrail {
    pub fn new(store: Arc<dyn Store>, enabled: bool) -> Self {
        AuditTrail { store: enabled.then_some(store), record_before_send: RecordBeforeSend::default() }
    }

    /// Which calls wait for their decision's record before anything is sent
    /// (`[audit] record_before_send`).
    pub fn with_record_before_send(mut self, setting: RecordBeforeSend) -> Self {
        self.record_before_send = setting;
        self
    }

    /// Whether a call must wait for its decision's record before it is sent: always when it
    /// may reach a cloud model; for a call that stays on premises, only when configured so.
    /// `stays_on_premises` is asked only when the answer depends on it.
    pub fn waits_before_send(&self, stays_on_premises: impl FnOnce() -> bool) -> bool {
        self.enabled() && (self.record_before_send == RecordBeforeSend::Always || !stays_on_premises())
    }

    pub fn enabled(&self) -> bool {
        self.store.is_some()
    }

    /// Appends one event and waits for its commit. An error means the decision must not take
    /// effect: the caller answers 503.
    pub async fn record(&self, event: AuditEvent) -> Result<(), ApiError> {
        let Some(store) = &self.store else { return Ok(()) };
        append_or_refuse(store.as_ref(), event).await
    }

    /// Starts appending one event and returns at once. The decision it records may take effect
    /// only after [`PendingRecord::committed`] says so; meanwhile the request goes on with
    /// work that sends nothing anywhere (screening, admission), so the commit's wait overlaps
    /// it, and the limits' reservation lands in the same group commit.
    pub fn record_pending(&self, event: AuditEvent) -> PendingRecord {
        let Some(store) = self.store.clone() else { return PendingRecord(None) };
        PendingRecord(Some(crate::background::spawn(async move { append_or_refuse(store.as_ref(), event).await })))
    }

    /// Appends without making anyone wait: for what happens after the answer has gone (a
    /// stream's outcome). A failure is logged; the request it records has already finished.
    pub fn record_later(&self, event: AuditEvent) {
        let Some(store) = self.store.clone() else { return };
        crate::background::spawn(async move {
            if let Err(error) = store.append_audit(vec![event]).await {
                tracing::error!(%error, "audit append failed for a finished request");
            }
        });
    }

    /// A refused credential. The refusal stands whether or not it could be recorded.
    pub async fn auth_refused(&self, error: &AuthError, path: &str, request_id: Option<String>) {
        let event = event(
            "auth",
            None,
            None,
            request_id,
            json!({ "decision": "deny", "reason": error.to_string(), "path": path }),
        );
        if self.record(event).await.is_err() {
            tracing::warn!(path, "an authentication refusal could not be audited");
        }
    }
}

/// Appends one event; a failure refuses the request it records (503).
async fn append_or_refuse(store: &dyn Store, event: AuditEvent) -> Result<(), ApiError> {
    store.append_audit(vec![event]).await.map(drop).map_err(|error| {
        tracing::error!(%error, "audit append failed; the request is refused");
        ApiError::AuditUnavailable { detail: error.to_string() }
    })
}

/// An audit append under way (see [`AuditTrail::record_pending`]).
#[must_use = "the decision may take effect only once its record has committed"]
pub struct PendingRecord(Option<tokio::task::JoinHandle<Result<(), ApiError>>>);

impl PendingRecord {
    /// Waits for the commit. `Err` (503) means the decision must not take effect.
    pub async fn committed(self) -> Result<(), ApiError> {
        let Some(append) = self.0 else { return Ok(()) };
        append.await.unwrap_or_else(|error| Err(ApiError::AuditUnavailable { detail: error.to_string() }))
    }

    /// Just before a call is sent: waits for the commit when `wait` (see
    /// [`AuditTrail::waits_before_send`]), else lets the call go out while it commits. What is
    /// returned must still be [`PendingRecord::committed`] before anything is answered.
    pub async fn before_send(self, wait: bool) -> Result<PendingRecord, ApiError> {
        if !wait {
            return Ok(self);
        }
        self.committed().await?;
        Ok(PendingRecord(None))
    }
}

/// An event stamped now.
pub fn event(
    kind: &str,
    tenant: Option<String>,
    actor: Option<String>,
    request_id: Option<String>,
    data: Value,
) -> AuditEvent {
    AuditEvent { time_unix_ms: unix_now_millis(), tenant, kind: kind.to_owned(), actor, request_id, data }
}

/// Signs a checkpoint of the log's head every `interval` when records were added since the
/// last one. Ends when the runtime stops.
pub fn spawn_checkpoints(store: Arc<dyn Store>, signer: Arc<AuditSigner>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        let mut last_size = 0;
        loop {
            ticker.tick().await;
            match checkpoint_now(store.as_ref(), &signer, last_size).await {
                Ok(size) => last_size = size,
                Err(error) => tracing::warn!(%error, "cannot write an audit checkpoint; will retry"),
            }
        }
    });
}

/// Signs and keeps a checkpoint of the current head if it grew past `last_size`; returns the
/// size now covered.
pub async fn checkpoint_now(
    store: &dyn Store,
    signer: &AuditSigner,
    last_size: u64,
) -> Result<u64, rampart_core::StoreError> {
    let head = store.audit_head().await?;
    if head.size == 0 || head.size <= last_size {
        return Ok(last_size.max(head.size));
    }
    let checkpoint = signer.sign_checkpoint(head.size, &head.root_hash, &head.head_hash, unix_now_millis());
    store.save_checkpoint(&checkpoint.into()).await?;
    Ok(head.size)
}
