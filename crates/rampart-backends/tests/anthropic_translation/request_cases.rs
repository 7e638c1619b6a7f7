//! OpenAI request → the Anthropic request body the upstream receives.

use serde_json::{Value, json};

use super::mock::DEFAULT_MAX_TOKENS;

fn user(text: &str) -> Value {
    json!({"role": "user", "content": [{"type": "text", "text": text}]})
}

/// (case name, OpenAI request, Anthropic request body).
pub fn cases() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "plain user text gets the configured default max_tokens",
            json!({"model": "claude-x", "messages": [{"role": "user", "content": "Hello"}]}),
            json!({"model": "claude-x", "messages": [user("Hello")], "max_tokens": DEFAULT_MAX_TOKENS, "stream": false}),
        ),
        (
            "system and developer messages anywhere join the top-level system; users around them merge",
            json!({"model": "m", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "Again"}
            ]}),
            json!({"model": "m", "system": "Be brief.\n\nAnswer in French.", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Again"}]}]}),
        ),
        (
            "message names are dropped (Anthropic has no speaker names)",
            json!({"model": "m", "messages": [{"role": "user", "name": "alice", "content": "Hi"}]}),
            json!({"model": "m", "messages": [user("Hi")], "max_tokens": DEFAULT_MAX_TOKENS, "stream": false}),
        ),
        (
            "consecutive same-role messages merge so turns alternate",
            json!({"model": "m", "messages": [
                {"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                {"role": "assistant", "content": "c"}, {"role": "assistant", "content": "d"},
                {"role": "user", "content": "e"}
            ]}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]},
                user("e")
            ]}),
        ),
        (
            "content parts: text, base64 data-URL image, https image",
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What differs?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}}
            ]}]}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What differs?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
            ]}]}),
        ),
        (
            "a PDF file part becomes a document block",
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
            ]}]}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}}
            ]}]}),
        ),
        (
            "assistant tool_calls become tool_use; consecutive tool results share one user turn with the next user text",
            json!({"model": "m", "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "24C"}]},
                {"role": "user", "content": "Thanks"}
            ]}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [
                user("Weather in Paris and Rome?"),
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "24C"}]},
                    {"type": "text", "text": "Thanks"}
                ]}
            ]}),
        ),
        (
            "assistant text and a call without arguments keep their order; empty arguments mean {}",
            json!({"model": "m", "messages": [
                {"role": "user", "content": "time?"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "toolu_9", "type": "function", "function": {"name": "now", "arguments": ""}}
                ]}
            ]}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [
                user("time?"),
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}}
                ]}
            ]}),
        ),
        (
            "tools with and without parameters; tool_choice auto",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto", "tools": [
                {"type": "function", "function": {"name": "weather", "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": true}},
                {"type": "function", "function": {"name": "now"}}
            ]}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [user("x")],
                "tools": [
                    {"name": "weather", "description": "Current weather",
                        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                    {"name": "now", "input_schema": {"type": "object", "properties": {}}}
                ],
                "tool_choice": {"type": "auto"}}),
        ),
        (
            "tool_choice required becomes any",
            with_tool(json!({"tool_choice": "required"})),
            anthropic_with_tool(json!({"type": "any"})),
        ),
        (
            "tool_choice none stays none",
            with_tool(json!({"tool_choice": "none"})),
            anthropic_with_tool(json!({"type": "none"})),
        ),
        (
            "a named function becomes a tool choice",
            with_tool(json!({"tool_choice": {"type": "function", "function": {"name": "now"}}})),
            anthropic_with_tool(json!({"type": "tool", "name": "now"})),
        ),
        (
            "parallel_tool_calls false without tool_choice creates auto with disable_parallel_tool_use",
            with_tool(json!({"parallel_tool_calls": false})),
            anthropic_with_tool(json!({"type": "auto", "disable_parallel_tool_use": true})),
        ),
        (
            "parallel_tool_calls false joins a required tool_choice",
            with_tool(json!({"parallel_tool_calls": false, "tool_choice": "required"})),
            anthropic_with_tool(json!({"type": "any", "disable_parallel_tool_use": true})),
        ),
        (
            "parallel_tool_calls false leaves tool_choice none bare (none takes no other field)",
            with_tool(json!({"parallel_tool_calls": false, "tool_choice": "none"})),
            anthropic_with_tool(json!({"type": "none"})),
        ),
        ("parallel_tool_calls true changes nothing", with_tool(json!({"parallel_tool_calls": true})), {
            let mut expected = anthropic_with_tool(Value::Null);
            expected.as_object_mut().unwrap().remove("tool_choice");
            expected
        }),
        (
            "tool_choice without tools is dropped (Anthropic rejects it)",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto", "parallel_tool_calls": false}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [user("x")]}),
        ),
        (
            "response_format json_schema becomes a forced tool named after the schema",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto",
                "response_format": {"type": "json_schema", "json_schema": {"name": "person", "description": "A person", "strict": true,
                    "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [user("x")],
                "tools": [{"name": "person", "description": "A person",
                    "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}],
                "tool_choice": {"type": "tool", "name": "person"}}),
        ),
        (
            "response_format json_object becomes a forced json_response tool",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [user("x")],
                "tools": [{"name": "json_response", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "json_response"}}),
        ),
        (
            "response_format text changes nothing",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [user("x")]}),
        ),
        (
            "sampling: max_completion_tokens wins, temperature clamped to 1, stop string, user; seed and penalties ignored",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                "max_completion_tokens": 300, "max_tokens": 50, "temperature": 1.5, "top_p": 0.9,
                "stop": "END", "user": "user-42", "seed": 7, "presence_penalty": 0.5, "frequency_penalty": 0.1, "n": 1}),
            json!({"model": "m", "max_tokens": 300, "stream": false, "messages": [user("x")],
                "temperature": 1.0, "top_p": 0.9, "stop_sequences": ["END"], "metadata": {"user_id": "user-42"}}),
        ),
        (
            "max_tokens alone, stop list, temperature kept exactly",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 50, "temperature": 0.7, "stop": ["a", "b"]}),
            json!({"model": "m", "max_tokens": 50, "stream": false, "messages": [user("x")], "temperature": 0.7, "stop_sequences": ["a", "b"]}),
        ),
        (
            "Anthropic-native top_k and thinking pass through; other unknown fields do not",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_k": 40,
                "thinking": {"type": "enabled", "budget_tokens": 2048}, "logit_bias": {"50256": -100}}),
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [user("x")],
                "top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 2048}}),
        ),
    ]
}

