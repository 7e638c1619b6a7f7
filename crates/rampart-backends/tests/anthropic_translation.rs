//! The Anthropic adapter against an in-test server speaking Anthropic's wire format: tables of
//! translation cases per direction, then end-to-end checks of headers, streaming and errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "anthropic_translation/mock.rs"]
mod mock;
#[path = "anthropic_translation/request_cases.rs"]
mod request_cases;
#[path = "anthropic_translation/response_cases.rs"]
mod response_cases;
#[path = "anthropic_translation/stream_cases.rs"]
mod stream_cases;

use futures_util::StreamExt;
use mock::{API_KEY, MockAnthropic, Reply};
use rampart_core::{Backend, BackendError, BackendKind, EmbedCall, EmbedInputs};
use rampart_types::{ChatCompletionChunk, ChatCompletionRequest};
use serde_json::{Value, json};

fn openai_request(body: &Value) -> ChatCompletionRequest {
    ChatCompletionRequest::from_json(body.clone()).unwrap()
}

#[tokio::test]
async fn requests_translate_to_anthropic_messages() {
    let server = MockAnthropic::start().await;
    let backend = server.backend("");
    let cases = request_cases::cases();
    for (name, openai, expected) in &cases {
        backend.chat(&openai_request(openai)).await.unwrap_or_else(|error| panic!("case '{name}': {error}"));
        let sent = server.last_request();
        assert_eq!(sent.body.as_ref(), Some(expected), "case '{name}'");
    }
    assert_eq!(server.requests().len(), cases.len());
}

#[tokio::test]
async fn requests_anthropic_cannot_express_fail_before_any_call() {
    let server = MockAnthropic::start().await;
    let backend = server.backend("");
    for (name, openai, param) in request_cases::rejected() {
        let request = openai_request(&openai);
        for result in [backend.chat(&request).await.err(), backend.chat_stream(&request).await.err()] {
            match result {
                Some(BackendError::Unsupported { backend, param: Some(got), .. }) => {
                    assert_eq!(backend, "claude", "case '{name}'");
                    assert_eq!(got, param, "case '{name}'");
                }
                other => panic!("case '{name}': expected Unsupported naming '{param}', got {other:?}"),
            }
        }
    }
    assert!(server.requests().is_empty(), "a rejected request reached the upstream");
}

#[tokio::test]
async fn responses_translate_to_openai_completions() {
    let server = MockAnthropic::start().await;
    let backend = server.backend("");
    for (name, openai, anthropic, expected) in response_cases::cases() {
        server.reply(Reply::json(200, &anthropic));
        let response =
            backend.chat(&openai_request(&openai)).await.unwrap_or_else(|error| panic!("case '{name}': {error}"));
        let response = serde_json::to_value(&response).unwrap();
        assert_eq!(response["object"], "chat.completion", "case '{name}'");
        assert_eq!(response["choices"].as_array().map(Vec::len), Some(1), "case '{name}'");
        let got = json!({
            "id": response["id"], "model": response["model"], "message": response["choices"][0]["message"],
            "finish_reason": response["choices"][0]["finish_reason"], "usage": response["usage"],
        });
        assert_eq!(got, expected, "case '{name}'");
    }
}

/// A chunk as the tables describe it: its delta and finish reason, or its usage.
fn project_chunk(chunk: &ChatCompletionChunk) -> Value {
    let value = serde_json::to_value(chunk).unwrap();
    if chunk.choices.is_empty() {
        return json!({"usage": value["usage"]});
    }
    assert_eq!(chunk.choices.len(), 1);
    assert!(chunk.usage.is_none(), "usage on a content chunk: {value}");
    json!({"delta": value["choices"][0]["delta"], "finish_reason": value["choices"][0]["finish_reason"]})
}

fn project_error(error: &BackendError) -> Value {
    match error {
        BackendError::Upstream { status, error_type, message, .. } => {
            json!({"error": {"upstream": {"status": status, "error_type": error_type, "message": message}}})
        }
        BackendError::InvalidResponse { detail, .. } => json!({"error": {"invalid_response": detail}}),
        other => json!({"error": {"other": other.to_string()}}),
    }
}

#[tokio::test]
async fn streams_translate_to_openai_chunks() {
    let server = MockAnthropic::start().await;
    let backend = server.backend("");
    for (name, openai, events, expected) in stream_cases::cases() {
        server.reply(Reply::sse(&events));
        let stream = backend
            .chat_stream(&openai_request(&openai))
            .await
            .unwrap_or_else(|error| panic!("case '{name}': {error}"));
        let items: Vec<_> = stream.collect().await;
        let chunks: Vec<&ChatCompletionChunk> = items.iter().filter_map(|item| item.as_ref().ok()).collect();
        for chunk in &chunks {
            assert_eq!(
                (chunk.id.as_str(), chunk.created, chunk.model.as_str(), chunk.object.as_str()),
                ("msg_s1", chunks[0].created, "claude-sonnet-4-5-20250929", "chat.completion.chunk"),
                "case '{name}': every chunk shares the message's id, created and model"
            );
        }
        let got: Vec<Value> = items
            .iter()
            .map(|item| match item {
                Ok(chunk) => project_chunk(chunk),
                Err(error) => project_error(error),
            })
            .collect();
        assert_eq!(got, expected, "case '{name}'");
    }
}

