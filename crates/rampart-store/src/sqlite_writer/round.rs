//! One round of the writer in one transaction: the limit counters' reads and decisions, the
//! audit records sealed onto the chain, the request-log rows, and the commit.

use rampart_core::{ReserveOutcome, StoreError};
use rusqlite::{Connection, TransactionBehavior, params};

use super::{Pace, Round, sqlite_error};
use crate::audit::{SELECT_HEAD, UPDATE_HEAD};
use crate::ledger::sqlite as ledger;

/// The audit chain's head as stored: `audit_head`'s size and chain (hex).
pub(super) struct AuditHead {
    size: i64,
    chain_hex: String,
}

/// What a committed round answers.
pub(super) struct Committed {
    pub(super) limits: Vec<Option<ReserveOutcome>>,
    pub(super) audit: Vec<Result<Vec<u64>, StoreError>>,
}

/// Commits `round` in one `BEGIN IMMEDIATE` transaction, reading the audit head first unless
/// `known_head` gives it. Returns the audit head it left (or `known_head`, when the round
/// appended nothing). On an error nothing of the round was kept: the transaction rolls back as
/// it is dropped. `pace` says whether inserting request-log rows may yield the core.
pub(super) fn commit(
    connection: &mut Connection,
    round: &Round,
    known_head: Option<AuditHead>,
    mut pace: Pace,
) -> Result<(Committed, Option<AuditHead>), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite_error)?;
    let decisions = ledger::decide(&transaction, &round.limits).map_err(sqlite_error)?;

    let mut head = known_head;
    let mut audit_outcomes = Vec::new();
    if !round.audit.is_empty() {
        let stored = match head.take() {
            Some(known) => known,
            None => transaction
                .prepare_cached(SELECT_HEAD)
                .and_then(|mut select| {
                    select.query_row([], |row| Ok(AuditHead { size: row.get(0)?, chain_hex: row.get(1)? }))
                })
                .map_err(sqlite_error)?,
        };
        let mut chain = crate::audit::chain_from_head(stored.size, &stored.chain_hex)?;
        let (rows, outcomes) = crate::audit::seal_batch(&mut chain, round.audit.iter().map(|(events, _)| events));
        audit_outcomes = outcomes;
        head = Some(if rows.is_empty() {
            stored
        } else {
            crate::audit::insert_sqlite(&transaction, &rows).map_err(sqlite_error)?;
            let appended =
                AuditHead { size: crate::audit::stored_size(&chain), chain_hex: hex::encode(chain.to_bytes()) };
            transaction
                .prepare_cached(UPDATE_HEAD)
                .and_then(|mut update| update.execute(params![appended.size, appended.chain_hex]))
                .map_err(sqlite_error)?;
            appended
        });
    }

    ledger::write(&transaction, &decisions.changed).map_err(sqlite_error)?;
    for (entries, _) in &round.requests {
        crate::request_log::insert_sqlite(&transaction, entries, &mut pace).map_err(sqlite_error)?;
    }
    transaction.commit().map_err(sqlite_error)?;
    Ok((Committed { limits: decisions.outcomes, audit: audit_outcomes }, head))
}
