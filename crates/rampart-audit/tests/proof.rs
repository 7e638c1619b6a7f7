//! Inclusion proof documents: built by the store, checked by a third party.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use rampart_audit::merkle::{consistency_proof, verify_consistency};
use rampart_audit::{AuditError, InclusionProofDocument, proof_for};

#[test]
fn every_record_has_a_verifying_proof_for_every_checkpoint() {
    let log = common::build(50, 10);
    for checkpoint in &log.checkpoints {
        for seq in 1..=checkpoint.tree_size {
            let record = &log.records[seq as usize - 1].canonical;
            let document = proof_for(&log.leaves, seq, checkpoint, record, log.signer.public_key()).unwrap();
            document.verify().unwrap();
            document.verify_with_key(log.signer.public_key()).unwrap();
            // What a third party receives is JSON.
            let json = serde_json::to_string_pretty(&document).unwrap();
            let received: InclusionProofDocument = serde_json::from_str(&json).unwrap();
            received.verify_with_key(log.signer.public_key()).unwrap();
        }
    }
}

#[test]
fn tampered_documents_fail() {
    let log = common::build(50, 10);
    let checkpoint = &log.checkpoints[2];
    let good = proof_for(&log.leaves, 17, checkpoint, &log.records[16].canonical, log.signer.public_key()).unwrap();
    let mut cases: Vec<(InclusionProofDocument, &str)> = Vec::new();
    let mut d = good.clone();
    d.record = d.record.replace("\"n\":17", "\"n\":18");
    cases.push((d, "edited record"));
    let mut d = good.clone();
    d.record = log.records[17].canonical.clone();
    cases.push((d, "another record"));
    let mut d = good.clone();
    d.seq = 18;
    cases.push((d, "another seq"));
    let mut d = good.clone();
    d.audit_path[1][0] ^= 1;
    cases.push((d, "edited path"));
    let mut d = good.clone();
    d.audit_path.pop();
    cases.push((d, "short path"));
    let mut d = good.clone();
    d.root_hash[0] ^= 1;
    cases.push((d, "edited root"));
    let mut d = good.clone();
    d.tree_size = 31;
    cases.push((d, "edited size"));
    let mut d = good.clone();
    d.checkpoint = log.checkpoints[3].clone();
    cases.push((d, "another checkpoint"));
    let mut d = good.clone();
    d.checkpoint.signature[0] ^= 1;
    cases.push((d, "edited signature"));
    let mut d = good.clone();
    d.format = "v0".into();
    cases.push((d, "unknown format"));
    for (document, what) in cases {
        assert!(document.verify().is_err(), "{what} must not verify");
    }
    // A document re-signed by someone else verifies only against their key.
    let intruder = common::signer();
    let mut forged = good.clone();
    forged.checkpoint = intruder.sign_checkpoint(30, &good.root_hash, &good.checkpoint.head_hash, 0);
    forged.public_key = *intruder.public_key();
    forged.verify().unwrap();
    assert!(matches!(forged.verify_with_key(log.signer.public_key()), Err(AuditError::KeyIdMismatch { .. })));
}

#[test]
fn proof_for_refuses_what_would_not_verify() {
    let log = common::build(20, 10);
    let checkpoint = &log.checkpoints[0];
    let key = log.signer.public_key();
    assert!(proof_for(&log.leaves, 0, checkpoint, &log.records[0].canonical, key).is_err());
    assert!(proof_for(&log.leaves, 11, checkpoint, &log.records[10].canonical, key).is_err());
    assert!(proof_for(&log.leaves, 3, checkpoint, &log.records[4].canonical, key).is_err());
    assert!(proof_for(&log.leaves[..9], 3, checkpoint, &log.records[2].canonical, key).is_err());
    let mut wrong_leaves = log.leaves.clone();
    wrong_leaves[7][0] ^= 1;
    assert!(proof_for(&wrong_leaves, 3, checkpoint, &log.records[2].canonical, key).is_err());
}

#[test]
fn checkpoints_of_one_log_are_consistent() {
    let log = common::build(50, 10);
    for (i, old) in log.checkpoints.iter().enumerate() {
        for new in &log.checkpoints[i..] {
            let proof = consistency_proof(&log.leaves, old.tree_size, new.tree_size).unwrap();
            verify_consistency(old.tree_size, new.tree_size, &proof, &old.root_hash, &new.root_hash).unwrap();
        }
    }
}