#[tokio::test]
async fn non_streaming_call_speaks_the_anthropic_wire_format() {
    let server = MockAnthropic::start().await;
    server.reply(Reply::json(
        200,
        &json!({
            "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Bonjour !"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 21, "output_tokens": 6, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        }),
    ));
    // Configured with a trailing `/v1/`: the adapter must not call `/v1/v1/messages`.
    let backend = server.backend("/v1/");
    assert_eq!(backend.kind(), BackendKind::Anthropic);
    let before = rampart_core::unix_now_secs();
    let response = backend
        .chat(&openai_request(
            &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Say hello in French"}]}),
        ))
        .await
        .unwrap();

    let sent = server.last_request();
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/messages"));
    let header = |name: &str| sent.headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    assert_eq!(header("x-api-key").as_deref(), Some(API_KEY));
    assert_eq!(header("anthropic-version").as_deref(), Some("2023-06-01"));
    assert_eq!(header("anthropic-beta").as_deref(), Some("prompt-caching-2024-07-31"), "configured headers are sent");
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("authorization"), None, "Anthropic takes the key in x-api-key only");
    assert_eq!(sent.body.as_ref().map(|body| body["stream"].clone()), Some(json!(false)));

    assert!(response.created >= before && response.created <= rampart_core::unix_now_secs());
    let mut response = serde_json::to_value(&response).unwrap();
    response.as_object_mut().unwrap().remove("created");
    assert_eq!(
        response,
        json!({
            "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "object": "chat.completion", "model": "claude-sonnet-4-5-20250929",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Bonjour !"}, "finish_reason": "stop", "logprobs": null}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 6, "total_tokens": 27}
        })
    );
}

