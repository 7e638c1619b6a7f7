//! The request log writer: handlers hand entries over without waiting for the database;
//! one task writes them in batches, so a slow store never adds latency to a response.

use std::sync::Arc;
use std::time::Duration;

use rampart_core::{RequestLogEntry, Store};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

const QUEUE_CAPACITY: usize = 16 * 1024;
const BATCH_LIMIT: usize = 512;
const WRITE_ATTEMPTS: u32 = 3;
/// How long the writer gathers entries before a write. Fewer, larger transactions cut the
/// store's syscalls and fsyncs per request by an order of magnitude under load (BENCHMARKS.md).
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct RequestLogger {
    sender: mpsc::Sender<RequestLogEntry>,
}

impl RequestLogger {
    /// Starts the writer. It ends once every `RequestLogger` clone is dropped and the queue is
    /// written; await the handle at shutdown so nothing queued is lost.
    pub fn spawn(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> (RequestLogger, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer = tokio::spawn(write_batches(receiver, store, metrics));
        (RequestLogger { sender }, writer)
    }

    pub fn record(&self, entry: RequestLogEntry) {
        match self.sender.try_send(entry) {
            Ok(()) => {}
            // A full queue means the store is behind: wait for room off the request path
            // rather than drop the entry.
            Err(mpsc::error::TrySendError::Full(entry)) => {
                let sender = self.sender.clone();
                crate::background::spawn(async move {
                    let _ = sender.send(entry).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(entry)) => {
                tracing::warn!(request_id = %entry.request_id, "request log is closed; entry not recorded");
            }
        }
    }
}

/// Waits for an entry, lets more gather for [`FLUSH_INTERVAL`], then writes everything queued
/// in batches of at most [`BATCH_LIMIT`]. While it gathers it sleeps rather than waiting on
/// the queue: handlers run on the serving workers and this task does not, so each entry it
/// woke for would cost a thread wake-up, one per request.
async fn write_batches(mut receiver: mpsc::Receiver<RequestLogEntry>, store: Arc<dyn Store>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH_LIMIT);
    while receiver.recv_many(&mut batch, BATCH_LIMIT).await > 0 {
        tokio::time::sleep(FLUSH_INTERVAL).await;
        loop {
            take_queued(&mut receiver, &mut batch);
            if batch.is_empty() {
                break;
            }
            write_batch(&batch, store.as_ref(), &metrics).await;
            batch.clear();
        }
    }
}

/// Moves queued entries into `batch`, up to [`BATCH_LIMIT`], without waiting.
fn take_queued(receiver: &mut mpsc::Receiver<RequestLogEntry>, batch: &mut Vec<RequestLogEntry>) {
    while batch.len() < BATCH_LIMIT {
        let Ok(entry) = receiver.try_recv() else { break };
        batch.push(entry);
    }
}

/// Writes one batch, retrying a failed write a few times before counting it lost.
async fn write_batch(batch: &[RequestLogEntry], store: &dyn Store, metrics: &Metrics) {
    let mut attempt = 1;
    loop {
        match store.record_requests(batch).await {
            Ok(()) => return,
            Err(error) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(%error, attempt, entries = batch.len(), "request log write failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(error) => {
                metrics.request_log_failures.inc();
                tracing::error!(%error, entries = batch.len(), "request log write failed; entries dropped");
                return;
            }
        }
    }
}
