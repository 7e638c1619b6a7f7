//! The SQLite store's one writer: a group commit shared by the audit log, the limit ledger and
//! the request log, in as few round trips as sqlx allows.
//!
//! Every commit is synced to disk, and the file takes one writer at a time. With a writer per
//! table, a request's reservation, audit record and settlement were three commits queued behind
//! each other on the one write connection, each with its own sync. So one task takes
//! everything queued at that moment, of all three kinds, writes it in one `BEGIN IMMEDIATE`
//! transaction, commits once and only then answers each caller. A failed round answers every
//! caller in it with the error, and nothing of it was kept. An audit append whose events cannot
//! be sealed fails alone, before anything is written.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement is a round trip
//! between threads: a couple of context switches, which on a small machine cost more than the
//! statement. So a round opens its transaction with `BEGIN IMMEDIATE` in the same call as its
//! first read, and sends every write and the `COMMIT` in one last call: three round trips for a
//! round with limits and audit records, one for request-log rows alone.
//!
//! sqlx's own `Transaction` cannot span such calls, so [`WriteTransaction`] stands in for it:
//! the connection goes straight back to the pool once the `COMMIT` has run. Dropped before that
//! (an error, a cancelled future), it rolls back first, in a task of its own that holds the
//! connection until then, so the next writer never finds a transaction left open. Should the
//! rollback itself fail, the connection is closed instead (SQLite rolls back on close).

use std::time::Instant;

use rampart_core::{AuditEvent, LimitCharge, RequestLogEntry, ReserveOutcome, StoreError};
use sqlx::QueryBuilder;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::audit::{INSERT_CHUNK_ROWS as AUDIT_CHUNK_ROWS, SELECT_HEAD, SealedRow};
use crate::ledger::sqlite::{self as ledger, Operation};
use crate::query_error;
use crate::request_log::{self, INSERT_CHUNK_ROWS as REQUEST_CHUNK_ROWS};

/// The most jobs one round takes.
const MAX_ROUND_JOBS: usize = 512;
/// Callers wait to enqueue beyond this, so a stalled disk slows requests instead of growing
/// memory without bound.
const QUEUE_CAPACITY: usize = 4096;

/// Prefixed to a transaction's first statement.
pub(crate) const BEGIN: &str = "BEGIN IMMEDIATE; ";

/// The writer connection while a transaction may be open on it.
pub(crate) struct WriteTransaction {
    connection: Option<PoolConnection<Sqlite>>,
}

impl WriteTransaction {
    /// Takes the writer connection. No transaction is open yet: the caller's first statement
    /// starts with [`BEGIN`].
    pub(crate) async fn acquire(write_pool: &SqlitePool) -> Result<Self, StoreError> {
        Ok(Self { connection: Some(write_pool.acquire().await.map_err(query_error)?) })
    }

    pub(crate) fn connection(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.connection
            .as_deref_mut()
            .ok_or_else(|| StoreError::Query { detail: "the SQLite write transaction has ended".to_owned() })
    }

    /// The statement ending in [`COMMIT`] succeeded: the connection goes back to the pool.
    pub(crate) fn committed(mut self) {
        self.connection.take();
    }
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(connection.detach());
            return;
        };
        runtime.spawn(async move {
            match sqlx::query("ROLLBACK").execute(&mut *connection).await {
                Ok(_) => {}
                // The statement that failed was the BEGIN, or SQLite already rolled back.
                Err(error) if error.to_string().contains("no transaction is active") => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot roll back a failed SQLite write; closing its connection");
                    drop(connection.detach());
                }
            }
        });
    }
}

/// What a caller queues for the writer.
#[derive(Debug)]
enum Job {
    Limit(Operation),
    Audit { events: Vec<AuditEvent>, reply: AuditReply },
    Requests { entries: Vec<RequestLogEntry>, reply: RequestsReply },
}

/// The store's handle: the sending end of the writer's queue. The writer ends when the last
/// handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct SqliteWriter {
    queue: mpsc::Sender<Job>,
}

fn writer_gone() -> StoreError {
    StoreError::Query {
        detail: "the SQLite writer has stopped (is the runtime shutting down?); nothing was written".to_owned(),
    }
}

impl SqliteWriter {
    /// Starts the writer on the current Tokio runtime, writing through `write_pool`.
    pub(crate) fn start(write_pool: SqlitePool) -> (Self, JoinHandle<()>) {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        (Self { queue }, tokio::spawn(run(write_pool, jobs)))
    }

