//! OpenAI → Ollama: the canonical chat request as an `/api/chat` body, embeddings as `/api/embed`.
//!
//! Everything Ollama cannot express is refused here with the OpenAI parameter that asked for
//! it, before any byte goes upstream: a silently dropped image or choice count would give the
//! client an answer to a question it did not ask.

use std::collections::HashMap;

use rampart_core::{BackendError, EmbedCall, EmbedInputs};
use rampart_types::{
    ChatCompletionRequest, ChatMessage, ContentPart, MessageContent, ResponseFormat, Role, ToolChoice, ToolChoiceMode,
};
use serde_json::{Map, Number, Value, json};

/// Request fields outside OpenAI's API that are passed to Ollama as they are, at the top level.
const PASSTHROUGH_TOP_LEVEL: &[&str] = &["keep_alive", "think"];

/// Sampling extras (vLLM-style `extra_body`) that Ollama knows under the same name in `options`.
const PASSTHROUGH_OPTIONS: &[&str] = &["top_k", "min_p"];

/// The `/api/chat` body for `request`. `stream` is the adapter's choice, not the client's.
pub(crate) fn chat_body(backend: &str, request: &ChatCompletionRequest, stream: bool) -> Result<Value, BackendError> {
    if let Some(n) = request.n
        && n > 1
    {
        return Err(unsupported(backend, "n > 1 (several choices per request)", "n"));
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(request.model.clone()));
    body.insert("messages".into(), Value::Array(messages(backend, &request.messages)?));
    body.insert("stream".into(), Value::Bool(stream));
    // Ollama cannot force a tool call (`required`, a named tool): the tools are offered and the
    // model decides. `none` is the one choice it can honour, by not offering them.
    let tools_offered = !matches!(request.tool_choice, Some(ToolChoice::Mode(ToolChoiceMode::None)));
    if let Some(tools) = &request.tools
        && tools_offered
        && !tools.is_empty()
    {
        let tools = tools
            .iter()
            .map(|tool| {
                let mut function = Map::new();
                function.insert("name".into(), Value::String(tool.function.name.clone()));
                if let Some(description) = &tool.function.description {
                    function.insert("description".into(), Value::String(description.clone()));
                }
                // Ollama renders `parameters` into the prompt template; an absent schema reads
                // as a function without arguments.
                let parameters =
                    tool.function.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                function.insert("parameters".into(), parameters);
                json!({"type": "function", "function": function})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(format) = format(request.response_format.as_ref()) {
        body.insert("format".into(), format);
    }
    let options = options(request);
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    for key in PASSTHROUGH_TOP_LEVEL {
        if let Some(value) = request.extra.get(*key) {
            body.insert((*key).into(), value.clone());
        }
    }
    Ok(Value::Object(body))
}

/// The `/api/embed` body. Ollama embeds text only and truncates over-long inputs itself.
pub(crate) fn embed_body(backend: &str, call: &EmbedCall) -> Result<Value, BackendError> {
    let EmbedInputs::Texts(texts) = &call.inputs else {
        return Err(unsupported(backend, "token-array embedding inputs", "input"));
    };
    let mut body = json!({"model": call.upstream_model, "input": texts, "truncate": true});
    if let Some(dimensions) = call.dimensions {
        body["dimensions"] = json!(dimensions);
    }
    Ok(body)
}

fn messages(backend: &str, messages: &[ChatMessage]) -> Result<Vec<Value>, BackendError> {
    // OpenAI ties a tool result to its call by id, Ollama by function name: remember the names
    // of the calls seen so far.
    let mut tool_names: HashMap<&str, &str> = HashMap::new();
    let mut wire = Vec::with_capacity(messages.len());
    for (index, message) in messages.iter().enumerate() {
        let (mut content, images) = content_and_images(backend, message, index)?;
        if content.is_empty()
            && let Some(refusal) = &message.refusal
        {
            content = refusal.clone();
        }
        let role = match message.role {
            Role::System | Role::Developer => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool | Role::Function => "tool",
        };
        let mut object = Map::new();
        object.insert("role".into(), Value::String(role.into()));
        object.insert("content".into(), Value::String(content));
        if !images.is_empty() {
            object.insert("images".into(), Value::Array(images.into_iter().map(Value::String).collect()));
        }
        if let Some(calls) = &message.tool_calls
            && !calls.is_empty()
        {
            let mut wire_calls = Vec::with_capacity(calls.len());
            for (call_index, call) in calls.iter().enumerate() {
                let param = || format!("messages[{index}].tool_calls[{call_index}].function.arguments");
                let arguments = arguments_object(&call.function.arguments)
                    .ok_or_else(|| unsupported(backend, "tool call arguments that are not a JSON object", param()))?;
                tool_names.insert(call.id.as_str(), call.function.name.as_str());
                wire_calls.push(json!({"function": {"name": call.function.name, "arguments": arguments}}));
            }
            object.insert("tool_calls".into(), Value::Array(wire_calls));
        }
        let tool_name = match message.role {
            Role::Tool => {
                message.tool_call_id.as_deref().and_then(|id| tool_names.get(id).copied()).or(message.name.as_deref())
            }
            // The deprecated `function` role names its function directly.
            Role::Function => message.name.as_deref(),
            _ => None,
        };
        if let Some(name) = tool_name {
            object.insert("tool_name".into(), Value::String(name.to_owned()));
        }
        wire.push(Value::Object(object));
    }
    Ok(wire)
}

/// Text parts joined by newlines, and the base64 payloads of data-URL images.
fn content_and_images(
    backend: &str,
    message: &ChatMessage,
    index: usize,
) -> Result<(String, Vec<String>), BackendError> {
    let param = || format!("messages[{index}].content");
    let parts = match &message.content {
        None => return Ok((String::new(), Vec::new())),
        Some(MessageContent::Text(text)) => return Ok((text.clone(), Vec::new())),
        Some(MessageContent::Parts(parts)) => parts,
    };
    let mut texts: Vec<&str> = Vec::new();
    let mut images = Vec::new();
    for part in parts {
        match part {
            ContentPart::Text { text } => texts.push(text),
            ContentPart::Refusal { refusal } => texts.push(refusal),
            ContentPart::ImageUrl { image_url } => {
                // Ollama takes image bytes only; fetching a URL on the client's behalf would
                // make the gateway a proxy to arbitrary hosts.
                let data = base64_data_url_payload(&image_url.url)
                    .ok_or_else(|| unsupported(backend, "image URLs other than base64 data URLs", param()))?;
                images.push(data.to_owned());
            }
            ContentPart::InputAudio { .. } => return Err(unsupported(backend, "audio content parts", param())),
            ContentPart::File { .. } => return Err(unsupported(backend, "file content parts", param())),
        }
    }
    Ok((texts.join("\n"), images))
}

/// `XXXX` from `data:image/png;base64,XXXX`.
fn base64_data_url_payload(url: &str) -> Option<&str> {
    let (media, data) = url.strip_prefix("data:")?.split_once(',')?;
    media.ends_with(";base64").then_some(data)
}

/// OpenAI sends arguments as a JSON string, Ollama wants the object. An empty string is the
/// no-argument call some clients send.
fn arguments_object(arguments: &str) -> Option<Map<String, Value>> {
    if arguments.trim().is_empty() {
        return Some(Map::new());
    }
    match serde_json::from_str::<Value>(arguments).ok()? {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

fn format(response_format: Option<&ResponseFormat>) -> Option<Value> {
    match response_format? {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(Value::String("json".into())),
        ResponseFormat::JsonSchema { json_schema } => {
            Some(json_schema.schema.clone().unwrap_or_else(|| Value::String("json".into())))
        }
    }
}

fn options(request: &ChatCompletionRequest) -> Map<String, Value> {
    // A client that speaks Ollama may send its `options` as is; the OpenAI parameters, being
    // explicit, win over them.
    let mut options = match request.extra.get("options") {
        Some(Value::Object(options)) => options.clone(),
        _ => Map::new(),
    };
    for key in PASSTHROUGH_OPTIONS {
        if let Some(value) = request.extra.get(*key) {
            options.insert((*key).into(), value.clone());
        }
    }
    let floats = [
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("presence_penalty", request.presence_penalty),
        ("frequency_penalty", request.frequency_penalty),
    ];
    for (key, value) in floats {
        if let Some(number) = value.and_then(Number::from_f64) {
            options.insert(key.into(), Value::Number(number));
        }
    }
    if let Some(seed) = request.seed {
        options.insert("seed".into(), json!(seed));
    }
    if let Some(limit) = request.output_token_limit() {
        options.insert("num_predict".into(), json!(limit));
    }
    if let Some(stop) = &request.stop {
        let stop = stop.to_vec();
        if !stop.is_empty() {
            options.insert("stop".into(), json!(stop));
        }
    }
    options
}

fn unsupported(backend: &str, what: &str, param: impl Into<String>) -> BackendError {
    BackendError::Unsupported { backend: backend.to_owned(), what: what.to_owned(), param: Some(param.into()) }
}
