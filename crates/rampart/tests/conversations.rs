//! Encrypted conversation history end to end: a chat is stored encrypted as the model saw it
//! (redacted), listed with its PII tags, shown and exported only with the key (each access
//! audited), the master key rotates without re-encrypting, a wrong key is refused by name,
//! and a user's history is erased on request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{FakeUpstream, Rampart, run_cli};

const EMAIL: &str = "zoe.quartermain@example.org";
const MARKER: &str = "violet-harbour-42";

fn config(upstream: &FakeUpstream) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
request_timeout_secs = 5

[conversations]
enabled = true
retention_days = 7

[guardrails]
enabled = true

[[guardrails.rules]]
name = "pii"
entities = ["email"]
action = "redact"
stages = ["prompt", "log"]

[[backends]]
name = "fake-openai"
kind = "openai"
base_url = "{openai}"

[[models]]
name = "gpt-fake"
backend = "fake-openai"
upstream_model = "up-model"
"#,
        openai = upstream.url("/v1"),
    )
}

fn cli(rampart: &Rampart, args: &[&str]) -> (i32, String, String) {
    let config = rampart.config_path.to_str().unwrap();
    let mut full = vec!["--config", config];
    full.extend_from_slice(args);
    run_cli(&full, &[])
}

async fn wait_for_rows(rampart: &Rampart, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, out, err) = cli(rampart, &["conversations", "list", "--json"]);
        assert_eq!(code, 0, "{err}");
        let rows: Vec<Value> = out.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        if rows.len() >= count || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_encrypted_tagged_audited_rotated_and_erased() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config(&upstream)).await;
    let prompt = format!("note {MARKER} and mail {EMAIL}");
    for stream in [false, true] {
        let response = reqwest::Client::new()
            .post(rampart.url("/v1/chat/completions"))
            .json(&json!({"model": "gpt-fake", "stream": stream, "user": "zoe", "messages": [{"role": "user", "content": prompt}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let _ = response.text().await.unwrap();
    }

    let rows = wait_for_rows(&rampart, 2).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["model"], "gpt-fake");
    assert_eq!(row["pii_tags"], json!(["email"]), "{row}");
    let expires = row["expires_unix_ms"].as_i64().unwrap() - row["created_unix_ms"].as_i64().unwrap();
    assert_eq!(expires, 7 * 86_400_000);

    // The database holds ciphertext only.
    let db = std::fs::read(rampart.dir.path().join("rampart.db")).unwrap();
    let wal = std::fs::read(rampart.dir.path().join("rampart.db-wal")).unwrap_or_default();
    for file in [&db, &wal] {
        assert!(!file.windows(MARKER.len()).any(|window| window == MARKER.as_bytes()), "plaintext in the database");
    }

    // Shown with the key: as the model saw it, redacted; the answer too.
    let id = row["id"].as_str().unwrap();
    let (code, out, err) = cli(&rampart, &["conversations", "show", id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(out.trim()).unwrap();
    let text = shown["content"].to_string();
    assert!(text.contains(MARKER) && text.contains("[EMAIL_1]") && !text.contains(EMAIL), "{text}");
    assert!(shown["content"]["response"]["content"].as_str().unwrap().starts_with("echo: "), "{shown}");

    let (code, out, err) = cli(&rampart, &["conversations", "export", "--tenant", "default"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2);

    // Every access is on the audit log.
    let (code, out, err) = cli(&rampart, &["audit", "export"]);
    assert_eq!(code, 0, "{err}");
    for action in ["conversations.show", "conversations.export"] {
        assert!(out.contains(action), "{action} not audited");
    }

    // Rotation re-wraps; the old key no longer opens anything, the new one opens everything.
    let new_key = rampart.dir.path().join("new-master.key");
    let (code, _, err) = cli(&rampart, &["conversations", "rotate-key", "--new-key-file", new_key.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&rampart, &["conversations", "show", id]);
    assert_ne!(code, 0);
    assert!(err.contains("wrapped by master key") && err.contains("rotate-key"), "{err}");
    let rotated = std::fs::read_to_string(&rampart.config_path)
        .unwrap()
        .replace("retention_days = 7", &format!("retention_days = 7\nmaster_key_file = \"{}\"", new_key.display()));
    std::fs::write(&rampart.config_path, rotated).unwrap();
    let (code, out, err) = cli(&rampart, &["conversations", "show", id, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(MARKER));

    // Erasure asks for confirmation, then deletes that user's history.
    let (code, _, err) = cli(&rampart, &["conversations", "purge", "--tenant", "default", "--user", "zoe"]);
    assert_ne!(code, 0);
    assert!(err.contains("--yes"), "{err}");
    let (code, _, err) = cli(&rampart, &["conversations", "purge", "--tenant", "default", "--user", "zoe", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("erased 2"), "{err}");
    assert!(wait_for_rows(&rampart, 0).await.is_empty());
}
