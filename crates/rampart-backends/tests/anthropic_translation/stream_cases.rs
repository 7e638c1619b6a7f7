//! Anthropic SSE transcript → the OpenAI chunks (projected to delta / finish / usage / error).

use serde_json::{Value, json};

use super::response_cases::request;

// Anthropic events, as the API sends them.

fn message_start(usage: Value) -> Value {
    json!({"type": "message_start", "message": {"id": "msg_s1", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage}})
}

fn start_usage(input: u64) -> Value {
    json!({"input_tokens": input, "output_tokens": 1})
}

fn block_start(index: u32, block: Value) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": block})
}

fn text_start(index: u32) -> Value {
    block_start(index, json!({"type": "text", "text": ""}))
}

fn tool_use_start(index: u32, id: &str, name: &str) -> Value {
    block_start(index, json!({"type": "tool_use", "id": id, "name": name, "input": {}}))
}

fn block_delta(index: u32, delta: Value) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": delta})
}

fn text_delta(index: u32, text: &str) -> Value {
    block_delta(index, json!({"type": "text_delta", "text": text}))
}

fn json_delta(index: u32, partial: &str) -> Value {
    block_delta(index, json!({"type": "input_json_delta", "partial_json": partial}))
}

fn block_stop(index: u32) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

fn message_delta(stop_reason: &str, output_tokens: u64) -> Value {
    json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
        "usage": {"output_tokens": output_tokens}})
}

fn message_stop() -> Value {
    json!({"type": "message_stop"})
}

fn ping() -> Value {
    json!({"type": "ping"})
}

// The projected OpenAI chunks.

fn role() -> Value {
    json!({"delta": {"role": "assistant", "content": ""}, "finish_reason": null})
}

fn content(text: &str) -> Value {
    json!({"delta": {"content": text}, "finish_reason": null})
}

fn reasoning(text: &str) -> Value {
    json!({"delta": {"reasoning_content": text}, "finish_reason": null})
}

