//! Rate limits and budgets end to end: the real binary, its ledger in SQLite or Redis, and a
//! scripted OpenAI-compatible upstream that reports usage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use support::Rampart;
use support::scripted::{Behaviour, ScriptedUpstream};

/// One model `metered` at $1 per million tokens in and out (a token costs 1000 nano-dollars),
/// named as an OpenAI model so its prompt is counted exactly.
fn config(upstream: &ScriptedUpstream, limits: &str, extra: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{extra}\n[[backends]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"{}\"\n
[[models]]\nname = \"metered\"\nbackend = \"up\"\nupstream_model = \"gpt-4o-mini\"\nprice_per_mtok = {{ input = 1.0, output = 1.0 }}\n
{limits}\n{}",
        upstream.base_url(),
        support::PLAIN_ROUTING
    )
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::now_v7().simple())
}

async fn chat(rampart: &Rampart, headers: &[(&str, &str)], body: Value) -> reqwest::Response {
    let mut payload = json!({"model": "metered", "messages": [{"role": "user", "content": "hello"}]});
    if let (Some(payload), Value::Object(fields)) = (payload.as_object_mut(), body) {
        payload.extend(fields);
    }
    let mut request = reqwest::Client::new().post(rampart.url("/v1/chat/completions")).json(&payload);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// `GET /api/v1/limits?{query}`'s first counter, polled until `settled` holds of it (the
/// reservations are settled in the background once the answers are out) or 10 s have passed.
async fn counter_when(rampart: &Rampart, query: &str, settled: impl Fn(&Value) -> bool) -> Value {
    let mut counter = Value::Null;
    for _ in 0..100 {
        let report: Value =
            reqwest::get(rampart.url(&format!("/api/v1/limits?{query}"))).await.unwrap().json().await.unwrap();
        counter = report["data"][0].clone();
        if settled(&counter) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    counter
}

fn nanos(value: &Value) -> i64 {
    (value.as_f64().unwrap() * 1e9).round() as i64
}

#[tokio::test]
async fn a_hundred_concurrent_requests_never_overspend_a_small_budget() {
    let upstream = ScriptedUpstream::start("up", Behaviour::Words { count: 20, honour_max_tokens: true }).await;
    // $0.001 a day is 1000 tokens: room for 40 answers of 5 + 20 tokens, if none were reserved.
    let limits = "[[limits]]\nname = \"daily\"\nscope = \"tenant\"\nspend_per_day_usd = 0.001\n";
    let rampart = Rampart::start(&config(&upstream, limits, "")).await;
    let tenant = unique("acme");
    let requests = (0..100).map(|_| {
        let rampart = &rampart;
        let tenant = tenant.clone();
        async move {
            let response = chat(rampart, &[("x-rampart-tenant", &tenant)], json!({"max_tokens": 20})).await;
            let status = response.status().as_u16();
            let cost = response.headers().get("x-rampart-cost").map(|value| value.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap();
            (status, cost, body)
        }
    });
    let results = futures_util::future::join_all(requests).await;

    let mut spent_nanos = 0_i64;
    let (mut served, mut refused) = (0, 0);
    for (status, cost, body) in &results {
        match status {
            200 => {
                served += 1;
                let cost: f64 = cost.as_deref().expect("x-rampart-cost on every answer").parse().unwrap();
                spent_nanos += (cost * 1e9).round() as i64;
            }
            429 => {
                refused += 1;
                assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
                assert_eq!(body["error"]["type"], "insufficient_quota");
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(served + refused, 100);
    assert!(served >= 30, "only {served} of 100 were served; the budget pays for up to 40");
    assert!(refused > 0, "a budget for 40 answers cannot serve 100");
    assert!(spent_nanos <= 1_000_000, "spent {spent_nanos} nano-dollars of a 1000000 budget");

    let counter =
        counter_when(&rampart, &format!("tenant={tenant}"), |counter| nanos(&counter["used"]) == spent_nanos).await;
    assert_eq!(counter["limit"], "daily", "{counter}");
    assert_eq!(counter["meter"], "spend");
    // Settled to the nano-dollar: once the answers are out, the ledger holds exactly what
    // they cost, and never more than the budget.
    assert_eq!(nanos(&counter["used"]), spent_nanos, "{counter}");
    assert!(nanos(&counter["used"]) <= 1_000_000);
}

#[tokio::test]
async fn requests_per_minute_refuse_with_the_reset_time_per_api_key() {
    let upstream = ScriptedUpstream::start("up", Behaviour::Answer).await;
    let name = unique("per-key");
    let limits = format!("[[limits]]\nname = \"{name}\"\nscope = \"api_key\"\nrequests_per_minute = 3\n");
    let rampart = Rampart::start(&config(&upstream, &limits, "")).await;
    let alice = [("authorization", "Bearer sk-alice")];
    for _ in 0..3 {
        assert_eq!(chat(&rampart, &alice, json!({})).await.status(), 200);
    }
    let refused = chat(&rampart, &alice, json!({})).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(refused.headers()["x-rampart-limit"], name.as_str());
    let reset: i64 = refused.headers()["x-rampart-limit-reset"].to_str().unwrap().parse().unwrap();
    assert_eq!(reset % 60, 0, "a minute window resets on the minute");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(body["error"]["message"].as_str().unwrap().contains("3 requests per minute"), "{body}");
    // Another key has its own counter; a request with no key is not counted by a per-key limit.
    assert_eq!(chat(&rampart, &[("authorization", "Bearer sk-bob")], json!({})).await.status(), 200);
    assert_eq!(chat(&rampart, &[], json!({})).await.status(), 200);
    assert_eq!(upstream.hits(), 5, "the refused request never reached the upstream");
    let metrics = reqwest::get(rampart.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&format!("rampart_limit_refusals_total{{limit=\"{name}\",reason=\"rate_limited\"}} 1")));
}

#[tokio::test]
async fn a_stream_that_exhausts_its_budget_is_cut_with_a_final_error_event() {
    // The upstream ignores max_tokens and would stream 300 words.
    let upstream = ScriptedUpstream::start("up", Behaviour::Words { count: 300, honour_max_tokens: false }).await;
    // Room for the 7-token prompt and 50 tokens of answer.
    let limits = "[[limits]]\nname = \"tiny\"\nscope = \"user\"\nspend_per_month_usd = 0.000057\n";
    let rampart = Rampart::start(&config(&upstream, limits, "")).await;
    let user = unique("ann");
    let response = chat(&rampart, &[], json!({"stream": true, "user": user})).await;
    assert_eq!(response.status(), 200);
    let mut body = String::new();
    let mut stream = response.bytes_stream();
    while let Some(bytes) = stream.next().await {
        body.push_str(std::str::from_utf8(&bytes.unwrap()).unwrap());
    }
    // The upstream was asked for no more than the budget pays for.
    assert_eq!(upstream.script.bodies.lock().unwrap()[0]["max_tokens"], 50);
    let events: Vec<&str> = body.split("\n\n").filter_map(|event| event.strip_prefix("data: ")).collect();
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "insufficient_quota", "{body}");
    assert!(last["error"]["message"].as_str().unwrap().contains("cut at 50 tokens"), "{last}");
    assert!(!body.contains("[DONE]"));
    let words = body.matches(r#""content":" tok""#).count();
    assert!((1..=50).contains(&words), "{words} words went out on a budget of 50");
    // Settled with the prompt and the 50 tokens that went out: exactly the budget.
    let counter = counter_when(&rampart, &format!("user={user}"), |counter| nanos(&counter["used"]) == 57_000).await;
    assert_eq!(nanos(&counter["used"]), 57_000, "{counter}");
    // Now it is spent: the next request is refused before reaching the upstream.
    let refused = chat(&rampart, &[], json!({"user": user})).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "insufficient_quota");
}

#[tokio::test]
async fn two_gateways_share_limits_through_redis() {
    let upstream = ScriptedUpstream::start("up", Behaviour::Answer).await;
    let name = unique("shared");
    let limits = format!("[[limits]]\nname = \"{name}\"\nscope = \"global\"\nrequests_per_minute = 5\n");
    let storage = "[storage]\nlimits_url = \"redis://127.0.0.1:6379\"\n";
    let first = Rampart::start(&config(&upstream, &limits, storage)).await;
    let second = Rampart::start(&config(&upstream, &limits, storage)).await;
    let minute = || rampart_core::unix_now_secs() / 60;
    let started_in = minute();
    let mut served = 0;
    for index in 0..10 {
        let gateway = if index % 2 == 0 { &first } else { &second };
        let response = chat(gateway, &[], json!({})).await;
        match response.status().as_u16() {
            200 => served += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    if minute() == started_in {
        assert_eq!(served, 5, "10 requests through two gateways against a shared limit of 5 a minute");
    } else {
        // A minute boundary fell between the requests and opened a new window.
        assert!((5..=10).contains(&served), "{served}");
    }
    let report: Value = reqwest::get(first.url("/api/v1/limits")).await.unwrap().json().await.unwrap();
    assert_eq!(report["ledger"], "redis");
}

#[tokio::test]
async fn a_prompt_over_the_context_window_gets_400_or_loses_its_oldest_turns() {
    let upstream = ScriptedUpstream::start("up", Behaviour::Answer).await;
    let long = "word ".repeat(40);
    let messages = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": long},
        {"role": "assistant", "content": long},
        {"role": "user", "content": "and now?"}
    ]);
    let with_window = |overflow: &str| {
        config(&upstream, "", &format!("[context]\noverflow = \"{overflow}\"\n"))
            .replace("upstream_model = \"gpt-4o-mini\"", "upstream_model = \"gpt-4o-mini\"\ncontext_window = 45")
    };
    let rampart = Rampart::start(&with_window("reject")).await;
    let response = chat(&rampart, &[], json!({"messages": messages})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert!(body["error"]["message"].as_str().unwrap().contains("maximum context length is 45 tokens"), "{body}");
    // A prompt that fits, with max_tokens that does not.
    let response = chat(&rampart, &[], json!({"max_tokens": 100})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["param"], "max_tokens");
    assert_eq!(upstream.hits(), 0);
    drop(rampart);

    let rampart = Rampart::start(&with_window("drop_oldest")).await;
    let response = chat(&rampart, &[], json!({"messages": messages})).await;
    assert_eq!(response.status(), 200);
    let sent = upstream.script.bodies.lock().unwrap()[0]["messages"].clone();
    let roles: Vec<&str> = sent.as_array().unwrap().iter().map(|message| message["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user"], "the two long turns went, the system prompt and last turn stayed");
}

#[test]
fn a_ledger_that_cannot_be_reached_stops_the_gateway_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[storage]\nlimits_url = \"redis://127.0.0.1:1\"\ndata_dir = \"{}\"\n
[[backends]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n
[[models]]\nname = \"m\"\nbackend = \"up\"\n
[[limits]]\nname = \"x\"\nscope = \"global\"\nrequests_per_minute = 1\n",
        dir.path().display()
    );
    let path = dir.path().join("rampart.toml");
    std::fs::write(&path, config).unwrap();
    let (code, _, stderr) = support::run_cli(&["serve", "--config", path.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert!(stderr.contains("limits_url"), "{stderr}");
}
