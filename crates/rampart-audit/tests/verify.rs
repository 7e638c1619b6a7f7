//! The verifier against every kind of tampering, at every position of a 50-record log with a
//! signed checkpoint every 10 records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestLog, build, forged, renumber, rewrite_from, signer, stored};
use rampart_audit::{
    LogVerifier, MerkleFrontier, ProblemKind, StoredRecord, VerifyOptions, VerifyReport, VerifyStart, seal, verify_log,
};

use ProblemKind::{Altered, BadSignature, Deleted, Inserted, Reordered, Rewritten};

fn options(log: &TestLog) -> VerifyOptions {
    VerifyOptions {
        trusted_key: Some(*log.signer.public_key()),
        checkpoints: log.checkpoints.clone(),
        expect_last_seq: None,
    }
}

fn verify(log: &TestLog, records: Vec<StoredRecord>) -> VerifyReport {
    verify_log(records, VerifyStart::genesis(), options(log)).unwrap()
}

/// Asserts the first problem is `kind` at `seq`.
#[track_caller]
fn check(report: &VerifyReport, seq: u64, kind: ProblemKind) {
    let problem = report.first_problem.as_ref().unwrap_or_else(|| panic!("expected {kind:?} at {seq}, log is clean"));
    assert_eq!((problem.seq, problem.kind), (seq, kind), "{problem}");
}

#[track_caller]
fn check_clean(report: &VerifyReport) {
    assert!(report.is_clean(), "{:?}", report.first_problem);
}

#[test]
fn untouched_log_verifies() {
    let log = build(50, 10);
    let report = verify(&log, log.records.clone());
    check_clean(&report);
    assert_eq!((report.from_seq, report.records_checked, report.last_seq), (1, 50, 50));
    assert_eq!(report.root_hash, Some(log.chain.root_hash()));
    assert_eq!(report.head_hash, *log.chain.head_hash());
    assert_eq!(report.checkpoints_checked, 5);
    assert!(report.checkpoints_authenticated);
    // Empty log, and a log without checkpoints or key.
    check_clean(&verify(&build(0, 10), Vec::new()));
    check_clean(&verify_log(log.records.clone(), VerifyStart::genesis(), VerifyOptions::default()).unwrap());
}

#[test]
fn edited_text_is_altered_at_every_position() {
    let log = build(50, 10);
    for k in 1..=50u64 {
        let mut records = log.records.clone();
        let record = &mut records[k as usize - 1];
        record.canonical = record.canonical.replace("\"verdict\":\"", "\"verdict\":\"x");
        check(&verify(&log, records), k, Altered);

        let mut records = log.records.clone();
        let record = &mut records[k as usize - 1];
        record.canonical = record.canonical.replacen(':', ": ", 1); // no longer canonical
        check(&verify(&log, records), k, Altered);
    }
}

#[test]
fn edited_stored_hash_is_altered_at_every_position() {
    let log = build(50, 10);
    for k in 1..=50u64 {
        let mut records = log.records.clone();
        let record = &mut records[k as usize - 1];
        let first = if record.hash_hex.starts_with('0') { "1" } else { "0" };
        record.hash_hex.replace_range(0..1, first);
        check(&verify(&log, records), k, Altered);
    }
}

#[test]
fn edit_with_recomputed_hash_is_altered_or_rewritten() {
    let log = build(50, 10);
    for k in 1..=50u64 {
        let mut records = log.records.clone();
        records[k as usize - 1] = forged(k, &log.hashes[k as usize - 1]);
        let report = verify(&log, records);
        if k == 50 {
            // Nothing follows it; only the checkpoint at 50 shows it, as a rewritten window.
            check(&report, 41, Rewritten);
        } else {
            check(&report, k, Altered);
        }
    }
}

#[test]
fn edited_seq_with_recomputed_hash_is_altered() {
    let log = build(50, 10);
    let mut records = log.records.clone();
    records[24] = stored(&seal(27, &log.hashes[24], &common::event(25)).unwrap());
    records[24].seq = 25;
    check(&verify(&log, records), 25, Altered);
}

