//! How the verifier tells one kind of tampering from another.
//!
//! A record whose text is not a canonical record, or whose stored hash is not
//! `SHA-256(prev_hash ‖ text)`, is **Altered** where it stands. Every other record is judged
//! against the last accepted one (`head` is its chain hash, `expected` the seq that must come
//! next) and, where that is not enough, against the next record, in this order:
//!
//! 1. `seq` = expected, `prev_hash` = head: accepted (**Reordered** if the store keeps it at
//!    another position).
//! 2. Same `seq` and `prev_hash` as the last record (a fork): one of the two was **Inserted** —
//!    the one the next record does not chain to; failing that, the one a checkpoint at that
//!    size does not name; failing both, the later one (appending needs no renumbering).
//! 3. `prev_hash` = head but another `seq`: its seq was edited and its hash recomputed,
//!    **Altered** here.
//! 4. `prev_hash` = the next record's hash: it is stored before the record it follows,
//!    **Reordered** here.
//! 5. The next record chains to head: this one does not belong, **Inserted** here — unless the
//!    log later lacks exactly this record at its own place, then it was moved: **Reordered**.
//! 6. `seq` = expected but another `prev_hash`: the last record was edited and its hash
//!    recomputed, **Altered** there (here, for the first record of a range: the start hash).
//! 7. `seq` beyond expected: records expected.. are missing, **Deleted** — unless one of them
//!    turns up later in the log, then **Reordered** here.
//! 8. `seq` before expected: an old seq again, **Inserted** here.
//!
//! "Later missing" and "turn up later" are decided by reading on: after a skipped record the
//! verifier keeps checking the chain without it; after a gap it only looks at the seqs of the
//! remaining records. Either way the first problem's position does not change, only its kind.
//!
//! A checkpoint at tree size T is compared once the record after T has been judged, so that an
//! insertion or alteration at T is named as such and not as a rewritten window.

use super::{Entry, LogVerifier, Parsed, ProblemKind, Verdict, short};
use crate::checkpoint::verify_checkpoint;

/// What a record's position in the chain says.
enum Outcome {
    Accept,
    /// The last accepted record is the culprit.
    BlameLast(ProblemKind, String),
    /// This record is the culprit.
    BlameThis(ProblemKind, String),
    /// This record does not belong: the next one continues from the last accepted one.
    Intruder(String),
    /// Seqs `from..=to` are not here.
    Missing {
        from: u64,
        to: u64,
    },
}

impl LogVerifier {
    pub(super) fn process(&mut self, current: Parsed, next: Option<&Parsed>) {
        match &self.verdict {
            Verdict::Final(_) => return,
            Verdict::Searching { .. } => return self.search(&current),
            Verdict::Clean | Verdict::Intruder { .. } => {}
        }
        let entry = match current {
            Parsed::Damaged { pos, detail } => {
                if self.check_checkpoints_through(self.expected_seq - 1) {
                    self.fail(pos, ProblemKind::Altered, detail);
                }
                return;
            }
            Parsed::Intact(entry) => entry,
        };
        let outcome = self.classify(&entry, next.and_then(Parsed::intact));
        if let Outcome::BlameLast(kind, detail) = outcome {
            let pos = self.last.as_ref().map_or(entry.pos, |last| last.pos);
            return self.fail(pos, kind, detail);
        }
        if !self.check_checkpoints_through(self.expected_seq - 1) {
            return;
        }
        match outcome {
            Outcome::Accept => self.accept(entry),
            Outcome::BlameThis(kind, detail) => self.fail(entry.pos, kind, detail),
            Outcome::Intruder(detail) => {
                if matches!(self.verdict, Verdict::Clean) {
                    let inserted = super::Problem { seq: entry.pos, kind: ProblemKind::Inserted, detail };
                    self.verdict = Verdict::Intruder { inserted, seq: entry.seq, hash: entry.hash, pos: entry.pos };
                } else {
                    self.fail(entry.pos, ProblemKind::Inserted, detail);
                }
            }
            Outcome::Missing { from, to } => {
                if let Verdict::Intruder { seq, hash, pos, .. } = self.verdict {
                    // The skipped record is exactly the one missing here: it was moved earlier.
                    if from == seq && to == seq && entry.prev == hash {
                        let detail = format!("record {seq} belongs at position {seq} but is stored at position {pos}");
                        self.verdict =
                            Verdict::Final(super::Problem { seq: pos, kind: ProblemKind::Reordered, detail });
                    } else {
                        // Another break: the tentative insertion stands as the first problem.
                        self.fail(entry.pos, ProblemKind::Deleted, String::new());
                    }
                    return;
                }
                let range = if from == to { format!("record {from} is") } else { format!("records {from}..={to} are") };
                let detail = format!(
                    "{range} missing: the record at position {} claims seq {} and follows a record that is not in the log",
                    entry.pos, entry.seq
                );
                self.verdict = Verdict::Searching {
                    deleted: super::Problem { seq: from, kind: ProblemKind::Deleted, detail },
                    missing_from: from,
                    missing_to: to,
                    order_broken_at: entry.pos,
                };
            }
            Outcome::BlameLast(..) => {}
        }
    }

