//! OpenAI chat request → Anthropic Messages request.
//!
//! Anthropic differs from OpenAI in ways that change the shape, not just the names: the system
//! prompt is a top-level field, turns must alternate user/assistant, tool results travel in
//! user turns, and there is no `response_format` (a forced tool stands in for it, as LiteLLM
//! does). Parameters Anthropic cannot honour either fail here with the parameter named, or are
//! dropped where dropping cannot change what the client gets back (see
//! `docs/compatibility-anthropic.md`).

use rampart_types::{
    ChatCompletionRequest, ChatMessage, ContentPart, MessageContent, ResponseFormat, Role, Tool, ToolChoice,
    ToolChoiceMode,
};
use serde::Serialize;
use serde_json::{Value, json};

/// The tool that carries `response_format: {"type":"json_object"}` answers (LiteLLM's name).
pub(crate) const JSON_OBJECT_TOOL: &str = "json_response";

/// The request uses something Anthropic's Messages API cannot express.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}")]
pub(crate) struct UnsupportedRequest {
    pub what: String,
    /// The OpenAI parameter at fault, in OpenAI's `param` notation (`messages[2].content[0]`).
    pub param: Option<String>,
}

impl UnsupportedRequest {
    fn new(what: impl Into<String>, param: impl Into<String>) -> Self {
        UnsupportedRequest { what: what.into(), param: Some(param.into()) }
    }
}

/// A translated request and what the answer's translation must know about it.
#[derive(Debug)]
pub(crate) struct MessagesCall {
    pub body: Value,
    /// Set when `response_format` became a forced tool: that tool's input is the answer text.
    pub forced_json_tool: Option<String>,
}

