//! Ollama's non-streaming `/api/chat` answers → the OpenAI responses the adapter must return.

use serde_json::{Value, json};

/// Ollama's non-streaming answer → the OpenAI response (id and `created` checked, then fixed),
/// or the error the adapter returns.
pub fn cases() -> Vec<(&'static str, Value, Value)> {
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
            answer(
                json!({"role": "assistant", "content": null, "tool_calls": [weather_call_openai.clone()]}),
                "tool_calls",
                [26, 7, 33],
            ),
        ),
        (
            "text next to a tool call is kept",
            ollama(
                json!({"role": "assistant", "content": "Let me check.", "tool_calls": [weather_call.clone()]}),
                "stop",
            ),
            answer(
                json!({"role": "assistant", "content": "Let me check.", "tool_calls": [weather_call_openai.clone()]}),
                "tool_calls",
                [26, 7, 33],
            ),
        ),
        (
            "two tool calls get two different ids",
            ollama(
                json!({"role": "assistant", "content": "", "tool_calls": [
                    weather_call.clone(), {"function": {"name": "get_time", "arguments": {}}}
                ]}),
                "stop",
            ),
            answer(
                json!({"role": "assistant", "content": null, "tool_calls": [weather_call_openai.clone(),
                    {"id": "<generated>", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}),
                "tool_calls",
                [26, 7, 33],
            ),
        ),
        (
            "a tool call id sent by Ollama is kept",
            ollama(
                json!({"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_x1", "function": {"index": 0, "name": "get_time", "arguments": {}}}
                ]}),
                "stop",
            ),
            answer(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_x1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}),
                "tool_calls",
                [26, 7, 33],
            ),
        ),
        (
            "arguments sent as a JSON string are that text; missing arguments are {}",
            ollama(
                json!({"role": "assistant", "content": "", "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"function": {"name": "get_time"}}
                ]}),
                "stop",
            ),
            answer(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": "<generated>", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "<generated>", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
                ]}),
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
