//! The SQLite ledger, with group commit.
//!
//! Every commit of the store's file is synced to disk, which costs milliseconds; one commit per
//! reservation would cap the gateway at a few hundred requests a second. So one writer task
//! takes every reservation and adjustment queued at that moment, decides them in order in one
//! `BEGIN IMMEDIATE` transaction (each reservation sees what the earlier ones in the batch
//! added), commits once, and only then answers each caller. A failed batch answers every caller
//! in it with the error: nothing is acknowledged that was not committed.
//!
//! The writer owns nothing but a clone of the pool and the queue's receiving end. It ends when
//! the last handle to the store is dropped (the queue closes), and it takes one connection at a
//! time, so the one-connection pool of an in-memory database serves it too. Several processes
//! may share the file: SQLite's write lock serialises their writers.

use std::time::{Duration, Instant};

use rampart_core::{LimitCharge, ReserveOutcome, StoreError, unix_now_secs};
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use sqlx::QueryBuilder;

use super::{
    COUNTERS_PER_STATEMENT, CounterRow, CounterWrite, Counters, Lock, PRUNE_INTERVAL_SECS, distinct_counters,
    prune_before, push_select, push_write, select_statement, values_in_order,
};
use crate::query_error;
use crate::sqlite_write::{BEGIN, WriteTransaction};

/// The most operations one transaction decides.
const MAX_BATCH: usize = 256;
/// Callers wait to enqueue beyond this, so a stalled disk slows requests instead of growing
/// memory without bound.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;
const PRUNE_INTERVAL: Duration = Duration::from_secs(PRUNE_INTERVAL_SECS as u64);

/// The handle the store keeps: the sending end of the writer's queue.
#[derive(Debug, Clone)]
pub(crate) struct SqliteLedger {
    queue: mpsc::Sender<Operation>,
}

#[derive(Debug)]
enum Operation {
    Reserve { charges: Vec<LimitCharge>, reply: oneshot::Sender<Result<ReserveOutcome, StoreError>> },
    Adjust { charges: Vec<LimitCharge>, reply: oneshot::Sender<Result<(), StoreError>> },
}

impl Operation {
    fn charges(&self) -> &[LimitCharge] {
        match self {
            Operation::Reserve { charges, .. } | Operation::Adjust { charges, .. } => charges,
        }
    }

    /// A reservation whose caller has gone is not made: nobody would ever settle it. An
    /// adjustment is made all the same, since it records use that really happened.
    fn abandoned(&self) -> bool {
        match self {
            Operation::Reserve { reply, .. } => reply.is_closed(),
            Operation::Adjust { .. } => false,
        }
    }

    /// Answers the caller with what the batch decided for this operation (the outcome of a
    /// reservation, nothing for an adjustment) or the batch's error. A caller that has gone in
    /// the meantime is simply not told.
    fn answer(self, decided: Result<Option<ReserveOutcome>, &StoreError>) {
        match self {
            Operation::Reserve { reply, .. } => {
                let answer = match decided {
                    Ok(Some(outcome)) => Ok(outcome),
                    Ok(None) => Err(StoreError::Query {
                        detail: "the SQLite limit writer decided no outcome for a reservation".to_owned(),
                    }),
                    Err(error) => Err(error.clone()),
                };
                let _ = reply.send(answer);
            }
            Operation::Adjust { reply, .. } => {
                let _ = reply.send(decided.map(|_| ()).map_err(StoreError::clone));
            }
        }
    }
}

impl SqliteLedger {
    /// Starts the writer on the current Tokio runtime.
    pub(crate) fn start(pool: SqlitePool) -> Self {
        Self::start_writer(pool).0
    }

    fn start_writer(pool: SqlitePool) -> (Self, JoinHandle<()>) {
        let (queue, operations) = mpsc::channel(QUEUE_CAPACITY);
        let writer = tokio::spawn(write_batches(pool, operations));
        (Self { queue }, writer)
    }

