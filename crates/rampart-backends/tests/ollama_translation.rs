//! The Ollama adapter against a fake Ollama server speaking the native wire format.
//!
//! Each translation direction is a table of cases (name, input, expected), run through the real
//! adapter over HTTP: what the fake receives is the translated request, what the adapter
//! returns is the translated answer. docs/compatibility-ollama.md summarises these tables.

// Test helpers outside `#[test]` functions may fail loudly: a failure is the test's answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "ollama_translation/fake.rs"]
mod fake;
#[path = "ollama_translation/request_cases.rs"]
mod request_cases;
#[path = "ollama_translation/response_cases.rs"]
mod response_cases;
#[path = "ollama_translation/stream_cases.rs"]
mod stream_cases;

use fake::{FakeOllama, Reply, error_json, normalise_chunks, normalise_response};
use futures_util::StreamExt;
use rampart_core::{Backend, BackendError, EmbedCall, EmbedInputs};
use rampart_types::ChatCompletionRequest;
use request_cases::{user, weather_tool, weather_tool_on_ollama};
use serde_json::{Value, json};

fn request(body: Value) -> ChatCompletionRequest {
    ChatCompletionRequest::from_json(body).unwrap()
}

/// A finished answer, for cases that only look at the request.
fn done_answer() -> Value {
    json!({"model": "llama3.2", "message": {"role": "assistant", "content": "ok"}, "done": true, "done_reason": "stop"})
}

#[tokio::test]
async fn openai_requests_become_ollama_requests() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    fake.reply(Reply::Json(200, done_answer()));
    let cases = request_cases::cases();
    for (name, input, expected) in &cases {
        let mut body = input.clone();
        body["model"] = json!("llama3.2");
        let result = backend.chat(&request(body)).await;
        let requests = fake.take_requests();
        match (result, expected.get("error")) {
            (Ok(_), None) => {
                assert_eq!(requests.len(), 1, "case '{name}': one upstream call");
                assert_eq!(
                    (requests[0].method.as_str(), requests[0].path.as_str()),
                    ("POST", "/api/chat"),
                    "case '{name}'"
                );
                assert_eq!(&requests[0].body, expected, "case '{name}'");
            }
            (Err(error), Some(expected_error)) => {
                assert_eq!(&error_json(&error), expected_error, "case '{name}'");
                assert!(requests.is_empty(), "case '{name}': a refused request must not reach Ollama");
            }
            (result, _) => panic!("case '{name}': expected {expected}, got {result:?}"),
        }
    }
    assert_eq!(cases.len(), 28);
}

#[tokio::test]
async fn ollama_responses_become_openai_responses() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    let cases = response_cases::cases();
    for (name, ollama_body, expected) in &cases {
        fake.reply(Reply::Json(200, ollama_body.clone()));
        let result = backend.chat(&request(json!({"model": "llama3.2", "messages": [user("hi")]}))).await;
        match (result, expected.get("error")) {
            (Ok(response), None) => assert_eq!(&normalise_response(&response), expected, "case '{name}'"),
            (Err(error), Some(expected_error)) => assert_eq!(&error_json(&error), expected_error, "case '{name}'"),
            (result, _) => panic!("case '{name}': expected {expected}, got {result:?}"),
        }
    }
    assert_eq!(cases.len(), 12);
}

#[tokio::test]
async fn ndjson_transcripts_become_chunk_sequences() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    let cases = stream_cases::cases();
    for (name, transcript, expected) in &cases {
        // Seven-byte pieces split every line mid-way; one piece is the whole body at once.
        for piece in [7, transcript.len().max(1)] {
            fake.reply(Reply::Ndjson { body: transcript.clone(), piece });
            let stream_request = request(json!({"model": "llama3.2", "messages": [user("hi")], "stream": true}));
            let mut stream = backend.chat_stream(&stream_request).await.unwrap();
            let mut chunks = Vec::new();
            let mut error = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => chunks.push(chunk),
                    Err(stream_error) => {
                        error = Some(error_json(&stream_error));
                        assert!(stream.next().await.is_none(), "case '{name}': an error ends the stream");
                        break;
                    }
                }
            }
            let (model, compact) = normalise_chunks(&chunks);
            let mut actual = json!({"model": model, "chunks": compact});
            if let Some(error) = error {
                actual["error"] = error;
            }
            assert_eq!(&actual, expected, "case '{name}', pieces of {piece} bytes");
            let requests = fake.take_requests();
            assert_eq!(requests.len(), 1, "case '{name}'");
            assert_eq!(requests[0].body["stream"], json!(true), "case '{name}': streaming asks Ollama to stream");
        }
    }
    assert_eq!(cases.len(), 15);
}

