//! A model server for tests that speaks the real wire formats: OpenAI (JSON and SSE),
//! Anthropic Messages (JSON and SSE events) and Ollama (JSON and NDJSON). It records the
//! requests it receives so tests can check what the gateway forwarded.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Default)]
pub struct Recorded {
    pub bodies: Mutex<Vec<Value>>,
    pub headers: Mutex<Vec<HeaderMap>>,
    /// Streams whose client went away before the end (the gateway cancelled them).
    pub cancelled_streams: AtomicUsize,
    pub completed_streams: AtomicUsize,
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub recorded: Arc<Recorded>,
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        rampart_backends::ensure_crypto_provider();
        let recorded = Arc::new(Recorded::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/embeddings", post(openai_embeddings))
            .route("/v1/models", get(|| async { Json(json!({"object": "list", "data": [{"id": "up-model", "object": "model", "created": 0, "owned_by": "fake"}]})) }))
            .route("/anthropic/v1/messages", post(anthropic_messages))
            .route("/anthropic/v1/models", get(|| async { Json(json!({"data": []})) }))
            .route("/ollama/api/chat", post(ollama_chat))
            .route("/ollama/api/embed", post(ollama_embed))
            .route("/ollama/api/version", get(|| async { Json(json!({"version": "0.9.0"})) }))
            .with_state(recorded.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake upstream");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake upstream serve");
        });
        FakeUpstream { addr, recorded }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn last_body(&self) -> Value {
        self.recorded.bodies.lock().expect("lock").last().cloned().unwrap_or(Value::Null)
    }
}

fn record(state: &Recorded, headers: &HeaderMap, body: &Value) {
    state.bodies.lock().expect("lock").push(body.clone());
    state.headers.lock().expect("lock").push(headers.clone());
}

fn last_user_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|messages| messages.iter().rev().find(|message| message["role"] == "user"))
        .map(|message| match &message["content"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// Behaviour is chosen by the upstream model name, so one server covers every case.
async fn openai_chat(State(state): State<Arc<Recorded>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    record(&state, &headers, &body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    match model.as_str() {
        "fail-500" => {
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": {"message": "upstream exploded with key sk-secret-upstream-key", "type": "server_error"}}))).into_response();
        }
        "rate-limited" => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], Json(json!({"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}}))).into_response();
        }
        "slow" => tokio::time::sleep(Duration::from_secs(30)).await,
        _ => {}
    }
    let prompt = last_user_text(&body);
    let wants_tool = body["tools"].is_array() && body["tool_choice"] != "none";
    if body["stream"] == true {
        return openai_stream(state, model, prompt, wants_tool);
    }
    let message = if wants_tool {
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    } else {
        json!({"role": "assistant", "content": format!("echo: {prompt}")})
    };
    Json(json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": if wants_tool { "tool_calls" } else { "stop" }, "logprobs": null}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    }))
    .into_response()
}

fn openai_stream(state: Arc<Recorded>, model: String, prompt: String, wants_tool: bool) -> Response {
    let chunk = |delta: Value, finish: Value| json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    let mut events: Vec<Value> = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    if wants_tool {
        events.push(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}), Value::Null));
        events.push(chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}), Value::Null));
        events.push(chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}), Value::Null));
        events.push(chunk(json!({}), json!("tool_calls")));
    } else {
        for word in format!("echo: {prompt}").split_inclusive(' ') {
            events.push(chunk(json!({"content": word}), Value::Null));
        }
        events.push(chunk(json!({}), json!("stop")));
    }
    events.push(json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}}));
    let slow = model == "slow-stream";
    let mid_error = model == "error-mid-stream";
    let stream = async_stream(events, slow, mid_error, state);
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).expect("response")
}

/// Sends each event as its own chunk; `slow` waits 200 ms between events.
fn async_stream(
    events: Vec<Value>,
    slow: bool,
    mid_error: bool,
    state: Arc<Recorded>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    struct Guard {
        state: Arc<Recorded>,
        done: bool,
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            if self.done {
                self.state.completed_streams.fetch_add(1, Ordering::SeqCst);
            } else {
                self.state.cancelled_streams.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    let guard = Guard { state, done: false };
    futures_util::stream::unfold((events.into_iter(), guard, 0usize), move |(mut events, mut guard, sent)| async move {
        if slow && sent > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if mid_error && sent == 2 {
            guard.done = true;
            let error = "data: {\"error\":{\"message\":\"model crashed\",\"type\":\"server_error\"}}\n\n";
            return Some((Ok(Bytes::from(error)), (Vec::new().into_iter(), guard, usize::MAX)));
        }
        if sent == usize::MAX {
            return None;
        }
        match events.next() {
            Some(event) => Some((Ok(Bytes::from(format!("data: {event}\n\n"))), (events, guard, sent + 1))),
            None => {
                guard.done = true;
                Some((Ok(Bytes::from_static(b"data: [DONE]\n\n")), (Vec::new().into_iter(), guard, usize::MAX)))
            }
        }
    })
}

async fn openai_embeddings(
    State(state): State<Arc<Recorded>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, &headers, &body);
    let inputs: Vec<Value> = match &body["input"] {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let dimensions = body["dimensions"].as_u64().unwrap_or(4) as usize;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, _)| json!({"object": "embedding", "index": index, "embedding": (0..dimensions).map(|d| (index * 10 + d) as f32 * 0.5).collect::<Vec<f32>>()}))
        .rev() // out of order on purpose: the gateway must sort by index
        .collect();
    Json(json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3 * inputs.len(), "total_tokens": 3 * inputs.len()}})).into_response()
}

async fn anthropic_messages(
    State(state): State<Arc<Recorded>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, &headers, &body);
    let prompt = body["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .map(|message| match &message["content"] {
            Value::String(text) => text.clone(),
            Value::Array(blocks) => {
                blocks.iter().filter_map(|block| block["text"].as_str()).collect::<Vec<_>>().join("")
            }
            _ => String::new(),
        })
        .unwrap_or_default();
    let text = format!("claude says: {prompt}");
    if body["stream"] == true {
        let events = vec![
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": body["model"], "stop_reason": null, "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ("ping", json!({"type": "ping"})),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "claude says: "}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": prompt}}),
            ),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 6}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ];
        let body: String = events.into_iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect();
        return Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from(body))
            .expect("response");
    }
    Json(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 6}
    }))
    .into_response()
}

async fn ollama_chat(State(state): State<Arc<Recorded>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    record(&state, &headers, &body);
    let prompt = body["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    let model = body["model"].clone();
    if body["stream"] != false {
        let lines = [
            json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": "llama says: "}, "done": false}),
            json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": prompt}, "done": false}),
            json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "prompt_eval_count": 8, "eval_count": 4}),
        ];
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        return Response::builder()
            .header("content-type", "application/x-ndjson")
            .body(Body::from(body))
            .expect("response");
    }
    Json(json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": format!("llama says: {prompt}")}, "done": true, "done_reason": "stop", "prompt_eval_count": 8, "eval_count": 4})).into_response()
}

async fn ollama_embed(State(state): State<Arc<Recorded>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    record(&state, &headers, &body);
    let count = body["input"].as_array().map(Vec::len).unwrap_or(1);
    Json(json!({"model": body["model"], "embeddings": (0..count).map(|i| vec![i as f32, 1.0, 2.0]).collect::<Vec<_>>(), "prompt_eval_count": 2 * count})).into_response()
}
