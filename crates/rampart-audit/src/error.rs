//! The crate's one error type.
//!
//! Tampering found by the log verifier is not an error: it is a [`crate::Problem`] in the
//! [`crate::VerifyReport`]. Errors are for inputs this crate refuses (a number JSON cannot
//! carry exactly, a malformed proof, an unreadable key file) and for proofs that do not verify.

use std::path::PathBuf;

/// Everything that can go wrong in `rampart-audit`.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An integer whose IEEE 754 double prints as other digits (beyond ±2^53, e.g.
    /// `9007199254740993`). RFC 8785 numbers are doubles; the record would silently say another
    /// number, so it is refused. Log such values (ids, u64 counters) as strings.
    #[error(
        "the integer {number} cannot be written exactly as an RFC 8785 (IEEE 754 double) number; log it as a string"
    )]
    NumberNotRepresentable { number: String },

    /// A NaN or infinite number (only possible with serde_json's `arbitrary_precision`).
    #[error("the number {number} is not finite and has no JSON form")]
    NonFiniteNumber { number: String },

    /// JSON nested deeper than the crate accepts.
    #[error("JSON is nested deeper than {max_depth} levels")]
    TooDeep { max_depth: usize },

    /// A record sequence number outside `1..=2^53-1`.
    #[error("sequence number {seq} is out of range (1..=9007199254740991)")]
    SeqOutOfRange { seq: u64 },

    /// A timestamp outside the exact range of a JSON number (±2^53-1 ms).
    #[error("timestamp {time_unix_ms} ms is out of range (±9007199254740991)")]
    TimeOutOfRange { time_unix_ms: i64 },

    /// Text that is not the RFC 8785 canonical form of a JSON value.
    #[error("not canonical JSON at byte {offset}: {reason}")]
    NotCanonical { offset: usize, reason: &'static str },

    /// Canonical JSON that is not an audit record: a missing, extra or ill-typed field.
    #[error("not an audit record: field `{field}` {reason}")]
    InvalidRecord { field: &'static str, reason: &'static str },

    /// A hex string that is not the expected number of lowercase or uppercase hex digits.
    #[error("{what} is not {expected_bytes} bytes of hex")]
    InvalidHex { what: &'static str, expected_bytes: usize },

    /// A Merkle leaf index not below the tree size.
    #[error("leaf index {index} is not inside a tree of size {tree_size}")]
    LeafIndexOutOfRange { index: u64, tree_size: u64 },

    /// A tree size larger than the leaves at hand.
    #[error("tree size {tree_size} is larger than the {available} leaves given")]
    TreeSizeOutOfRange { tree_size: u64, available: u64 },

    /// A consistency proof asked for an old tree larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    ConsistencySizes { old_size: u64, new_size: u64 },

    /// An inclusion or consistency proof, or a proof document, that does not verify.
    #[error("{proof} does not verify: {reason}")]
    ProofMismatch { proof: &'static str, reason: &'static str },

    /// Serialised Merkle frontier or chain state that cannot be read back.
    #[error("invalid Merkle frontier: {reason}")]
    InvalidFrontier { reason: &'static str },

    /// A chain state whose parts disagree.
    #[error("invalid audit chain state: {reason}")]
    InvalidChainState { reason: &'static str },

    /// Reading, creating or writing the signing key file failed.
    #[error("audit signing key {path}: {source}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The signing key file may be read by other users.
    #[error(
        "audit signing key {path} is readable or writable by group or others (mode {mode:03o}); run `chmod 600 {path}`"
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },

    /// The signing key is not an Ed25519 PKCS#8 document (DER or PEM `PRIVATE KEY`).
    #[error("invalid Ed25519 signing key: {reason}")]
    InvalidKey { reason: String },

    /// A public key that is not 32 bytes of Ed25519 key.
    #[error("invalid Ed25519 public key: {reason}")]
    InvalidPublicKey { reason: &'static str },

    /// Ring could not produce randomness for a new key.
    #[error("no system randomness to generate an audit signing key")]
    Randomness,

    /// A checkpoint signed by another key than the trusted one.
    #[error("checkpoint is signed by key {found}, the trusted key is {expected}")]
    KeyIdMismatch { expected: String, found: String },

    /// A checkpoint whose signature does not verify under the trusted key.
    #[error("checkpoint at tree size {tree_size} has an invalid signature")]
    BadSignature { tree_size: u64 },

    /// A verification start that cannot be right.
    #[error("invalid verification start: {reason}")]
    InvalidVerifyStart { reason: &'static str },
}
