//! A 50-record log with a checkpoint every 10 records, and the tampering helpers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rampart_audit::{
    AuditChain, AuditEvent, AuditSigner, Checkpoint, GENESIS_PREV_HASH, Hash, SealedRecord, StoredRecord, seal,
};
use serde_json::json;

pub struct TestLog {
    pub records: Vec<StoredRecord>,
    /// `hashes[i]` is the chain hash of record i (`hashes[0]` is the genesis prev hash).
    pub hashes: Vec<Hash>,
    pub leaves: Vec<Hash>,
    pub checkpoints: Vec<Checkpoint>,
    pub signer: AuditSigner,
    pub chain: AuditChain,
}

pub fn event(n: u64) -> AuditEvent {
    AuditEvent {
        time_unix_ms: 1_767_225_600_000 + i64::try_from(n).unwrap(),
        tenant: Some(if n.is_multiple_of(3) { "acme" } else { "globex" }.into()),
        kind: ["auth", "policy", "route", "request", "error", "admin"][n as usize % 6].into(),
        actor: n.is_multiple_of(2).then(|| format!("key:{n:04}")),
        request_id: Some(format!("0190f1e2-0000-7000-8000-{n:012}")),
        data: json!({"n": n, "model": "gemma-3-270m", "verdict": if n.is_multiple_of(5) { "deny" } else { "allow" }}),
    }
}

pub fn forged_event(n: u64) -> AuditEvent {
    let mut forged = event(n);
    forged.actor = Some("key:intruder".into());
    forged.data = json!({"n": n, "note": "nothing to see here"});
    forged
}

pub fn stored(record: &SealedRecord) -> StoredRecord {
    StoredRecord { seq: record.seq, canonical: record.canonical.clone(), hash_hex: record.hash_hex() }
}

pub fn signer() -> AuditSigner {
    AuditSigner::from_pkcs8(&AuditSigner::generate_pkcs8().unwrap()).unwrap()
}

pub fn build(count: u64, checkpoint_every: u64) -> TestLog {
    let signer = signer();
    let mut chain = AuditChain::new();
    let mut log = TestLog {
        records: Vec::new(),
        hashes: vec![GENESIS_PREV_HASH],
        leaves: Vec::new(),
        checkpoints: Vec::new(),
        signer,
        chain: AuditChain::new(),
    };
    for n in 1..=count {
        let record = chain.append(&event(n)).unwrap();
        log.hashes.push(record.hash);
        log.leaves.push(record.leaf_hash());
        log.records.push(stored(&record));
        if n.is_multiple_of(checkpoint_every) {
            log.checkpoints.push(chain.sign_checkpoint(&log.signer, 2_000_000_000_000 + i64::try_from(n).unwrap()));
        }
    }
    log.chain = chain;
    log
}

/// Gives the records the positions 1, 2, 3… in their current order, as an attacker who
/// renumbers the rest of the table after an insertion or deletion would.
pub fn renumber(records: &mut [StoredRecord]) {
    for (index, record) in records.iter_mut().enumerate() {
        record.seq = index as u64 + 1;
    }
}

/// A record sealed as `seq` after `prev`, stored at position `seq`.
pub fn forged(seq: u64, prev: &Hash) -> StoredRecord {
    stored(&seal(seq, prev, &forged_event(seq)).unwrap())
}

/// Reseals records `from..` with changed data, each chained to the previous: a rewrite that
/// leaves the chain self-consistent.
pub fn rewrite_from(log: &TestLog, from: u64) -> Vec<StoredRecord> {
    let mut records = log.records.clone();
    let mut prev = log.hashes[from as usize - 1];
    for seq in from..=records.len() as u64 {
        let record = seal(seq, &prev, &forged_event(seq)).unwrap();
        prev = record.hash;
        records[seq as usize - 1] = stored(&record);
    }
    records
}
