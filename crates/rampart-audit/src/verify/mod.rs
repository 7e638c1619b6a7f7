//! The log verifier: reads records in store order, once, and names the first one that was
//! altered, deleted, inserted or reordered, or the first window a signed checkpoint shows was
//! rewritten.
//!
//! Memory is constant apart from the Merkle frontier (64 hashes at most): the verifier holds
//! the last accepted record and one record of look-ahead. [`LogVerifier`] is push-based so an
//! async store can feed it rows as they stream in; [`verify_log`] drives it from an iterator.

mod classify;

use serde::Serialize;

use crate::AuditError;
use crate::checkpoint::Checkpoint;
use crate::hash::{Hash, hash_from_hex};
use crate::merkle::MerkleFrontier;
use crate::record::{GENESIS_PREV_HASH, MAX_SEQ, chain_hash, leaf_hash, scan_header};

/// One row as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The position the store keeps the record at (its key), not read from the text.
    pub seq: u64,
    /// The record text.
    pub canonical: String,
    /// The chain hash stored with it, as hex.
    pub hash_hex: String,
}

impl From<rampart_core::StoredAuditRecord> for StoredRecord {
    fn from(record: rampart_core::StoredAuditRecord) -> Self {
        StoredRecord { seq: record.seq, canonical: record.canonical, hash_hex: record.hash_hex }
    }
}

/// What kind of tampering a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The record's text or stored hash changed: the hash does not match the text, the text is
    /// not a canonical record, or the next record's `prev_hash` shows it was edited and its
    /// hash recomputed.
    Altered,
    /// Records are missing: a seq is skipped, or the log ends before a signed checkpoint (or
    /// the expected end) says it does. `seq` is the first missing one.
    Deleted,
    /// A record that does not belong: a second record claiming a seq and predecessor already
    /// taken, a record the log continues around, or an old seq appearing again. `seq` is the
    /// inserted record's position.
    Inserted,
    /// A record stored out of its order: it chains after a later record, or a seq reported
    /// missing turns up further on. `seq` is the position where the order first breaks.
    Reordered,
    /// The chain is self-consistent, but a signed checkpoint's root or head hash disagrees:
    /// the records after the last matching checkpoint were rewritten with recomputed hashes.
    /// `seq` is the first record of that window.
    Rewritten,
    /// A checkpoint whose signature does not verify, or that names another key than the
    /// trusted one. `seq` is its tree size.
    BadSignature,
}

/// The first thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub seq: u64,
    pub kind: ProblemKind,
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} at seq {}: {}", self.kind, self.seq, self.detail)
    }
}

/// The verifier's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The first seq the verification covered.
    pub from_seq: u64,
    /// Records that verified, from `from_seq` on, before the first problem.
    pub records_checked: u64,
    /// The seq of the last record that verified (`from_seq - 1` if none did).
    pub last_seq: u64,
    /// The chain hash of record `last_seq`.
    #[serde(with = "crate::hash::hex32")]
    pub head_hash: Hash,
    /// The Merkle root over records `1..=last_seq`, when the verification started at seq 1 or
    /// was given the frontier of the records before the range.
    #[serde(serialize_with = "serialize_optional_hash")]
    pub root_hash: Option<Hash>,
    /// Checkpoints compared with the log (and, with a trusted key, authenticated).
    pub checkpoints_checked: u64,
    /// Whether checkpoint signatures were checked (a trusted key was given).
    pub checkpoints_authenticated: bool,
    pub first_problem: Option<Problem>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.first_problem.is_none()
    }
}

fn serialize_optional_hash<S: serde::Serializer>(value: &Option<Hash>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(hash) => serializer.serialize_some(&hex::encode(hash)),
        None => serializer.serialize_none(),
    }
}

/// Where verification starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyStart {
    from_seq: u64,
    prev_hash: Hash,
    frontier: Option<MerkleFrontier>,
}

impl VerifyStart {
    /// The whole log, from seq 1; Merkle roots are computed and compared.
    pub fn genesis() -> Self {
        VerifyStart { from_seq: 1, prev_hash: GENESIS_PREV_HASH, frontier: Some(MerkleFrontier::new()) }
    }