    async fn submit<T>(&self, job: Job, answer: oneshot::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
        self.queue.send(job).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    pub(crate) async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError> {
        if charges.is_empty() {
            return Ok(ReserveOutcome::Reserved);
        }
        let (operation, answer) = Operation::reserve(charges);
        self.submit(Job::Limit(operation), answer).await
    }

    pub(crate) async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError> {
        if charges.is_empty() {
            return Ok(());
        }
        let (operation, answer) = Operation::adjust(charges);
        self.submit(Job::Limit(operation), answer).await
    }

    /// Appends audit events; their seqs once committed.
    pub(crate) async fn append(&self, events: Vec<AuditEvent>) -> Result<Vec<u64>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Audit { events, reply }, answer).await
    }

    pub(crate) async fn record_requests(&self, entries: &[RequestLogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Requests { entries: entries.to_vec(), reply }, answer).await
    }
}

/// Where an audit append's seqs (or why it failed) go.
type AuditReply = oneshot::Sender<Result<Vec<u64>, StoreError>>;
/// Where a request-log write's result goes.
type RequestsReply = oneshot::Sender<Result<(), StoreError>>;

/// One round's jobs, by kind, in queue order.
#[derive(Default)]
struct Round {
    limits: Vec<Operation>,
    audit: Vec<(Vec<AuditEvent>, AuditReply)>,
    requests: Vec<(Vec<RequestLogEntry>, RequestsReply)>,
}

impl Round {
    fn take(jobs: &mut Vec<Job>) -> Self {
        let mut round = Round::default();
        for job in jobs.drain(..) {
            match job {
                // A reservation whose caller has gone is not made: nobody would settle it.
                Job::Limit(operation) if operation.abandoned() => {}
                Job::Limit(operation) => round.limits.push(operation),
                Job::Audit { events, reply } => round.audit.push((events, reply)),
                Job::Requests { entries, reply } => round.requests.push((entries, reply)),
            }
        }
        round
    }

