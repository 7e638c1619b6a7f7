//! The Ollama adapter against a fake Ollama server speaking the native wire format.
//!
//! Each translation direction is a table of cases (name, input, expected), run through the real
//! adapter over HTTP: what the fake receives is the translated request, what the adapter
//! returns is the translated answer. docs/compatibility-ollama.md summarises these tables.

#[path = "ollama_translation/fake.rs"]
mod fake;
#[path = "ollama_translation/stream_cases.rs"]
mod stream_cases;

use fake::{FakeOllama, Reply, error_json, normalise_chunks, normalise_response};
use futures_util::StreamExt;
use rampart_core::{Backend, BackendError, EmbedCall, EmbedInputs};
use rampart_types::ChatCompletionRequest;
use serde_json::{Value, json};

fn request(body: Value) -> ChatCompletionRequest {
    ChatCompletionRequest::from_json(body).unwrap()
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

/// A finished answer, for cases that only look at the request.
fn done_answer() -> Value {
    json!({"model": "llama3.2", "message": {"role": "assistant", "content": "ok"}, "done": true, "done_reason": "stop"})
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city", "strict": true,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }})
}

fn weather_tool_on_ollama() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }})
}

/// OpenAI request (only `messages` and the parameters differ from case to case) → the
/// `/api/chat` body Ollama receives, or `{"error": ...}` when nothing may be sent.
fn request_cases() -> Vec<(&'static str, Value, Value)> {
    let text = |content: &str| json!({"model": "llama3.2", "messages": [user(content)], "stream": false});
    let refused = |param: &str| json!({"error": {"kind": "unsupported", "param": param}});
    vec![
        ("plain user text", json!({"messages": [user("hi")]}), text("hi")),
        (
            "system, developer, user and assistant roles",
            json!({"messages": [
                {"role": "system", "content": "be brief"}, {"role": "developer", "content": "no emoji"},
                user("hi"), {"role": "assistant", "content": "hello"}
            ]}),
            json!({"model": "llama3.2", "stream": false, "messages": [
                {"role": "system", "content": "be brief"}, {"role": "system", "content": "no emoji"},
                {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}
            ]}),
        ),
        (
            "text parts are joined with newlines",
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}),
            text("a\nb"),
        ),
        (
            "data URL images go to images",
            json!({"messages": [{"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "low"}}
            ]}]}),
            json!({"model": "llama3.2", "stream": false, "messages": [
                {"role": "user", "content": "what is this?", "images": ["iVBORw0KGgo=", "/9j/4AAQ"]}
            ]}),
        ),
        (
            "an https image URL is refused, naming the message",
            json!({"messages": [user("a"), {"role": "assistant", "content": "b"}, {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
            ]}]}),
            refused("messages[2].content"),
        ),
        (
            "a data URL that is not base64 is refused",
            json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/svg+xml,%3Csvg%3E"}}
            ]}]}),
            refused("messages[0].content"),
        ),
        (
            "audio parts are refused",
            json!({"messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
            ]}]}),
            refused("messages[0].content"),
        ),
        (
            "assistant tool calls carry object arguments; results are named after their call",
            json!({"messages": [
                user("weather and time?"),
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
            ]}),
            json!({"model": "llama3.2", "stream": false, "messages": [
                {"role": "user", "content": "weather and time?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"function": {"name": "get_time", "arguments": {}}}
                ]},
                {"role": "tool", "content": "12:00", "tool_name": "get_time"},
                {"role": "tool", "content": "sunny", "tool_name": "get_weather"}
            ]}),
        ),
        (
            "a tool result for an unknown call has no tool_name",
            json!({"messages": [{"role": "tool", "tool_call_id": "call_404", "content": "42"}]}),
            json!({"model": "llama3.2", "stream": false, "messages": [{"role": "tool", "content": "42"}]}),
        ),
        (
            "the deprecated function role becomes a named tool result",
            json!({"messages": [{"role": "function", "name": "get_time", "content": "12:00"}]}),
            json!({"model": "llama3.2", "stream": false, "messages": [{"role": "tool", "content": "12:00", "tool_name": "get_time"}]}),
        ),
        (
            "tool call arguments that are not an object are refused",
            json!({"messages": [user("x"), {"role": "assistant", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}
            ]}]}),
            refused("messages[1].tool_calls[0].function.arguments"),
        ),
        (
            "an assistant refusal is sent as its content",
            json!({"messages": [{"role": "assistant", "content": null, "refusal": "I can't help with that."}]}),
            json!({"model": "llama3.2", "stream": false, "messages": [{"role": "assistant", "content": "I can't help with that."}]}),
        ),
        (
            "tools are offered without strict",
            json!({"messages": [user("hi")], "tools": [weather_tool()]}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "tools": [weather_tool_on_ollama()]}),
        ),
        (
            "a tool without parameters gets an empty object schema",
            json!({"messages": [user("hi")], "tools": [{"type": "function", "function": {"name": "now"}}]}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "tools": [
                {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
            ]}),
        ),
        (
            "tool_choice none withholds the tools",
            json!({"messages": [user("hi")], "tools": [weather_tool()], "tool_choice": "none"}),
            text("hi"),
        ),
        (
            "tool_choice required offers the tools (Ollama cannot force a call)",
            json!({"messages": [user("hi")], "tools": [weather_tool()], "tool_choice": "required"}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "tools": [weather_tool_on_ollama()]}),
        ),
        (
            "a named tool_choice offers all the tools (Ollama cannot force a call)",
            json!({"messages": [user("hi")], "tools": [weather_tool()],
                   "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "tools": [weather_tool_on_ollama()]}),
        ),
        (
            "response_format json_object is format json",
            json!({"messages": [user("hi")], "response_format": {"type": "json_object"}}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "format": "json"}),
        ),
        (
            "response_format json_schema is format with the schema",
            json!({"messages": [user("hi")], "response_format": {"type": "json_schema", "json_schema": {
                "name": "answer", "strict": true,
                "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
            }}}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")],
                   "format": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}),
        ),
        (
            "response_format text sends no format",
            json!({"messages": [user("hi")], "response_format": {"type": "text"}}),
            text("hi"),
        ),
        (
            "sampling parameters go to options",
            json!({"messages": [user("hi")], "temperature": 0.7, "top_p": 0.9, "seed": 42, "max_tokens": 100,
                   "presence_penalty": 0.5, "frequency_penalty": 0.25}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "options": {
                "temperature": 0.7, "top_p": 0.9, "seed": 42, "num_predict": 100,
                "presence_penalty": 0.5, "frequency_penalty": 0.25
            }}),
        ),
        (
            "max_completion_tokens wins over max_tokens",
            json!({"messages": [user("hi")], "max_tokens": 100, "max_completion_tokens": 50}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "options": {"num_predict": 50}}),
        ),
        (
            "one stop string becomes an array",
            json!({"messages": [user("hi")], "stop": "END"}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "options": {"stop": ["END"]}}),
        ),
        (
            "stop arrays pass as they are",
            json!({"messages": [user("hi")], "stop": ["a", "b"]}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "options": {"stop": ["a", "b"]}}),
        ),
        ("n = 1 is accepted", json!({"messages": [user("hi")], "n": 1}), text("hi")),
        ("n > 1 is refused", json!({"messages": [user("hi")], "n": 2}), refused("n")),
        (
            "Ollama extras pass through; OpenAI parameters win inside options",
            json!({"messages": [user("hi")], "keep_alive": "5m", "think": true, "top_k": 40, "min_p": 0.05,
                   "options": {"num_ctx": 8192, "temperature": 0.1}, "temperature": 0.3}),
            json!({"model": "llama3.2", "stream": false, "messages": [user("hi")], "keep_alive": "5m", "think": true,
                   "options": {"num_ctx": 8192, "temperature": 0.3, "top_k": 40, "min_p": 0.05}}),
        ),
        (
            "parameters Ollama has no use for are left out",
            json!({"messages": [user("hi")], "user": "u-1", "stream_options": {"include_usage": true},
                   "parallel_tool_calls": false, "logprobs": true, "reasoning_effort": "low"}),
            text("hi"),
        ),
    ]
}

