//! NDJSON transcripts of `/api/chat` streams → the chunk sequences the adapter must produce.
//!
//! Chunks are compact (`{"delta"}`, `{"delta", "finish_reason"}`, `{"usage"}`); the runner
//! checks that all of them share one id, `created` and the model given here.

use serde_json::{Value, json};

/// One stream line as Ollama writes it.
fn line(model: &str, message: Value, done: bool) -> Value {
    json!({"model": model, "created_at": "2025-06-01T10:00:00.000Z", "message": message, "done": done})
}

fn text(content: &str) -> Value {
    line("llama3.2", json!({"role": "assistant", "content": content}), false)
}

fn thinking(thought: &str) -> Value {
    line("llama3.2", json!({"role": "assistant", "content": "", "thinking": thought}), false)
}

fn calls(calls: Value) -> Value {
    line("llama3.2", json!({"role": "assistant", "content": "", "tool_calls": calls}), false)
}

fn done(reason: &str, content: &str, prompt: u64, completion: u64) -> Value {
    let mut last = line("llama3.2", json!({"role": "assistant", "content": content}), true);
    last["done_reason"] = json!(reason);
    last["prompt_eval_count"] = json!(prompt);
    last["eval_count"] = json!(completion);
    last["total_duration"] = json!(123_456_789);
    last
}

/// Lines joined by `\n`, with the trailing newline Ollama writes.
fn transcript(lines: &[Value]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

fn role() -> Value {
    json!({"delta": {"role": "assistant"}})
}

fn content(text: &str) -> Value {
    json!({"delta": {"content": text}})
}

fn finish(reason: &str) -> Value {
    json!({"delta": {}, "finish_reason": reason})
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
}

fn call_delta(index: u32, name: &str, arguments: &str) -> Value {
    json!({"index": index, "id": "<generated>", "type": "function", "function": {"name": name, "arguments": arguments}})
}

fn chunks(model: &str, chunks: Vec<Value>) -> Value {
    json!({"model": model, "chunks": chunks})
}

fn failed(model: Option<&str>, chunks: Vec<Value>, error: Value) -> Value {
    json!({"model": model, "chunks": chunks, "error": error})
}

pub fn cases() -> Vec<(&'static str, String, Value)> {
    let weather = json!({"function": {"name": "get_weather", "arguments": {"city": "Paris"}}});
    vec![
        (
            "text over several lines",
            transcript(&[text("Hel"), text("lo"), done("stop", "", 5, 2)]),
            chunks("llama3.2", vec![role(), content("Hel"), content("lo"), finish("stop"), usage(5, 2)]),
        ),
        (
            "empty content lines make no chunks",
            transcript(&[text(""), text("Hi"), text(""), done("stop", "", 5, 1)]),
            chunks("llama3.2", vec![role(), content("Hi"), finish("stop"), usage(5, 1)]),
        ),
        (
            "thinking comes as reasoning_content before the answer",
            transcript(&[thinking("Two plus"), thinking(" two."), text("4"), done("stop", "", 9, 6)]),
            chunks(
                "llama3.2",
                vec![
                    role(),
                    json!({"delta": {"reasoning_content": "Two plus"}}),
                    json!({"delta": {"reasoning_content": " two."}}),
                    content("4"),
                    finish("stop"),
                    usage(9, 6),
                ],
            ),
        ),
        (
            "a tool call line is one delta with whole arguments",
            transcript(&[calls(json!([weather])), done("stop", "", 30, 12)]),
            chunks(
                "llama3.2",
                vec![
                    role(),
                    json!({"delta": {"tool_calls": [call_delta(0, "get_weather", "{\"city\":\"Paris\"}")]}}),
                    finish("tool_calls"),
                    usage(30, 12),
                ],
            ),
        ),
        (
            "tool calls across lines get running indices",
            transcript(&[
                calls(json!([weather])),
                calls(json!([
                    {"function": {"name": "get_time", "arguments": {}}},
                    {"function": {"name": "get_date", "arguments": {"tz": "UTC"}}}
                ])),
                done("stop", "", 30, 20),
            ]),
            chunks(
                "llama3.2",
                vec![
                    role(),
                    json!({"delta": {"tool_calls": [call_delta(0, "get_weather", "{\"city\":\"Paris\"}")]}}),
                    json!({"delta": {"tool_calls": [
                        call_delta(1, "get_time", "{}"), call_delta(2, "get_date", "{\"tz\":\"UTC\"}")
                    ]}}),
                    finish("tool_calls"),
                    usage(30, 20),
                ],
            ),
        ),
        (
            "tool call arguments keep the model's key order",
            format!(
                "{}\n{}\n",
                r#"{"model":"llama3.2","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"zeta":1,"alpha":{"y":2,"b":3}}}}]},"done":false}"#,
                done("stop", "", 1, 1)
            ),
            chunks(
                "llama3.2",
                vec![
                    role(),
                    json!({"delta": {"tool_calls": [call_delta(0, "f", r#"{"zeta":1,"alpha":{"y":2,"b":3}}"#)]}}),
                    finish("tool_calls"),
                    usage(1, 1),
                ],
            ),
        ),
        (
            "done_reason length",
            transcript(&[text("Once upon a"), done("length", "", 4, 3)]),
            chunks("llama3.2", vec![role(), content("Once upon a"), finish("length"), usage(4, 3)]),
        ),
        (
            "content on the done line comes before the finish",
            transcript(&[text("Hi"), done("stop", " there", 3, 2)]),
            chunks("llama3.2", vec![role(), content("Hi"), content(" there"), finish("stop"), usage(3, 2)]),
        ),
        (
            "the model named by the first line names every chunk; missing counts are 0",
            transcript(&[
                line("llama3.2:latest", json!({"role": "assistant", "content": "Hi"}), false),
                json!({"model": "llama3.2:latest", "message": {"role": "assistant", "content": ""}, "done": true}),
            ]),
            chunks("llama3.2:latest", vec![role(), content("Hi"), finish("stop"), usage(0, 0)]),
        ),
        (
            "the last line may lack its newline",
            transcript(&[text("Hi"), done("stop", "", 3, 1)]).trim_end().to_owned(),
            chunks("llama3.2", vec![role(), content("Hi"), finish("stop"), usage(3, 1)]),
        ),
        (
            "CRLF line endings and blank lines",
            format!("{}\r\n\r\n\n{}\r\n", text("Hi"), done("stop", "", 3, 1)),
            chunks("llama3.2", vec![role(), content("Hi"), finish("stop"), usage(3, 1)]),
        ),
        (
            "bytes after the done line are not read",
            format!("{}not json at all\n", transcript(&[text("Hi"), done("stop", "", 3, 1)])),
            chunks("llama3.2", vec![role(), content("Hi"), finish("stop"), usage(3, 1)]),
        ),
        (
            "an error line ends the stream with an upstream error",
            transcript(&[text("Hi"), json!({"error": "model runner has unexpectedly stopped"})]),
            failed(
                Some("llama3.2"),
                vec![role(), content("Hi")],
                json!({"kind": "upstream_status", "status": 502, "message": "model runner has unexpectedly stopped"}),
            ),
        ),
        (
            "a stream cut before the done line is an invalid response",
            transcript(&[text("Hi"), text(" the")]),
            failed(Some("llama3.2"), vec![role(), content("Hi"), content(" the")], json!({"kind": "invalid_response"})),
        ),
        (
            "a line that is not JSON is an invalid response",
            "<html>502 Bad Gateway</html>\n".to_owned(),
            failed(None, vec![], json!({"kind": "invalid_response"})),
        ),
    ]
}