#[derive(Debug, Serialize)]
struct MessagesRequest {
    model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<Message>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    /// Anthropic-native extras a client may send through the OpenAI shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolDefinition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<AnthropicToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
    stream: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Speaker {
    User,
    Assistant,
}

#[derive(Debug, Serialize)]
struct Message {
    role: Speaker,
    content: Vec<ContentBlock>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentBlock {
    Text { text: String },
    Image { source: MediaSource },
    Document { source: MediaSource },
    ToolUse { id: String, name: String, input: Value },
    ToolResult { tool_use_id: String, content: ToolResultContent },
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum MediaSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum ToolResultContent {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

#[derive(Debug, Serialize)]
struct ToolDefinition {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    input_schema: Value,
}

#[derive(Debug, Serialize)]
struct AnthropicToolChoice {
    #[serde(rename = "type")]
    kind: ToolChoiceKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disable_parallel_tool_use: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum ToolChoiceKind {
    Auto,
    Any,
    None,
    Tool,
}

impl AnthropicToolChoice {
    fn of(kind: ToolChoiceKind) -> Self {
        AnthropicToolChoice { kind, name: None, disable_parallel_tool_use: false }
    }

    fn named(name: &str) -> Self {
        AnthropicToolChoice {
            kind: ToolChoiceKind::Tool,
            name: Some(name.to_owned()),
            disable_parallel_tool_use: false,
        }
    }
}

#[derive(Debug, Serialize)]
struct Metadata {
    user_id: String,
}

/// Translates `request`. `stream` is passed apart because the adapter, not the client's
/// `stream` flag, decides which endpoint flavour is called.
pub(crate) fn translate_request(
    request: &ChatCompletionRequest,
    default_max_tokens: u32,
    stream: bool,
) -> Result<MessagesCall, UnsupportedRequest> {
    if let Some(n) = request.n
        && n > 1
    {
        return Err(UnsupportedRequest::new("n > 1 (Anthropic returns one choice per request)", "n"));
    }

    let mut system_texts: Vec<String> = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for (index, message) in request.messages.iter().enumerate() {
        let (speaker, blocks) = match message.role {
            Role::System | Role::Developer => {
                let text = message.text_content();
                if !text.is_empty() {
                    system_texts.push(text);
                }
                continue;
            }
            Role::User => (Speaker::User, content_blocks(message.content.as_ref(), index)?),
            Role::Assistant => (Speaker::Assistant, assistant_blocks(message, index)?),
            Role::Tool => (Speaker::User, vec![tool_result_block(message, index)?]),
            Role::Function => {
                return Err(UnsupportedRequest::new(
                    "the deprecated 'function' role (send 'tool' messages instead)",
                    format!("messages[{index}].role"),
                ));
            }
        };
        push_turn(&mut messages, speaker, blocks);
    }

    let mut tools: Vec<ToolDefinition> = request.tools.iter().flatten().map(tool_definition).collect();
    let mut tool_choice = request.tool_choice.as_ref().map(|choice| match choice {
        ToolChoice::Mode(ToolChoiceMode::Auto) => AnthropicToolChoice::of(ToolChoiceKind::Auto),
        ToolChoice::Mode(ToolChoiceMode::Required) => AnthropicToolChoice::of(ToolChoiceKind::Any),
        ToolChoice::Mode(ToolChoiceMode::None) => AnthropicToolChoice::of(ToolChoiceKind::None),
        ToolChoice::Named(named) => AnthropicToolChoice::named(&named.function.name),
    });

    let forced_json_tool = match &request.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(ToolDefinition {
            name: json_schema.name.clone(),
            description: json_schema.description.clone(),
            input_schema: json_schema.schema.clone().unwrap_or_else(|| json!({"type": "object"})),
        }),
        Some(ResponseFormat::JsonObject) => Some(ToolDefinition {
            name: JSON_OBJECT_TOOL.to_owned(),
            description: None,
            input_schema: json!({"type": "object"}),
        }),
        Some(ResponseFormat::Text) | None => None,
    }
    .map(|tool| {
        tool_choice = Some(AnthropicToolChoice::named(&tool.name));
        let name = tool.name.clone();
        tools.push(tool);
        name
    });

    if request.parallel_tool_calls == Some(false) {
        let choice = tool_choice.get_or_insert_with(|| AnthropicToolChoice::of(ToolChoiceKind::Auto));
        // `{"type":"none"}` takes no other field; with no tool allowed there is nothing to serialise.
        choice.disable_parallel_tool_use = choice.kind != ToolChoiceKind::None;
    }
    if tools.is_empty() {
        // Anthropic rejects a `tool_choice` without tools; OpenAI clients send `"auto"` regardless.
        tool_choice = None;
    }

    let body = MessagesRequest {
        model: request.model.clone(),
        system: (!system_texts.is_empty()).then(|| system_texts.join("\n\n")),
        messages,
        max_tokens: request.output_token_limit().unwrap_or(default_max_tokens),
        stop_sequences: request.stop.as_ref().map(|stop| stop.to_vec()).filter(|stops| !stops.is_empty()),
        // OpenAI allows 0..=2, Anthropic 0..=1: clamping keeps "as random as allowed" requests working.
        temperature: request.temperature.map(|temperature| temperature.clamp(0.0, 1.0)),
        top_p: request.top_p,
        top_k: request.extra.get("top_k").cloned(),
        thinking: request.extra.get("thinking").cloned(),
        tools,
        tool_choice,
        metadata: request.user.as_ref().map(|user| Metadata { user_id: user.clone() }),
        stream,
    };
    let body = serde_json::to_value(&body).map_err(|error| UnsupportedRequest {
        what: format!("a request that cannot be encoded: {error}"),
        param: None,
    })?;
    Ok(MessagesCall { body, forced_json_tool })
}

/// Anthropic requires strictly alternating turns, so a turn by the same speaker as the last
/// one joins it (two user messages, a user message after tool results, parallel tool results).
fn push_turn(messages: &mut Vec<Message>, speaker: Speaker, blocks: Vec<ContentBlock>) {
    if blocks.is_empty() {
        // An empty turn is rejected upstream and carries nothing; dropping it keeps alternation.
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == speaker => last.content.extend(blocks),
        _ => messages.push(Message { role: speaker, content: blocks }),
    }
}

fn content_blocks(
    content: Option<&MessageContent>,
    message_index: usize,
) -> Result<Vec<ContentBlock>, UnsupportedRequest> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(text)) => Ok(text_block(text).into_iter().collect()),
        Some(MessageContent::Parts(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (part_index, part) in parts.iter().enumerate() {
                let param = format!("messages[{message_index}].content[{part_index}]");
                blocks.extend(part_block(part, &param)?);
            }
            Ok(blocks)
        }
    }
}

/// Anthropic rejects empty text blocks, which OpenAI clients send freely (`"content": ""`).
fn text_block(text: &str) -> Option<ContentBlock> {
    (!text.is_empty()).then(|| ContentBlock::Text { text: text.to_owned() })
}

fn part_block(part: &ContentPart, param: &str) -> Result<Option<ContentBlock>, UnsupportedRequest> {
    match part {
        ContentPart::Text { text } => Ok(text_block(text)),
        // A refusal the assistant gave earlier is still text the model said.
        ContentPart::Refusal { refusal } => Ok(text_block(refusal)),
        ContentPart::ImageUrl { image_url } => match media_source(&image_url.url) {
            Some(source) => Ok(Some(ContentBlock::Image { source })),
            None => Err(UnsupportedRequest::new(
                "an image URL that is neither https:// nor a base64 data: URL",
                format!("{param}.image_url.url"),
            )),
        },
        ContentPart::File { file } => {
            let source = file.get("file_data").and_then(Value::as_str).and_then(media_source);
            match source {
                Some(source @ MediaSource::Base64 { .. }) => Ok(Some(ContentBlock::Document { source })),
                _ => Err(UnsupportedRequest::new(
                    "a file part without base64 data: URL 'file_data' (file ids are OpenAI's own)",
                    format!("{param}.file"),
                )),
            }
        }
        ContentPart::InputAudio { .. } => Err(UnsupportedRequest::new("audio input", param)),
    }
}

/// `data:<mime>;base64,<data>` or an `http(s)://` URL Anthropic fetches itself.
fn media_source(url: &str) -> Option<MediaSource> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (header, data) = rest.split_once(',')?;
        let media_type = header.strip_suffix(";base64")?.split(';').next()?;
        return Some(MediaSource::Base64 { media_type: media_type.to_owned(), data: data.to_owned() });
    }
    (url.starts_with("https://") || url.starts_with("http://")).then(|| MediaSource::Url { url: url.to_owned() })
}

