//! The exact-match response cache end to end: the real binary in front of a scripted upstream
//! that counts its calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::Rampart;
use support::scripted::{Behaviour, ScriptedUpstream};

/// `cached` keeps answers for a minute; `plain` caches only on request.
fn config(upstream: &ScriptedUpstream) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[[backends]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"{}\"\n
[[models]]\nname = \"cached\"\nbackend = \"up\"\ncache_ttl_secs = 60\nprice_per_mtok = {{ input = 1.0, output = 1.0 }}
[[models]]\nname = \"plain\"\nbackend = \"up\"\n{}",
        upstream.base_url(),
        support::PLAIN_ROUTING
    )
}

fn tool(name: &str) -> Value {
    json!({"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}})
}

async fn chat(rampart: &Rampart, headers: &[(&str, &str)], body: Value) -> (String, String, Value) {
    let mut request = reqwest::Client::new().post(rampart.url("/v1/chat/completions")).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let (cache, cost) = (header("x-rampart-cache"), header("x-rampart-cost"));
    let body = if header("content-type").starts_with("text/event-stream") {
        Value::String(response.text().await.unwrap())
    } else {
        response.json().await.unwrap()
    };
    (cache, cost, body)
}

fn ask(model: &str, extra: Value) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "what is 2+2?"}]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn identical_requests_are_answered_from_the_cache_without_an_upstream_call() {
    let upstream = ScriptedUpstream::start("up", Behaviour::Answer).await;
    let rampart = Rampart::start(&config(&upstream)).await;
    let tools = json!({"tools": [tool("b_search"), tool("a_lookup")], "temperature": 0});

    let (cache, cost, first) = chat(&rampart, &[], ask("cached", tools.clone())).await;
    assert_eq!(cache, "miss");
    assert_ne!(cost, "0.00000000");
    // Tools go upstream in one order, whatever the client's.
    let sent = upstream.script.bodies.lock().unwrap()[0]["tools"].clone();
    assert_eq!(sent[0]["function"]["name"], "a_lookup");

    // The same request with its tools listed the other way round and its keys reordered.
    let reordered = json!({"temperature": 0, "tools": [tool("a_lookup"), tool("b_search")]});
    let (cache, cost, second) = chat(&rampart, &[], ask("cached", reordered)).await;
    assert_eq!((cache.as_str(), cost.as_str()), ("hit", "0.00000000"));
    assert_eq!(second["choices"], first["choices"]);
    assert_eq!(upstream.hits(), 1);

    // A different parameter is a different request; `skip` bypasses the cache.
    let (cache, ..) = chat(&rampart, &[], ask("cached", json!({"temperature": 1}))).await;
    assert_eq!(cache, "miss");
    let (cache, ..) = chat(&rampart, &[("x-rampart-cache", "skip")], ask("cached", tools.clone())).await;
    assert_eq!(cache, "");
    assert_eq!(upstream.hits(), 3);

    // A stream of a cached answer is replayed as chunks.
    let (cache, _, streamed) =
        chat(&rampart, &[], ask("cached", json!({"stream": true, "tools": tools["tools"], "temperature": 0}))).await;
    assert_eq!(cache, "hit");
    let text = streamed.as_str().unwrap();
    assert!(text.contains("answer from up") && text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(upstream.hits(), 3);

    // Answers are never shared across tenants.
    let (cache, ..) = chat(&rampart, &[("x-rampart-tenant", "other")], ask("cached", tools.clone())).await;
    assert_eq!(cache, "miss");

    let metrics = reqwest::get(rampart.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("rampart_cache_lookups_total{model=\"cached\",result=\"hit\"} 2"), "{metrics}");
    // The request log records each hit as served by the cache, at no cost (written in the
    // background: poll briefly).
    let mut hits = Vec::new();
    for _ in 0..50 {
        let log: Value = reqwest::get(rampart.url("/api/v1/requests?limit=20")).await.unwrap().json().await.unwrap();
        hits = log["data"].as_array().unwrap().iter().filter(|entry| entry["backend"] == "cache").cloned().collect();
        if hits.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|entry| entry["cost_usd"] == 0.0 && entry["tokens_in"] == 0), "{hits:?}");
}

#[tokio::test]
async fn models_without_a_ttl_cache_only_on_request() {
    let upstream = ScriptedUpstream::start("up", Behaviour::Answer).await;
    let rampart = Rampart::start(&config(&upstream)).await;
    for _ in 0..2 {
        let (cache, ..) = chat(&rampart, &[], ask("plain", json!({}))).await;
        assert_eq!(cache, "");
    }
    assert_eq!(upstream.hits(), 2);
    let opt_in = [("x-rampart-cache", "use"), ("x-rampart-cache-ttl", "30")];
    assert_eq!(chat(&rampart, &opt_in, ask("plain", json!({}))).await.0, "miss");
    assert_eq!(chat(&rampart, &opt_in, ask("plain", json!({}))).await.0, "hit");
    assert_eq!(upstream.hits(), 3);
    let bad = reqwest::Client::new()
        .post(rampart.url("/v1/chat/completions"))
        .header("x-rampart-cache-ttl", "soon")
        .json(&ask("plain", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
