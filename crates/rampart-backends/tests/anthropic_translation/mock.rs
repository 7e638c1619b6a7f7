//! An in-test HTTP server speaking Anthropic's wire format: it records every request and
//! answers with whatever the test scripted last.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use rampart_backends::AnthropicBackend;
use rampart_config::{BackendConfig, BackendKindConfig};
use serde_json::Value;

pub const API_KEY: &str = "sk-ant-test-secret-key";
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Size of the pieces the body is written in, so streams arrive split mid-event.
    pub piece_size: usize,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Self {
        Self::raw_json(status, &body.to_string())
    }

    /// A body written byte for byte (a `Value` would sort its object keys).
    pub fn raw_json(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_owned(),
            piece_size: usize::MAX,
        }
    }

    /// `events` rendered as Anthropic sends them: `event: <type>` then `data: <json>`.
    pub fn sse(events: &[Value]) -> Self {
        let body = events
            .iter()
            .map(|event| format!("event: {}\ndata: {}\n\n", event["type"].as_str().unwrap(), event))
            .collect();
        Reply { status: 200, headers: vec![("content-type".into(), "text/event-stream".into())], body, piece_size: 17 }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Option<Value>,
}

struct MockState {
    reply: Reply,
    requests: Vec<RecordedRequest>,
}

pub struct MockAnthropic {
    pub root_url: String,
    state: Arc<Mutex<MockState>>,
}

impl MockAnthropic {
    pub async fn start() -> Self {
        let state =
            Arc::new(Mutex::new(MockState { reply: Reply::json(200, &minimal_message()), requests: Vec::new() }));
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockAnthropic { root_url: format!("http://{address}"), state }
    }

    pub fn reply(&self, reply: Reply) {
        self.state.lock().unwrap().reply = reply;
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn last_request(&self) -> RecordedRequest {
        self.requests().pop().expect("the backend sent no request")
    }

    /// An adapter pointed at this server; `base_suffix` is appended to the root URL
    /// (`""`, `"/v1"`, `"/v1/"`) to check each accepted form of `base_url`.
    pub fn backend(&self, base_suffix: &str) -> AnthropicBackend {
        // reqwest is built with `rustls-no-provider`; the binary installs ring at start-up.
        let _ = rustls::crypto::ring::default_provider().install_default();
        AnthropicBackend::new(&self.config(base_suffix)).unwrap()
    }

    pub fn config(&self, base_suffix: &str) -> BackendConfig {
        BackendConfig {
            name: "claude".into(),
            kind: BackendKindConfig::Anthropic,
            base_url: format!("{}{base_suffix}", self.root_url),
            path: None,
            threads: None,
            context_window: None,
            parallel: None,
            max_concurrency: None,
            max_queue: None,
            api_key: Some(API_KEY.into()),
            timeout_secs: 10,
            connect_timeout_secs: 5,
            headers: [("anthropic-beta".to_owned(), "prompt-caching-2024-07-31".to_owned())].into(),
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// The smallest valid Messages answer, for tests that only look at the request.
pub fn minimal_message() -> Value {
    serde_json::json!({
        "id": "msg_minimal", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 1, "output_tokens": 1}
    })
}

async fn answer(
    State(state): State<Arc<Mutex<MockState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut state = state.lock().unwrap();
        state.requests.push(RecordedRequest {
            method,
            path: uri.path().to_owned(),
            headers,
            body: serde_json::from_slice(&body).ok(),
        });
        state.reply.clone()
    };
    let pieces: Vec<Result<Bytes, Infallible>> =
        reply.body.as_bytes().chunks(reply.piece_size.max(1)).map(|piece| Ok(Bytes::copy_from_slice(piece))).collect();
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from_stream(futures_util::stream::iter(pieces))).unwrap()
}