/// An OpenAI request with one tool, plus `fields`.
fn with_tool(fields: Value) -> Value {
    let mut request = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}]});
    for (key, value) in fields.as_object().unwrap() {
        request[key] = value.clone();
    }
    request
}

fn anthropic_with_tool(tool_choice: Value) -> Value {
    json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "stream": false, "messages": [user("x")],
        "tools": [{"name": "now", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": tool_choice})
}

/// (case name, OpenAI request, the `param` the Unsupported error must name). None of these
/// may reach the upstream.
pub fn rejected() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("n > 1", json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}), "n"),
        (
            "tool call arguments that are not JSON",
            json!({"model": "m", "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{city: Paris"}}]}
            ]}),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            "tool call arguments that are JSON but not an object",
            json!({"model": "m", "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [
                    {"id": "t0", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}
                ]}
            ]}),
            "messages[1].tool_calls[1].function.arguments",
        ),
        (
            "the deprecated function role",
            json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "42"}]}),
            "messages[0].role",
        ),
        (
            "a tool message without tool_call_id",
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "42"}]}),
            "messages[1].tool_call_id",
        ),
        (
            "an image URL that is neither https nor a data URL",
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}
            ]}]}),
            "messages[0].content[1].image_url.url",
        ),
        (
            "a data URL that is not base64",
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg/>"}}
            ]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            "audio input",
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
            ]}]}),
            "messages[0].content[0]",
        ),
        (
            "an OpenAI file id",
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]}),
            "messages[0].content[0].file",
        ),
    ]
}