#[tokio::test]
async fn chat_with_a_tool_call_end_to_end() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(Some("proxy-key-123"));
    fake.reply(Reply::Json(
        200,
        json!({
            "model": "qwen3:8b", "created_at": "2025-06-01T10:00:00Z",
            "message": {"role": "assistant", "content": "", "thinking": "The user wants weather.",
                        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            "done": true, "done_reason": "stop", "prompt_eval_count": 120, "eval_count": 18
        }),
    ));
    let response = backend
        .chat(&request(json!({
            "model": "qwen3:8b", "messages": [user("Weather in Paris?")], "tools": [weather_tool()], "temperature": 0
        })))
        .await
        .unwrap();

    let requests = fake.take_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/api/chat");
    assert_eq!(requests[0].authorization.as_deref(), Some("Bearer proxy-key-123"), "the key goes to the proxy");
    assert_eq!(requests[0].body["tools"], json!([weather_tool_on_ollama()]));
    assert_eq!(requests[0].body["options"], json!({"temperature": 0.0}));

    let choice = &response.choices[0];
    assert_eq!(response.model, "qwen3:8b");
    assert_eq!(choice.message.content, None);
    assert_eq!(choice.message.reasoning_content.as_deref(), Some("The user wants weather."));
    let calls = choice.message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].id.starts_with("call_"), "{}", calls[0].id);
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(serde_json::from_str::<Value>(&calls[0].function.arguments).unwrap(), json!({"city": "Paris"}));
    assert_eq!(serde_json::to_value(choice.finish_reason).unwrap(), json!("tool_calls"));
    let usage = response.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (120, 18, 138));
}

#[tokio::test]
async fn tool_arguments_keep_the_models_key_order() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    let body = r#"{"model":"llama3.2","message":{"role":"assistant","content":"","tool_calls":[
        {"function":{"name":"f","arguments":{"zeta":1,"alpha":{"y":2,"b":3}}}}]},"done":true,"done_reason":"stop"}"#;
    fake.reply(Reply::RawJson(200, body.to_owned()));
    let response = backend.chat(&request(json!({"model": "llama3.2", "messages": [user("hi")]}))).await.unwrap();
    let calls = response.choices[0].message.tool_calls.clone().unwrap();
    assert_eq!(calls[0].function.arguments, r#"{"zeta":1,"alpha":{"y":2,"b":3}}"#);
}

#[tokio::test]
async fn streaming_chat_split_mid_line_end_to_end() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    let lines = [
        json!({"model": "llama3.2", "created_at": "t", "message": {"role": "assistant", "content": "The sky"}, "done": false}),
        json!({"model": "llama3.2", "created_at": "t", "message": {"role": "assistant", "content": " is blue"}, "done": false}),
        json!({"model": "llama3.2", "created_at": "t", "message": {"role": "assistant", "content": "."}, "done": false}),
        json!({"model": "llama3.2", "created_at": "t", "message": {"role": "assistant", "content": ""}, "done": true,
               "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 4}),
    ];
    let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
    fake.reply(Reply::Ndjson { body, piece: 5 });
    let chunks: Vec<_> = backend
        .chat_stream(&request(json!({"model": "llama3.2", "messages": [user("Sky colour?")], "stream": true})))
        .await
        .unwrap()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, BackendError>>()
        .unwrap();
    let text: String = chunks.iter().filter_map(|chunk| chunk.choices.first()?.delta.content.clone()).collect();
    assert_eq!(text, "The sky is blue.");
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let usage = last.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (11, 4));
    assert_eq!(fake.take_requests()[0].body["stream"], json!(true));
}