    fn classify(&self, this: &Entry, next: Option<&Entry>) -> Outcome {
        let expected = self.expected_seq;
        if let Some(last) = &self.last
            && this.pos <= last.pos
        {
            return Outcome::BlameThis(
                ProblemKind::Reordered,
                format!("the store returned position {} after position {}", this.pos, last.pos),
            );
        }
        if this.seq == expected && this.prev == self.head {
            // After a skipped intruder the rows behind it may have been renumbered.
            if this.pos != this.seq && !matches!(self.verdict, Verdict::Intruder { .. }) {
                return Outcome::BlameThis(
                    ProblemKind::Reordered,
                    format!("record {} chains correctly but is stored at position {}", this.seq, this.pos),
                );
            }
            return Outcome::Accept;
        }
        if let Some(last) = &self.last
            && this.seq == last.seq
            && this.prev == last.prev
        {
            return self.resolve_fork(last, this, next);
        }
        if this.prev == self.head {
            return Outcome::BlameThis(
                ProblemKind::Altered,
                format!(
                    "the record follows record {} but claims seq {} instead of {expected}: its seq was edited and its hash recomputed",
                    expected - 1,
                    this.seq
                ),
            );
        }
        if let Some(next) = next {
            if this.prev == next.hash {
                return Outcome::BlameThis(
                    ProblemKind::Reordered,
                    format!(
                        "record {} is stored before record {} (position {}), which it follows",
                        this.seq, next.seq, next.pos
                    ),
                );
            }
            if next.prev == self.head {
                return Outcome::Intruder(format!(
                    "the record claiming seq {} does not chain to record {}, and the record after it does: it was inserted",
                    this.seq,
                    expected - 1
                ));
            }
        }
        if this.seq == expected {
            return match &self.last {
                Some(last) => Outcome::BlameLast(
                    ProblemKind::Altered,
                    format!(
                        "record {expected} names prev_hash {} but record {} hashes to {}: record {} was edited and its stored hash recomputed",
                        short(&this.prev),
                        last.seq,
                        short(&last.hash),
                        last.seq
                    ),
                ),
                None => Outcome::BlameThis(
                    ProblemKind::Altered,
                    format!(
                        "record {expected} names prev_hash {}, not the hash {} the verification started from",
                        short(&this.prev),
                        short(&self.head)
                    ),
                ),
            };
        }
        if this.seq > expected {
            return Outcome::Missing { from: expected, to: this.seq - 1 };
        }
        Outcome::BlameThis(
            ProblemKind::Inserted,
            format!(
                "the record claims seq {}, which the log already passed (next expected is {expected}), and does not chain to record {}",
                this.seq,
                expected - 1
            ),
        )
    }

    /// Two adjacent records claim the same seq and the same predecessor: one of them was
    /// inserted. The genuine one is the one the log continues from, or the one a checkpoint
    /// vouches for; failing both, the later one (appending needs no renumbering).
    fn resolve_fork(&self, last: &Entry, this: &Entry, next: Option<&Entry>) -> Outcome {
        let seq = this.seq;
        if this.hash == last.hash {
            return Outcome::BlameThis(ProblemKind::Inserted, format!("the record is a second copy of record {seq}"));
        }
        let first_inserted = || {
            Outcome::BlameLast(
                ProblemKind::Inserted,
                format!(
                    "positions {} and {} both claim seq {seq} after record {}; the log continues from position {}, so position {} was inserted",
                    last.pos,
                    this.pos,
                    seq - 1,
                    this.pos,
                    last.pos
                ),
            )
        };
        let second_inserted = |why: &str| {
            Outcome::BlameThis(
                ProblemKind::Inserted,
                format!(
                    "positions {} and {} both claim seq {seq} after record {}; {why}, so position {} was inserted",
                    last.pos,
                    this.pos,
                    seq - 1,
                    this.pos
                ),
            )
        };
        if let Some(next) = next {
            if next.prev == this.hash {
                return first_inserted();
            }
            if next.prev == last.hash {
                return second_inserted("the log continues from the first");
            }
        }
        let vouched = self
            .checkpoints
            .iter()
            .filter(|checkpoint| checkpoint.tree_size == seq)
            .find(|checkpoint| self.trusted_key.is_none_or(|key| verify_checkpoint(&key, checkpoint).is_ok()));
        if let Some(checkpoint) = vouched {
            if checkpoint.head_hash == this.hash {
                return first_inserted();
            }
            if checkpoint.head_hash == last.hash {
                return second_inserted("the checkpoint at that size names the first");
            }
        }
        second_inserted("nothing follows them")
    }

