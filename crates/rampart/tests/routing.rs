//! Routing under fault injection, end to end: the real binary in front of scripted
//! OpenAI-compatible upstreams that fail, hang, rate-limit, cut streams and get killed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use support::Rampart;
use support::scripted::{Behaviour, ScriptedUpstream};

const FAST_RETRIES: &str = "max_retries = 2\nretry_backoff_ms = 1\nretry_backoff_max_ms = 5\n";

fn config(router: &str, breaker: &str, rest: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nrequest_timeout_secs = 20\n\n[router]\n{router}\n[router.breaker]\n{breaker}\n{rest}"
    )
}

fn backend(name: &str, upstream: &ScriptedUpstream, extra: &str) -> String {
    format!("[[backends]]\nname = \"{name}\"\nkind = \"openai\"\nbase_url = \"{}\"\n{extra}\n", upstream.base_url())
}

/// Model `main` on backend `primary`, falling back to model `spare` on backend `fallback`.
fn main_with_spare(primary: &ScriptedUpstream, fallback: &ScriptedUpstream, primary_name: &str) -> String {
    format!(
        "{}{}
[[models]]\nname = \"main\"\nbackend = \"{primary_name}\"\nfallbacks = [\"spare\"]
[[models]]\nname = \"spare\"\nbackend = \"fallback\"\n",
        backend(primary_name, primary, ""),
        backend("fallback", fallback, "")
    )
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    fn content(&self) -> &str {
        self.body["choices"][0]["message"]["content"].as_str().unwrap_or_default()
    }
}

async fn chat(rampart: &Rampart, model: &str, extra: &[(&str, &str)], body: Value) -> Reply {
    let mut payload = json!({"model": model, "messages": [{"role": "user", "content": "hello"}]});
    if let (Some(payload), Value::Object(fields)) = (payload.as_object_mut(), body) {
        payload.extend(fields);
    }
    let mut request = reqwest::Client::new().post(rampart.url("/v1/chat/completions")).json(&payload);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, headers, body }
}

async fn router_status(rampart: &Rampart) -> Value {
    reqwest::get(rampart.url("/api/v1/router")).await.unwrap().json().await.unwrap()
}

fn circuit_of<'a>(status: &'a Value, backend: &str) -> &'a str {
    status["backends"]
        .as_array()
        .and_then(|backends| backends.iter().find(|entry| entry["name"] == backend))
        .and_then(|entry| entry["circuit"].as_str())
        .unwrap_or("missing")
}

