//! Anthropic Messages response → OpenAI chat completion.

use rampart_types::{AssistantMessage, ChatCompletionResponse, FinishReason, FunctionCall, ToolCall, ToolKind, Usage};
use serde::Deserialize;
use serde_json::value::RawValue;

/// `POST /v1/messages` answer (`"type": "message"`); unknown fields are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageWire {
    pub id: String,
    pub model: String,
    #[serde(default)]
    pub content: Vec<ResponseBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: UsageWire,
}

/// One content block. A flat struct rather than a tagged enum because serde buffers tagged
/// enums, and `input` must stay the upstream's raw JSON text: re-serialising a parsed value
/// would sort its keys, reordering a structured answer against the client's schema.
#[derive(Debug, Deserialize)]
pub(crate) struct ResponseBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Box<RawValue>>,
    #[serde(default)]
    thinking: Option<String>,
}

/// Anthropic counts cached prompt tokens apart from `input_tokens`; OpenAI's `prompt_tokens`
/// counts them all, so they are added back.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct UsageWire {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl UsageWire {
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens.unwrap_or(0)
            + self.cache_creation_input_tokens.unwrap_or(0)
            + self.cache_read_input_tokens.unwrap_or(0)
    }

    /// A later report (`message_delta` usage is cumulative) overrides the fields it carries.
    pub fn update(&mut self, later: &UsageWire) {
        let fields = [
            (&mut self.input_tokens, later.input_tokens),
            (&mut self.output_tokens, later.output_tokens),
            (&mut self.cache_creation_input_tokens, later.cache_creation_input_tokens),
            (&mut self.cache_read_input_tokens, later.cache_read_input_tokens),
        ];
        for (field, later) in fields {
            if later.is_some() {
                *field = later;
            }
        }
    }

    pub fn to_openai(self) -> Usage {
        Usage::new(self.prompt_tokens(), self.output_tokens.unwrap_or(0))
    }
}

/// `stop_reason` → `finish_reason`. Reasons Anthropic adds later read as a normal stop.
pub(crate) fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        // end_turn, stop_sequence, pause_turn (a server tool paused a long turn) and unknown.
        _ => FinishReason::Stop,
    }
}

/// `forced_json_tool`: the tool standing in for `response_format`, whose input is the answer.
pub(crate) fn translate_response(
    message: MessageWire,
    forced_json_tool: Option<&str>,
    created: i64,
) -> ChatCompletionResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    let mut json_answer: Option<String> = None;
    for block in message.content {
        // Server tools, redacted thinking and block types added later carry nothing an OpenAI
        // message can hold.
        match block.kind.as_str() {
            "text" => text.push_str(block.text.as_deref().unwrap_or_default()),
            "thinking" => reasoning.push_str(block.thinking.as_deref().unwrap_or_default()),
            "tool_use" => {
                let arguments = block.input.map(|input| input.get().to_owned()).unwrap_or_else(|| "{}".to_owned());
                let name = block.name.unwrap_or_default();
                if forced_json_tool == Some(name.as_str()) {
                    json_answer = Some(arguments);
                } else {
                    tool_calls.push(ToolCall {
                        id: block.id.unwrap_or_default(),
                        kind: ToolKind::Function,
                        function: FunctionCall { name, arguments },
                    });
                }
            }
            _ => {}
        }
    }
    let mut finish = message.stop_reason.as_deref().map(finish_reason);
    let content = if let Some(answer) = json_answer {
        // The client asked for a JSON answer, not a tool call: the turn ended normally.
        finish = Some(FinishReason::Stop);
        Some(answer)
    } else if text.is_empty() && !tool_calls.is_empty() {
        None
    } else {
        Some(text)
    };
    ChatCompletionResponse::single_choice(
        message.id,
        created,
        message.model,
        AssistantMessage::turn(content, tool_calls, Some(reasoning)),
        finish,
        message.usage.to_openai(),
    )
}