#[tokio::test]
async fn openai_requests_become_ollama_requests() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    fake.reply(Reply::Json(200, done_answer()));
    let cases = request_cases();
    for (name, input, expected) in &cases {
        let mut body = input.clone();
        body["model"] = json!("llama3.2");
        let result = backend.chat(&request(body)).await;
        let requests = fake.take_requests();
        match (result, expected.get("error")) {
            (Ok(_), None) => {
                assert_eq!(requests.len(), 1, "case '{name}': one upstream call");
                assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("POST", "/api/chat"), "case '{name}'");
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

/// Ollama's non-streaming answer → the OpenAI response (id and `created` checked, then fixed),
/// or the error the adapter returns.
fn response_cases() -> Vec<(&'static str, Value, Value)> {
    let answer = |message: Value, finish_reason: &str, usage: [u64; 3]| {
        json!({
            "id": "<completion id>", "object": "chat.completion", "created": "<now>", "model": "llama3.2",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": usage[2]}
        })
    };
    let ollama = |message: Value, done_reason: &str| {
        json!({"model": "llama3.2", "created_at": "2025-06-01T10:00:00.000Z", "message": message, "done": true,
               "done_reason": done_reason, "total_duration": 5_000_000, "prompt_eval_count": 26, "eval_count": 7})
    };
    let weather_call = json!({"function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}});
    let weather_call_openai = json!({"id": "<generated>", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"days\":2}"}});
    vec![
        (
            "plain text",
            ollama(json!({"role": "assistant", "content": "Hello!"}), "stop"),
            answer(json!({"role": "assistant", "content": "Hello!"}), "stop", [26, 7, 33]),
        ),
        (
            "done_reason length",
            ollama(json!({"role": "assistant", "content": "Once upon"}), "length"),
            answer(json!({"role": "assistant", "content": "Once upon"}), "length", [26, 7, 33]),
        ),
        (
            "a tool call: null content, arguments as JSON text, finish tool_calls",
            ollama(json!({"role": "assistant", "content": "", "tool_calls": [weather_call.clone()]}), "stop"),
            answer(json!({"role": "assistant", "content": null, "tool_calls": [weather_call_openai.clone()]}), "tool_calls", [26, 7, 33]),
        ),
        (
            "text next to a tool call is kept",
            ollama(json!({"role": "assistant", "content": "Let me check.", "tool_calls": [weather_call.clone()]}), "stop"),
            answer(
                json!({"role": "assistant", "content": "Let me check.", "tool_calls": [weather_call_openai.clone()]}),
                "tool_calls",
                [26, 7, 33],
            ),
        ),
        (
            "two tool calls get two different ids",
            ollama(json!({"role": "assistant", "content": "", "tool_calls": [
                weather_call.clone(), {"function": {"name": "get_time", "arguments": {}}}
            ]}), "stop"),
            answer(
                json!({"role": "assistant", "content": null, "tool_calls": [weather_call_openai.clone(),
                    {"id": "<generated>", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}),
                "tool_calls",
                [26, 7, 33],
            ),
        ),
        (
            "a tool call id sent by Ollama is kept",
            ollama(json!({"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_x1", "function": {"index": 0, "name": "get_time", "arguments": {}}}
            ]}), "stop"),
            answer(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_x1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}),
                "tool_calls",
                [26, 7, 33],
            ),
        ),
        (
            "thinking is reasoning_content",
            ollama(json!({"role": "assistant", "content": "4", "thinking": "2+2 is 4"}), "stop"),
            answer(json!({"role": "assistant", "content": "4", "reasoning_content": "2+2 is 4"}), "stop", [26, 7, 33]),
        ),
        (
            "missing counts are 0 and a missing model is the requested one",
            json!({"message": {"role": "assistant", "content": "hi"}, "done": true}),
            answer(json!({"role": "assistant", "content": "hi"}), "stop", [0, 0, 0]),
        ),
        (
            "empty content without tool calls stays an empty string",
            ollama(json!({"role": "assistant", "content": ""}), "stop"),
            answer(json!({"role": "assistant", "content": ""}), "stop", [26, 7, 33]),
        ),
        (
            "an error body with status 200 is an upstream error",
            json!({"error": "an error was encountered while running the model: unexpected EOF"}),
            json!({"error": {"kind": "upstream_status", "status": 502,
                             "message": "an error was encountered while running the model: unexpected EOF"}}),
        ),
        (
            "a body that is not an Ollama answer is an invalid response",
            json!({"message": "not an object"}),
            json!({"error": {"kind": "invalid_response"}}),
        ),
    ]
}

#[tokio::test]
async fn ollama_responses_become_openai_responses() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(None);
    let cases = response_cases();
    for (name, ollama_body, expected) in &cases {
        fake.reply(Reply::Json(200, ollama_body.clone()));
        let result = backend.chat(&request(json!({"model": "llama3.2", "messages": [user("hi")]}))).await;
        match (result, expected.get("error")) {
            (Ok(response), None) => assert_eq!(&normalise_response(&response), expected, "case '{name}'"),
            (Err(error), Some(expected_error)) => assert_eq!(&error_json(&error), expected_error, "case '{name}'"),
            (result, _) => panic!("case '{name}': expected {expected}, got {result:?}"),
        }
    }
    assert_eq!(cases.len(), 11);
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
    assert_eq!(cases.len(), 14);
}

#[tokio::test]
async fn chat_with_a_tool_call_end_to_end() {
    let fake = FakeOllama::start().await;
    let backend = fake.backend(Some("proxy-key-123"));
    fake.reply(Reply::Json(200, json!({
        "model": "qwen3:8b", "created_at": "2025-06-01T10:00:00Z",
        "message": {"role": "assistant", "content": "", "thinking": "The user wants weather.",
                    "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        "done": true, "done_reason": "stop", "prompt_eval_count": 120, "eval_count": 18
    })));
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
    fake.reply(Reply::Json(200, json!({
        "model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 9
    })));
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
