//! `POST /v1/chat/completions` shapes: request, response and streamed chunks.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A chat completion request as OpenAI defines it.
///
/// Fields Rampart does not model are kept in `extra` (not part of the typed wire shape) and
/// forwarded untouched to OpenAI-compatible upstreams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopSequences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Parameters Rampart does not interpret; forwarded as-is to OpenAI-compatible upstreams.
    #[serde(skip)]
    pub extra: Map<String, Value>,
}

/// Top-level request fields with a typed home in [`ChatCompletionRequest`].
const KNOWN_CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "seed",
    "user",
    "presence_penalty",
    "frequency_penalty",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
];

/// Why a request body could not be read as a request: `param` names the offending field
/// (`messages[0].role`), as OpenAI's error `param` does.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub param: Option<String>,
    pub message: String,
}

/// Deserialises a JSON object into `T`, reporting the path of the first bad field. Takes the
/// value by ownership so strings move into `T` instead of being copied.
pub fn from_json_object<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let param = (path != "." && !path.is_empty()).then_some(path);
        let inner = error.into_inner().to_string();
        let message = match &param {
            Some(param) => format!("invalid value for '{param}': {inner}"),
            None => format!("invalid request body: {inner}"),
        };
        FieldError { param, message }
    })
}

impl ChatCompletionRequest {
    /// Reads a request from a parsed JSON body, keeping unknown top-level fields in `extra`.
    pub fn from_json(body: Value) -> Result<Self, FieldError> {
        let Value::Object(mut object) = body else {
            return Err(FieldError { param: None, message: "the request body must be a JSON object".to_owned() });
        };
        // Nulls mean "not set" for every optional OpenAI parameter.
        object.retain(|_, value| !value.is_null());
        let unknown: Vec<String> =
            object.keys().filter(|key| !KNOWN_CHAT_FIELDS.contains(&key.as_str())).cloned().collect();
        let mut extra = Map::new();
        for key in unknown {
            if let Some(value) = object.remove(&key) {
                extra.insert(key, value);
            }
        }
        let mut request: ChatCompletionRequest = from_json_object(Value::Object(object))?;
        request.extra = extra;
        Ok(request)
    }

    /// The request for an OpenAI-compatible upstream, `extra` fields included, serialisable
    /// straight to bytes. `stream` and `stream_options` are set as given; the request is
    /// copied only when they differ from what the client sent.
    pub fn to_wire(&self, stream: bool, stream_options: Option<StreamOptions>) -> WireRequest<'_> {
        let client_stream = self.stream.unwrap_or(false);
        let request = if client_stream == stream && self.stream_options == stream_options {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut copy = self.clone();
            copy.stream = Some(stream);
            copy.stream_options = stream_options;
            std::borrow::Cow::Owned(copy)
        };
        WireRequest { request }
    }

    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// `max_completion_tokens` wins over the deprecated `max_tokens`, as in OpenAI's API.
    pub fn output_token_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    pub fn include_usage_in_stream(&self) -> bool {
        self.stream_options.as_ref().and_then(|options| options.include_usage).unwrap_or(false)
    }
}

/// A request as sent upstream: the typed fields, then `extra`.
pub struct WireRequest<'a> {
    request: std::borrow::Cow<'a, ChatCompletionRequest>,
}

impl Serialize for WireRequest<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'b> {
            #[serde(flatten)]
            request: &'b ChatCompletionRequest,
            #[serde(flatten)]
            extra: &'b Map<String, Value>,
        }
        Flat { request: &self.request, extra: &self.request.extra }.serialize(serializer)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StopSequences {
    One(String),
    Many(Vec<String>),
}

