//! A fake Ollama server speaking the native wire format, and the helpers that turn what the
//! adapter returns into comparable JSON.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rampart_backends::OllamaBackend;
use rampart_config::{BackendConfig, BackendKindConfig};
use rampart_core::BackendError;
use rampart_types::{ChatCompletionChunk, ChatCompletionResponse};
use serde_json::{Value, json};

/// What the fake answers to every request until told otherwise.
#[derive(Clone)]
pub enum Reply {
    Json(u16, Value),
    /// A JSON body exactly as written (a `Value` would sort its keys).
    RawJson(u16, String),
    /// A 200 NDJSON body sent in pieces of `piece` bytes, with a pause between pieces so the
    /// client really reads them apart (lines split mid-way).
    Ndjson {
        body: String,
        piece: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

struct FakeState {
    reply: Reply,
    requests: Vec<Recorded>,
}

#[derive(Clone)]
pub struct FakeOllama {
    state: Arc<Mutex<FakeState>>,
    pub base_url: String,
}

impl FakeOllama {
    pub async fn start() -> FakeOllama {
        install_crypto_provider();
        let state = Arc::new(Mutex::new(FakeState {
            reply: Reply::Json(200, json!({"version": "0.12.6"})),
            requests: Vec::new(),
        }));
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeOllama { state, base_url: format!("http://{address}") }
    }

    pub fn reply(&self, reply: Reply) {
        self.state.lock().unwrap().reply = reply;
    }

    /// The requests received since the last call.
    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.state.lock().unwrap().requests)
    }

    pub fn backend(&self, api_key: Option<&str>) -> OllamaBackend {
        OllamaBackend::new(&BackendConfig {
            name: "local-ollama".into(),
            kind: BackendKindConfig::Ollama,
            base_url: format!("{}/", self.base_url),
            path: None,
            threads: None,
            context_window: None,
            parallel: None,
            max_concurrency: None,
            max_queue: None,
            api_key: api_key.map(str::to_owned),
            timeout_secs: 10,
            connect_timeout_secs: 5,
            headers: BTreeMap::new(),
            default_max_tokens: 4096,
        })
        .unwrap()
    }
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_owned(),
            authorization: headers.get(header::AUTHORIZATION).map(|value| value.to_str().unwrap().to_owned()),
            body: if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap() },
        });
        state.reply.clone()
    };
    match reply {
        Reply::Json(status, body) => (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response(),
        Reply::RawJson(status, body) => {
            (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Reply::Ndjson { body, piece } => {
            let pieces: Vec<Bytes> = body.as_bytes().chunks(piece).map(Bytes::copy_from_slice).collect();
            let stream = futures_util::stream::unfold(pieces.into_iter(), |mut pieces| async move {
                let piece = pieces.next()?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                Some((Ok::<_, Infallible>(piece), pieces))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "application/x-ndjson")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}

/// reqwest is built without a TLS provider of its own (the binary installs one at start-up).
pub fn install_crypto_provider() {
    // Err only means another test in this process installed it first.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A `BackendError` as JSON: its kind and the fields a client sees.
pub fn error_json(error: &BackendError) -> Value {
    match error {
        BackendError::Unsupported { param, .. } => json!({"kind": "unsupported", "param": param}),
        BackendError::Upstream { status, message, .. } => {
            json!({"kind": "upstream_status", "status": status, "message": message})
        }
        other => json!({"kind": other.metric_kind()}),
    }
}

/// Checks the generated id and timestamp, then replaces them with fixed placeholders.
pub fn normalise_response(response: &ChatCompletionResponse) -> Value {
    let mut value = serde_json::to_value(response).unwrap();
    check_completion_id(&value["id"]);
    check_created(&value["created"]);
    value["id"] = json!("<completion id>");
    value["created"] = json!("<now>");
    normalise_call_ids(&mut value);
    value
}

/// Chunks in a compact form (`{"delta"}`, `{"delta", "finish_reason"}` or `{"usage"}`), after
/// checking that they all share one id, `created` and model. Returns that model too.
pub fn normalise_chunks(chunks: &[ChatCompletionChunk]) -> (Option<String>, Vec<Value>) {
    let Some(first) = chunks.first() else { return (None, Vec::new()) };
    check_completion_id(&json!(first.id));
    check_created(&json!(first.created));
    let mut compact = Vec::new();
    for chunk in chunks {
        assert_eq!(chunk.id, first.id, "chunks must share one id");
        assert_eq!(chunk.created, first.created, "chunks must share one created");
        assert_eq!(chunk.model, first.model, "chunks must share one model");
        assert_eq!(chunk.object, "chat.completion.chunk");
        let mut entry = serde_json::Map::new();
        match chunk.choices.as_slice() {
            [] => {
                entry.insert("usage".into(), serde_json::to_value(chunk.usage).unwrap());
            }
            [choice] => {
                assert_eq!(choice.index, 0);
                assert_eq!(chunk.usage, None, "usage comes alone, in its own chunk");
                entry.insert("delta".into(), serde_json::to_value(&choice.delta).unwrap());
                if let Some(reason) = choice.finish_reason {
                    entry.insert("finish_reason".into(), serde_json::to_value(reason).unwrap());
                }
            }
            more => panic!("one choice per chunk, got {}", more.len()),
        }
        compact.push(Value::Object(entry));
    }
    let mut compact = Value::Array(compact);
    normalise_call_ids(&mut compact);
    let Value::Array(compact) = compact else { unreachable!() };
    (Some(first.model.clone()), compact)
}

fn check_completion_id(id: &Value) {
    let id = id.as_str().unwrap();
    let uuid = id.strip_prefix("chatcmpl-").unwrap_or_else(|| panic!("id {id} lacks chatcmpl-"));
    let uuid = uuid::Uuid::parse_str(uuid).unwrap_or_else(|_| panic!("id {id} does not end in a uuid"));
    assert_eq!(uuid.get_version_num(), 7, "id {id} is not a UUIDv7");
}

fn check_created(created: &Value) {
    let created = created.as_i64().unwrap();
    let now = rampart_core::unix_now_secs();
    assert!((now - 60..=now + 1).contains(&created), "created {created} is not now ({now})");
}

/// Generated tool-call ids (`call_` + a simple UUIDv7) become `<generated>` after checking
/// they are all different; ids the upstream sent stay as they are.
fn normalise_call_ids(value: &mut Value) {
    let mut seen = HashSet::new();
    walk(value, &mut |object| {
        let is_call = object.contains_key("function") && object.get("id").is_some_and(Value::is_string);
        if !is_call {
            return;
        }
        let Some(Value::String(id)) = object.get("id") else { return };
        let Some(uuid) = id.strip_prefix("call_") else { return };
        if uuid.len() == 32 && uuid::Uuid::parse_str(uuid).is_ok_and(|uuid| uuid.get_version_num() == 7) {
            assert!(seen.insert(id.clone()), "tool call id {id} used twice");
            object.insert("id".into(), json!("<generated>"));
        }
    });
}

fn walk(value: &mut Value, visit: &mut impl FnMut(&mut serde_json::Map<String, Value>)) {
    match value {
        Value::Object(object) => {
            visit(object);
            for child in object.values_mut() {
                walk(child, visit);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| walk(item, visit)),
        _ => {}
    }
}
