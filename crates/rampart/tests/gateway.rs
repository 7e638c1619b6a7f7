//! End to end: the real binary in front of a fake upstream speaking OpenAI, Anthropic and
//! Ollama wire formats, exercised over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use support::{FakeUpstream, Rampart, config_for};

async fn setup() -> (FakeUpstream, Rampart) {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config_for(&upstream, "")).await;
    (upstream, rampart)
}

async fn post(rampart: &Rampart, path: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = reqwest::Client::new().post(rampart.url(path)).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, headers)
}

/// The `data:` payloads of an SSE body, in order.
fn sse_payloads(text: &str) -> Vec<String> {
    text.split("\n\n").filter_map(|event| event.strip_prefix("data: ")).map(str::to_owned).collect()
}

async fn stream(rampart: &Rampart, body: Value) -> (u16, Vec<String>) {
    let response = reqwest::Client::new().post(rampart.url("/v1/chat/completions")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    (status, sse_payloads(&response.text().await.unwrap()))
}

#[tokio::test]
async fn chat_completion_through_an_alias_reaches_the_upstream_model() {
    let (upstream, rampart) = setup().await;
    let (status, body, headers) = post(
        &rampart,
        "/v1/chat/completions",
        json!({"model": "default", "messages": [{"role": "user", "content": "hello"}], "temperature": 0.2, "seed": 7, "top_k": 40}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: hello");
    assert_eq!(body["model"], "gpt-fake");
    assert_eq!(body["usage"], json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}));
    assert!(headers.contains_key("x-request-id"));
    let forwarded = upstream.last_body();
    assert_eq!(forwarded["model"], "up-model");
    assert_eq!(forwarded["seed"], 7);
    assert_eq!(forwarded["top_k"], 40, "unknown parameters are forwarded");
    let auth = upstream.recorded.headers.lock().unwrap().last().unwrap()["authorization"].clone();
    assert_eq!(auth, "Bearer sk-secret-upstream-key");
}

#[tokio::test]
async fn streaming_forwards_chunks_and_usage_only_when_asked() {
    let (upstream, rampart) = setup().await;
    let (status, events) = stream(
        &rampart,
        json!({"model": "gpt-fake", "stream": true, "messages": [{"role": "user", "content": "a b c"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|event| serde_json::from_str(event).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "echo: a b c");
    assert!(chunks.iter().all(|chunk| chunk["model"] == "gpt-fake" && chunk.get("usage").is_none()));
    assert_eq!(upstream.last_body()["stream_options"]["include_usage"], true, "usage is always asked of the upstream");

    let (_, events) = stream(
        &rampart,
        json!({"model": "gpt-fake", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 9);
}

#[tokio::test]
async fn tool_calls_plain_and_streamed() {
    let (upstream, rampart) = setup().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let (status, body, _) = post(
        &rampart,
        "/v1/chat/completions",
        json!({"model": "gpt-fake", "messages": [{"role": "user", "content": "weather?"}], "tools": tools, "tool_choice": "auto", "parallel_tool_calls": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(upstream.last_body()["parallel_tool_calls"], false);

    let (_, events) =
        stream(&rampart, json!({"model": "gpt-fake", "stream": true, "messages": [{"role": "user", "content": "weather?"}], "tools": tools})).await;
    let arguments: String = events
        .iter()
        .filter_map(|event| serde_json::from_str::<Value>(event).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().map(str::to_owned)
        })
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
}

#[tokio::test]
async fn anthropic_and_ollama_backends_answer_in_openai_format() {
    let (upstream, rampart) = setup().await;
    let (status, body, _) = post(
        &rampart,
        "/v1/chat/completions",
        json!({"model": "claude", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "claude says: hi");
    assert_eq!(body["usage"]["prompt_tokens"], 12);
    let sent = upstream.last_body();
    assert_eq!(sent["system"], "be brief");
    assert_eq!(sent["model"], "claude-test");

    let (_, events) =
        stream(&rampart, json!({"model": "claude", "stream": true, "messages": [{"role": "user", "content": "yo"}]}))
            .await;
    let text: String = events
        .iter()
        .filter_map(|event| serde_json::from_str::<Value>(event).ok())
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "claude says: yo");

    let (status, body, _) = post(
        &rampart,
        "/v1/chat/completions",
        json!({"model": "llama", "messages": [{"role": "user", "content": "hey"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "llama says: hey");
    let (_, events) =
        stream(&rampart, json!({"model": "llama", "stream": true, "messages": [{"role": "user", "content": "hey"}]}))
            .await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let text: String = events
        .iter()
        .filter_map(|event| serde_json::from_str::<Value>(event).ok())
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "llama says: hey");
}

#[tokio::test]
async fn embeddings_float_and_base64_in_input_order() {
    let (upstream, rampart) = setup().await;
    let (status, body, _) =
        post(&rampart, "/v1/embeddings", json!({"model": "embedder", "input": ["a", "b"], "dimensions": 3})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["embedding"], json!([0.0, 0.5, 1.0]));
    assert_eq!(body["data"][1]["embedding"], json!([5.0, 5.5, 6.0]));
    assert_eq!(body["usage"]["prompt_tokens"], 6);
    assert_eq!(upstream.last_body()["dimensions"], 3);

    let (_, body, _) =
        post(&rampart, "/v1/embeddings", json!({"model": "embedder", "input": "a", "encoding_format": "base64"})).await;
    let encoded = body["data"][0]["embedding"].as_str().expect("base64 string");
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    let values: Vec<f32> = bytes.chunks(4).map(|chunk| f32::from_le_bytes(chunk.try_into().unwrap())).collect();
    assert_eq!(values, vec![0.0, 0.5, 1.0, 1.5]);

    let (status, body, _) =
        post(&rampart, "/v1/embeddings", json!({"model": "llama-embed", "input": ["x", "y"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][1]["embedding"], json!([1.0, 1.0, 2.0]));

    let (status, body, _) = post(&rampart, "/v1/embeddings", json!({"model": "gpt-fake", "input": "x"})).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("chat model"), "{body}");
}

#[tokio::test]
async fn models_list_names_and_aliases() {
    let (_upstream, rampart) = setup().await;
    let list: Value = reqwest::get(rampart.url("/v1/models")).await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|model| model["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"gpt-fake") && ids.contains(&"default") && ids.contains(&"claude"), "{ids:?}");
    let alias: Value = reqwest::get(rampart.url("/v1/models/default")).await.unwrap().json().await.unwrap();
    assert_eq!(alias["root"], "gpt-fake");
    let missing = reqwest::get(rampart.url("/v1/models/gpt-fak")).await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("'gpt-fake'"), "{body}");
}

#[tokio::test]
async fn upstream_failures_keep_status_and_message_and_hide_secrets() {
    let (_upstream, rampart) = setup().await;
    let message = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "x"}]});
    let (status, body, _) = post(&rampart, "/v1/chat/completions", message("fail")).await;
    assert_eq!(status, 502);
    let text = body["error"]["message"].as_str().unwrap();
    assert!(text.contains("500") && text.contains("upstream exploded"), "{body}");
    assert!(!text.contains("sk-secret-upstream-key"), "secret leaked: {text}");
    assert_eq!(body["error"]["code"], "upstream_status_500");

    let (status, body, headers) = post(&rampart, "/v1/chat/completions", message("limited")).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["type"], "rate_limit_exceeded");
    assert_eq!(headers["retry-after"], "7");

    let (status, body, _) = post(&rampart, "/v1/chat/completions", message("slow")).await;
    assert_eq!(status, 504, "{body}");

    let (status, body, _) = post(&rampart, "/v1/chat/completions", message("gpt-4o")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn an_error_mid_stream_ends_with_an_error_event() {
    let (_upstream, rampart) = setup().await;
    let (status, events) = stream(
        &rampart,
        json!({"model": "broken-stream", "stream": true, "messages": [{"role": "user", "content": "a b c d"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].as_str().unwrap().contains("model crashed"), "{last}");
    assert!(!events.iter().any(|event| event == "[DONE]"));
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_stream() {
    let (upstream, rampart) = setup().await;
    let mut response = reqwest::Client::new()
        .post(rampart.url("/v1/chat/completions"))
        .json(&json!({"model": "slow-stream", "stream": true, "messages": [{"role": "user", "content": "one two three four five six"}]}))
        .send()
        .await
        .unwrap();
    assert!(response.chunk().await.unwrap().is_some());
    drop(response);
    let cancelled = &upstream.recorded.cancelled_streams;
    for _ in 0..50 {
        if cancelled.load(std::sync::atomic::Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cancelled.load(std::sync::atomic::Ordering::SeqCst), 1, "the upstream stream was not cancelled");
}

#[tokio::test]
async fn request_ids_metrics_and_the_request_log() {
    let (_upstream, rampart) = setup().await;
    let client = reqwest::Client::new();
    let response = client
        .post(rampart.url("/v1/chat/completions"))
        .header("x-request-id", "trace-abc-123")
        .json(&json!({"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
    let _ = post(
        &rampart,
        "/v1/chat/completions",
        json!({"model": "fail", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;

    let metrics = reqwest::get(rampart.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(
        metrics
            .contains(r#"rampart_http_requests_total{route="/v1/chat/completions",model="gpt-fake",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"rampart_model_tokens_total{model="gpt-fake",direction="output"} 7"#), "{metrics}");
    assert!(
        metrics.contains(r#"rampart_upstream_errors_total{backend="fake-openai",kind="upstream_status"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("rampart_http_request_duration_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("rampart_http_requests_in_flight"), "{metrics}");

    // The log is written in the background; poll briefly.
    let mut page = Value::Null;
    for _ in 0..50 {
        page = reqwest::get(rampart.url("/api/v1/requests?limit=10")).await.unwrap().json().await.unwrap();
        if page["data"].as_array().is_some_and(|data| data.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 2, "{page}");
    assert_eq!(data[0]["status"], 502, "newest first");
    assert_eq!(data[1]["request_id"], "trace-abc-123");
    assert_eq!(data[1]["tokens_in"], 11);
    assert_eq!(data[1]["backend"], "fake-openai");
    // price: 1e6 $/Mtok in, 2e6 $/Mtok out -> 11 + 14 dollars.
    assert_eq!(data[1]["cost_usd"], 25.0);

    let filtered: Value = reqwest::get(rampart.url("/api/v1/requests?status=502")).await.unwrap().json().await.unwrap();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let bad = reqwest::get(rampart.url("/api/v1/requests?limit=0")).await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn health_reports_components_and_readiness() {
    let (_upstream, rampart) = setup().await;
    let mut health = Value::Null;
    for _ in 0..50 {
        health = reqwest::get(rampart.url("/health")).await.unwrap().json().await.unwrap();
        if health["components"]["backend:fake-openai"]["status"] == "ok" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health["components"]["storage"]["status"], "ok", "{health}");
    assert_eq!(health["components"]["backend:fake-openai"]["status"], "ok", "{health}");
    assert_eq!(health["components"]["backend:fake-anthropic"]["status"], "ok", "{health}");
    assert_eq!(health["components"]["backend:fake-ollama"]["status"], "ok", "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(reqwest::get(rampart.url("/readyz")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn readiness_fails_when_no_backend_is_healthy() {
    let config = r#"
[server]
listen = "127.0.0.1:0"
[[backends]]
name = "gone"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
connect_timeout_secs = 1
[[models]]
name = "m"
backend = "gone"
"#;
    let rampart = Rampart::start(config).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = reqwest::get(rampart.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_ne!(body["components"]["backend:gone"]["status"], "ok", "{body}");
    let (status, body, _) =
        post(&rampart, "/v1/chat/completions", json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
            .await;
    // The health check already opened the circuit: 503 with the reason, no upstream wait.
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("circuit is open") && message.contains("unreachable"), "{body}");
}

#[tokio::test]
async fn sigterm_drains_an_in_flight_stream_then_exits() {
    let (_upstream, mut rampart) = setup().await;
    let mut response = reqwest::Client::new()
        .post(rampart.url("/v1/chat/completions"))
        .json(&json!({"model": "slow-stream", "stream": true, "messages": [{"role": "user", "content": "one two three"}]}))
        .send()
        .await
        .unwrap();
    let mut body = String::from_utf8(response.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    rampart.terminate();
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(body.ends_with("data: [DONE]\n\n"), "stream cut short: {body}");
    assert_eq!(rampart.wait_exit(Duration::from_secs(10)), Some(0), "log:\n{}", rampart.log());
    // New connections are refused once shutdown began.
    assert!(reqwest::get(rampart.url("/healthz")).await.is_err());
}

#[tokio::test]
async fn openapi_document_is_served_and_matches_the_checked_in_copy() {
    let (_upstream, rampart) = setup().await;
    let served = reqwest::get(rampart.url("/openapi.json")).await.unwrap().text().await.unwrap();
    let checked_in = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json"))
        .expect("docs/openapi.json is missing: run `make openapi`");
    assert!(
        served.trim() == checked_in.trim(),
        "docs/openapi.json is out of date: run `make openapi` and commit the result"
    );
    let document: Value = serde_json::from_str(&served).unwrap();
    for path in
        ["/v1/chat/completions", "/v1/embeddings", "/v1/models", "/health", "/readyz", "/metrics", "/api/v1/requests"]
    {
        assert!(document["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
}