fn assistant_blocks(message: &ChatMessage, index: usize) -> Result<Vec<ContentBlock>, UnsupportedRequest> {
    let mut blocks = content_blocks(message.content.as_ref(), index)?;
    for (call_index, call) in message.tool_calls.iter().flatten().enumerate() {
        let arguments = call.function.arguments.trim();
        // Some clients send "" for a call without arguments; Anthropic needs an object.
        let input = if arguments.is_empty() { Ok(json!({})) } else { serde_json::from_str::<Value>(arguments) };
        let input = match input {
            Ok(input @ Value::Object(_)) => input,
            _ => {
                return Err(UnsupportedRequest::new(
                    "tool call arguments that are not a JSON object (Anthropic stores them parsed)",
                    format!("messages[{index}].tool_calls[{call_index}].function.arguments"),
                ));
            }
        };
        blocks.push(ContentBlock::ToolUse { id: call.id.clone(), name: call.function.name.clone(), input });
    }
    Ok(blocks)
}

fn tool_result_block(message: &ChatMessage, index: usize) -> Result<ContentBlock, UnsupportedRequest> {
    let Some(tool_use_id) = message.tool_call_id.clone() else {
        return Err(UnsupportedRequest::new(
            "a tool message without tool_call_id (Anthropic pairs each result with its call)",
            format!("messages[{index}].tool_call_id"),
        ));
    };
    let content = match &message.content {
        None => ToolResultContent::Text(String::new()),
        Some(MessageContent::Text(text)) => ToolResultContent::Text(text.clone()),
        Some(parts @ MessageContent::Parts(_)) => ToolResultContent::Blocks(content_blocks(Some(parts), index)?),
    };
    Ok(ContentBlock::ToolResult { tool_use_id, content })
}

fn tool_definition(tool: &Tool) -> ToolDefinition {
    ToolDefinition {
        name: tool.function.name.clone(),
        description: tool.function.description.clone(),
        // Anthropic requires a schema; a function without parameters takes an empty object.
        input_schema: tool.function.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    }
}
