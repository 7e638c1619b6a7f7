//! Signed tree heads: an Ed25519 signature over a short text note naming the tree size, the
//! Merkle root and the chain hash of the last record.
//!
//! The signed note is exactly (each line ends in `\n`, numbers in decimal, hashes as 64
//! lowercase hex digits):
//!
//! ```text
//! rampart-audit-checkpoint/v1
//! <tree_size>
//! <root_hash>
//! <head_hash>
//! <time_unix_ms>
//! ```
//!
//! `head_hash` is the chain hash of record `tree_size` (32 zero bytes for size 0) and
//! `root_hash` the RFC 9162 root of records `1..=tree_size`. The key id is the first 16 hex
//! digits of `SHA-256(raw 32-byte public key)`; it is a hint for picking the key, not signed.

use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::AuditError;
use crate::hash::{Hash, sha256};

/// The first line of every checkpoint note; a new format gets a new version.
pub const CHECKPOINT_NOTE_HEADER: &str = "rampart-audit-checkpoint/v1";

/// A signed tree head. JSON form: hashes and the signature as lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tree_size: u64,
    #[serde(with = "crate::hash::hex32")]
    pub root_hash: Hash,
    /// The chain hash of record `tree_size`.
    #[serde(with = "crate::hash::hex32")]
    pub head_hash: Hash,
    pub time_unix_ms: i64,
    /// First 16 hex digits of SHA-256 of the signer's raw public key.
    pub key_id: String,
    /// Ed25519 signature (64 bytes) over [`Checkpoint::note`].
    #[serde(with = "crate::hash::hex_bytes")]
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The text this checkpoint's signature covers.
    pub fn note(&self) -> String {
        checkpoint_note(self.tree_size, &self.root_hash, &self.head_hash, self.time_unix_ms)
    }
}

/// The signed note for a tree head (see the module docs for the format).
pub fn checkpoint_note(tree_size: u64, root_hash: &Hash, head_hash: &Hash, time_unix_ms: i64) -> String {
    format!(
        "{CHECKPOINT_NOTE_HEADER}\n{tree_size}\n{}\n{}\n{time_unix_ms}\n",
        hex::encode(root_hash),
        hex::encode(head_hash)
    )
}

/// The key id of a raw Ed25519 public key: the first 16 hex digits of its SHA-256.
pub fn key_id(public_key: &[u8]) -> String {
    let digest = sha256(&[public_key]);
    hex::encode(digest.get(..8).unwrap_or_default())
}

/// Checks that `checkpoint` was signed by `public_key` (raw 32 bytes) and names its key id.
pub fn verify_checkpoint(public_key: &[u8], checkpoint: &Checkpoint) -> Result<(), AuditError> {
    if public_key.len() != 32 {
        return Err(AuditError::InvalidPublicKey { reason: "an Ed25519 public key is 32 bytes" });
    }
    let expected = key_id(public_key);
    if checkpoint.key_id != expected {
        return Err(AuditError::KeyIdMismatch { expected, found: checkpoint.key_id.clone() });
    }
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(checkpoint.note().as_bytes(), &checkpoint.signature)
        .map_err(|_| AuditError::BadSignature { tree_size: checkpoint.tree_size })
}

/// The public key file third parties get: the raw 32-byte key as 64 lowercase hex digits and
/// a newline.
pub fn public_key_file_contents(public_key: &[u8; 32]) -> String {
    format!("{}\n", hex::encode(public_key))
}

/// Reads a public key file (surrounding whitespace is ignored).
pub fn parse_public_key_file(text: &str) -> Result<[u8; 32], AuditError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| AuditError::InvalidPublicKey { reason: "expected 64 hex digits on one line" })?;
    Ok(key)
}

impl From<Checkpoint> for rampart_core::AuditCheckpoint {
    fn from(checkpoint: Checkpoint) -> Self {
        rampart_core::AuditCheckpoint {
            tree_size: checkpoint.tree_size,
            root_hash: checkpoint.root_hash,
            head_hash: checkpoint.head_hash,
            time_unix_ms: checkpoint.time_unix_ms,
            key_id: checkpoint.key_id,
            signature: checkpoint.signature,
        }
    }
}

impl From<rampart_core::AuditCheckpoint> for Checkpoint {
    fn from(checkpoint: rampart_core::AuditCheckpoint) -> Self {
        Checkpoint {
            tree_size: checkpoint.tree_size,
            root_hash: checkpoint.root_hash,
            head_hash: checkpoint.head_hash,
            time_unix_ms: checkpoint.time_unix_ms,
            key_id: checkpoint.key_id,
            signature: checkpoint.signature,
        }
    }
}
