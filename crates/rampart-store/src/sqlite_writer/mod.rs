//! The SQLite store's one writer: a group commit shared by the audit log, the limit ledger and
//! the request log, on a thread of its own that owns its connection to the file.
//!
//! Every commit is synced to disk, and the file takes one writer at a time. With a writer per
//! table, a request's reservation, audit record and settlement were three commits queued behind
//! each other, each with its own sync. So the writer takes everything queued at that moment, of
//! all three kinds, writes it in one `BEGIN IMMEDIATE` transaction, commits once and only then
//! answers each caller. A failed round answers every caller in it with the error, and nothing
//! of it was kept. An audit append whose events cannot be sealed fails alone, before anything
//! is written.
//!
//! The writer talks to SQLite directly (rusqlite, over the same SQLite library sqlx links), not
//! through sqlx. sqlx runs each connection on a worker thread of its own, so every statement is
//! a round trip between threads (a couple of context switches, which on a small machine cost
//! more than the statement), and a statement whose text depends on the number of rows is
//! prepared afresh each round. Here one thread prepares each statement once, runs a whole round
//! without handing off to anyone, and wakes each caller when its round has committed. Callers
//! never block a runtime thread: they queue a job and await its answer.
//!
//! A round rewrites a page of every B-tree it touches, and that page write (plus its share of
//! the WAL checkpoint, and of the sync) is most of what a round costs: `request_log` alone has
//! six B-trees, so a round per request-log row would write six pages for one row. So the writes
//! nobody waits on before answering a client — small batches of request-log rows and limit
//! settlements — are held for up to [`LAZY_HOLD`] (or until [`LAZY_MAX_JOBS`] are held) and
//! committed together, with a round that is due anyway when there is one. A round of only such
//! writes, with nothing else queued, yields its core now and then ([`Pace`]). Reservations and
//! audit appends, which a request waits for, never wait for anything but the round in progress. A held write is still
//! acknowledged only once committed, and everything held is committed before the writer stops.
//!
//! The rest of the store (reads, keys, conversations, checkpoints) goes through sqlx's pools;
//! SQLite's file lock orders their writes with this one's, as it does another process's.

mod checkpoint;
mod round;

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rampart_core::{AuditEvent, LimitCharge, RequestLogEntry, ReserveOutcome, StoreError};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::ledger::sqlite::{self as ledger, Operation};

/// The most jobs one round takes.
const MAX_ROUND_JOBS: usize = 512;
/// Callers wait to enqueue beyond this, so a stalled disk slows requests instead of growing
/// memory without bound.
const QUEUE_CAPACITY: usize = 4096;
/// How long the writer waits for another connection's write lock before failing its round.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a write nobody waits on is held for a later round.
pub(crate) const LAZY_HOLD: Duration = Duration::from_millis(10);
/// Held writes are committed once this many are held.
const LAZY_MAX_JOBS: usize = 256;

/// The file the writer opens and how its commits reach the disk.
#[derive(Debug, Clone)]
pub(crate) struct WriterTarget {
    pub(crate) path: PathBuf,
    pub(crate) synchronous: Synchronous,
}

/// `PRAGMA synchronous` of the writer's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Synchronous {
    Full,
    Normal,
    /// A scratch database, deleted with the store.
    Off,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

impl WriterTarget {
    fn open(&self) -> Result<Connection, rusqlite::Error> {
        // NO_MUTEX: the connection never leaves the writer's thread.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "synchronous", self.synchronous.pragma())?;
        connection.pragma_update(None, "foreign_keys", true)?;
        Ok(connection)
    }
}

