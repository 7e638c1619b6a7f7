//! The PostgreSQL ledger: one short transaction per reservation, on locked rows.
//!
//! A reservation creates its missing rows at 0, locks every row it touches (`FOR UPDATE`),
//! decides, and writes the new values, all in one transaction. Rows are always created and
//! locked in one order (counter bytes, then window start; the column's collation is "C"), so
//! two reservations over the same counters wait for each other instead of deadlocking, whatever
//! order their charges came in. Any number of gateway processes may share the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use rampart_core::{LimitCharge, ReserveOutcome, StoreError, unix_now_secs};
use sqlx::postgres::PgPool;

use super::{
    COUNTERS_PER_STATEMENT, CounterRow, CounterWrite, Counters, Lock, PRUNE_INTERVAL_SECS, distinct_counters,
    prune_before, select_statement, values_in_order, write_statement,
};
use crate::query_error;

#[derive(Debug, Clone)]
pub(crate) struct PostgresLedger {
    pool: PgPool,
    /// When this ledger last started pruning (Unix seconds), so that it does at most once a
    /// minute however many requests it serves.
    last_prune_unix_secs: Arc<AtomicI64>,
}

impl PostgresLedger {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool, last_prune_unix_secs: Arc::new(AtomicI64::new(0)) }
    }

    pub(crate) async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError> {
        if charges.is_empty() {
            return Ok(ReserveOutcome::Reserved);
        }
        self.prune_if_due();
        let touched = distinct_counters(charges);
        let mut transaction = self.pool.begin().await.map_err(query_error)?;
        let decided = async {
            // A missing row cannot be locked; created first (in lock order), every row can.
            for chunk in touched.chunks(COUNTERS_PER_STATEMENT) {
                write_statement(chunk, CounterWrite::CreateAtZero)
                    .build()
                    .execute(&mut *transaction)
                    .await
                    .map_err(query_error)?;
            }
            let mut counters = Counters::default();
            for chunk in touched.chunks(COUNTERS_PER_STATEMENT) {
                let keys = chunk.iter().map(|row| (row.counter.as_str(), row.window_start));
                let locked = select_statement(keys, Lock::ForUpdate)
                    .build_query_as::<CounterRow>()
                    .fetch_all(&mut *transaction)
                    .await
                    .map_err(query_error)?;
                counters.load(locked);
            }
            let outcome = counters.reserve(charges);
            if outcome == ReserveOutcome::Reserved {
                for chunk in counters.changed().chunks(COUNTERS_PER_STATEMENT) {
                    write_statement(chunk, CounterWrite::Set)
                        .build()
                        .execute(&mut *transaction)
                        .await
                        .map_err(query_error)?;
                }
            }
            Ok(outcome)
        }
        .await;
        match decided {
            // Nothing to keep, not even the rows created at 0.
            Ok(outcome) if outcome != ReserveOutcome::Reserved => {
                transaction.rollback().await.map_err(query_error)?;
                Ok(outcome)
            }
            decided => crate::finish(transaction, decided).await,
        }
    }

    pub(crate) async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError> {
        if charges.is_empty() {
            return Ok(());
        }
        self.prune_if_due();
        let deltas = distinct_counters(charges);
        // One statement (one chunk) needs no transaction of its own; the rows are locked in
        // lock order as the statement reaches them.
        if deltas.len() <= COUNTERS_PER_STATEMENT {
            write_statement(&deltas, CounterWrite::Add).build().execute(&self.pool).await.map_err(query_error)?;
            return Ok(());
        }
        let mut transaction = self.pool.begin().await.map_err(query_error)?;
        let written = async {
            for chunk in deltas.chunks(COUNTERS_PER_STATEMENT) {
                write_statement(chunk, CounterWrite::Add)
                    .build()
                    .execute(&mut *transaction)
                    .await
                    .map_err(query_error)?;
            }
            Ok(())
        }
        .await;
        crate::finish(transaction, written).await
    }

    pub(crate) async fn read(&self, counters: &[(String, i64)]) -> Result<Vec<i64>, StoreError> {
        let mut stored = Vec::new();
        for chunk in counters.chunks(COUNTERS_PER_STATEMENT) {
            let keys = chunk.iter().map(|(counter, window_start)| (counter.as_str(), *window_start));
            let rows = select_statement(keys, Lock::None)
                .build_query_as::<CounterRow>()
                .fetch_all(&self.pool)
                .await
                .map_err(query_error)?;
            stored.extend(rows);
        }
        Ok(values_in_order(counters, stored))
    }

    /// Deletes long-expired counters in the background, at most once a minute, so no request
    /// waits for it. Rows another transaction holds are skipped (left for the next prune), so
    /// the delete never waits for a lock and never takes part in a deadlock.
    fn prune_if_due(&self) {
        let now = unix_now_secs();
        let last = self.last_prune_unix_secs.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PRUNE_INTERVAL_SECS
            || self.last_prune_unix_secs.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let deleted = sqlx::query(
                "DELETE FROM limit_counters WHERE (counter, window_start) IN \
                 (SELECT counter, window_start FROM limit_counters WHERE window_end < $1 FOR UPDATE SKIP LOCKED)",
            )
            .bind(prune_before(now))
            .execute(&pool)
            .await;
            match deleted {
                Ok(result) => {
                    tracing::debug!(deleted = result.rows_affected(), "pruned expired PostgreSQL limit counters")
                }
                Err(error) => {
                    tracing::warn!(error = %query_error(error), "expired PostgreSQL limit counters could not be pruned");
                }
            }
        });
    }
}