    fn accept(&mut self, entry: Entry) {
        self.records_checked += 1;
        self.head = entry.hash;
        self.expected_seq = entry.seq + 1;
        if let Some(frontier) = &mut self.frontier {
            frontier.push(entry.leaf);
        }
        self.last = Some(entry);
    }

    /// After a skipped seq: a missing record that turns up later was moved, not deleted.
    fn search(&mut self, current: &Parsed) {
        let Verdict::Searching { missing_from, missing_to, order_broken_at, .. } = self.verdict else {
            return;
        };
        if let Some(entry) = current.intact()
            && (missing_from..=missing_to).contains(&entry.seq)
        {
            let detail = format!(
                "record {} belongs at position {} but is stored at position {}",
                entry.seq, entry.seq, entry.pos
            );
            // Replaces the tentative deletion (which `fail` would keep).
            self.verdict =
                Verdict::Final(super::Problem { seq: order_broken_at, kind: ProblemKind::Reordered, detail });
        }
    }

    /// Compares every checkpoint up to `size` records with the log as verified so far (which
    /// must end at `size`). False once a problem is recorded.
    pub(super) fn check_checkpoints_through(&mut self, size: u64) -> bool {
        while let Some(checkpoint) = self.checkpoints.get(self.next_checkpoint) {
            if checkpoint.tree_size > size {
                break;
            }
            self.next_checkpoint += 1;
            if checkpoint.tree_size < size {
                continue; // Before the range; nothing to compare it with.
            }
            if let Some(key) = self.trusted_key
                && let Err(error) = verify_checkpoint(&key, checkpoint)
            {
                let detail = format!("checkpoint for tree size {}: {error}", checkpoint.tree_size);
                self.fail(checkpoint.tree_size, ProblemKind::BadSignature, detail);
                return false;
            }
            self.checkpoints_checked += 1;
            let head_matches = checkpoint.head_hash == self.head;
            let root = self.frontier.as_ref().map(|frontier| frontier.root());
            let root_matches = root.is_none_or(|root| root == checkpoint.root_hash);
            if head_matches && root_matches {
                self.last_good_checkpoint = size;
                continue;
            }
            let window_start = (self.last_good_checkpoint + 1).min(size.max(1));
            let mismatch = match (head_matches, root) {
                (false, _) => format!(
                    "its head hash {} is not record {size}'s hash {}",
                    short(&checkpoint.head_hash),
                    short(&self.head)
                ),
                (true, Some(root)) => {
                    format!("its root {} is not the log's root {}", short(&checkpoint.root_hash), short(&root))
                }
                (true, None) => String::new(),
            };
            let detail = format!(
                "the chain is self-consistent, but the checkpoint signed for tree size {size} does not match the log ({mismatch}): records {window_start}..={size} were rewritten with recomputed hashes; which of them changed cannot be told"
            );
            self.fail(window_start, ProblemKind::Rewritten, detail);
            return false;
        }
        true
    }

    /// At the end of the log: pending checkpoints, then truncation and the expected end.
    pub(super) fn finish_checks(&mut self) {
        if !matches!(self.verdict, Verdict::Clean) {
            return; // An earlier problem stands.
        }
        let last_seq = self.expected_seq - 1;
        if !self.check_checkpoints_through(last_seq) {
            return;
        }
        let beyond = self.checkpoints.get(self.next_checkpoint..).unwrap_or_default();
        let authentic = beyond
            .iter()
            .find(|checkpoint| self.trusted_key.is_none_or(|key| verify_checkpoint(&key, checkpoint).is_ok()));
        if let Some(checkpoint) = authentic {
            let detail = format!(
                "the log ends at record {last_seq}, but a checkpoint was signed for {} records: records {}..={} were deleted from the end",
                checkpoint.tree_size, self.expected_seq, checkpoint.tree_size
            );
            return self.fail(self.expected_seq, ProblemKind::Deleted, detail);
        }
        if let (Some(key), Some(forged)) = (self.trusted_key, beyond.first()) {
            let error = verify_checkpoint(&key, forged).err().map(|error| error.to_string()).unwrap_or_default();
            let detail = format!("checkpoint for tree size {} (beyond the log's end): {error}", forged.tree_size);
            return self.fail(forged.tree_size, ProblemKind::BadSignature, detail);
        }
        match self.expect_last_seq {
            Some(expected) if last_seq < expected => {
                let detail = format!(
                    "the log ends at record {last_seq}, but it was expected to reach {expected}: records {}..={expected} were deleted",
                    self.expected_seq
                );
                self.fail(self.expected_seq, ProblemKind::Deleted, detail);
            }
            Some(expected) if last_seq > expected => {
                let detail = format!(
                    "the log was expected to end at record {expected} but goes on to {last_seq}: records {}..={last_seq} were added",
                    expected + 1
                );
                self.fail(expected + 1, ProblemKind::Inserted, detail);
            }
            _ => {}
        }
    }
}