    /// The records after `seq`, whose chain hash is `hash` (for a range, the hash the store
    /// holds for the record before it). Only head hashes of checkpoints can be compared unless
    /// [`VerifyStart::with_frontier`] supplies the Merkle frontier at `seq`.
    pub fn after(seq: u64, hash: Hash) -> Self {
        if seq == 0 {
            return VerifyStart::genesis();
        }
        VerifyStart { from_seq: seq.saturating_add(1), prev_hash: hash, frontier: None }
    }

    /// Adds the Merkle frontier of the records before the range, so checkpoint roots are
    /// compared too. It must cover exactly `from_seq - 1` records.
    pub fn with_frontier(mut self, frontier: MerkleFrontier) -> Result<Self, AuditError> {
        if frontier.size() != self.from_seq - 1 {
            return Err(AuditError::InvalidVerifyStart {
                reason: "the frontier must cover the records before the range",
            });
        }
        self.frontier = Some(frontier);
        Ok(self)
    }

    pub fn from_seq(&self) -> u64 {
        self.from_seq
    }
}

/// What else the verifier knows.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The raw Ed25519 public key checkpoints must be signed with. Without it checkpoints are
    /// still compared with the log, but anyone could have written them.
    pub trusted_key: Option<[u8; 32]>,
    /// Signed checkpoints, in any order. Those whose tree size is below `from_seq - 1` or above
    /// `expect_last_seq` are ignored; any other beyond the log's end shows truncation (so to
    /// verify a range, set `expect_last_seq` to its end or pass only its checkpoints).
    pub checkpoints: Vec<Checkpoint>,
    /// The seq the caller knows the log reaches (e.g. the writer's own head). A shorter log is
    /// reported [`ProblemKind::Deleted`], a longer one [`ProblemKind::Inserted`].
    pub expect_last_seq: Option<u64>,
}

/// Verifies `records` (in store order) from `start`.
pub fn verify_log<I>(records: I, start: VerifyStart, options: VerifyOptions) -> Result<VerifyReport, AuditError>
where
    I: IntoIterator<Item = StoredRecord>,
{
    let mut verifier = LogVerifier::new(start, options)?;
    for record in records {
        if !verifier.wants_more() {
            break;
        }
        verifier.push(record);
    }
    Ok(verifier.finish())
}

/// A record that read back intact: canonical, and its stored hash matches its text.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) pos: u64,
    pub(crate) seq: u64,
    pub(crate) prev: Hash,
    pub(crate) hash: Hash,
    pub(crate) leaf: Hash,
}

#[derive(Clone, Debug)]
pub(crate) enum Parsed {
    Intact(Entry),
    Damaged { pos: u64, detail: String },
}

impl Parsed {
    pub(crate) fn intact(&self) -> Option<&Entry> {
        match self {
            Parsed::Intact(entry) => Some(entry),
            Parsed::Damaged { .. } => None,
        }
    }
}

fn parse_stored(record: &StoredRecord, want_leaf: bool) -> Parsed {
    let pos = record.seq;
    let (seq, prev) = match scan_header(&record.canonical) {
        Ok(header) => header,
        Err(error) => {
            return Parsed::Damaged {
                pos,
                detail: format!("the record text is not a canonical audit record ({error})"),
            };
        }
    };
    let Ok(stored) = hash_from_hex(&record.hash_hex, "stored hash") else {
        return Parsed::Damaged { pos, detail: "the stored hash is not 64 hex digits".into() };
    };
    let computed = chain_hash(&prev, &record.canonical);
    if computed != stored {
        return Parsed::Damaged {
            pos,
            detail: format!(
                "the stored hash {} is not SHA-256(prev_hash ‖ record) = {}: the record text or its stored hash was changed",
                short(&stored),
                short(&computed)
            ),
        };
    }
    let leaf = if want_leaf { leaf_hash(&record.canonical) } else { [0; 32] };
    Parsed::Intact(Entry { pos, seq, prev, hash: stored, leaf })
}

/// The first 16 hex digits of a hash, for messages.
pub(crate) fn short(hash: &Hash) -> String {
    hex::encode(hash.get(..8).unwrap_or_default())
}

pub(crate) enum Verdict {
    Clean,
    /// A record the log continues around was skipped; verification goes on from before it. If
    /// the log later lacks exactly that record at its own place, it was moved, not inserted.
    Intruder {
        inserted: Problem,
        seq: u64,
        hash: Hash,
        pos: u64,
    },
    /// A seq was skipped; the rest of the log is read to see whether the missing records turn
    /// up elsewhere (then they were reordered, not deleted).
    Searching {
        deleted: Problem,
        missing_from: u64,
        missing_to: u64,
        order_broken_at: u64,
    },
    Final(Problem),
}

