//! The tamper-evident audit log (SPEC C7): records sealed into a SHA-256 hash chain, a Merkle
//! tree over them with inclusion and consistency proofs, Ed25519-signed checkpoints, and a
//! verifier that names the first record altered, deleted, inserted or reordered.
//!
//! This crate is pure computation over values the caller passes in. It must never open a
//! database, start a task, read the clock or log: the store decides where records live and
//! when they are written, and passes the time in. Its one file-system access is the signing key
//! ([`AuditSigner::load_or_create`]), which it must never write anywhere else or with a mode
//! other than 0600, and never print.
//!
//! # How the store uses it
//!
//! The store's single writer keeps an [`AuditChain`] in memory. For each group commit it clones
//! the chain, calls [`AuditChain::append`] for every event of the batch, inserts the returned
//! [`SealedRecord`]s (`seq`, `canonical`, `hash`) and the new [`AuditChain::to_bytes`] in the
//! same transaction, and keeps the clone if the transaction fails. Now and then it signs
//! [`AuditChain::sign_checkpoint`] and stores the [`Checkpoint`]. To verify, it streams rows into
//! a [`LogVerifier`] (or [`verify_log`]); to prove a record, it passes the leaf hashes
//! ([`leaf_hash`] of each text) to [`proof_for`].
//!
//! # Formats, for writing an independent verifier
//!
//! **Record.** The RFC 8785 (JCS) canonical JSON of an object with exactly eight members:
//!
//! ```text
//! {"actor":<string|null>,"data":<any JSON>,"kind":<string>,"prev_hash":"<64 hex>",
//!  "request_id":<string|null>,"seq":<integer>,"tenant":<string|null>,"time_unix_ms":<integer>}
//! ```
//!
//! (one line, no whitespace; members in this order because JCS sorts names by UTF-16 code
//! units). `seq` starts at 1 and grows by one; `seq` and `time_unix_ms` are integers within
//! ±(2^53 − 1). `prev_hash` is lowercase hex of the previous record's chain hash, 32 zero bytes
//! for record 1. Numbers inside `data` follow JCS (ECMAScript number formatting); an integer the
//! IEEE double cannot print with its own digits is refused when sealing (see [`canonical`]).
//!
//! **Chain hash.** `hash(n) = SHA-256(prev_hash(n) ‖ record(n))` over the 32 raw bytes of
//! `prev_hash` and the UTF-8 bytes of the record text. It is stored next to the text, not in it.
//! `prev_hash(n + 1) = hash(n)`.
//!
//! **Merkle tree.** RFC 9162 §2.1 over the records in seq order: leaf
//! `SHA-256(0x00 ‖ record)`, node `SHA-256(0x01 ‖ left ‖ right)`, empty tree `SHA-256("")`,
//! the left subtree of n > 1 leaves holding the largest power of two below n. Record `seq` is
//! leaf index `seq − 1`. Inclusion and consistency proofs are RFC 9162's (§2.1.3, §2.1.4), so
//! Certificate Transparency tooling can check them.
//!
//! **Checkpoint.** An Ed25519 (RFC 8032) signature over the text
//!
//! ```text
//! rampart-audit-checkpoint/v1\n<tree_size>\n<root_hash hex>\n<head_hash hex>\n<time_unix_ms>\n
//! ```
//!
//! with decimal numbers, lowercase hex, and `head_hash` the chain hash of record `tree_size`.
//! The key id is the first 16 hex digits of SHA-256 of the raw 32-byte public key. A checkpoint
//! as JSON: `{"tree_size","root_hash","head_hash","time_unix_ms","key_id","signature"}`, hashes
//! and signature in hex. The public key file is the raw key as 64 hex digits and a newline.
//!
//! **Inclusion proof document.** [`InclusionProofDocument`]: JSON with `format`
//! (`rampart-audit-inclusion/v1`), `seq`, `record` (the exact text), `leaf_hash`, `tree_size`,
//! `root_hash`, `audit_path` (hex list), `checkpoint` and `public_key`. To check it: the record
//! is canonical and says `seq`; `leaf_hash = SHA-256(0x00 ‖ record)`; the path leads from leaf
//! `seq − 1` to `root_hash` in a tree of `tree_size`; the checkpoint has that size and root and
//! its signature verifies under a public key you trust.
//!
//! # What is and is not detected
//!
//! The chain alone detects any edit, deletion, insertion or reordering *inside* the log, and
//! [`verify`] names the kind and the record (see `verify/classify.rs` for the rules). It cannot
//! detect, without a signed checkpoint or an independently known head:
//! - records cut from the end (the log just looks shorter);
//! - forged records appended at the end (the chain has no key);
//! - a rewrite of everything from some record on, hashes recomputed: the chain is consistent
//!   again, and only a checkpoint signed before the rewrite shows it ([`ProblemKind::Rewritten`],
//!   naming the window since the last matching checkpoint, not the exact record).
//!
//! Checkpoints are only as good as the key: verify with [`VerifyOptions::trusted_key`] set, and
//! keep the key file away from whoever can write the database.

pub mod canonical;
mod chain;
mod checkpoint;
mod error;
mod hash;
pub mod merkle;
mod proof;
mod record;
mod signer;
mod stored;
pub mod verify;

pub use chain::AuditChain;
pub use checkpoint::{
    CHECKPOINT_NOTE_HEADER, Checkpoint, checkpoint_note, key_id, parse_public_key_file, public_key_file_contents,
    verify_checkpoint,
};
pub use error::AuditError;
pub use hash::Hash;
pub use merkle::MerkleFrontier;
pub use proof::{INCLUSION_PROOF_FORMAT, InclusionProofDocument, proof_for};
pub use record::{
    AuditEvent, GENESIS_PREV_HASH, MAX_SEQ, ParsedRecord, SealedRecord, chain_hash, leaf_hash, parse, seal,
};
pub use signer::AuditSigner;
pub use stored::{StoredLogError, VerifyRange, prove_stored_record, verify_stored_log};
pub use verify::{
    LogVerifier, Problem, ProblemKind, StoredRecord, VerifyOptions, VerifyReport, VerifyStart, verify_log,
};
