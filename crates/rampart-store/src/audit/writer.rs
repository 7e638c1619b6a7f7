//! Group commit for the audit log.
//!
//! Every append must be committed (and synced) before the request it records may go on, and a
//! commit costs a disk sync. So one writer task takes every append queued at that moment,
//! seals them into the chain in one transaction, commits once, and only then answers each
//! caller with its records' seqs. An append whose events cannot be sealed fails alone; a
//! failed transaction fails every append in it, and nothing of it was kept.

use std::future::Future;
use std::pin::Pin;

use rampart_core::{AuditEvent, StoreError};
use tokio::sync::{mpsc, oneshot};

/// The most events one transaction seals.
const MAX_BATCH_EVENTS: usize = 1024;
/// Appenders wait to enqueue beyond this, so a stalled disk slows requests instead of growing
/// memory without bound.
const QUEUE_CAPACITY: usize = 4096;

/// What the writer hands an engine: the appends of one transaction, in queue order.
pub(crate) type Batch = Vec<Vec<AuditEvent>>;
/// Per append: its seqs, or why it alone could not be sealed. `Err` for the whole batch when
/// the transaction failed.
pub(crate) type BatchOutcome = Result<Vec<Result<Vec<u64>, StoreError>>, StoreError>;
pub(crate) type CommitFuture = Pin<Box<dyn Future<Output = BatchOutcome> + Send>>;

struct Pending {
    events: Vec<AuditEvent>,
    reply: oneshot::Sender<Result<Vec<u64>, StoreError>>,
}

/// The store's handle: the sending end of the writer's queue. The writer ends when the last
/// handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Pending").field("events", &self.events.len()).finish()
    }
}

impl AuditWriter {
    /// Starts the writer on the current Tokio runtime; `commit` seals and writes one batch in
    /// one transaction.
    pub(crate) fn start(commit: impl Fn(Batch) -> CommitFuture + Send + 'static) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(receiver, commit));
        AuditWriter { queue }
    }

    pub(crate) async fn append(&self, events: Vec<AuditEvent>) -> Result<Vec<u64>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Query { detail: "the audit writer has stopped".to_owned() };
        self.queue.send(Pending { events, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(mut receiver: mpsc::Receiver<Pending>, commit: impl Fn(Batch) -> CommitFuture) {
    while let Some(first) = receiver.recv().await {
        let mut events = first.events.len();
        let mut pending = vec![first];
        while events < MAX_BATCH_EVENTS {
            match receiver.try_recv() {
                Ok(next) => {
                    events += next.events.len();
                    pending.push(next);
                }
                Err(_) => break,
            }
        }
        let (batch, replies): (Batch, Vec<_>) = pending.into_iter().map(|item| (item.events, item.reply)).unzip();
        match commit(batch).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller that stopped waiting still had its records committed.
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, appends = replies.len(), "audit log write failed; the requests it recorded fail");
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