#[tokio::test]
async fn transient_failures_are_retried_exactly_then_fallbacks_are_tried_in_order() {
    let first = ScriptedUpstream::start("first", Behaviour::Fail { status: 503, retry_after_secs: None }).await;
    let second = ScriptedUpstream::start("second", Behaviour::Fail { status: 502, retry_after_secs: None }).await;
    let third = ScriptedUpstream::start("third", Behaviour::Answer).await;
    let rest = format!(
        "{}{}{}
[[models]]\nname = \"primary\"\nbackend = \"first\"\nfallbacks = [\"secondary\", \"tertiary\"]
[[models]]\nname = \"secondary\"\nbackend = \"second\"
[[models]]\nname = \"tertiary\"\nbackend = \"third\"\n",
        backend("first", &first, ""),
        backend("second", &second, ""),
        backend("third", &third, "")
    );
    let rampart = Rampart::start(&config(FAST_RETRIES, "consecutive_failures = 100", &rest)).await;

    let reply = chat(&rampart, "primary", &[], json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content(), "answer from third");
    assert_eq!(reply.body["model"], "tertiary");
    assert_eq!(reply.header("x-rampart-model"), "tertiary");
    assert_eq!(reply.header("x-rampart-backend"), "third");
    // 1 + 2 retries on each failing model, then one good attempt.
    assert_eq!((first.hits(), second.hits(), third.hits()), (3, 3, 1));
    assert_eq!(reply.header("x-rampart-attempts"), "7");

    // A request the upstream calls malformed is the client's to fix: no retry, no fallback.
    first.then([Behaviour::Fail { status: 400, retry_after_secs: None }]);
    let reply = chat(&rampart, "primary", &[], json!({})).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!((first.hits(), second.hits(), third.hits()), (4, 3, 1));

    let metrics = reqwest::get(rampart.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"rampart_router_retries_total{backend="first"} 2"#), "{metrics}");
    assert!(metrics.contains(r#"rampart_router_fallbacks_total{from="primary",to="secondary"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"rampart_router_fallbacks_total{from="secondary",to="tertiary"} 1"#), "{metrics}");
}

#[tokio::test]
async fn retry_after_is_waited_out_when_short_and_skipped_to_the_fallback_when_long() {
    let primary = ScriptedUpstream::start("primary", Behaviour::Answer).await;
    let fallback = ScriptedUpstream::start("fallback", Behaviour::Answer).await;
    let rest = main_with_spare(&primary, &fallback, "primary");
    let router = format!("{FAST_RETRIES}max_retry_after_secs = 5\nattempt_timeout_secs = 1\n");
    let rampart = Rampart::start(&config(&router, "consecutive_failures = 100", &rest)).await;

    primary.then([Behaviour::Fail { status: 429, retry_after_secs: Some(1) }]);
    let started = Instant::now();
    let reply = chat(&rampart, "main", &[], json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(started.elapsed() >= Duration::from_secs(1), "retried after {:?}", started.elapsed());
    assert_eq!((primary.hits(), fallback.hits()), (2, 0));
    assert_eq!(reply.header("x-rampart-attempts"), "2");

    primary.then([Behaviour::Fail { status: 429, retry_after_secs: Some(60) }]);
    let started = Instant::now();
    let reply = chat(&rampart, "main", &[], json!({})).await;
    assert_eq!(reply.content(), "answer from fallback");
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
    assert_eq!((primary.hits(), fallback.hits()), (3, 1));

    // A hung upstream costs one attempt timeout per try, then the fallback answers.
    primary.set_default(Behaviour::Delay(Duration::from_secs(30)));
    let started = Instant::now();
    let reply = chat(&rampart, "main", &[], json!({})).await;
    assert_eq!(reply.content(), "answer from fallback");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(8), "took {elapsed:?}");
    assert_eq!((primary.hits(), fallback.hits()), (6, 2));
}

#[tokio::test]
async fn a_stream_is_never_retried_after_its_first_byte_but_is_before_it() {
    let primary = ScriptedUpstream::start("primary", Behaviour::DropMidStream).await;
    let fallback = ScriptedUpstream::start("fallback", Behaviour::Answer).await;
    let rest = main_with_spare(&primary, &fallback, "primary");
    let rampart = Rampart::start(&config(FAST_RETRIES, "consecutive_failures = 100", &rest)).await;

    let reply = chat(&rampart, "main", &[], json!({"stream": true})).await;
    assert_eq!(reply.status, 200);
    let text = reply.body.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("answer from primary"), "{text}");
    assert!(text.contains(r#""error""#), "the cut must end the stream with an error event: {text}");
    assert!(!text.contains("answer from fallback"), "{text}");
    assert_eq!((primary.hits(), fallback.hits()), (1, 0));

    // Failing before the first byte: retried, then handed to the fallback, seamlessly.
    primary.then([
        Behaviour::Fail { status: 503, retry_after_secs: None },
        Behaviour::Fail { status: 503, retry_after_secs: None },
        Behaviour::Fail { status: 503, retry_after_secs: None },
    ]);
    let reply = chat(&rampart, "main", &[], json!({"stream": true})).await;
    let text = reply.body.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("answer from fallback") && text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(reply.header("x-rampart-model"), "spare");
    assert_eq!((primary.hits(), fallback.hits()), (4, 1));
}

#[tokio::test]
async fn the_breaker_opens_skips_the_backend_and_a_probe_closes_it() {
    let flaky = ScriptedUpstream::start("flaky", Behaviour::Fail { status: 500, retry_after_secs: None }).await;
    let steady = ScriptedUpstream::start("steady", Behaviour::Answer).await;
    let rest = main_with_spare(&flaky, &steady, "flaky");
    let breaker = "consecutive_failures = 2\nopen_secs = 1\nopen_on_failed_health_check = false";
    let rampart = Rampart::start(&config("max_retries = 0\nhealth_check_secs = 3600", breaker, &rest)).await;

    for _ in 0..2 {
        assert_eq!(chat(&rampart, "main", &[], json!({})).await.content(), "answer from steady");
    }
    assert_eq!(flaky.hits(), 2);
    let status = router_status(&rampart).await;
    assert_eq!(circuit_of(&status, "flaky"), "open", "{status}");
    assert_eq!(status["events"][0]["kind"], "circuit");
    assert_eq!(status["events"][0]["to"], "open");

    // Open: the failing backend is not even tried.
    assert_eq!(chat(&rampart, "main", &[], json!({})).await.content(), "answer from steady");
    assert_eq!(flaky.hits(), 2);

    // After the open period one probe goes through; it succeeds and closes the circuit.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    flaky.set_default(Behaviour::Answer);
    let reply = chat(&rampart, "main", &[], json!({})).await;
    assert_eq!(reply.content(), "answer from flaky");
    assert_eq!(flaky.hits(), 3);
    let status = router_status(&rampart).await;
    assert_eq!(circuit_of(&status, "flaky"), "closed", "{status}");
    let transitions: Vec<&str> =
        status["events"].as_array().unwrap().iter().filter_map(|event| event["to"].as_str()).collect();
    assert_eq!(transitions, ["closed", "half_open", "open"]);
    let metrics = reqwest::get(rampart.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"rampart_circuit_state{backend="flaky"} 0"#), "{metrics}");
    assert!(metrics.contains(r#"rampart_circuit_transitions_total{backend="flaky",to="open"} 1"#), "{metrics}");
}

#[tokio::test]
async fn replicas_share_the_load_and_cover_for_a_dead_one() {
    let left = ScriptedUpstream::start("left", Behaviour::Delay(Duration::from_millis(100))).await;
    let right = ScriptedUpstream::start("right", Behaviour::Delay(Duration::from_millis(100))).await;
    let rest = format!(
        "{}{}
[[models]]\nname = \"pooled\"\nbackends = [\"left\", \"right\"]\n",
        backend("left", &left, ""),
        backend("right", &right, "")
    );
    let rampart = Arc::new(Rampart::start(&config(FAST_RETRIES, "consecutive_failures = 3", &rest)).await);

    let burst = |count: usize| {
        let rampart = rampart.clone();
        async move {
            let calls = (0..count).map(|_| {
                let rampart = rampart.clone();
                async move { chat(&rampart, "pooled", &[], json!({})).await.status }
            });
            futures_util::future::join_all(calls).await
        }
    };
    let statuses = burst(20).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    assert!(left.hits() >= 3 && right.hits() >= 3, "left {} right {}", left.hits(), right.hits());

    left.kill();
    let statuses = burst(20).await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let status = router_status(&rampart).await;
    assert_eq!(circuit_of(&status, "left"), "open", "{status}");
}

#[tokio::test]
async fn past_its_queue_a_backend_sheds_load_with_429_and_retry_after() {
    let slow = ScriptedUpstream::start("slow", Behaviour::Delay(Duration::from_millis(1_500))).await;
    let rest = format!(
        "{}
[[models]]\nname = \"main\"\nbackend = \"slow\"\n",
        backend("slow", &slow, "max_concurrency = 1\nmax_queue = 1")
    );
    let rampart = Arc::new(Rampart::start(&config(FAST_RETRIES, "", &rest)).await);

    let calls = (0..6).map(|_| {
        let rampart = rampart.clone();
        async move { chat(&rampart, "main", &[], json!({})).await }
    });
    let replies = futures_util::future::join_all(calls).await;
    let ok = replies.iter().filter(|reply| reply.status == 200).count();
    let shed: Vec<&Reply> = replies.iter().filter(|reply| reply.status == 429).collect();
    assert_eq!((ok, shed.len()), (2, 4), "{:?}", replies.iter().map(|reply| reply.status).collect::<Vec<_>>());
    for reply in shed {
        assert_eq!(reply.body["error"]["code"], "rate_limit_exceeded", "{}", reply.body);
        assert!(reply.header("retry-after").parse::<u64>().is_ok_and(|secs| secs >= 1), "{:?}", reply.headers);
    }
    assert_eq!(slow.hits(), 2);
    let metrics = reqwest::get(rampart.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"rampart_backpressure_rejections_total{backend="slow"} 4"#), "{metrics}");
    assert!(metrics.contains(r#"rampart_backend_queue_depth{backend="slow"} 0"#), "{metrics}");
}

#[tokio::test]
async fn confidential_work_stays_on_tier_1_and_a_tier_2_only_model_refuses_it() {
    let cloud = ScriptedUpstream::start("cloud", Behaviour::Answer).await;
    let local = ScriptedUpstream::start("local", Behaviour::Answer).await;
    let rest = format!(
        "{}{}
[[models]]\nname = \"assistant\"\nbackend = \"cloud\"\ntier = 2\nfallbacks = [\"on-prem\"]
[[models]]\nname = \"cloud-only\"\nbackend = \"cloud\"\ntier = 2\nsustain = false
[[models]]\nname = \"on-prem\"\nbackend = \"local\"\n",
        backend("cloud", &cloud, ""),
        backend("local", &local, "")
    );
    let rampart = Rampart::start(&config(FAST_RETRIES, "", &rest)).await;

    let reply = chat(&rampart, "assistant", &[("x-rampart-privacy-mode", "true")], json!({})).await;
    assert_eq!(reply.content(), "answer from local");
    let reply = chat(&rampart, "assistant", &[], json!({"metadata": {"classification": "confidential"}})).await;
    assert_eq!(reply.content(), "answer from local");
    assert_eq!(cloud.hits(), 0);

    let reply = chat(&rampart, "cloud-only", &[("x-rampart-classification", "secret")], json!({})).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "tier1_required");
    assert_eq!(cloud.hits(), 0);
    let status = router_status(&rampart).await;
    assert_eq!(status["events"][0]["kind"], "tier1_refusal", "{status}");
    // The refusal is in the request log too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log: Value = reqwest::get(rampart.url("/api/v1/requests?status=403")).await.unwrap().json().await.unwrap();
    assert_eq!(log["data"][0]["model"], "cloud-only", "{log}");

    // Other requests go to the cloud, without Rampart's routing keys in their metadata.
    let reply =
        chat(&rampart, "assistant", &[], json!({"metadata": {"team": "ops", "classification": "public"}})).await;
    assert_eq!(reply.content(), "answer from cloud");
    let forwarded = cloud.script.bodies.lock().unwrap().last().cloned().unwrap();
    assert_eq!(forwarded["metadata"], json!({"team": "ops"}));
}

#[tokio::test]
async fn when_the_cloud_dies_under_load_work_moves_to_tier_1_without_a_failure_and_moves_back() {
    let cloud = ScriptedUpstream::start("cloud", Behaviour::Delay(Duration::from_millis(30))).await;
    let local = ScriptedUpstream::start("local", Behaviour::Answer).await;
    let rest = format!(
        "{}{}
[[models]]\nname = \"assistant\"\nbackend = \"cloud\"\ntier = 2
[[models]]\nname = \"on-prem\"\nbackend = \"local\"\n",
        backend("cloud", &cloud, ""),
        backend("local", &local, "")
    );
    let router = "max_retries = 1\nretry_backoff_ms = 5\nretry_backoff_max_ms = 20\nsustain_model = \"on-prem\"\nhealth_check_secs = 1";
    let rampart = Arc::new(Rampart::start(&config(router, "consecutive_failures = 3\nopen_secs = 1", &rest)).await);

    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let stop_at = Instant::now() + Duration::from_secs(3);
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (rampart, failures, served) = (rampart.clone(), failures.clone(), served.clone());
            tokio::spawn(async move {
                while Instant::now() < stop_at {
                    // Every fourth request is private: it must never reach the cloud.
                    let private = worker % 4 == 0;
                    let headers: &[(&str, &str)] = if private { &[("x-rampart-privacy-mode", "on")] } else { &[] };
                    let body =
                        json!({"messages": [{"role": "user", "content": if private { "PRIVATE-7" } else { "hello" }}]});
                    let reply = chat(&rampart, "assistant", headers, body).await;
                    if reply.status == 200 {
                        served.fetch_add(1, Ordering::SeqCst);
                    } else {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let hits_before_kill = cloud.hits();
    cloud.kill();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::SeqCst), 0, "served {}", served.load(Ordering::SeqCst));
    assert!(hits_before_kill > 0 && local.hits() > 0);
    let bodies = cloud.script.bodies.lock().unwrap().clone();
    assert!(bodies.iter().all(|body| !body.to_string().contains("PRIVATE-7")), "a private request reached the cloud");

    let status = router_status(&rampart).await;
    assert_eq!(status["mode"], "solo_sustain", "{status}");
    let entered = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|event| event["kind"] == "mode" && event["to"] == "solo_sustain");
    assert!(entered, "{status}");
    let metrics = reqwest::get(rampart.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("rampart_router_solo_sustain 1"), "{metrics}");

    // The cloud comes back: work returns to it, and the mode to normal.
    cloud.set_default(Behaviour::Answer);
    cloud.restart().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = chat(&rampart, "assistant", &[], json!({})).await;
        assert_eq!(reply.status, 200);
        if reply.content() == "answer from cloud" {
            break;
        }
        assert!(Instant::now() < deadline, "the cloud never got work back: {}", router_status(&rampart).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = router_status(&rampart).await;
    assert_eq!(status["mode"], "normal", "{status}");
}

#[tokio::test]
async fn a_server_without_a_model_list_stays_in_service() {
    // Only the chat endpoint: `GET /v1/models` is a 404, as on some OpenAI-compatible servers.
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|| async {
            axum::Json(json!({
                "id": "c", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "up"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = config(
        "health_check_secs = 1\n",
        "",
        &format!(
            "[[backends]]\nname = \"bare\"\nkind = \"openai\"\nbase_url = \"http://{addr}/v1\"\n\
             [[models]]\nname = \"m\"\nbackend = \"bare\"\n"
        ),
    );
    let rampart = Rampart::start(&config).await;
    // Two health checks later, the circuit is still closed and requests are served.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let status: Value = reqwest::get(rampart.url("/api/v1/router")).await.unwrap().json().await.unwrap();
    assert_eq!(status["backends"][0]["circuit"], "closed", "{status}");
    assert_eq!(chat(&rampart, "m", &[], json!({})).await.status, 200);
}
