//! Times the audit log's hot paths for BENCHMARKS.md:
//!
//! ```text
//! cargo run --release -p rampart-audit --example audit_speed [records] [proof samples]
//! ```
//!
//! Seals `records` events (default 200,000, about 400 bytes each) into a chain (median of 3
//! runs), verifies the whole log on one core (checkpoints every 10,000 records, signatures
//! checked; median of 5 runs), and builds and checks inclusion proofs for `proof samples` random
//! records (default 200), printing p50/p99 per operation.

use std::error::Error;
use std::time::{Duration, Instant};

use rampart_audit::merkle::{inclusion_proof, root, verify_inclusion};
use rampart_audit::{
    AuditChain, AuditEvent, AuditSigner, INCLUSION_PROOF_FORMAT, InclusionProofDocument, StoredRecord, VerifyOptions,
    VerifyStart, verify_log,
};
use serde_json::json;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map(|arg| arg.parse()).transpose()?.unwrap_or(200_000);
    let samples: usize = args.next().map(|arg| arg.parse()).transpose()?.unwrap_or(200);
    let signer = AuditSigner::from_pkcs8(&AuditSigner::generate_pkcs8()?)?;

    let events: Vec<AuditEvent> = (1..=count).map(event).collect();
    // Sealing: three fresh chains, median taken. Only `append` is timed (what the store's
    // writer does per event); checkpoints are signed every 10,000 records.
    let mut seal_times = Vec::new();
    let mut sealed = Vec::new();
    let mut chain = AuditChain::new();
    let mut checkpoints = Vec::new();
    for _ in 0..3 {
        chain = AuditChain::new();
        checkpoints.clear();
        sealed = Vec::with_capacity(events.len());
        let started = Instant::now();
        for event in &events {
            sealed.push(chain.append(event)?);
            if chain.tree_size().is_multiple_of(10_000) {
                checkpoints.push(chain.sign_checkpoint(&signer, 0));
            }
        }
        seal_times.push(started.elapsed());
    }
    let leaves: Vec<_> = sealed.iter().map(|record| record.leaf_hash()).collect();
    let records: Vec<StoredRecord> = sealed
        .into_iter()
        .map(|record| StoredRecord { seq: record.seq, hash_hex: record.hash_hex(), canonical: record.canonical })
        .collect();
    let average_len = records.iter().map(|record| record.canonical.len()).sum::<usize>() / records.len().max(1);

    // Verifying: five runs over the whole log, median taken.
    let options = VerifyOptions { trusted_key: Some(*signer.public_key()), checkpoints, expect_last_seq: Some(count) };
    let mut verify_times = Vec::new();
    for _ in 0..5 {
        let input = records.clone();
        let started = Instant::now();
        let report = verify_log(input, VerifyStart::genesis(), options.clone())?;
        verify_times.push(started.elapsed());
        if let Some(problem) = report.first_problem {
            return Err(format!("the fresh log did not verify: {problem}").into());
        }
    }

    let final_checkpoint = chain.sign_checkpoint(&signer, 0);
    let tree_root = root(&leaves);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let (mut generate, mut check, mut document_check) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..samples {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = state % count;
        let started = Instant::now();
        let path = inclusion_proof(&leaves, index, count)?;
        generate.push(started.elapsed());
        let leaf = &leaves[usize::try_from(index)?];
        let started = Instant::now();
        verify_inclusion(leaf, index, count, &path, &tree_root)?;
        check.push(started.elapsed());
        let record = &records[usize::try_from(index)?].canonical;
        // `proof_for` would rebuild the path and the root (O(n) each); the fields are public.
        let document = InclusionProofDocument {
            format: INCLUSION_PROOF_FORMAT.to_owned(),
            seq: index + 1,
            record: record.clone(),
            leaf_hash: *leaf,
            tree_size: count,
            root_hash: tree_root,
            audit_path: path,
            checkpoint: final_checkpoint.clone(),
            public_key: *signer.public_key(),
        };
        let started = Instant::now();
        document.verify()?;
        document_check.push(started.elapsed());
    }

    println!("rampart-audit speed: {count} records (~{average_len} bytes each), one core, release");
    println!();
    println!("| operation (median of runs)            | total        | per record | records/s  |");
    println!("|---------------------------------------|--------------|------------|------------|");
    row("seal + Merkle push (AuditChain, 3)", median(&mut seal_times), count);
    row("verify whole log (chain+tree+sigs, 5)", median(&mut verify_times), count);
    println!();
    println!("| {:<43} | p50 µs     | p99 µs     |", format!("proof operation ({samples} samples)"));
    println!("|---------------------------------------------|------------|------------|");
    percentiles(&format!("inclusion proof, generate (n = {count})"), &mut generate);
    percentiles("inclusion proof, verify path", &mut check);
    percentiles("proof document verify (+ Ed25519)", &mut document_check);
    Ok(())
}

fn event(n: u64) -> AuditEvent {
    AuditEvent {
        time_unix_ms: 1_767_225_600_000 + i64::try_from(n).unwrap_or(0),
        tenant: Some("acme".into()),
        kind: "route".into(),
        actor: Some("key:7f3a9c".into()),
        request_id: Some(format!("0190f1e2-0000-7000-8000-{n:012}")),
        data: json!({
            "model": "gemma-3-270m",
            "backend": "local-llama",
            "reason": "tier1-only: private request",
            "candidates": ["gemma-3-270m", "gpt-4o-mini"],
            "latency_ms": n % 977,
            "cost_nanos": n * 13,
        }),
    }
}

fn row(name: &str, elapsed: Duration, count: u64) {
    let seconds = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let count = count as f64;
    println!(
        "| {name:<37} | {:>9.1} ms | {:>7.2} µs | {:>10.0} |",
        seconds * 1e3,
        seconds * 1e6 / count,
        count / seconds
    );
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn percentiles(name: &str, times: &mut [Duration]) {
    times.sort_unstable();
    let at = |fraction: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let index = ((times.len() as f64 - 1.0) * fraction).round() as usize;
        times.get(index).map_or(0.0, |time| time.as_secs_f64() * 1e6)
    };
    println!("| {name:<43} | {:>10.1} | {:>10.1} |", at(0.5), at(0.99));
}