#[test]
fn deleted_records_are_deleted_at_every_position() {
    let log = build(50, 10);
    for k in 1..=50u64 {
        let mut records = log.records.clone();
        records.remove(k as usize - 1);
        check(&verify(&log, records.clone()), k, Deleted);
        renumber(&mut records);
        check(&verify(&log, records), k, Deleted);
    }
    let mut records = log.records.clone();
    records.drain(24..27);
    let report = verify(&log, records);
    check(&report, 25, Deleted);
    assert!(report.first_problem.unwrap().detail.contains("records 25..=27 are missing"));
}

#[test]
fn truncation_is_deleted_when_a_checkpoint_covers_it() {
    let log = build(50, 10);
    for keep in [0usize, 1, 39, 40, 41, 45, 49] {
        let records = log.records[..keep].to_vec();
        check(&verify(&log, records), keep as u64 + 1, Deleted);
    }
    // Without a checkpoint beyond the end, a shorter log is indistinguishable from a young one…
    let mut opts = options(&log);
    opts.checkpoints.retain(|checkpoint| checkpoint.tree_size <= 40);
    let report = verify_log(log.records[..45].to_vec(), VerifyStart::genesis(), opts.clone()).unwrap();
    check_clean(&report);
    // …unless the caller knows where the log ends.
    opts.expect_last_seq = Some(50);
    check(&verify_log(log.records[..45].to_vec(), VerifyStart::genesis(), opts).unwrap(), 46, Deleted);
}

#[test]
fn swapped_records_are_reordered() {
    let log = build(50, 10);
    for k in 1..50usize {
        // Adjacent: contents swapped, positions kept (or, equivalently, rows renumbered).
        let mut records = log.records.clone();
        records.swap(k - 1, k);
        renumber(&mut records);
        check(&verify(&log, records), k as u64, Reordered);
    }
    for (a, b) in [(1usize, 3usize), (20, 30), (5, 50), (1, 50), (48, 50)] {
        let mut records = log.records.clone();
        records.swap(a - 1, b - 1);
        renumber(&mut records);
        check(&verify(&log, records), a as u64, Reordered);
    }
    // The store handing rows back out of position order: named at the first row out of order.
    let mut records = log.records.clone();
    records.swap(9, 10);
    check(&verify(&log, records), 11, Reordered);
}

#[test]
fn moved_records_are_reordered_not_deleted() {
    let log = build(50, 10);
    for (from, to) in [(25usize, 35usize), (1, 50), (10, 11), (49, 50)] {
        let mut records = log.records.clone();
        let moved = records.remove(from - 1);
        records.insert(to - 1, moved);
        renumber(&mut records);
        check(&verify(&log, records), from as u64, Reordered);
    }
    // Moved earlier.
    let mut records = log.records.clone();
    let moved = records.remove(34);
    records.insert(24, moved);
    renumber(&mut records);
    check(&verify(&log, records), 25, Reordered);
}

#[test]
fn forged_chained_record_inserted_with_renumbering_is_named() {
    let log = build(50, 10);
    for k in 1..=50u64 {
        // Claims seq k and follows record k-1; the originals k.. move one position up.
        let mut records = log.records.clone();
        records.insert(k as usize - 1, forged(k, &log.hashes[k as usize - 1]));
        renumber(&mut records);
        check(&verify(&log, records), k, Inserted);
    }
    for k in 1..50u64 {
        // Claims seq k+1 and follows record k; inserted right after it.
        let mut records = log.records.clone();
        records.insert(k as usize, forged(k + 1, &log.hashes[k as usize]));
        renumber(&mut records);
        check(&verify(&log, records), k + 1, Inserted);
    }
}

#[test]
fn unchained_and_duplicate_insertions_are_inserted() {
    let log = build(50, 10);
    for k in [1usize, 17, 25, 50] {
        let mut records = log.records.clone();
        records.insert(k - 1, forged(k as u64, &[7; 32]));
        renumber(&mut records);
        check(&verify(&log, records), k as u64, Inserted);

        let mut records = log.records.clone();
        records.insert(k, log.records[k - 1].clone());
        renumber(&mut records);
        check(&verify(&log, records), k as u64 + 1, Inserted);
    }
}