#[tokio::test]
async fn embeddings_end_to_end() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    fake.reply(Reply::Json(
        200,
        json!({
            "model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 9
        }),
    ));
    let call = EmbedCall {
        upstream_model: "nomic-embed-text".into(),
        inputs: EmbedInputs::Texts(vec!["hello".into(), "world".into()]),
        dimensions: Some(2),
        user: Some("u-1".into()),
    };
    let embeddings = backend.embed(&call).await.unwrap();
    assert_eq!(embeddings.vectors, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
    assert_eq!(embeddings.prompt_tokens, 9);
    let requests = fake.take_requests();
    assert_eq!(requests[0].path, "/api/embed");
    assert_eq!(
        requests[0].body,
        json!({"model": "nomic-embed-text", "input": ["hello", "world"], "dimensions": 2, "truncate": true})
    );

    // One vector for two inputs: the answer cannot be matched to the inputs.
    fake.reply(Reply::Json(200, json!({"embeddings": [[0.1, 0.2]]})));
    let error = backend.embed(&call).await.unwrap_err();
    assert_eq!(error_json(&error), json!({"kind": "invalid_response"}));

    let tokens = EmbedCall { inputs: EmbedInputs::Tokens(vec![vec![1, 2, 3]]), ..call };
    let error = backend.embed(&tokens).await.unwrap_err();
    assert_eq!(error_json(&error), json!({"kind": "unsupported", "param": "input"}));
    assert_eq!(fake.take_requests().len(), 1, "token inputs never reach Ollama");
}

#[tokio::test]
async fn model_not_found_keeps_status_and_message() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    let message = "model \"x\" not found, try pulling it first";
    fake.reply(Reply::Json(404, json!({"error": message})));
    let expected = json!({"kind": "upstream_status", "status": 404, "message": message});
    let chat_request = request(json!({"model": "x", "messages": [user("hi")]}));

    let error = backend.chat(&chat_request).await.unwrap_err();
    assert_eq!(error_json(&error), expected, "chat");
    let Err(error) = backend.chat_stream(&chat_request).await else { panic!("chat_stream must fail before streaming") };
    assert_eq!(error_json(&error), expected, "chat_stream");
    let call = EmbedCall {
        upstream_model: "x".into(),
        inputs: EmbedInputs::Texts(vec!["a".into()]),
        dimensions: None,
        user: None,
    };
    let error = backend.embed(&call).await.unwrap_err();
    assert_eq!(error_json(&error), expected, "embed");
    assert!(error.to_string().contains("answered 404"), "{error}");
}

#[tokio::test]
async fn health_asks_for_the_version() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    fake.reply(Reply::Json(200, json!({"version": "0.12.6"})));
    backend.health().await.unwrap();
    let requests = fake.take_requests();
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("GET", "/api/version"));

    fake.reply(Reply::Json(500, json!({"error": "boom"})));
    let error = backend.health().await.unwrap_err();
    assert_eq!(error_json(&error), json!({"kind": "upstream_status", "status": 500, "message": "boom"}));
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_such() {
    fake::install_crypto_provider();
    // Bind and drop a listener to get a port nothing listens on.
    let address = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let backend = rampart_backends::OllamaBackend::new(&rampart_config::BackendConfig {
        name: "gone".into(),
        kind: rampart_config::BackendKindConfig::Ollama,
        base_url: format!("http://{address}"),
        path: None,
        threads: None,
        context_window: None,
        parallel: None,
        max_concurrency: None,
        max_queue: None,
        api_key: None,
        timeout_secs: 5,
        connect_timeout_secs: 2,
        headers: Default::default(),
        default_max_tokens: 4096,
    })
    .unwrap();
    let error = backend.health().await.unwrap_err();
    assert_eq!(error_json(&error), json!({"kind": "unreachable"}));
}
