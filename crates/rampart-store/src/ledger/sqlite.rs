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
use sqlx::QueryBuilder;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::oneshot;

use super::{
    COUNTERS_PER_STATEMENT, CounterRow, CounterWrite, Counters, Lock, PRUNE_INTERVAL_SECS, distinct_counters,
    prune_before, push_select, push_write, select_statement, values_in_order,
};
use crate::query_error;
use crate::sqlite_writer::BEGIN;

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

/// Reads the counters `operations` touch, inside the round's transaction (opening it with the
/// first read unless `begun`), and decides each operation in order.
pub(crate) async fn decide(
    connection: &mut SqliteConnection,
    operations: &[Operation],
    begun: &mut bool,
) -> Result<Decisions, StoreError> {
    if operations.is_empty() {
        return Ok(Decisions::default());
    }
    let touched = distinct_counters(operations.iter().flat_map(Operation::charges));
    let mut counters = Counters::default();
    for chunk in touched.chunks(COUNTERS_PER_STATEMENT) {
        let keys = chunk.iter().map(|row| (row.counter.as_str(), row.window_start));
        let mut statement = QueryBuilder::new(if std::mem::replace(begun, true) { "" } else { BEGIN });
        push_select(&mut statement, keys, Lock::None);
        let stored = statement.build_query_as::<CounterRow>().fetch_all(&mut *connection).await.map_err(query_error)?;
        counters.load(stored);
    }
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

/// The decided counters' writes, each followed by `; `, appended to `statement`.
pub(crate) fn push_writes<'args>(statement: &mut QueryBuilder<'args, Sqlite>, changed: &'args [CounterRow]) {
    for chunk in changed.chunks(COUNTERS_PER_STATEMENT) {
        push_write(statement, chunk, CounterWrite::Set);
        statement.push("; ");
    }
}

/// A transaction of its own before the round's, so a failed prune never fails a caller.
pub(crate) async fn prune(pool: &SqlitePool) {
    let deleted = sqlx::query("DELETE FROM limit_counters WHERE window_end < ?")
        .bind(prune_before(unix_now_secs()))
        .execute(pool)
        .await;
    match deleted {
        Ok(result) => tracing::debug!(deleted = result.rows_affected(), "pruned expired SQLite limit counters"),
        Err(error) => tracing::warn!(error = %query_error(error), "expired SQLite limit counters could not be pruned"),
    }
}
