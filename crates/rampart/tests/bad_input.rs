//! The bad-input battery: every malformed request gets its 4xx in OpenAI's error shape, and
//! the server stays healthy afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{FakeUpstream, Rampart, config_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// A fragment the error message must contain.
    message: &'static str,
    param: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let case = |name, body: &[u8], status, message, param| Case {
        name,
        content_type: Some("application/json"),
        body: body.to_vec(),
        status,
        message,
        param,
    };
    vec![
        case("empty body", b"", 400, "empty", None),
        case("truncated JSON", br#"{"model": "gpt-fake", "messages": [{"role": "user""#, 400, "not valid JSON", None),
        case("invalid UTF-8", b"{\"model\": \"gpt\xff\xfe\", \"messages\": []}", 400, "UTF-8", None),
        case("array instead of object", b"[1, 2]", 400, "JSON object", None),
        case("messages missing", br#"{"model": "gpt-fake"}"#, 400, "messages", None),
        case("model is a number", br#"{"model": 5, "messages": []}"#, 400, "model", Some("model")),
        case("temperature is a string", br#"{"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}"#, 400, "temperature", Some("temperature")),
        case("temperature out of range", br#"{"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}], "temperature": 7}"#, 400, "between 0 and 2", Some("temperature")),
        case("unknown role", br#"{"model": "gpt-fake", "messages": [{"role": "wizard", "content": "x"}]}"#, 400, "messages[0].role", Some("messages[0].role")),
        case("empty messages", br#"{"model": "gpt-fake", "messages": []}"#, 400, "at least one message", Some("messages")),
        case("max_tokens negative", br#"{"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}"#, 400, "max_tokens", Some("max_tokens")),
        case("tool_choice names an unknown tool", br#"{"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function", "function": {"name": "nope"}}}"#, 400, "not in 'tools'", Some("tool_choice")),
        case("n unsupported by the backend", br#"{"model": "claude", "messages": [{"role": "user", "content": "x"}], "n": 2}"#, 400, "n", Some("n")),
        case("unknown model", br#"{"model": "gpt-5-ultra", "messages": [{"role": "user", "content": "x"}]}"#, 404, "does not exist", Some("model")),
        Case { name: "wrong content type", content_type: Some("text/plain"), body: b"hello".to_vec(), status: 415, message: "application/json", param: None },
        Case { name: "form content type", content_type: Some("application/x-www-form-urlencoded"), body: b"model=x".to_vec(), status: 415, message: "application/json", param: None },
    ]
}

#[tokio::test]
async fn each_bad_request_gets_its_status_and_the_server_stays_healthy() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config_for(&upstream, "")).await;
    let client = reqwest::Client::new();
    for case in cases() {
        let mut request = client.post(rampart.url("/v1/chat/completions")).body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, case.status, "{}: {body}", case.name);
        let error = &body["error"];
        assert!(error["message"].as_str().unwrap_or_default().contains(case.message), "{}: {body}", case.name);
        assert!(error["type"].is_string(), "{}: {body}", case.name);
        if let Some(param) = case.param {
            assert_eq!(error["param"], param, "{}: {body}", case.name);
        }
    }
    assert_eq!(reqwest::get(rampart.url("/healthz")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_50_mb_body_is_refused_with_413() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config_for(&upstream, "")).await;
    // Announce 50 MB and send only the start: the answer must come from the headers alone,
    // before the body is read.
    let mut stream = tokio::net::TcpStream::connect(&rampart.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"model\":",
        50 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("request_too_large"), "{answer}");
    // A body over the limit without Content-Length (chunked) is cut off while reading.
    let chunks = futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024 * 1024])));
    let response = reqwest::Client::new()
        .post(rampart.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
    assert_eq!(reqwest::get(rampart.url("/healthz")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn slow_loris_headers_are_cut_off_and_others_are_served() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config_for(&upstream, "header_read_timeout_secs = 1")).await;
    let mut slow = tokio::net::TcpStream::connect(&rampart.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // Trickle a header line without ever finishing the request.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if slow.write_all(b"X-Slow: a\r\n").await.is_err() {
            break;
        }
    }
    // Meanwhile a normal client is served.
    assert_eq!(reqwest::get(rampart.url("/healthz")).await.unwrap().status(), 200);
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buffer)).await;
    let closed = matches!(read, Ok(Ok(_)) | Ok(Err(_)));
    assert!(closed, "the slow connection was not closed");
    let text = String::from_utf8_lossy(&buffer);
    assert!(!text.contains("200 OK"), "the slow request was served: {text}");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_openai_error_shape() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config_for(&upstream, "")).await;
    let response = reqwest::get(rampart.url("/v1/nope")).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let response = reqwest::get(rampart.url("/v1/chat/completions")).await.unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
