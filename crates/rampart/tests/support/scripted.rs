//! An OpenAI-compatible model server whose answers are scripted per test, for fault
//! injection: it can fail with any status (and `Retry-After`), hang, drop the connection in
//! the middle of a stream, or be killed outright (every connection cut, the port closed) and
//! started again on the same port.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A normal answer (JSON, or SSE when the request streams), naming the server in it.
    Answer,
    /// An error status in OpenAI's error shape, with `Retry-After` when given.
    Fail { status: u16, retry_after_secs: Option<u64> },
    /// Waits this long, then answers.
    Delay(Duration),
    /// Streams the first chunk, then cuts the connection.
    DropMidStream,
    /// Answers `count` words of one token each (` tok`), one chunk per word when streaming,
    /// reporting 5 prompt tokens. With `honour_max_tokens` it stops at the request's
    /// `max_tokens` with `finish_reason: length`, as real servers do; without, it ignores it.
    Words { count: u64, honour_max_tokens: bool },
}

pub struct Script {
    name: String,
    queue: Mutex<VecDeque<Behaviour>>,
    default: Mutex<Behaviour>,
    pub hits: AtomicUsize,
    pub bodies: Mutex<Vec<Value>>,
}

pub struct ScriptedUpstream {
    pub addr: SocketAddr,
    pub script: Arc<Script>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ScriptedUpstream {
    /// Starts a server that answers with `default` once its queued behaviours are used up.
    pub async fn start(name: &str, default: Behaviour) -> ScriptedUpstream {
        let script = Arc::new(Script {
            name: name.to_owned(),
            queue: Mutex::new(VecDeque::new()),
            default: Mutex::new(default),
            hits: AtomicUsize::new(0),
            bodies: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind scripted upstream");
        let addr = listener.local_addr().expect("addr");
        let upstream = ScriptedUpstream { addr, script, server: Mutex::new(None) };
        upstream.serve(listener);
        upstream
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Behaviours for the next requests, in order, before the default applies again.
    pub fn then(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.script.queue.lock().expect("lock").extend(behaviours);
    }

    pub fn set_default(&self, behaviour: Behaviour) {
        *self.script.default.lock().expect("lock") = behaviour;
    }

    pub fn hits(&self) -> usize {
        self.script.hits.load(Ordering::SeqCst)
    }

    /// Like a killed process: the port stops accepting and every open connection is cut.
    pub fn kill(&self) {
        if let Some(server) = self.server.lock().expect("lock").take() {
            server.abort();
        }
    }

    /// Starts serving again on the same port.
    pub async fn restart(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.expect("rebind scripted upstream");
        self.serve(listener);
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/models", get(|| async { Json(json!({"object": "list", "data": []})) }))
            .with_state(self.script.clone());
        // Connections live in a JoinSet owned by the accept loop: aborting the loop drops the
        // set, which aborts every connection, as a killed process would.
        let server = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *self.server.lock().expect("lock") = Some(server);
    }
}

impl Drop for ScriptedUpstream {
    fn drop(&mut self) {
        self.kill();
    }
}

fn next_behaviour(script: &Script) -> Behaviour {
    script.hits.fetch_add(1, Ordering::SeqCst);
    let queued = script.queue.lock().expect("lock").pop_front();
    queued.unwrap_or_else(|| script.default.lock().expect("lock").clone())
}

async fn chat(State(script): State<Arc<Script>>, Json(body): Json<Value>) -> Response {
    script.bodies.lock().expect("lock").push(body.clone());
    let streaming = body["stream"] == true;
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    match next_behaviour(&script) {
        Behaviour::Fail { status, retry_after_secs } => failure(status, retry_after_secs),
        Behaviour::Delay(wait) => {
            tokio::time::sleep(wait).await;
            answer(&script.name, &model, streaming, false)
        }
        Behaviour::Answer => answer(&script.name, &model, streaming, false),
        Behaviour::DropMidStream => answer(&script.name, &model, true, true),
        Behaviour::Words { count, honour_max_tokens } => {
            let limit = body["max_tokens"].as_u64().or(body["max_completion_tokens"].as_u64());
            let (count, finish) = match limit {
                Some(limit) if honour_max_tokens && limit < count => (limit, "length"),
                _ => (count, "stop"),
            };
            words(&model, count, finish, streaming)
        }
    }
}

fn words(model: &str, count: u64, finish: &str, streaming: bool) -> Response {
    let usage = json!({"prompt_tokens": 5, "completion_tokens": count, "total_tokens": 5 + count});
    if !streaming {
        return Json(json!({
            "id": "chatcmpl-words", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": " tok".repeat(count as usize)},
                         "finish_reason": finish}],
            "usage": usage
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value, usage: Value| {
        let mut chunk = json!({"id": "chatcmpl-words", "object": "chat.completion.chunk", "created": 1, "model": model,
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if !usage.is_null() {
            chunk["choices"] = json!([]);
            chunk["usage"] = usage;
        }
        format!("data: {chunk}\n\n")
    };
    let mut events: Vec<String> =
        (0..count).map(|_| chunk(json!({"content": " tok"}), Value::Null, Value::Null)).collect();
    events.push(chunk(json!({}), json!(finish), Value::Null));
    events.push(chunk(Value::Null, Value::Null, usage));
    events.push("data: [DONE]\n\n".to_owned());
    let stream =
        futures_util::stream::iter(events.into_iter().map(|event| Ok::<_, std::io::Error>(Bytes::from(event))));
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).expect("response")
}

async fn embeddings(State(script): State<Arc<Script>>, Json(body): Json<Value>) -> Response {
    script.bodies.lock().expect("lock").push(body.clone());
    match next_behaviour(&script) {
        Behaviour::Fail { status, retry_after_secs } => failure(status, retry_after_secs),
        _ => Json(json!({
            "object": "list", "model": body["model"],
            "data": [{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}
        }))
        .into_response(),
    }
}

fn failure(status: u16, retry_after_secs: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    let mut response =
        (status, Json(json!({"error": {"message": format!("scripted {status}"), "type": "server_error"}})))
            .into_response();
    if let Some(secs) = retry_after_secs {
        response.headers_mut().insert("retry-after", secs.to_string().parse().expect("header"));
    }
    response
}

fn answer(name: &str, model: &str, streaming: bool, cut: bool) -> Response {
    let text = format!("answer from {name}");
    if !streaming {
        return Json(json!({
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        Bytes::from(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        ))
    };
    let mut events: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(chunk(json!({"role": "assistant", "content": text}), Value::Null))];
    if cut {
        events.push(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "scripted cut")));
    } else {
        events.push(Ok(chunk(json!({}), json!("stop"))));
        events.push(Ok(Bytes::from(format!(
            "data: {}\n\ndata: [DONE]\n\n",
            json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        ))));
    }
    // Each event is its own write, a little apart, so the cut comes after the first chunk
    // reached the gateway.
    let stream = futures_util::stream::unfold(events.into_iter(), |mut events| async move {
        let event = events.next()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        Some((event, events))
    });
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).expect("response")
}