/// Runs `insert` once per row, with `sql` prepared once (and cached on the connection).
pub(crate) fn insert_each<T>(
    connection: &Connection,
    sql: &str,
    rows: &[T],
    pace: &mut Pace,
    mut insert: impl FnMut(&mut rusqlite::CachedStatement<'_>, &T) -> Result<usize, rusqlite::Error>,
) -> Result<(), rusqlite::Error> {
    let mut statement = connection.prepare_cached(sql)?;
    for row in rows {
        insert(&mut statement, row)?;
        pace.between_rows();
    }
    Ok(())
}

/// Whether a round may give its core away between rows.
///
/// A round of a few hundred request-log rows is a millisecond or more of CPU. A request handler
/// that woke on this thread's core waited for all of it: a 1.5 ms stall at every flush, the p99
/// of a gateway whose p50 is 0.5 ms (BENCHMARKS.md). Yielding now and then lets it run in
/// between; a yield with nothing else runnable returns at once.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// A caller waits for the round, or the queue already holds the next one: it runs straight
    /// through, since yielding under load would only delay callers or let a backlog grow.
    Urgent,
    /// Nobody waits and nothing is queued: it yields after every `YIELD_AFTER` of work, as long
    /// as it has spent less than `MAX_YIELDED_PER_WORKED` times its own work yielded, so a busy
    /// machine can slow such a round to a third of its speed but never stall the writer.
    Background { started: Instant, since: Instant, yielded: Duration },
}

const YIELD_AFTER: Duration = Duration::from_micros(150);
const MAX_YIELDED_PER_WORKED: u32 = 2;

/// Request-log jobs of at least this many rows are committed at once, not held.
const HOLD_REQUEST_ROWS_BELOW: usize = 64;

impl Pace {
    pub(crate) fn background() -> Self {
        let now = Instant::now();
        Pace::Background { started: now, since: now, yielded: Duration::ZERO }
    }

    fn between_rows(&mut self) {
        if let Pace::Background { started, since, yielded } = self
            && since.elapsed() >= YIELD_AFTER
            && *yielded < (started.elapsed() - *yielded) * MAX_YIELDED_PER_WORKED
        {
            let before = Instant::now();
            std::thread::yield_now();
            *since = Instant::now();
            *yielded += *since - before;
        }
    }
}

/// A SQLite error as the store reports it.
pub(crate) fn sqlite_error(error: rusqlite::Error) -> StoreError {
    StoreError::Query { detail: error.to_string() }
}

/// What a caller queues for the writer.
#[derive(Debug)]
enum Job {
    Limit(Operation),
    Audit { events: Vec<AuditEvent>, reply: AuditReply },
    Requests { entries: Vec<RequestLogEntry>, reply: RequestsReply },
}

impl Job {
    /// A write no client waits for (a few request-log rows, a settlement), which may be held for
    /// a later round. A request-log batch that is already large gains nothing from waiting, and
    /// the request logger sends its next batch only once this one is written.
    fn can_wait(&self) -> bool {
        match self {
            Job::Requests { entries, .. } => entries.len() < HOLD_REQUEST_ROWS_BELOW,
            Job::Limit(Operation::Adjust { .. }) => true,
            _ => false,
        }
    }
}

/// The store's handle: the sending end of the writer's queue. The writer's thread ends when the
/// last handle is dropped, once it has answered everything queued.
#[derive(Debug, Clone)]
pub(crate) struct SqliteWriter {
    queue: mpsc::Sender<Job>,
}

fn writer_gone() -> StoreError {
    StoreError::Query { detail: "the SQLite writer has stopped; nothing was written".to_owned() }
}

impl SqliteWriter {
    /// Opens the writer's connection to `target` on a new thread and starts the writer there.
    /// Errors say why the connection could not be opened.
    pub(crate) async fn start(target: WriterTarget) -> Result<(Self, JoinHandle<()>), String> {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let (opened, answer) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("rampart-sqlite-writer".to_owned())
            .spawn(move || match Writer::open(target) {
                Ok(writer) => {
                    let _ = opened.send(Ok(()));
                    run(writer, jobs);
                }
                Err(error) => {
                    let _ = opened.send(Err(error.to_string()));
                }
            })
            .map_err(|error| format!("cannot start the SQLite writer thread: {error}"))?;
        answer.await.map_err(|_| "the SQLite writer thread ended while opening its connection".to_owned())??;
        Ok((Self { queue }, thread))
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
    /// Only writes no caller waits for: request-log rows and settlements.
    fn nobody_waits(&self) -> bool {
        self.audit.is_empty() && self.limits.iter().all(|operation| matches!(operation, Operation::Adjust { .. }))
    }

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

    fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.audit.is_empty() && self.requests.is_empty()
    }