impl StopSequences {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            StopSequences::One(stop) => vec![stop.clone()],
            StopSequences::Many(stops) => stops.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    Function,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatMessage {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

impl ChatMessage {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(MessageContent::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            refusal: None,
        }
    }

    /// All text of the message, parts joined by newlines; non-text parts are skipped.
    pub fn text_content(&self) -> String {
        self.content.as_ref().map(MessageContent::joined_text).unwrap_or_default()
    }
}

/// A plain string or an array of typed content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    pub fn joined_text(&self) -> String {
        match self {
            MessageContent::Text(text) => text.clone(),
            MessageContent::Parts(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    InputAudio {
        #[schema(value_type = Object)]
        input_audio: Value,
    },
    File {
        #[schema(value_type = Object)]
        file: Value,
    },
    Refusal {
        refusal: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImageUrl {
    /// An `https://` URL or a `data:image/...;base64,` URL.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: ToolKind,
    pub function: FunctionDefinition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    Function,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `"none" | "auto" | "required"` or `{"type":"function","function":{"name":...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    Named(NamedToolChoice),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    None,
    Auto,
    Required,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: ToolKind,
    pub function: FunctionName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionName {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ToolKind,
    pub function: FunctionCall,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionCall {
    pub name: String,
    /// The arguments as a JSON-encoded string, exactly as OpenAI sends them.
    pub arguments: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// How much of the prompt was served from cache, as OpenAI reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// The breakdown of `prompt_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PromptTokensDetails {
    /// Prompt tokens whose computation was reused from an earlier request (a shared prefix).
    #[serde(default)]
    pub cached_tokens: u64,
}

impl Usage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: None,
        }
    }

    /// Usage that also reports how many prompt tokens came from a cache.
    pub fn with_cached_prompt_tokens(mut self, cached_tokens: u64) -> Self {
        self.prompt_tokens_details = Some(PromptTokensDetails { cached_tokens });
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    FunctionCall,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatCompletionResponse {
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: Option<FinishReason>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssistantMessage {
    pub role: Role,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Reasoning text, for upstreams that expose it (vLLM, DeepSeek, Anthropic thinking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

impl ChatCompletionResponse {
    /// A completion with one choice, as the translating adapters build it.
    pub fn single_choice(
        id: String,
        created: i64,
        model: String,
        message: AssistantMessage,
        finish_reason: Option<FinishReason>,
        usage: Usage,
    ) -> Self {
        ChatCompletionResponse {
            id,
            object: "chat.completion".to_owned(),
            created,
            model,
            choices: vec![Choice { index: 0, message, finish_reason, logprobs: None }],
            usage: Some(usage),
            system_fingerprint: None,
        }
    }
}

impl AssistantMessage {
    /// An assistant turn; an empty tool-call list or reasoning text is left out.
    pub fn turn(content: Option<String>, tool_calls: Vec<ToolCall>, reasoning: Option<String>) -> Self {
        AssistantMessage {
            role: Role::Assistant,
            content,
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            refusal: None,
            reasoning_content: reasoning.filter(|reasoning| !reasoning.is_empty()),
        }
    }

    pub fn text(content: impl Into<String>) -> Self {
        AssistantMessage {
            role: Role::Assistant,
            content: Some(content.into()),
            tool_calls: None,
            refusal: None,
            reasoning_content: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    /// Present (and `choices` empty) on the final chunk when usage was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<FinishReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ToolKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

impl ChatCompletionChunk {
    /// A chunk with one choice carrying `delta`.
    pub fn delta(id: &str, created: i64, model: &str, delta: Delta, finish_reason: Option<FinishReason>) -> Self {
        ChatCompletionChunk {
            id: id.to_owned(),
            object: "chat.completion.chunk".to_owned(),
            created,
            model: model.to_owned(),
            choices: vec![ChunkChoice { index: 0, delta, finish_reason, logprobs: None }],
            usage: None,
            system_fingerprint: None,
        }
    }

    /// The final usage-only chunk (`choices: []`).
    pub fn usage_only(id: &str, created: i64, model: &str, usage: Usage) -> Self {
        ChatCompletionChunk {
            id: id.to_owned(),
            object: "chat.completion.chunk".to_owned(),
            created,
            model: model.to_owned(),
            choices: Vec::new(),
            usage: Some(usage),
            system_fingerprint: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_kept_in_extra_and_forwarded() {
        let request = ChatCompletionRequest::from_json(json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": 5, "stop": null
        }))
        .unwrap();
        assert_eq!(request.extra.get("top_k"), Some(&json!(5)));
        assert_eq!(request.stop, None);
        let wire: Value =
            serde_json::to_value(request.to_wire(true, Some(StreamOptions { include_usage: Some(true) }))).unwrap();
        assert_eq!(wire["top_k"], json!(5));
        assert_eq!(wire["stream"], json!(true));
        assert_eq!(wire["stream_options"], json!({"include_usage": true}));
        assert_eq!(wire["model"], json!("m"));
    }

    #[test]
    fn bad_field_errors_name_the_field() {
        let check = |body: Value, param: &str| {
            let error = ChatCompletionRequest::from_json(body).unwrap_err();
            assert_eq!(error.param.as_deref(), Some(param), "{}", error.message);
            assert!(error.message.contains(param), "{}", error.message);
        };
        check(json!({"model": "m", "messages": [], "temperature": "hot"}), "temperature");
        check(json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}), "messages[0].role");
        check(json!({"model": 3, "messages": []}), "model");
    }

    #[test]
    fn missing_required_field_is_reported() {
        let error = ChatCompletionRequest::from_json(json!({"model": "m"})).unwrap_err();
        assert!(error.message.contains("messages"), "{}", error.message);
    }

    #[test]
    fn content_parts_and_tool_choice_forms_parse() {
        let request = ChatCompletionRequest::from_json(json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
        }))
        .unwrap();
        assert_eq!(request.messages[0].text_content(), "look");
        assert!(matches!(request.tool_choice, Some(ToolChoice::Named(_))));
        let auto =
            ChatCompletionRequest::from_json(json!({"model": "m", "messages": [], "tool_choice": "auto"})).unwrap();
        assert_eq!(auto.tool_choice, Some(ToolChoice::Mode(ToolChoiceMode::Auto)));
    }
}
