//! Anthropic Messages answer → the OpenAI completion the client gets.

use serde_json::{Value, json};

/// A plain request; `response_format`, when given, decides how a forced tool reads back.
pub fn request(response_format: Option<Value>) -> Value {
    let mut request = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]});
    if let Some(format) = response_format {
        request["response_format"] = format;
    }
    request
}

fn message(content: Value, stop_reason: &str, usage: Value) -> Value {
    json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": content, "stop_reason": stop_reason, "stop_sequence": null, "usage": usage})
}

fn usage(input: u64, output: u64) -> Value {
    json!({"input_tokens": input, "output_tokens": output})
}

/// What the test compares: the fields the translation decides.
fn expected(message: Value, finish_reason: &str, prompt: u64, completion: u64) -> Value {
    json!({"id": "msg_01", "model": "claude-sonnet-4-5-20250929", "message": message, "finish_reason": finish_reason,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
}

/// (case name, OpenAI request, Anthropic answer, expected OpenAI fields).
pub fn cases() -> Vec<(&'static str, Value, Value, Value)> {
    vec![
        (
            "one text block, end_turn",
            request(None),
            message(json!([{"type": "text", "text": "Hello!"}]), "end_turn", usage(12, 3)),
            expected(json!({"role": "assistant", "content": "Hello!"}), "stop", 12, 3),
        ),
        (
            "text blocks concatenate; stop_sequence is a stop",
            request(None),
            message(
                json!([{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]),
                "stop_sequence",
                usage(5, 2),
            ),
            expected(json!({"role": "assistant", "content": "Hello"}), "stop", 5, 2),
        ),
        (
            "tool_use only: content null, arguments as a JSON string",
            request(None),
            message(
                json!([{"type": "tool_use", "id": "toolu_01", "name": "weather", "input": {"city": "Paris", "days": 2}}]),
                "tool_use",
                usage(40, 20),
            ),
            expected(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_01", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\",\"days\":2}"}}
                ]}),
                "tool_calls",
                40,
                20,
            ),
        ),
        (
            "text then two tool_use blocks",
            request(None),
            message(
                json!([
                    {"type": "text", "text": "Checking both."},
                    {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_b", "name": "now", "input": {}}
                ]),
                "tool_use",
                usage(40, 30),
            ),
            expected(
                json!({"role": "assistant", "content": "Checking both.", "tool_calls": [
                    {"id": "toolu_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_b", "type": "function", "function": {"name": "now", "arguments": "{}"}}
                ]}),
                "tool_calls",
                40,
                30,
            ),
        ),
        (
            "max_tokens is length",
            request(None),
            message(json!([{"type": "text", "text": "Once upon"}]), "max_tokens", usage(3, 2)),
            expected(json!({"role": "assistant", "content": "Once upon"}), "length", 3, 2),
        ),
        (
            "refusal is content_filter",
            request(None),
            message(json!([]), "refusal", usage(3, 0)),
            expected(json!({"role": "assistant", "content": ""}), "content_filter", 3, 0),
        ),
        (
            "pause_turn is a stop",
            request(None),
            message(json!([{"type": "text", "text": "Searching"}]), "pause_turn", usage(3, 1)),
            expected(json!({"role": "assistant", "content": "Searching"}), "stop", 3, 1),
        ),
        (
            "thinking blocks become reasoning_content",
            request(None),
            message(
                json!([
                    {"type": "thinking", "thinking": "2+2 is 4.", "signature": "EqQB"},
                    {"type": "redacted_thinking", "data": "abc"},
                    {"type": "text", "text": "4"}
                ]),
                "end_turn",
                usage(10, 8),
            ),
            expected(json!({"role": "assistant", "content": "4", "reasoning_content": "2+2 is 4."}), "stop", 10, 8),
        ),
        (
            "cache creation and cache read tokens count as prompt tokens",
            request(None),
            message(
                json!([{"type": "text", "text": "ok"}]),
                "end_turn",
                json!({"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 200}),
            ),
            expected(json!({"role": "assistant", "content": "ok"}), "stop", 1210, 4),
        ),
        (
            "null cache counters count as zero",
            request(None),
            message(
                json!([{"type": "text", "text": "ok"}]),
                "end_turn",
                json!({"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": null, "cache_read_input_tokens": null}),
            ),
            expected(json!({"role": "assistant", "content": "ok"}), "stop", 10, 4),
        ),
        (
            "server tool blocks carry nothing OpenAI can hold and are skipped",
            request(None),
            message(
                json!([
                    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                    {"type": "text", "text": "Found it."}
                ]),
                "end_turn",
                usage(3, 3),
            ),
            expected(json!({"role": "assistant", "content": "Found it."}), "stop", 3, 3),
        ),
        (
            "json_schema answer: the forced tool's input is the content and the turn stops",
            request(Some(
                json!({"type": "json_schema", "json_schema": {"name": "person", "schema": {"type": "object"}}}),
            )),
            message(
                json!([{"type": "tool_use", "id": "toolu_j", "name": "person", "input": {"born": 1815, "name": "Ada"}}]),
                "tool_use",
                usage(20, 9),
            ),
            expected(json!({"role": "assistant", "content": "{\"born\":1815,\"name\":\"Ada\"}"}), "stop", 20, 9),
        ),
        (
            "json_object answer through the json_response tool",
            request(Some(json!({"type": "json_object"}))),
            message(
                json!([{"type": "tool_use", "id": "toolu_j", "name": "json_response", "input": {"ok": true}}]),
                "tool_use",
                usage(20, 5),
            ),
            expected(json!({"role": "assistant", "content": "{\"ok\":true}"}), "stop", 20, 5),
        ),
        (
            "json mode cut by max_tokens before the tool: text stays, length stays",
            request(Some(json!({"type": "json_object"}))),
            message(json!([{"type": "text", "text": "{\"ok\""}]), "max_tokens", usage(20, 5)),
            expected(json!({"role": "assistant", "content": "{\"ok\""}), "length", 20, 5),
        ),
    ]
}