fn tool_call_start(index: u32, id: &str, name: &str) -> Value {
    json!({"delta": {"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]},
        "finish_reason": null})
}

fn tool_call_arguments(index: u32, arguments: &str) -> Value {
    json!({"delta": {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}, "finish_reason": null})
}

fn finish(reason: &str) -> Value {
    json!({"delta": {}, "finish_reason": reason})
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
}

/// (case name, OpenAI request, Anthropic events, expected projected chunks).
pub fn cases() -> Vec<(&'static str, Value, Vec<Value>, Vec<Value>)> {
    vec![
        (
            "text: role first, one chunk per text_delta, finish, then usage",
            request(None),
            vec![
                message_start(start_usage(25)),
                text_start(0),
                ping(),
                text_delta(0, "Hel"),
                text_delta(0, "lo"),
                block_stop(0),
                message_delta("end_turn", 12),
                message_stop(),
            ],
            vec![role(), content("Hel"), content("lo"), finish("stop"), usage(25, 12)],
        ),
        (
            "text then two tool_use blocks: OpenAI tool indexes count tool blocks only",
            request(None),
            vec![
                message_start(start_usage(300)),
                text_start(0),
                text_delta(0, "Checking."),
                block_stop(0),
                tool_use_start(1, "toolu_a", "weather"),
                json_delta(1, ""),
                json_delta(1, "{\"city\": "),
                json_delta(1, "\"Paris\"}"),
                block_stop(1),
                tool_use_start(2, "toolu_b", "now"),
                json_delta(2, "{}"),
                block_stop(2),
                message_delta("tool_use", 61),
                message_stop(),
            ],
            vec![
                role(),
                content("Checking."),
                tool_call_start(0, "toolu_a", "weather"),
                tool_call_arguments(0, "{\"city\": "),
                tool_call_arguments(0, "\"Paris\"}"),
                tool_call_start(1, "toolu_b", "now"),
                tool_call_arguments(1, "{}"),
                finish("tool_calls"),
                usage(300, 61),
            ],
        ),
        (
            "thinking deltas become reasoning_content; signatures are dropped",
            request(None),
            vec![
                message_start(start_usage(10)),
                block_start(0, json!({"type": "thinking", "thinking": ""})),
                block_delta(0, json!({"type": "thinking_delta", "thinking": "2+2"})),
                block_delta(0, json!({"type": "thinking_delta", "thinking": " is 4."})),
                block_delta(0, json!({"type": "signature_delta", "signature": "EqQB"})),
                block_stop(0),
                text_start(1),
                text_delta(1, "4"),
                block_stop(1),
                message_delta("end_turn", 20),
                message_stop(),
            ],
            vec![role(), reasoning("2+2"), reasoning(" is 4."), content("4"), finish("stop"), usage(10, 20)],
        ),
        (
            "json_schema: the forced tool's JSON pieces are content and the turn stops",
            request(Some(
                json!({"type": "json_schema", "json_schema": {"name": "person", "schema": {"type": "object"}}}),
            )),
            vec![
                message_start(start_usage(50)),
                tool_use_start(0, "toolu_j", "person"),
                json_delta(0, ""),
                json_delta(0, "{\"name\":"),
                json_delta(0, "\"Ada\"}"),
                block_stop(0),
                message_delta("tool_use", 9),
                message_stop(),
            ],
            vec![role(), content("{\"name\":"), content("\"Ada\"}"), finish("stop"), usage(50, 9)],
        ),
        (
            "max_tokens is length",
            request(None),
            vec![
                message_start(start_usage(3)),
                text_start(0),
                text_delta(0, "Once"),
                block_stop(0),
                message_delta("max_tokens", 1),
                message_stop(),
            ],
            vec![role(), content("Once"), finish("length"), usage(3, 1)],
        ),
        (
            "cache tokens count as prompt tokens; message_delta usage is cumulative and wins",
            request(None),
            vec![
                message_start(
                    json!({"input_tokens": 4, "output_tokens": 1, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000}),
                ),
                text_start(0),
                text_delta(0, "ok"),
                block_stop(0),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                    "usage": {"input_tokens": 4, "output_tokens": 7, "cache_read_input_tokens": 2000}}),
                message_stop(),
            ],
            vec![role(), content("ok"), finish("stop"), usage(2104, 7)],
        ),
        (
            "unknown events, server tool blocks and citations are skipped",
            request(None),
            vec![
                message_start(start_usage(5)),
                json!({"type": "some_future_event", "payload": 1}),
                block_start(
                    0,
                    json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
                ),
                json_delta(0, "{\"query\":\"x\"}"),
                block_stop(0),
                text_start(1),
                block_delta(1, json!({"type": "citations_delta", "citation": {"type": "web_search_result_location"}})),
                text_delta(1, "Found."),
                block_stop(1),
                message_delta("end_turn", 4),
                message_stop(),
            ],
            vec![role(), content("Found."), finish("stop"), usage(5, 4)],
        ),
        (
            "an overloaded error mid-stream ends the stream as a 529",
            request(None),
            vec![
                message_start(start_usage(5)),
                text_start(0),
                text_delta(0, "Par"),
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                text_delta(0, "never read"),
            ],
            vec![
                role(),
                content("Par"),
                json!({"error": {"upstream": {"status": 529, "error_type": "overloaded_error", "message": "Overloaded"}}}),
            ],
        ),
        (
            "any other error event is a 502",
            request(None),
            vec![
                message_start(start_usage(5)),
                json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
            ],
            vec![
                role(),
                json!({"error": {"upstream": {"status": 502, "error_type": "api_error", "message": "Internal server error"}}}),
            ],
        ),
        (
            "a stream cut before message_stop is an error, not a short answer",
            request(None),
            vec![message_start(start_usage(5)), text_start(0), text_delta(0, "Par")],
            vec![
                role(),
                content("Par"),
                json!({"error": {"invalid_response": "the stream ended before message_stop"}}),
            ],
        ),
        (
            "a delta for a block that never started is an error",
            request(None),
            vec![message_start(start_usage(5)), text_delta(3, "x"), message_stop()],
            vec![
                role(),
                json!({"error": {"invalid_response": "content_block_delta for block 3, which never started"}}),
            ],
        ),
    ]
}
