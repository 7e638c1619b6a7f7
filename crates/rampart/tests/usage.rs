//! Usage accounting end to end: requests charged to two API keys and tenants through the real
//! binary, then totalled by `GET /api/v1/usage` and `rampart usage`, with costs from the
//! configured price table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{FakeUpstream, Rampart, run_cli};

/// USD per million tokens, chosen so that every cost is an exact binary fraction.
const INPUT_PRICE: f64 = 250_000.0;
const OUTPUT_PRICE: f64 = 500_000.0;
const ALPHA_TOKEN: &str = "sk-alpha-key";
const BETA_TOKEN: &str = "sk-beta-key";

fn config(upstream: &FakeUpstream) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
request_timeout_secs = 5

[[backends]]
name = "fake-openai"
kind = "openai"
base_url = "{openai}"

[[models]]
name = "gpt-priced"
backend = "fake-openai"
upstream_model = "up-model"
price_per_mtok = {{ input = {INPUT_PRICE:?}, output = {OUTPUT_PRICE:?} }}

[[models]]
name = "fail"
backend = "fake-openai"
upstream_model = "fail-500"
"#,
        openai = upstream.url("/v1"),
    )
}

/// What the price table charges for one request.
fn cost(tokens_in: u64, tokens_out: u64) -> f64 {
    (tokens_in as f64 * INPUT_PRICE + tokens_out as f64 * OUTPUT_PRICE) / 1_000_000.0
}

/// The id a bearer token is reported under: `key_` and the first 16 hex digits of its SHA-256.
fn key_id(token: &str) -> String {
    format!("key_{}", &hex::encode(Sha256::digest(token.as_bytes()))[..16])
}

