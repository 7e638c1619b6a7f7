//! The SQLite ledger's decisions, made inside the store's group commit.
//!
//! Every commit of the store's file is synced to disk, which costs milliseconds; one commit per
//! reservation would cap the gateway at a few hundred requests a second. So the store's one
//! writer ([`crate::sqlite_writer`]) takes every reservation and adjustment queued at that
//! moment (with the audit appends and request-log rows queued beside them), decides them in
//! order in one `BEGIN IMMEDIATE` transaction (each reservation sees what the earlier ones in
//! the round added), commits once, and only then answers each caller. A failed round answers
//! every caller in it with the error: nothing is acknowledged that was not committed. Several
//! processes may share the file: SQLite's write lock serialises their writers.

use std::time::Duration;

use rampart_core::{LimitCharge, ReserveOutcome, StoreError, unix_now_secs};
use rusqlite::{Connection, OptionalExtension, params};
use sqlx::sqlite::SqlitePool;
use tokio::sync::oneshot;

use super::{
    COUNTERS_PER_STATEMENT, CounterRow, Counters, Lock, PRUNE_INTERVAL_SECS, distinct_counters, prune_before,
    select_statement, values_in_order,
};
use crate::query_error;

/// One counter, by its key, inside the writer's transaction.
const SELECT_COUNTER: &str = "SELECT window_end, used FROM limit_counters WHERE counter = ?1 AND window_start = ?2";
/// Sets a counter's value; an existing row keeps its `window_end`.
const SET_COUNTER: &str = "INSERT INTO limit_counters (counter, window_start, window_end, used) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (counter, window_start) DO UPDATE SET used = excluded.used";
const PRUNE: &str = "DELETE FROM limit_counters WHERE window_end < ?1";

/// How often the writer deletes counters long expired.
pub(crate) const PRUNE_INTERVAL: Duration = Duration::from_secs(PRUNE_INTERVAL_SECS as u64);

/// One limit operation queued for the writer.
#[derive(Debug)]
pub(crate) enum Operation {
    Reserve { charges: Vec<LimitCharge>, reply: oneshot::Sender<Result<ReserveOutcome, StoreError>> },
    Adjust { charges: Vec<LimitCharge>, reply: oneshot::Sender<Result<(), StoreError>> },
}

impl Operation {
    pub(crate) fn charges(&self) -> &[LimitCharge] {
        match self {
            Operation::Reserve { charges, .. } | Operation::Adjust { charges, .. } => charges,
        }
    }

    /// A reservation whose caller has gone is not made: nobody would ever settle it. An
    /// adjustment is made all the same, since it records use that really happened.
    pub(crate) fn abandoned(&self) -> bool {
        match self {
            Operation::Reserve { reply, .. } => reply.is_closed(),
            Operation::Adjust { .. } => false,
        }
    }

    /// Answers the caller with what the batch decided for this operation (the outcome of a
    /// reservation, nothing for an adjustment) or the batch's error. A caller that has gone in
    /// the meantime is simply not told.
    pub(crate) fn answer(self, decided: Result<Option<ReserveOutcome>, &StoreError>) {
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

impl Operation {
    /// A reservation and the receiving end of its answer.
    pub(crate) fn reserve(charges: &[LimitCharge]) -> (Self, oneshot::Receiver<Result<ReserveOutcome, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        (Operation::Reserve { charges: charges.to_vec(), reply }, answer)
    }

    /// An adjustment and the receiving end of its answer.
    pub(crate) fn adjust(charges: &[LimitCharge]) -> (Self, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = oneshot::channel();
        (Operation::Adjust { charges: charges.to_vec(), reply }, answer)
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

/// What a round decided for its limit operations.
#[derive(Debug, Default)]
pub(crate) struct Decisions {
    /// Per operation, in order: a reservation's outcome, `None` for an adjustment.
    pub(crate) outcomes: Vec<Option<ReserveOutcome>>,
    /// The counters to write back.
    pub(crate) changed: Vec<CounterRow>,
}

/// Reads the counters `operations` touch, inside the writer's transaction, and decides each
/// operation in order.
pub(crate) fn decide(connection: &Connection, operations: &[Operation]) -> Result<Decisions, rusqlite::Error> {
    if operations.is_empty() {
        return Ok(Decisions::default());
    }
    let mut select = connection.prepare_cached(SELECT_COUNTER)?;
    let mut stored = Vec::new();
    for row in distinct_counters(operations.iter().flat_map(Operation::charges)) {
        let found = select
            .query_row(params![row.counter, row.window_start], |found| Ok((found.get(0)?, found.get(1)?)))
            .optional()?;
        if let Some((window_end, used)) = found {
            stored.push(CounterRow { counter: row.counter, window_start: row.window_start, window_end, used });
        }
    }
    let mut counters = Counters::default();
    counters.load(stored);
    let outcomes = operations
        .iter()
        .map(|operation| match operation {
            Operation::Reserve { charges, .. } => Some(counters.reserve(charges)),
            Operation::Adjust { charges, .. } => {
                counters.adjust(charges);
                None
            }
        })
        .collect();
    Ok(Decisions { outcomes, changed: counters.changed() })
}

/// Writes the decided counters back.
pub(crate) fn write(connection: &Connection, changed: &[CounterRow]) -> Result<(), rusqlite::Error> {
    crate::sqlite_writer::insert_each(
        connection,
        SET_COUNTER,
        changed,
        &mut crate::sqlite_writer::Pace::Urgent,
        |set, row| set.execute(params![row.counter, row.window_start, row.window_end, row.used]),
    )
}

/// A transaction of its own before the round's, so a failed prune never fails a caller.
pub(crate) fn prune(connection: &Connection) {
    match connection.execute(PRUNE, [prune_before(unix_now_secs())]) {
        Ok(deleted) => tracing::debug!(deleted, "pruned expired SQLite limit counters"),
        Err(error) => tracing::warn!(%error, "expired SQLite limit counters could not be pruned"),
    }
}