#[tokio::test]
async fn streaming_call_with_text_and_tool_use() {
    let server = MockAnthropic::start().await;
    let transcript = [
        json!({"type": "message_start", "message": {"id": "msg_014p7gG3wDgGV9EUtLvnow3U", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 472, "output_tokens": 2}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check "}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "the weather."}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"location\":"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": " \"San Francisco, CA\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 89}}),
        json!({"type": "message_stop"}),
    ];
    server.reply(Reply::sse(&transcript));
    let backend = server.backend("/v1");
    let request = openai_request(&json!({
        "model": "claude-sonnet-4-5", "stream": true,
        "messages": [{"role": "user", "content": "Weather in SF?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
            "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]
    }));
    let chunks: Vec<ChatCompletionChunk> =
        backend.chat_stream(&request).await.unwrap().map(|item| item.unwrap()).collect().await;

    let sent = server.last_request();
    assert_eq!(sent.path, "/v1/messages");
    let body = sent.body.unwrap();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["tools"][0]["name"], "get_weather");

    let first = serde_json::to_value(&chunks[0]).unwrap();
    assert_eq!(
        first,
        json!({"id": "msg_014p7gG3wDgGV9EUtLvnow3U", "object": "chat.completion.chunk", "created": chunks[0].created,
            "model": "claude-sonnet-4-5-20250929",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})
    );
    let text: String = chunks.iter().filter_map(|chunk| chunk.choices.first()?.delta.content.clone()).collect();
    assert_eq!(text, "Let me check the weather.");
    let calls: Vec<_> =
        chunks.iter().filter_map(|chunk| chunk.choices.first()?.delta.tool_calls.clone()).flatten().collect();
    assert_eq!(calls[0].id.as_deref(), Some("toolu_01T1x1fJ34qAmk2tNTrN7Up6"));
    assert_eq!(calls[0].function.as_ref().and_then(|function| function.name.as_deref()), Some("get_weather"));
    assert!(calls.iter().all(|call| call.index == 0));
    let arguments: String = calls.iter().filter_map(|call| call.function.as_ref()?.arguments.clone()).collect();
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), json!({"location": "San Francisco, CA"}));

    let finish = &chunks[chunks.len() - 2];
    assert_eq!(serde_json::to_value(finish.choices[0].finish_reason).unwrap(), json!("tool_calls"));
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(
        serde_json::to_value(last.usage).unwrap(),
        json!({"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561})
    );
}

#[tokio::test]
async fn rate_limit_keeps_status_retry_after_and_anthropic_error_fields() {
    let server = MockAnthropic::start().await;
    let body = json!({"type": "error", "error": {"type": "rate_limit_error",
        "message": format!("Number of request tokens has exceeded your per-minute rate limit (key {API_KEY})")}});
    server.reply(Reply::json(429, &body).with_header("retry-after", "7"));
    let backend = server.backend("");
    let request = openai_request(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
    for error in [backend.chat(&request).await.err(), backend.chat_stream(&request).await.err()] {
        match error {
            Some(BackendError::Upstream { backend, status, message, error_type, code, retry_after_secs }) => {
                assert_eq!(backend, "claude");
                assert_eq!(status, 429);
                assert_eq!(retry_after_secs, Some(7));
                assert_eq!(error_type.as_deref(), Some("rate_limit_error"));
                assert_eq!(code, None);
                assert!(message.starts_with("Number of request tokens has exceeded"), "{message}");
                assert!(!message.contains(API_KEY), "the API key leaked into the error: {message}");
                assert!(message.contains("[REDACTED]"), "{message}");
            }
            other => panic!("expected an upstream 429, got {other:?}"),
        }
    }

    server.reply(Reply::json(
        529,
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    match backend.chat(&request).await {
        Err(BackendError::Upstream { status: 529, error_type: Some(error_type), retry_after_secs: None, .. }) => {
            assert_eq!(error_type, "overloaded_error");
        }
        other => panic!("expected an upstream 529, got {other:?}"),
    }
}

#[tokio::test]
async fn json_answers_and_tool_arguments_keep_the_models_key_order() {
    let server = MockAnthropic::start().await;
    let tool_use = |name: &str| {
        format!(
            r#"{{"id":"msg_o","type":"message","role":"assistant","model":"claude-x","stop_reason":"tool_use","stop_sequence":null,
            "usage":{{"input_tokens":1,"output_tokens":1}},
            "content":[{{"type":"tool_use","id":"toolu_o","name":"{name}","input":{{"zeta":1,"alpha":{{"y":2,"b":3}}}}}}]}}"#
        )
    };
    let backend = server.backend("");
    let schema = json!({"type": "json_schema", "json_schema": {"name": "ordered", "schema": {"type": "object"}}});
    let request = openai_request(
        &json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": schema}),
    );
    server.reply(Reply::raw_json(200, &tool_use("ordered")));
    let response = backend.chat(&request).await.unwrap();
    assert_eq!(response.choices[0].message.content.as_deref(), Some(r#"{"zeta":1,"alpha":{"y":2,"b":3}}"#));

    let request = openai_request(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
    server.reply(Reply::raw_json(200, &tool_use("lookup")));
    let response = backend.chat(&request).await.unwrap();
    let calls = response.choices[0].message.tool_calls.clone().unwrap();
    assert_eq!(calls[0].function.arguments, r#"{"zeta":1,"alpha":{"y":2,"b":3}}"#);
}

#[tokio::test]
async fn a_2xx_body_that_is_not_a_message_is_an_invalid_response() {
    let server = MockAnthropic::start().await;
    server.reply(Reply::json(200, &json!({"unexpected": true})));
    let request = openai_request(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
    match server.backend("").chat(&request).await {
        Err(BackendError::InvalidResponse { backend, .. }) => assert_eq!(backend, "claude"),
        other => panic!("expected InvalidResponse, got {other:?}"),
    }
}

#[tokio::test]
async fn health_lists_models_and_reports_a_bad_key() {
    let server = MockAnthropic::start().await;
    server.reply(Reply::json(200, &json!({"data": [{"id": "claude-sonnet-4-5", "type": "model"}], "has_more": false})));
    let backend = server.backend("/v1");
    backend.health().await.unwrap();
    let sent = server.last_request();
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/v1/models"));
    assert_eq!(sent.headers.get("x-api-key").and_then(|value| value.to_str().ok()), Some(API_KEY));

    server.reply(Reply::json(
        401,
        &json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
    ));
    match backend.health().await {
        Err(BackendError::Upstream { status: 401, error_type, .. }) => {
            assert_eq!(error_type.as_deref(), Some("authentication_error"));
        }
        other => panic!("expected an upstream 401, got {other:?}"),
    }
}

#[tokio::test]
async fn embeddings_are_unsupported_without_a_call() {
    let server = MockAnthropic::start().await;
    let call = EmbedCall {
        upstream_model: "m".into(),
        inputs: EmbedInputs::Texts(vec!["x".into()]),
        dimensions: None,
        user: None,
    };
    match server.backend("").embed(&call).await {
        Err(BackendError::Unsupported { what, param: None, .. }) => {
            assert_eq!(what, "embeddings (Anthropic has no embeddings API)");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(server.requests().is_empty());
}
