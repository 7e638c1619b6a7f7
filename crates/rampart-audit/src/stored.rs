//! Verifying and proving a log kept behind [`rampart_core::AuditLog`]: reads it page by page
//! and feeds the pure verifier, so `rampart audit verify` and `GET /api/v1/audit/verify` run
//! the same code whatever the engine.

use rampart_core::{AuditLog, StoreError};

use crate::hash::hash_from_hex;
use crate::proof::{InclusionProofDocument, proof_for};
use crate::verify::{LogVerifier, VerifyOptions, VerifyReport, VerifyStart};
use crate::{AuditError, Checkpoint, leaf_hash};

/// Records read per page.
const PAGE: u32 = 5_000;

/// Why a stored log could not be verified or proved (not: what was found wrong with it; that
/// is the report's `first_problem`).
#[derive(Debug, thiserror::Error)]
pub enum StoredLogError {
    #[error("cannot read the audit log: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("{0}")]
    Range(String),
}

/// Which records to check: all of them, or `from..=to` (1-based seqs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyRange {
    pub from: Option<u64>,
    pub to: Option<u64>,
}

/// Verifies the stored log (or a range of it) against its chain, its Merkle tree and its
/// signed checkpoints; with `trusted_key`, checkpoint signatures are checked too.
///
/// A range starts from the stored hash of the record before it: that record itself is not
/// checked, so a clean range says the range is consistent with what precedes it as stored.
/// The whole log is expected to reach the head the store reports, so records cut from the
/// end show as deleted.
pub async fn verify_stored_log(
    log: &dyn AuditLog,
    trusted_key: Option<[u8; 32]>,
    range: VerifyRange,
) -> Result<VerifyReport, StoredLogError> {
    // The head row is a claim like any other: someone who cut records may have edited it too
    // (it then no longer matches its own chain state). Without it the signed checkpoints still
    // show truncation up to the newest one.
    let head_size = match log.audit_head().await {
        Ok(head) => Some(head.size),
        Err(StoreError::Query { .. }) if range.to.is_none() => None,
        Err(error) => return Err(error.into()),
    };
    let from = range.from.unwrap_or(1).max(1);
    let to = range.to.or(head_size).unwrap_or(u64::MAX);
    if to < from.saturating_sub(1) {
        return Err(StoredLogError::Range(format!("the range {from}..={to} is empty: 'to' must be at least 'from'")));
    }
    let start = if from == 1 {
        VerifyStart::genesis()
    } else {
        let before = log.read_audit(from - 1, 1).await?;
        match before.first() {
            Some(record) if record.seq == from - 1 => {
                let hash = hash_from_hex(&record.hash_hex, "hash").map_err(|_| {
                    StoredLogError::Range(format!(
                        "record {} (before the range) has a corrupt hash; verify from an earlier seq",
                        from - 1
                    ))
                })?;
                VerifyStart::after(from - 1, hash)
            }
            _ => {
                return Err(StoredLogError::Range(format!(
                    "record {} (before the range) is not in the log; verify from an earlier seq",
                    from - 1
                )));
            }
        }
    };
    let checkpoints = log.checkpoints(from.saturating_sub(1), to).await?.into_iter().map(Checkpoint::from).collect();
    let expect_last_seq = (to != u64::MAX).then_some(to);
    let options = VerifyOptions { trusted_key, checkpoints, expect_last_seq };
    let mut verifier = LogVerifier::new(start, options)?;
    let mut next = from;
    // Past the expected end too: records beyond it show as inserted.
    'pages: loop {
        let page = log.read_audit(next, PAGE).await?;
        let Some(last) = page.last().map(|record| record.seq) else { break };
        for record in page {
            if !verifier.wants_more() {
                break 'pages;
            }
            if range.to.is_some() && record.seq > to {
                break 'pages;
            }
            verifier.push(record.into());
        }
        next = last.saturating_add(1);
    }
    Ok(verifier.finish())
}

/// An inclusion proof of record `seq` against the newest checkpoint that covers it, which a
/// third party checks with [`InclusionProofDocument::verify`] and the public key.
pub async fn prove_stored_record(
    log: &dyn AuditLog,
    seq: u64,
    public_key: &[u8; 32],
) -> Result<InclusionProofDocument, StoredLogError> {
    let checkpoint = log.checkpoints(seq, u64::MAX).await?.into_iter().last().ok_or_else(|| {
        StoredLogError::Range(format!(
            "no signed checkpoint covers record {seq} yet; checkpoints are written every few seconds"
        ))
    })?;
    let mut leaves = Vec::with_capacity(usize::try_from(checkpoint.tree_size).unwrap_or(0));
    let mut record_text = None;
    let mut next = 1;
    while next <= checkpoint.tree_size {
        let page = log.read_audit(next, PAGE).await?;
        let Some(last) = page.last().map(|record| record.seq) else { break };
        for record in page.into_iter().take_while(|record| record.seq <= checkpoint.tree_size) {
            leaves.push(leaf_hash(&record.canonical));
            if record.seq == seq {
                record_text = Some(record.canonical);
            }
        }
        next = last.saturating_add(1);
    }
    let record = record_text.ok_or_else(|| StoredLogError::Range(format!("record {seq} is not in the log")))?;
    Ok(proof_for(&leaves, seq, &Checkpoint::from(checkpoint), &record, public_key)?)
}
