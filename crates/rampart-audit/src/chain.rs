//! The writer's side of the log: the state needed to seal the next record and sign a
//! checkpoint, small enough to clone before each transaction and persist next to the records.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::merkle::MerkleFrontier;
use crate::record::{AuditEvent, GENESIS_PREV_HASH, SealedRecord, seal};
use crate::{AuditError, AuditSigner, Checkpoint};

/// The head of the log as its single writer sees it: how many records there are, the chain
/// hash of the last one, and the Merkle frontier over all of them.
///
/// Meant for a single-writer group commit: clone it before the transaction, [`append`] each
/// event in the batch and insert the returned records, then keep the new state if the commit
/// succeeds and the clone if it does not. Persist it ([`AuditChain::to_bytes`] or serde) in the
/// same transaction as the records, so a restart resumes exactly where the log ends.
///
/// Sign checkpoints from this in-memory state, never from rows read back: a row someone else
/// slipped into the table then shows up as a mismatch instead of being signed.
///
/// [`append`]: AuditChain::append
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedChain")]
pub struct AuditChain {
    #[serde(with = "crate::hash::hex32")]
    head_hash: Hash,
    frontier: MerkleFrontier,
}

/// The serde form, checked by [`AuditChain::restore`] on the way in.
#[derive(Deserialize)]
struct UncheckedChain {
    #[serde(with = "crate::hash::hex32")]
    head_hash: Hash,
    frontier: MerkleFrontier,
}

impl TryFrom<UncheckedChain> for AuditChain {
    type Error = AuditError;

    fn try_from(unchecked: UncheckedChain) -> Result<Self, AuditError> {
        AuditChain::restore(unchecked.head_hash, unchecked.frontier)
    }
}

impl AuditChain {
    /// An empty log.
    pub fn new() -> Self {
        AuditChain { head_hash: GENESIS_PREV_HASH, frontier: MerkleFrontier::new() }
    }

    /// Resumes a log whose last record has chain hash `head_hash` and whose leaves make up
    /// `frontier` (so the last record's seq is `frontier.size()`).
    pub fn restore(head_hash: Hash, frontier: MerkleFrontier) -> Result<Self, AuditError> {
        if frontier.size() == 0 && head_hash != GENESIS_PREV_HASH {
            return Err(AuditError::InvalidChainState { reason: "an empty log has the all-zero head hash" });
        }
        if frontier.size() > crate::record::MAX_SEQ {
            return Err(AuditError::InvalidChainState { reason: "the log is larger than the largest seq" });
        }
        Ok(AuditChain { head_hash, frontier })
    }

    /// Seals `event` as the next record and advances the head. On error nothing changes.
    pub fn append(&mut self, event: &AuditEvent) -> Result<SealedRecord, AuditError> {
        let record = seal(self.frontier.size() + 1, &self.head_hash, event)?;
        self.frontier.push(record.leaf_hash());
        self.head_hash = record.hash;
        Ok(record)
    }

    /// Records so far; also the seq of the last one.
    pub fn tree_size(&self) -> u64 {
        self.frontier.size()
    }

    /// The seq the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.frontier.size() + 1
    }

    /// The chain hash of the last record (all zeros for an empty log).
    pub fn head_hash(&self) -> &Hash {
        &self.head_hash
    }

    /// The Merkle root over all records.
    pub fn root_hash(&self) -> Hash {
        self.frontier.root()
    }

    pub fn frontier(&self) -> &MerkleFrontier {
        &self.frontier
    }

    /// Signs the current tree head.
    pub fn sign_checkpoint(&self, signer: &AuditSigner, time_unix_ms: i64) -> Checkpoint {
        signer.sign_checkpoint(self.tree_size(), &self.root_hash(), &self.head_hash, time_unix_ms)
    }

    /// The head hash (32 bytes), then [`MerkleFrontier::to_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head_hash.to_vec();
        out.extend_from_slice(&self.frontier.to_bytes());
        out
    }

    /// Reads [`AuditChain::to_bytes`] back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuditError> {
        let (head_hash, frontier) =
            bytes.split_first_chunk::<32>().ok_or(AuditError::InvalidChainState { reason: "too short" })?;
        AuditChain::restore(*head_hash, MerkleFrontier::from_bytes(frontier)?)
    }
}