/// Sends one chat request with the given bearer token and principal headers; returns the status.
async fn chat(rampart: &Rampart, token: Option<&str>, headers: &[(&str, &str)], body: Value) -> u16 {
    let mut request = reqwest::Client::new().post(rampart.url("/v1/chat/completions")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    // Read to the end, so a stream is complete (and its usage known) before we go on.
    response.bytes().await.unwrap();
    status
}

async fn get_json(rampart: &Rampart, path_and_query: &str) -> (u16, Value) {
    let response = reqwest::get(rampart.url(path_and_query)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn group(key: &str, requests: u64, errors: u64, tokens_in: u64, tokens_out: u64, cost_usd: f64) -> Value {
    json!({"key": key, "requests": requests, "errors": errors, "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost_usd})
}

// Multi-threaded: the CLI runs as a blocking child process while the fake upstream serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_totalled_per_key_tenant_and_user_with_configured_prices() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config(&upstream)).await;
    let config_path = rampart.config_path.to_str().unwrap().to_owned();
    let hello = |stream: bool| json!({"model": "gpt-priced", "messages": [{"role": "user", "content": "hi"}], "stream": stream});

    // The fake upstream reports 11 in / 7 out for a completion and 5 in / 9 out for a stream.
    let acme = [("x-rampart-tenant", "acme")];
    assert_eq!(chat(&rampart, Some(ALPHA_TOKEN), &acme, hello(false)).await, 200);
    assert_eq!(chat(&rampart, Some(ALPHA_TOKEN), &acme, hello(true)).await, 200);
    let globex = [("x-rampart-tenant", " globex "), ("x-rampart-user", "dave")];
    assert_eq!(chat(&rampart, Some(BETA_TOKEN), &globex, hello(false)).await, 200);
    let failing = json!({"model": "fail", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(chat(&rampart, Some(BETA_TOKEN), &[("x-rampart-tenant", "globex")], failing).await, 502);
    let mut from_carol = hello(false);
    from_carol["user"] = json!("carol");
    assert_eq!(chat(&rampart, None, &[("x-rampart-user", "not-carol")], from_carol).await, 200);

    // The log is written in the background; wait until all five requests are in it.
    let mut by_tenant = Value::Null;
    for _ in 0..100 {
        let (status, body) = get_json(&rampart, "/api/v1/usage?group_by=tenant").await;
        assert_eq!(status, 200, "{body}");
        by_tenant = body;
        if by_tenant["total"]["requests"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let completion = cost(11, 7);
    let streamed = cost(5, 9);
    assert_eq!((completion, streamed), (6.25, 5.75), "the price table's arithmetic");
    assert_eq!(
        by_tenant,
        json!({
            "group_by": "tenant", "since": null, "until": null,
            "data": [
                group("acme", 2, 0, 16, 16, completion + streamed),
                group("", 1, 0, 11, 7, completion),
                group("globex", 2, 1, 11, 7, completion),
            ],
            "total": {"requests": 5, "errors": 1, "tokens_in": 38, "tokens_out": 30, "cost_usd": 3.0 * completion + streamed},
        })
    );

    // The body's `user` wins over x-rampart-user; filters match exactly.
    let (_, by_user) = get_json(&rampart, "/api/v1/usage?group_by=user").await;
    assert_eq!(
        by_user["data"],
        json!([
            group("", 3, 1, 16, 16, completion + streamed),
            group("carol", 1, 0, 11, 7, completion),
            group("dave", 1, 0, 11, 7, completion)
        ])
    );
    let (_, globex_models) = get_json(&rampart, "/api/v1/usage?group_by=model&tenant=globex&since=0").await;
    assert_eq!(
        globex_models["data"],
        json!([group("gpt-priced", 1, 0, 11, 7, completion), group("fail", 1, 1, 0, 0, 0.0)])
    );
    assert_eq!(globex_models["since"], 0);

    // Bad parameters are 400s naming the parameter.
    for (query, param) in
        [("group_by=tenants", "group_by"), ("since=yesterday", "since"), ("since=5&until=4", "until"), ("limit=3", "")]
    {
        let (status, body) = get_json(&rampart, &format!("/api/v1/usage?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let expected_param = if param.is_empty() { Value::Null } else { json!(param) };
        assert_eq!(body["error"]["param"], expected_param, "{query}: {body}");
    }

    // The CLI reads the same log from the configured storage.
    let alpha = key_id(ALPHA_TOKEN);
    let beta = key_id(BETA_TOKEN);
    let (code, out, err) = run_cli(&["usage", "--config", &config_path, "--by", "key", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let expected_lines = [
        format!(r#"{{"key":"{alpha}","requests":2,"errors":0,"tokens_in":16,"tokens_out":16,"cost_usd":12.0}}"#),
        r#"{"key":"","requests":1,"errors":0,"tokens_in":11,"tokens_out":7,"cost_usd":6.25}"#.to_owned(),
        format!(r#"{{"key":"{beta}","requests":2,"errors":1,"tokens_in":11,"tokens_out":7,"cost_usd":6.25}}"#),
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected_lines, "{out}");
    assert!(!out.contains(ALPHA_TOKEN) && !out.contains(BETA_TOKEN), "tokens never reach the log");

    let (code, out, _) = run_cli(&["usage", "--config", &config_path, "--by", "tenant", "--since", "1h"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "TENANT  REQUESTS  ERRORS  TOKENS IN  TOKENS OUT     COST $",
            "acme           2       0         16          16  12.000000",
            "(none)         1       0         11           7   6.250000",
            "globex         2       1         11           7   6.250000",
            "TOTAL          5       1         38          30  24.500000",
        ],
        "{out}"
    );

    let (code, out, _) = run_cli(&["usage", "--config", &config_path, "--key", &alpha, "--json"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        r#"{"key":"gpt-priced","requests":2,"errors":0,"tokens_in":16,"tokens_out":16,"cost_usd":12.0}"#
    );

    let (code, out, err) = run_cli(&["usage", "--config", &config_path, "--until", "2000-01-01T00:00:00Z"], &[]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(err.contains("match these filters"), "{err}");
    let (code, _, err) = run_cli(&["usage", "--config", &config_path, "--since", "yesterday"], &[]);
    assert_eq!(code, 2, "a bad --since is a usage error");
    assert!(err.contains("--since") && err.contains("RFC 3339"), "{err}");
    let (code, _, err) = run_cli(&["usage", "--config", &config_path, "--by", "tenants"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("tenant"), "{err}");
}
