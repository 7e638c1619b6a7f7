//! A self-contained inclusion proof: everything a third party needs to check that one record
//! is in the log a signed checkpoint describes.

use serde::{Deserialize, Serialize};

use crate::AuditError;
use crate::checkpoint::{Checkpoint, verify_checkpoint};
use crate::hash::Hash;
use crate::merkle::{inclusion_proof, root, verify_inclusion};
use crate::record::{leaf_hash, scan_header};

/// The `format` of proof documents this crate writes and reads.
pub const INCLUSION_PROOF_FORMAT: &str = "rampart-audit-inclusion/v1";

/// One record, its audit path, and the signed checkpoint whose root the path leads to. JSON:
/// hashes as lowercase hex, `record` as the exact canonical text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProofDocument {
    /// Always [`INCLUSION_PROOF_FORMAT`].
    pub format: String,
    pub seq: u64,
    /// The record text, byte for byte as hashed.
    pub record: String,
    /// `SHA-256(0x00 ‖ record)`.
    #[serde(with = "crate::hash::hex32")]
    pub leaf_hash: Hash,
    pub tree_size: u64,
    #[serde(with = "crate::hash::hex32")]
    pub root_hash: Hash,
    /// RFC 9162 audit path of leaf `seq - 1`, deepest sibling first.
    #[serde(with = "crate::hash::hex32_list")]
    pub audit_path: Vec<Hash>,
    /// The signed checkpoint for `tree_size`.
    pub checkpoint: Checkpoint,
    /// The signer's raw Ed25519 public key.
    #[serde(with = "crate::hash::hex32")]
    pub public_key: Hash,
}

/// Builds the proof that `record` (record `seq`) is in the tree `checkpoint` signed.
/// `leaves` are the leaf hashes of records `1..` (at least `checkpoint.tree_size` of them).
/// Refuses to build a document that would not verify.
pub fn proof_for(
    leaves: &[Hash],
    seq: u64,
    checkpoint: &Checkpoint,
    record: &str,
    public_key: &[u8; 32],
) -> Result<InclusionProofDocument, AuditError> {
    let tree_size = checkpoint.tree_size;
    if seq == 0 || seq > tree_size {
        return Err(AuditError::LeafIndexOutOfRange { index: seq.saturating_sub(1), tree_size });
    }
    let audit_path = inclusion_proof(leaves, seq - 1, tree_size)?;
    let leaf = leaf_hash(record);
    let index = usize::try_from(seq - 1).unwrap_or(usize::MAX);
    if leaves.get(index) != Some(&leaf) {
        return Err(AuditError::ProofMismatch { proof: "inclusion proof", reason: "the record is not leaf seq - 1" });
    }
    let tree = leaves.get(..usize::try_from(tree_size).unwrap_or(usize::MAX)).unwrap_or_default();
    if root(tree) != checkpoint.root_hash {
        return Err(AuditError::ProofMismatch {
            proof: "inclusion proof",
            reason: "the leaves do not hash to the checkpoint's root",
        });
    }
    let document = InclusionProofDocument {
        format: INCLUSION_PROOF_FORMAT.to_owned(),
        seq,
        record: record.to_owned(),
        leaf_hash: leaf,
        tree_size,
        root_hash: checkpoint.root_hash,
        audit_path,
        checkpoint: checkpoint.clone(),
        public_key: *public_key,
    };
    document.verify()?;
    Ok(document)
}

impl InclusionProofDocument {
    /// Checks the document against itself: the record is canonical and is record `seq`, its
    /// leaf hash, the audit path to `root_hash`, and the checkpoint's signature under
    /// `public_key`. This proves the record is in the log *that key* signed; compare the key
    /// with one obtained independently, or use [`verify_with_key`](Self::verify_with_key).
    pub fn verify(&self) -> Result<(), AuditError> {
        let mismatch = |reason| Err(AuditError::ProofMismatch { proof: "inclusion proof document", reason });
        if self.format != INCLUSION_PROOF_FORMAT {
            return mismatch("unknown format");
        }
        let (seq, _) = scan_header(&self.record)?;
        if seq != self.seq {
            return mismatch("the record's seq is not the document's seq");
        }
        if leaf_hash(&self.record) != self.leaf_hash {
            return mismatch("the leaf hash is not SHA-256(0x00 ‖ record)");
        }
        if self.checkpoint.tree_size != self.tree_size || self.checkpoint.root_hash != self.root_hash {
            return mismatch("the checkpoint is for another tree");
        }
        if self.seq == 0 {
            return mismatch("seq 0 does not exist");
        }
        verify_inclusion(&self.leaf_hash, self.seq - 1, self.tree_size, &self.audit_path, &self.root_hash)?;
        verify_checkpoint(&self.public_key, &self.checkpoint)
    }

    /// [`verify`](Self::verify), and the document's key is `trusted_public_key`.
    pub fn verify_with_key(&self, trusted_public_key: &[u8; 32]) -> Result<(), AuditError> {
        if &self.public_key != trusted_public_key {
            return Err(AuditError::KeyIdMismatch {
                expected: crate::checkpoint::key_id(trusted_public_key),
                found: crate::checkpoint::key_id(&self.public_key),
            });
        }
        self.verify()
    }
}