    pub(crate) async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError> {
        if charges.is_empty() {
            return Ok(ReserveOutcome::Reserved);
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send(Operation::Reserve { charges: charges.to_vec(), reply }).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    pub(crate) async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError> {
        if charges.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send(Operation::Adjust { charges: charges.to_vec(), reply }).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

/// Reads straight from the pool: a committed value, never one a batch has yet to commit.
pub(crate) async fn read(pool: &SqlitePool, counters: &[(String, i64)]) -> Result<Vec<i64>, StoreError> {
    let mut stored = Vec::new();
    for chunk in counters.chunks(COUNTERS_PER_STATEMENT) {
        let keys = chunk.iter().map(|(counter, window_start)| (counter.as_str(), *window_start));
        let rows = select_statement(keys, Lock::None)
            .build_query_as::<CounterRow>()
            .fetch_all(pool)
            .await
            .map_err(query_error)?;
        stored.extend(rows);
    }
    Ok(values_in_order(counters, stored))
}

fn writer_gone() -> StoreError {
    StoreError::Query {
        detail: "the SQLite limit writer has stopped (is the runtime shutting down?); the request was not counted"
            .to_owned(),
    }
}

async fn write_batches(pool: SqlitePool, mut operations: mpsc::Receiver<Operation>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_prune: Option<Instant> = None;
    // 0 only once the queue is closed (every handle dropped) and empty.
    while operations.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if last_prune.is_none_or(|pruned| pruned.elapsed() >= PRUNE_INTERVAL) {
            last_prune = Some(Instant::now());
            prune(&pool).await;
        }
        batch.retain(|operation| !operation.abandoned());
        match decide_and_commit(&pool, &batch).await {
            Ok(outcomes) => {
                for (operation, outcome) in batch.drain(..).zip(outcomes) {
                    operation.answer(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::warn!(%error, operations = batch.len(), "SQLite limit counters could not be committed");
                for operation in batch.drain(..) {
                    operation.answer(Err(&error));
                }
            }
        }
    }
    tracing::debug!("SQLite limit writer stopped: the store was dropped");
}

/// One transaction for the whole batch; the outcome of each reservation (`None` for an
/// adjustment), in the batch's order, once committed.
async fn decide_and_commit(pool: &SqlitePool, batch: &[Operation]) -> Result<Vec<Option<ReserveOutcome>>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    // IMMEDIATE takes the write lock up front (waiting for another process's writer is covered
    // by busy_timeout), so the values read below cannot change before the commit. It goes with
    // the first read, and the commit with the writes: three round trips for a whole batch.
    let mut transaction = WriteTransaction::acquire(pool).await?;
    let touched = distinct_counters(batch.iter().flat_map(Operation::charges));
    let mut counters = Counters::default();
    let mut begun = false;
    for chunk in touched.chunks(COUNTERS_PER_STATEMENT) {
        let keys = chunk.iter().map(|row| (row.counter.as_str(), row.window_start));
        let mut statement = QueryBuilder::new(if begun { "" } else { BEGIN });
        push_select(&mut statement, keys, Lock::None);
        begun = true;
        let stored =
            statement.build_query_as::<CounterRow>().fetch_all(transaction.connection()?).await.map_err(query_error)?;
        counters.load(stored);
    }

    let outcomes = batch
        .iter()
        .map(|operation| match operation {
            Operation::Reserve { charges, .. } => Some(counters.reserve(charges)),
            Operation::Adjust { charges, .. } => {
                counters.adjust(charges);
                None
            }
        })
        .collect();

    let changed = counters.changed();
    let mut statement = QueryBuilder::new(if begun { "" } else { BEGIN });
    for chunk in changed.chunks(COUNTERS_PER_STATEMENT) {
        push_write(&mut statement, chunk, CounterWrite::Set);
        statement.push("; ");
    }
    statement.push("COMMIT");
    statement.build().execute(transaction.connection()?).await.map_err(query_error)?;
    transaction.committed();
    Ok(outcomes)
}

/// A transaction of its own before the batch's, so a failed prune never fails a caller.
async fn prune(pool: &SqlitePool) {
    let deleted = sqlx::query("DELETE FROM limit_counters WHERE window_end < ?")
        .bind(prune_before(unix_now_secs()))
        .execute(pool)
        .await;
    match deleted {
        Ok(result) => tracing::debug!(deleted = result.rows_affected(), "pruned expired SQLite limit counters"),
        Err(error) => tracing::warn!(error = %query_error(error), "expired SQLite limit counters could not be pruned"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::SqliteStore;

    fn charge(counter: &str, amount: i64, limit: i64) -> LimitCharge {
        let window_end = unix_now_secs() + 3600;
        LimitCharge { counter: counter.to_owned(), window_start: 0, window_end, amount, limit }
    }

    async fn memory_pool() -> SqlitePool {
        SqliteStore::open("sqlite::memory:").await.unwrap().pool().clone()
    }

    async fn used(pool: &SqlitePool, counter: &str) -> i64 {
        read(pool, &[(counter.to_owned(), 0)]).await.unwrap()[0]
    }

    #[tokio::test]
    async fn a_failed_batch_answers_every_caller_with_the_error_and_the_writer_carries_on() {
        let pool = memory_pool().await;
        let ledger = SqliteLedger::start(pool.clone());
        sqlx::query("ALTER TABLE limit_counters RENAME TO limit_counters_away").execute(&pool).await.unwrap();

        let attempts = (0..20).map(|index| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                if index % 2 == 0 {
                    ledger.reserve(&[charge("c", 1, 100)]).await.map(|_| ())
                } else {
                    ledger.adjust(&[charge("c", 1, 100)]).await
                }
            })
        });
        for attempt in attempts.collect::<Vec<_>>() {
            let answer = attempt.await.unwrap();
            assert!(
                matches!(answer, Err(StoreError::Query { ref detail }) if detail.contains("limit_counters")),
                "{answer:?}"
            );
        }

        sqlx::query("ALTER TABLE limit_counters_away RENAME TO limit_counters").execute(&pool).await.unwrap();
        assert_eq!(ledger.reserve(&[charge("c", 1, 100)]).await.unwrap(), ReserveOutcome::Reserved);
        assert_eq!(used(&pool, "c").await, 1, "nothing from the failed batches was kept");
    }

    #[tokio::test]
    async fn an_abandoned_reservation_is_skipped_without_failing_its_batch() {
        let pool = memory_pool().await;
        let (queue, operations) = mpsc::channel(QUEUE_CAPACITY);
        // Queued before the writer starts, so all three land in one batch.
        let (abandoned_reply, abandoned_answer) = oneshot::channel();
        queue.send(Operation::Reserve { charges: vec![charge("c", 5, 100)], reply: abandoned_reply }).await.unwrap();
        drop(abandoned_answer);
        let (adjust_reply, adjust_answer) = oneshot::channel();
        queue.send(Operation::Adjust { charges: vec![charge("c", 2, 100)], reply: adjust_reply }).await.unwrap();
        drop(adjust_answer);
        let (reserve_reply, reserve_answer) = oneshot::channel();
        queue.send(Operation::Reserve { charges: vec![charge("c", 1, 100)], reply: reserve_reply }).await.unwrap();

        let writer = tokio::spawn(write_batches(pool.clone(), operations));
        assert_eq!(reserve_answer.await.unwrap().unwrap(), ReserveOutcome::Reserved);
        assert_eq!(used(&pool, "c").await, 3, "the abandoned reservation is not made; the adjustment is");

        drop(queue);
        tokio::time::timeout(Duration::from_secs(5), writer).await.expect("writer ends").unwrap();
    }

    #[tokio::test]
    async fn the_writer_ends_when_the_last_handle_is_dropped() {
        let pool = memory_pool().await;
        let (ledger, writer) = SqliteLedger::start_writer(pool.clone());
        let copy = ledger.clone();
        drop(ledger);
        assert_eq!(copy.reserve(&[charge("c", 1, 1)]).await.unwrap(), ReserveOutcome::Reserved);
        drop(copy);
        tokio::time::timeout(Duration::from_secs(5), writer).await.expect("writer ends").unwrap();
    }

    #[tokio::test]
    async fn the_first_batch_prunes_counters_long_expired() {
        let pool = memory_pool().await;
        let now = unix_now_secs();
        for (counter, window_end) in [("expired", now - 2 * 3600), ("recent", now - 60)] {
            sqlx::query("INSERT INTO limit_counters (counter, window_start, window_end, used) VALUES (?, 0, ?, 7)")
                .bind(counter)
                .bind(window_end)
                .execute(&pool)
                .await
                .unwrap();
        }
        let ledger = SqliteLedger::start(pool.clone());
        ledger.adjust(&[charge("other", 1, 0)]).await.unwrap();
        assert_eq!(used(&pool, "expired").await, 0);
        assert_eq!(used(&pool, "recent").await, 7, "kept for an hour after its window, for late settlements");
    }
}