#[test]
fn record_inserted_at_the_end_without_renumbering() {
    let log = build(50, 10);
    // A copy of a middle record, or a forgery claiming a middle seq, at the next free position.
    for claimed in [1u64, 25, 49, 50] {
        let mut records = log.records.clone();
        let mut intruder = forged(claimed, &log.hashes[claimed as usize - 1]);
        intruder.seq = 51;
        records.push(intruder);
        check(&verify(&log, records), 51, Inserted);
    }
    let mut records = log.records.clone();
    let mut copy = log.records[24].clone();
    copy.seq = 51;
    records.push(copy);
    check(&verify(&log, records), 51, Inserted);

    // Claiming seq 50 with no checkpoint at 50 to tell the two apart: the later one is named.
    let mut opts = options(&log);
    opts.checkpoints.retain(|checkpoint| checkpoint.tree_size < 50);
    let mut records = log.records.clone();
    let mut intruder = forged(50, &log.hashes[49]);
    intruder.seq = 51;
    records.push(intruder);
    check(&verify_log(records, VerifyStart::genesis(), opts).unwrap(), 51, Inserted);

    // A well-formed next record is an append: the chain has no key, so nothing can tell.
    let mut records = log.records.clone();
    records.push(forged(51, &log.hashes[50]));
    check_clean(&verify(&log, records.clone()));
    // The writer's own idea of the end catches it.
    let mut opts = options(&log);
    opts.expect_last_seq = Some(50);
    check(&verify_log(records, VerifyStart::genesis(), opts).unwrap(), 51, Inserted);
}

#[test]
fn rewrite_with_recomputed_hashes_names_the_window() {
    let log = build(50, 10);
    for k in 1..=50u64 {
        let report = verify(&log, rewrite_from(&log, k));
        let window_start = (k - 1) / 10 * 10 + 1;
        check(&report, window_start, Rewritten);
        let detail = report.first_problem.unwrap().detail;
        assert!(detail.contains(&format!("records {window_start}..={}", window_start + 9)), "{detail}");
    }
    // Without any checkpoint, a rewrite cannot be seen.
    let report = verify_log(rewrite_from(&log, 25), VerifyStart::genesis(), VerifyOptions::default()).unwrap();
    check_clean(&report);
}

#[test]
fn forged_checkpoints_are_bad_signatures() {
    let log = build(50, 10);
    let intruder = signer();
    let records = rewrite_from(&log, 25);
    let mut chain = rampart_audit::AuditChain::new();
    let mut checkpoints: Vec<_> = log.checkpoints.iter().filter(|c| c.tree_size < 30).cloned().collect();
    for (index, record) in records.iter().enumerate() {
        let event = rampart_audit::parse(&record.canonical).unwrap().event;
        chain.append(&event).unwrap();
        if (index + 1) % 10 == 0 && index + 1 >= 30 {
            checkpoints.push(chain.sign_checkpoint(&intruder, 0));
        }
    }
    let mut opts = options(&log);
    opts.checkpoints = checkpoints.clone();
    check(&verify_log(records.clone(), VerifyStart::genesis(), opts).unwrap(), 30, BadSignature);
    // Unauthenticated, the forged checkpoints agree with the forged log.
    let unauthenticated = VerifyOptions { checkpoints, ..VerifyOptions::default() };
    let report = verify_log(records, VerifyStart::genesis(), unauthenticated).unwrap();
    check_clean(&report);
    assert!(!report.checkpoints_authenticated);

    // A flipped signature byte, and a checkpoint beyond the end signed by someone else.
    let mut opts = options(&log);
    opts.checkpoints[1].signature[5] ^= 1;
    check(&verify_log(log.records.clone(), VerifyStart::genesis(), opts).unwrap(), 20, BadSignature);
    let mut opts = options(&log);
    opts.checkpoints.push(intruder.sign_checkpoint(60, &[1; 32], &[2; 32], 0));
    check(&verify_log(log.records.clone(), VerifyStart::genesis(), opts).unwrap(), 60, BadSignature);
}

