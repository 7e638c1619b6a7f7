//! OpenAI requests → the `/api/chat` bodies Ollama must receive.

use serde_json::{Value, json};

pub fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

pub fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city", "strict": true,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }})
}

pub fn weather_tool_on_ollama() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }})
}

/// OpenAI request (only `messages` and the parameters differ from case to case) → the
/// `/api/chat` body Ollama receives, or `{"error": ...}` when nothing may be sent.
pub fn cases() -> Vec<(&'static str, Value, Value)> {
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