/// Push-based verifier: [`push`](LogVerifier::push) records in store order, then
/// [`finish`](LogVerifier::finish).
pub struct LogVerifier {
    pub(crate) from_seq: u64,
    pub(crate) expected_seq: u64,
    pub(crate) head: Hash,
    pub(crate) last: Option<Entry>,
    pub(crate) frontier: Option<MerkleFrontier>,
    pub(crate) checkpoints: Vec<Checkpoint>,
    pub(crate) next_checkpoint: usize,
    pub(crate) last_good_checkpoint: u64,
    pub(crate) checkpoints_checked: u64,
    pub(crate) trusted_key: Option<[u8; 32]>,
    pub(crate) expect_last_seq: Option<u64>,
    pub(crate) records_checked: u64,
    pub(crate) held: Option<Parsed>,
    pub(crate) verdict: Verdict,
}

impl LogVerifier {
    pub fn new(start: VerifyStart, options: VerifyOptions) -> Result<Self, AuditError> {
        if start.from_seq == 0 || start.from_seq > MAX_SEQ {
            return Err(AuditError::InvalidVerifyStart { reason: "from_seq must be in 1..=2^53-1" });
        }
        let mut checkpoints = options.checkpoints;
        let end = options.expect_last_seq.unwrap_or(u64::MAX);
        checkpoints.retain(|checkpoint| {
            checkpoint.tree_size.saturating_add(1) >= start.from_seq && checkpoint.tree_size <= end
        });
        checkpoints.sort_by_key(|checkpoint| checkpoint.tree_size);
        let mut verifier = LogVerifier {
            from_seq: start.from_seq,
            expected_seq: start.from_seq,
            head: start.prev_hash,
            last: None,
            frontier: start.frontier,
            checkpoints,
            next_checkpoint: 0,
            last_good_checkpoint: start.from_seq - 1,
            checkpoints_checked: 0,
            trusted_key: options.trusted_key,
            expect_last_seq: options.expect_last_seq,
            records_checked: 0,
            held: None,
            verdict: Verdict::Clean,
        };
        // A checkpoint at the record just before the range vouches for the start hash.
        verifier.check_checkpoints_through(start.from_seq - 1);
        Ok(verifier)
    }

    /// Feeds the next record in store order.
    pub fn push(&mut self, record: StoredRecord) {
        if !self.wants_more() {
            return;
        }
        let parsed = parse_stored(&record, self.frontier.is_some());
        if let Some(held) = self.held.take() {
            self.process(held, Some(&parsed));
        }
        self.held = Some(parsed);
    }

    /// False once the verdict cannot change; the caller may stop reading.
    pub fn wants_more(&self) -> bool {
        !matches!(self.verdict, Verdict::Final(_))
    }

    /// Ends the log and gives the verdict.
    pub fn finish(mut self) -> VerifyReport {
        if let Some(held) = self.held.take() {
            self.process(held, None);
        }
        self.finish_checks();
        let first_problem = match std::mem::replace(&mut self.verdict, Verdict::Clean) {
            Verdict::Clean => None,
            Verdict::Intruder { inserted: problem, .. }
            | Verdict::Searching { deleted: problem, .. }
            | Verdict::Final(problem) => Some(problem),
        };
        VerifyReport {
            from_seq: self.from_seq,
            records_checked: self.records_checked,
            last_seq: self.expected_seq - 1,
            head_hash: self.head,
            root_hash: self.frontier.as_ref().map(MerkleFrontier::root),
            checkpoints_checked: self.checkpoints_checked,
            checkpoints_authenticated: self.trusted_key.is_some(),
            first_problem,
        }
    }

    /// Records a problem; one found earlier (even tentatively) stays the first.
    pub(crate) fn fail(&mut self, seq: u64, kind: ProblemKind, detail: String) {
        let problem = match std::mem::replace(&mut self.verdict, Verdict::Clean) {
            Verdict::Clean => Problem { seq, kind, detail },
            Verdict::Intruder { inserted: problem, .. }
            | Verdict::Searching { deleted: problem, .. }
            | Verdict::Final(problem) => problem,
        };
        self.verdict = Verdict::Final(problem);
    }
}