#[test]
fn range_verification() {
    let log = build(50, 10);
    let range = || log.records[19..40].to_vec();
    let in_range = || VerifyOptions { expect_last_seq: Some(40), ..options(&log) };
    let report = verify_log(range(), VerifyStart::after(19, log.hashes[19]), in_range()).unwrap();
    check_clean(&report);
    assert_eq!((report.from_seq, report.records_checked, report.last_seq), (20, 21, 40));
    assert_eq!((report.root_hash, report.checkpoints_checked), (None, 3));

    // With the frontier of records 1..=19 the roots are checked too.
    let mut frontier = MerkleFrontier::new();
    log.leaves[..19].iter().for_each(|leaf| frontier.push(*leaf));
    let start = VerifyStart::after(19, log.hashes[19]).with_frontier(frontier).unwrap();
    let report = verify_log(range(), start, in_range()).unwrap();
    check_clean(&report);
    assert_eq!(report.root_hash, Some(rampart_audit::merkle::root(&log.leaves[..40])));
    assert!(VerifyStart::after(19, log.hashes[19]).with_frontier(MerkleFrontier::new()).is_err());

    let mut records = range();
    records.remove(10);
    check(&verify_log(records, VerifyStart::after(19, log.hashes[19]), in_range()).unwrap(), 30, Deleted);
    // A wrong start hash: the first record does not follow it.
    check(&verify_log(range(), VerifyStart::after(19, [9; 32]), in_range()).unwrap(), 20, Altered);
    // The range must reach its expected end.
    check(
        &verify_log(log.records[19..35].to_vec(), VerifyStart::after(19, log.hashes[19]), in_range()).unwrap(),
        36,
        Deleted,
    );
    // Without its end, the checkpoint at 50 says the range was cut short.
    let all = options(&log);
    check(&verify_log(range(), VerifyStart::after(19, log.hashes[19]), all).unwrap(), 41, Deleted);
    // A checkpoint just before the range vouches for the start hash.
    check(
        &verify_log(log.records[20..40].to_vec(), VerifyStart::after(20, [9; 32]), in_range()).unwrap(),
        20,
        Rewritten,
    );
}

#[test]
fn verifier_stops_reading_after_a_final_verdict() {
    let log = build(50, 10);
    let mut records = log.records.clone();
    records[4].hash_hex = "00".repeat(32);
    let mut verifier = LogVerifier::new(VerifyStart::genesis(), options(&log)).unwrap();
    let mut pushed = 0;
    for record in records {
        if !verifier.wants_more() {
            break;
        }
        verifier.push(record);
        pushed += 1;
    }
    assert_eq!(pushed, 6, "one record of look-ahead past the altered one");
    let report = verifier.finish();
    check(&report, 5, Altered);
    assert_eq!(report.records_checked, 4);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["first_problem"]["kind"], "altered");
}

#[test]
fn edge_inputs_do_not_confuse_the_verifier() {
    let log = build(50, 10);
    // An empty range at the end of the log.
    let opts = VerifyOptions { expect_last_seq: Some(50), ..options(&log) };
    let report = verify_log(Vec::new(), VerifyStart::after(50, log.hashes[50]), opts).unwrap();
    check_clean(&report);
    assert_eq!((report.records_checked, report.checkpoints_checked), (0, 1));
    // A checkpoint claiming an absurd size, signed by the trusted key: truncation, no overflow.
    let mut opts = options(&log);
    opts.checkpoints.push(log.signer.sign_checkpoint(u64::MAX, &[0; 32], &[0; 32], 0));
    check(&verify_log(log.records.clone(), VerifyStart::genesis(), opts).unwrap(), 51, Deleted);
    // Rows whose positions are not what they claim, and a start that cannot be.
    let mut records = log.records.clone();
    records[30].seq = 30;
    check(&verify(&log, records), 30, Reordered);
    assert!(LogVerifier::new(VerifyStart::after(rampart_audit::MAX_SEQ, [0; 32]), VerifyOptions::default()).is_err());
}