    fn answer(self, committed: round::Committed) {
        for (operation, outcome) in self.limits.into_iter().zip(committed.limits) {
            operation.answer(Ok(outcome));
        }
        for ((_, reply), outcome) in self.audit.into_iter().zip(committed.audit) {
            // A caller that stopped waiting still had its records committed.
            let _ = reply.send(outcome);
        }
        for (_, reply) in self.requests {
            let _ = reply.send(Ok(()));
        }
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

/// The writer's connection and what it needs to open it again.
struct Writer {
    connection: Connection,
    target: WriterTarget,
    /// `None` when its thread could not start: the writer's own commits then checkpoint, as
    /// SQLite does by default.
    checkpointer: Option<checkpoint::Checkpointer>,
}

impl Writer {
    fn open(target: WriterTarget) -> Result<Self, rusqlite::Error> {
        // With every commit synced, a checkpoint thread's syncs queue on the disk beside the
        // commits' own, and measured slower than SQLite's own checkpoints (see checkpoint.rs).
        let checkpointer = (target.synchronous != Synchronous::Full)
            .then(|| {
                checkpoint::Checkpointer::start(&target)
                    .inspect_err(|error| tracing::warn!(%error, "SQLite checkpoints stay on the writer's commits"))
                    .ok()
            })
            .flatten();
        let connection = Self::connect(&target, checkpointer.is_some())?;
        Ok(Self { connection, target, checkpointer })
    }

    fn connect(target: &WriterTarget, checkpointer: bool) -> Result<Connection, rusqlite::Error> {
        let connection = target.open()?;
        if checkpointer {
            connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        }
        Ok(connection)
    }

    /// After a failed round: a transaction SQLite did not roll back by itself (rusqlite rolls
    /// back on drop, but ignores a failure to) is rolled back now, and a connection that cannot
    /// is replaced, so the next round never starts inside the failed one.
    fn recover(&mut self) {
        if self.connection.is_autocommit() {
            return;
        }
        if self.connection.execute_batch("ROLLBACK").is_ok() && self.connection.is_autocommit() {
            return;
        }
        match Self::connect(&self.target, self.checkpointer.is_some()) {
            Ok(connection) => {
                tracing::warn!("the SQLite writer could not roll back a failed round; it reopened its connection");
                // The old connection rolls back as it closes.
                self.connection = connection;
            }
            Err(error) => tracing::error!(%error, "the SQLite writer cannot reopen its connection"),
        }
    }
}

/// What waiting on the queue gave.
enum Received {
    Job(Job),
    /// The held writes' deadline passed with nothing new.
    Due,
    Closed,
}

impl From<Option<Job>> for Received {
    fn from(job: Option<Job>) -> Self {
        job.map_or(Received::Closed, Received::Job)
    }
}

/// Jobs that can wait, held for a later round (see the module's docs).
#[derive(Default)]
struct Held {
    jobs: Vec<Job>,
    since: Option<Instant>,
}

impl Held {
    fn hold(&mut self, job: Job) {
        self.since.get_or_insert_with(Instant::now);
        self.jobs.push(job);
    }

    fn due(&self) -> bool {
        self.jobs.len() >= LAZY_MAX_JOBS || self.since.is_some_and(|since| since.elapsed() >= LAZY_HOLD)
    }

    /// Everything held, for this round.
    fn release(&mut self, into: &mut Vec<Job>) {
        self.since = None;
        into.append(&mut self.jobs);
    }
}

fn run(mut writer: Writer, mut queue: mpsc::Receiver<Job>) {
    // Only to wait on the queue with a deadline; the rounds themselves run on this thread.
    let waiter = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(waiter) => waiter,
        Err(error) => {
            tracing::error!(%error, "the SQLite writer cannot start its timer; it holds no writes back");
            return run_rounds(&mut writer, &mut queue, None);
        }
    };
    run_rounds(&mut writer, &mut queue, Some(&waiter));
}

/// Takes rounds off `queue` until it is closed and empty. Without `waiter`, nothing is held.
fn run_rounds(writer: &mut Writer, queue: &mut mpsc::Receiver<Job>, waiter: Option<&tokio::runtime::Runtime>) {
    let mut jobs = Vec::with_capacity(MAX_ROUND_JOBS);
    let mut held = Held::default();
    let mut last_prune: Option<Instant> = None;
    // The audit head this writer last committed: the next round appends after it without
    // reading it back. Another process appending to the same file takes the next seq first,
    // so this writer's first insert then collides on the primary key, the round rolls back,
    // and it is tried again after a fresh read.
    let mut known_head: Option<round::AuditHead> = None;
    loop {
        let received = match (waiter, held.since) {
            (Some(waiter), Some(since)) => {
                let deadline = tokio::time::Instant::from_std(since + LAZY_HOLD);
                // The timer is made inside `block_on`, where the runtime's clock is.
                match waiter.block_on(async { tokio::time::timeout_at(deadline, queue.recv()).await }) {
                    Ok(received) => Received::from(received),
                    Err(_) => Received::Due,
                }
            }
            _ => Received::from(queue.blocking_recv()),
        };
        // Closed: every handle was dropped and the queue is empty. What is held is committed,
        // and the writer ends.
        let closed = matches!(received, Received::Closed);
        if let Received::Job(job) = received {
            jobs.push(job);
        }
        while jobs.len() < MAX_ROUND_JOBS {
            let Ok(job) = queue.try_recv() else { break };
            jobs.push(job);
        }
        let mut urgent = Vec::with_capacity(jobs.len());
        for job in jobs.drain(..) {
            if waiter.is_some() && !closed && job.can_wait() {
                held.hold(job);
            } else {
                urgent.push(job);
            }
        }
        if closed || held.due() {
            held.release(&mut urgent);
        }
        let round = Round::take(&mut urgent);
        if !round.is_empty() {
            let pace = if round.nobody_waits() && queue.is_empty() { Pace::background() } else { Pace::Urgent };
            commit_round(writer, round, pace, &mut known_head, &mut last_prune);
        }
        if closed {
            break;
        }
    }
    tracing::debug!("SQLite writer stopped: the store was dropped");
}

/// Commits one round and answers its callers.
fn commit_round(
    writer: &mut Writer,
    round: Round,
    pace: Pace,
    known_head: &mut Option<round::AuditHead>,
    last_prune: &mut Option<Instant>,
) {
    if !round.limits.is_empty() && last_prune.is_none_or(|pruned| pruned.elapsed() >= ledger::PRUNE_INTERVAL) {
        *last_prune = Some(Instant::now());
        ledger::prune(&writer.connection);
    }
    let trusted_known_head = known_head.is_some() && !round.audit.is_empty();
    let mut result = round::commit(&mut writer.connection, &round, known_head.take(), pace);
    if result.is_err() && trusted_known_head {
        // Perhaps stale: the same round once more, from the head as stored.
        writer.recover();
        result = round::commit(&mut writer.connection, &round, None, Pace::Urgent);
    }
    match result {
        Ok((committed, head)) => {
            *known_head = head;
            if let Some(checkpointer) = &writer.checkpointer {
                checkpointer.committed();
            }
            round.answer(committed);
        }
        Err(error) => {
            tracing::error!(%error, "SQLite write failed; the limits, audit records and request-log rows it carried are refused");
            writer.recover();
            round.fail(&error);
        }
    }
}

#[cfg(test)]
mod tests;
