//! Ollama → OpenAI: `/api/chat` answers and NDJSON stream lines as OpenAI responses and chunks.
//!
//! Ollama has no response or tool-call ids, so they are made here (UUIDv7, time-ordered).

use rampart_core::{BackendError, unix_now_secs};
use rampart_types::{
    AssistantMessage, ChatCompletionChunk, ChatCompletionResponse, Delta, FinishReason, FunctionCall,
    FunctionCallDelta, Role, ToolCall, ToolCallDelta, ToolKind, Usage,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::http::Upstream;

/// One `/api/chat` answer: the whole non-streaming body, or one line of a stream.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatLineWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    message: Option<MessageWire>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
    /// Set instead of everything else when generation failed after the 200 status was sent.
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct MessageWire {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallWire>>,
}

#[derive(Debug, Deserialize)]
struct ToolCallWire {
    /// Recent Ollama versions name their calls; older ones do not.
    #[serde(default)]
    id: Option<String>,
    function: FunctionWire,
}

#[derive(Debug, Deserialize)]
struct FunctionWire {
    name: String,
    /// Kept as sent: parsing into a map would sort the keys the model wrote in its own order.
    #[serde(default)]
    arguments: Option<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EmbedResponseWire {
    pub embeddings: Vec<Vec<f32>>,
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
}

impl ChatLineWire {
    fn usage(&self) -> Usage {
        Usage::new(self.prompt_eval_count.unwrap_or(0), self.eval_count.unwrap_or(0))
    }

    fn model_or<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.model.as_deref().filter(|model| !model.is_empty()).unwrap_or(fallback)
    }
}

/// The non-streaming answer as an OpenAI response. `requested_model` names it if Ollama did not.
pub(crate) fn chat_response(
    upstream: &Upstream,
    requested_model: &str,
    wire: ChatLineWire,
) -> Result<ChatCompletionResponse, BackendError> {
    if let Some(message) = &wire.error {
        return Err(generation_error(upstream, message));
    }
    let usage = wire.usage();
    let model = wire.model_or(requested_model).to_owned();
    let message = wire.message.unwrap_or_default();
    let tool_calls: Vec<ToolCall> = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|call| ToolCall {
            id: call_id(call.id),
            kind: ToolKind::Function,
            function: FunctionCall {
                name: call.function.name,
                arguments: arguments_string(call.function.arguments.as_deref()),
            },
        })
        .collect();
    let content = message.content.unwrap_or_default();
    // OpenAI clients branch on `content: null` to find a pure tool-call turn.
    let content = if content.is_empty() && !tool_calls.is_empty() { None } else { Some(content) };
    let finish_reason = finish_reason(!tool_calls.is_empty(), wire.done_reason.as_deref());
    Ok(ChatCompletionResponse::single_choice(
        completion_id(),
        unix_now_secs(),
        model,
        AssistantMessage::turn(content, tool_calls, message.thinking),
        Some(finish_reason),
        usage,
    ))
}

/// Turns the lines of one streamed answer into OpenAI chunks, in order.
///
/// All chunks share one id, `created` and model. Ollama sends each tool call whole in one
/// line, so each becomes one delta with its own index and complete arguments.
pub(crate) struct ChunkTranslator {
    upstream: Upstream,
    id: String,
    created: i64,
    requested_model: String,
    /// Set from the first line, so that every chunk names the same model.
    model: Option<String>,
    next_tool_index: u32,
    done: bool,
}

impl ChunkTranslator {
    pub fn new(upstream: Upstream, requested_model: &str) -> Self {
        ChunkTranslator {
            upstream,
            id: completion_id(),
            created: unix_now_secs(),
            requested_model: requested_model.to_owned(),
            model: None,
            next_tool_index: 0,
            done: false,
        }
    }

