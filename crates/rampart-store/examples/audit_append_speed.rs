//! Audit appends per second with group commit, as the gateway makes them: many tasks, one
//! event per append, each waiting for its commit. Prints one line per engine.
//!
//! `cargo run --release -p rampart-store --example audit_append_speed -- [SECONDS] [TASKS] [POSTGRES_URL]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rampart_core::{AuditEvent, Store};
use serde_json::json;

async fn run(label: &str, store: Arc<dyn Store>, seconds: u64, tasks: usize) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (store, done) = (store.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let event = AuditEvent {
                    time_unix_ms: rampart_core::unix_now_millis(),
                    tenant: Some(format!("tenant-{}", task % 8)),
                    kind: "decision".to_owned(),
                    actor: Some(format!("key:{task:012x}")),
                    request_id: Some(uuid::Uuid::now_v7().to_string()),
                    data: json!({"action": "model.call", "model": "gpt-4o-mini", "tier": 2,
                                 "policy": {"version": "sha256:0123456789abcdef", "allow": true,
                                            "reasons": ["role user may call models"], "obligations": []}}),
                };
                let sent = Instant::now();
                store.append_audit(vec![event]).await.expect("append");
                latencies.push(sent.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let appends = done.load(Ordering::Relaxed);
    println!(
        "{label:<10} tasks {tasks:>4}  appends {appends:>8}  {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        appends as f64 / elapsed,
        pick(0.50).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3
    );
    let head = store.audit_head().await.unwrap();
    assert_eq!(head.size, appends, "every acknowledged append is in the chain");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args.get(1).and_then(|value| value.parse().ok()).unwrap_or(10);
    let tasks = args.get(2).and_then(|value| value.parse().ok()).unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let sqlite =
        rampart_store::open_store(&format!("sqlite://{}", dir.path().join("audit.db").display())).await.unwrap();
    run("sqlite", sqlite, seconds, tasks).await;
    if let Some(url) = args.get(3) {
        let postgres = rampart_store::open_store(url).await.unwrap();
        run("postgres", postgres, seconds, tasks).await;
    }
}