    fn fail(self, error: &StoreError) {
        for operation in self.limits {
            operation.answer(Err(error));
        }
        for (_, reply) in self.audit {
            let _ = reply.send(Err(error.clone()));
        }
        for (_, reply) in self.requests {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

/// The audit chain's head as stored: `audit_head`'s size and chain (hex).
struct AuditHead {
    size: i64,
    chain_hex: String,
}

/// What a committed round answers.
struct Committed {
    limits: Vec<Option<ReserveOutcome>>,
    audit: Vec<Result<Vec<u64>, StoreError>>,
}

async fn run(write_pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_ROUND_JOBS);
    let mut last_prune: Option<Instant> = None;
    // The audit head this writer last committed: the next round appends after it without
    // reading it back. Another process appending to the same file takes the next seq first,
    // so this writer's first insert then collides on the primary key, the round rolls back,
    // and it is tried again after a fresh read.
    let mut known_head: Option<AuditHead> = None;
    // 0 only once the queue is closed (every handle dropped) and empty.
    while queue.recv_many(&mut jobs, MAX_ROUND_JOBS).await > 0 {
        let round = Round::take(&mut jobs);
        if !round.limits.is_empty() && last_prune.is_none_or(|pruned| pruned.elapsed() >= ledger::PRUNE_INTERVAL) {
            last_prune = Some(Instant::now());
            ledger::prune(&write_pool).await;
        }
        let trusted_known_head = known_head.is_some() && !round.audit.is_empty();
        let mut result = commit(&write_pool, &round, known_head.take()).await;
        if result.is_err() && trusted_known_head {
            // Perhaps stale: the same round once more, from the head as stored.
            result = commit(&write_pool, &round, None).await;
        }
        match result {
            Ok((committed, head)) => {
                known_head = head;
                for (operation, outcome) in round.limits.into_iter().zip(committed.limits) {
                    operation.answer(Ok(outcome));
                }
                for ((_, reply), outcome) in round.audit.into_iter().zip(committed.audit) {
                    // A caller that stopped waiting still had its records committed.
                    let _ = reply.send(outcome);
                }
                for (_, reply) in round.requests {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, "SQLite write failed; the limits, audit records and request-log rows it carried are refused");
                round.fail(&error);
            }
        }
    }
    tracing::debug!("SQLite writer stopped: the store was dropped");
}

/// The round in one transaction: the limit counters' reads and, unless `known_head` gives it,
/// the audit head's read (the first of them opening the transaction), then every write and the
/// commit in one statement. Returns the audit head it left (or `known_head`, when the round
/// appended nothing).
async fn commit(
    write_pool: &SqlitePool,
    round: &Round,
    known_head: Option<AuditHead>,
) -> Result<(Committed, Option<AuditHead>), StoreError> {
    let mut transaction = WriteTransaction::acquire(write_pool).await?;
    let mut begun = false;
    let decisions = ledger::decide(transaction.connection()?, &round.limits, &mut begun).await?;

    let mut sealed_rows: Vec<SealedRow> = Vec::new();
    let mut audit_outcomes = Vec::with_capacity(round.audit.len());
    let mut head = known_head;
    if !round.audit.is_empty() {
        let stored = match head.take() {
            Some(known) => known,
            None => {
                let prefix = if std::mem::replace(&mut begun, true) { "" } else { BEGIN };
                let (size, chain_hex): (i64, String) = sqlx::query_as(&format!("{prefix}{SELECT_HEAD}"))
                    .fetch_one(transaction.connection()?)
                    .await
                    .map_err(query_error)?;
                AuditHead { size, chain_hex }
            }
        };
        let mut chain = crate::audit::chain_from_head(stored.size, &stored.chain_hex)?;
        let (rows, outcomes) = crate::audit::seal_batch(&mut chain, round.audit.iter().map(|(events, _)| events));
        sealed_rows = rows;
        audit_outcomes = outcomes;
        head = Some(AuditHead { size: crate::audit::stored_size(&chain), chain_hex: hex::encode(chain.to_bytes()) });
    }
    let appended = !sealed_rows.is_empty();

    let mut statement = QueryBuilder::<Sqlite>::new(if begun { "" } else { BEGIN });
    ledger::push_writes(&mut statement, &decisions.changed);
    for chunk in sealed_rows.chunks(AUDIT_CHUNK_ROWS) {
        crate::audit::push_insert(&mut statement, chunk);
        statement.push("; ");
    }
    if let Some(AuditHead { size, chain_hex }) = head.as_ref().filter(|_| appended) {
        statement
            .push("UPDATE audit_head SET size = ")
            .push_bind(*size)
            .push(", chain = ")
            .push_bind(chain_hex.as_str())
            .push(" WHERE id = 1; ");
    }
    for (entries, _) in &round.requests {
        for chunk in entries.chunks(REQUEST_CHUNK_ROWS) {
            request_log::push_insert(&mut statement, chunk);
            statement.push("; ");
        }
    }
    statement.push("COMMIT");
    statement.build().execute(transaction.connection()?).await.map_err(query_error)?;
    transaction.committed();
    Ok((Committed { limits: decisions.outcomes, audit: audit_outcomes }, head))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::Duration;

    use rampart_core::{AuditLog, unix_now_millis, unix_now_secs};

    use super::*;
    use crate::SqliteStore;

    fn charge(counter: &str, amount: i64, limit: i64) -> LimitCharge {
        let window_end = unix_now_secs() + 3600;
        LimitCharge { counter: counter.to_owned(), window_start: 0, window_end, amount, limit }
    }

    fn event(kind: &str) -> AuditEvent {
        AuditEvent {
            time_unix_ms: unix_now_millis(),
            tenant: Some("t".to_owned()),
            kind: kind.to_owned(),
            actor: None,
            request_id: None,
            data: serde_json::json!({"n": 1}),
        }
    }

    async fn memory_store() -> (SqliteStore, SqlitePool) {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let pool = store.pool().clone();
        (store, pool)
    }

    async fn used(pool: &SqlitePool, counter: &str) -> i64 {
        ledger::read(pool, &[(counter.to_owned(), 0)]).await.unwrap()[0]
    }

    #[tokio::test]
    async fn a_failed_round_answers_every_caller_with_the_error_and_the_writer_carries_on() {
        let (store, pool) = memory_store().await;
        let (writer, _) = SqliteWriter::start(pool.clone());
        sqlx::query("ALTER TABLE limit_counters RENAME TO limit_counters_away").execute(&pool).await.unwrap();

        let attempts = (0..20).map(|index| {
            let writer = writer.clone();
            tokio::spawn(async move {
                match index % 3 {
                    0 => writer.reserve(&[charge("c", 1, 100)]).await.map(|_| ()),
                    1 => writer.adjust(&[charge("c", 1, 100)]).await,
                    _ => writer.append(vec![event("decision")]).await.map(|_| ()),
                }
            })
        });
        for attempt in attempts.collect::<Vec<_>>() {
            let answer = attempt.await.unwrap();
            // An audit append alone in a round commits; one that shared a round with the
            // limits fails with them.
            if let Err(error) = answer {
                assert!(
                    matches!(error, StoreError::Query { ref detail } if detail.contains("limit_counters")),
                    "{error:?}"
                );
            }
        }

        sqlx::query("ALTER TABLE limit_counters_away RENAME TO limit_counters").execute(&pool).await.unwrap();
        assert_eq!(writer.reserve(&[charge("c", 1, 100)]).await.unwrap(), ReserveOutcome::Reserved);
        assert_eq!(used(&pool, "c").await, 1, "nothing from the failed rounds was kept");
        let head = store.audit_head().await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&pool).await.unwrap();
        assert_eq!(u64::try_from(rows).unwrap(), head.size, "the head counts exactly the committed records");
    }

    #[tokio::test]
    async fn limits_audit_records_and_request_rows_commit_together() {
        let (store, pool) = memory_store().await;
        let (writer, _) = SqliteWriter::start(pool.clone());
        let entry = RequestLogEntry {
            id: "r1".to_owned(),
            request_id: "q1".to_owned(),
            time_unix_ms: unix_now_millis(),
            endpoint: "chat.completions".to_owned(),
            model: "m".to_owned(),
            backend: "b".to_owned(),
            status: 200,
            stream: false,
            tokens_in: 3,
            tokens_out: 4,
            latency_ms: 5,
            cost_usd: 0.0,
            error: None,
            api_key_id: None,
            tenant: Some("t".to_owned()),
            user: None,
        };
        let charges = [charge("c", 2, 100)];
        let (reserved, appended, logged) = tokio::join!(
            writer.reserve(&charges),
            writer.append(vec![event("decision"), event("outcome")]),
            writer.record_requests(std::slice::from_ref(&entry)),
        );
        assert_eq!(reserved.unwrap(), ReserveOutcome::Reserved);
        assert_eq!(appended.unwrap(), vec![1, 2]);
        logged.unwrap();
        assert_eq!(used(&pool, "c").await, 2);
        assert_eq!(store.audit_head().await.unwrap().size, 2);
        let rows: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM request_log WHERE id = 'r1'").fetch_one(&pool).await.unwrap();
        assert_eq!(rows, 1);
    }

    #[tokio::test]
    async fn an_abandoned_reservation_is_skipped_without_failing_its_round() {
        let (_store, pool) = memory_store().await;
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        // Queued before the writer starts, so all three land in one round.
        let (abandoned, abandoned_answer) = Operation::reserve(&[charge("c", 5, 100)]);
        queue.send(Job::Limit(abandoned)).await.unwrap();
        drop(abandoned_answer);
        let (adjustment, adjustment_answer) = Operation::adjust(&[charge("c", 2, 100)]);
        queue.send(Job::Limit(adjustment)).await.unwrap();
        drop(adjustment_answer);
        let (reservation, reservation_answer) = Operation::reserve(&[charge("c", 1, 100)]);
        queue.send(Job::Limit(reservation)).await.unwrap();

        let writer = tokio::spawn(run(pool.clone(), jobs));
        assert_eq!(reservation_answer.await.unwrap().unwrap(), ReserveOutcome::Reserved);
        assert_eq!(used(&pool, "c").await, 3, "the abandoned reservation is not made; the adjustment is");

        drop(queue);
        tokio::time::timeout(Duration::from_secs(5), writer).await.expect("writer ends").unwrap();
    }

    #[tokio::test]
    async fn the_writer_ends_when_the_last_handle_is_dropped() {
        let (_store, pool) = memory_store().await;
        let (writer, task) = SqliteWriter::start(pool.clone());
        let copy = writer.clone();
        drop(writer);
        assert_eq!(copy.reserve(&[charge("c", 1, 1)]).await.unwrap(), ReserveOutcome::Reserved);
        drop(copy);
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("writer ends").unwrap();
    }

    #[tokio::test]
    async fn the_first_round_with_limits_prunes_counters_long_expired() {
        let (_store, pool) = memory_store().await;
        let now = unix_now_secs();
        for (counter, window_end) in [("expired", now - 2 * 3600), ("recent", now - 60)] {
            sqlx::query("INSERT INTO limit_counters (counter, window_start, window_end, used) VALUES (?, 0, ?, 7)")
                .bind(counter)
                .bind(window_end)
                .execute(&pool)
                .await
                .unwrap();
        }
        let (writer, _) = SqliteWriter::start(pool.clone());
        writer.adjust(&[charge("other", 1, 0)]).await.unwrap();
        assert_eq!(used(&pool, "expired").await, 0);
        assert_eq!(used(&pool, "recent").await, 7, "kept for an hour after its window, for late settlements");
    }
}