    /// Whether the final line (`done: true`) has been translated: nothing more is expected.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The chunks for one NDJSON line. An `Err` ends the stream.
    pub fn line(&mut self, line: &[u8]) -> Result<Vec<ChatCompletionChunk>, BackendError> {
        let wire: ChatLineWire = serde_json::from_slice(line)
            .map_err(|error| self.upstream.invalid(format!("stream line is not an Ollama chat response: {error}")))?;
        if let Some(message) = &wire.error {
            return Err(generation_error(&self.upstream, message));
        }
        let mut chunks = Vec::new();
        let model = match &self.model {
            Some(model) => model.clone(),
            None => {
                let model = wire.model_or(&self.requested_model).to_owned();
                self.model = Some(model.clone());
                let role = Delta { role: Some(Role::Assistant), ..Delta::default() };
                chunks.push(ChatCompletionChunk::delta(&self.id, self.created, &model, role, None));
                model
            }
        };
        let chunk = |delta: Delta, finish_reason: Option<FinishReason>| {
            ChatCompletionChunk::delta(&self.id, self.created, &model, delta, finish_reason)
        };
        let message = wire.message.as_ref();
        if let Some(thinking) = message.and_then(|message| message.thinking.as_ref()).filter(|text| !text.is_empty()) {
            chunks.push(chunk(Delta { reasoning_content: Some(thinking.clone()), ..Delta::default() }, None));
        }
        if let Some(content) = message.and_then(|message| message.content.as_ref()).filter(|text| !text.is_empty()) {
            chunks.push(chunk(Delta { content: Some(content.clone()), ..Delta::default() }, None));
        }
        let calls = message.and_then(|message| message.tool_calls.as_ref()).map(Vec::as_slice).unwrap_or_default();
        if !calls.is_empty() {
            let deltas = calls
                .iter()
                .map(|call| {
                    let index = self.next_tool_index;
                    self.next_tool_index += 1;
                    ToolCallDelta {
                        index,
                        id: Some(call_id(call.id.clone())),
                        kind: Some(ToolKind::Function),
                        function: Some(FunctionCallDelta {
                            name: Some(call.function.name.clone()),
                            arguments: Some(arguments_string(call.function.arguments.as_deref())),
                        }),
                    }
                })
                .collect();
            chunks.push(chunk(Delta { tool_calls: Some(deltas), ..Delta::default() }, None));
        }
        if wire.done {
            self.done = true;
            let finish_reason = finish_reason(self.next_tool_index > 0, wire.done_reason.as_deref());
            chunks.push(chunk(Delta::default(), Some(finish_reason)));
            chunks.push(ChatCompletionChunk::usage_only(&self.id, self.created, &model, wire.usage()));
        }
        Ok(chunks)
    }
}

/// `tool_calls` wins over Ollama's `done_reason`, which says `stop` after a tool call.
fn finish_reason(has_tool_calls: bool, done_reason: Option<&str>) -> FinishReason {
    match done_reason {
        _ if has_tool_calls => FinishReason::ToolCalls,
        Some("length") => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

/// Ollama sends arguments as an object; OpenAI clients expect its JSON text. A string (some
/// model templates produce one) already is that text.
fn arguments_string(arguments: Option<&RawValue>) -> String {
    let Some(raw) = arguments.map(RawValue::get) else { return "{}".to_owned() };
    if raw.starts_with('"') {
        return serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned());
    }
    raw.to_owned()
}

fn completion_id() -> String {
    format!("chatcmpl-{}", uuid::Uuid::now_v7().simple())
}

fn call_id(upstream_id: Option<String>) -> String {
    upstream_id.filter(|id| !id.is_empty()).unwrap_or_else(|| format!("call_{}", uuid::Uuid::now_v7().simple()))
}

/// An `{"error": ...}` body after a 200: the model failed while generating. There is no
/// status to keep, so it reads as a bad gateway, as the OpenAI adapter's mid-stream errors do.
fn generation_error(upstream: &Upstream, message: &str) -> BackendError {
    BackendError::Upstream {
        backend: upstream.name.clone(),
        status: 502,
        message: upstream.redact(message),
        error_type: None,
        code: None,
        retry_after_secs: None,
    }
}
