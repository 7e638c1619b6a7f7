//! Anthropic's streaming events → OpenAI `chat.completion.chunk`s.
//!
//! Anthropic streams typed content blocks (start, deltas, stop) keyed by block index; OpenAI
//! streams flat deltas with tool calls keyed by their own 0-based index. The translator keeps
//! what each open block is, so each delta lands in the right OpenAI field.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use rampart_core::BackendError;
use rampart_types::{ChatCompletionChunk, Delta, FinishReason, FunctionCallDelta, Role, ToolCallDelta, ToolKind};
use serde::Deserialize;

use super::response::{UsageWire, finish_reason};
use crate::http::Upstream;
use crate::sse::{SseEvent, sse_events};

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: MessageStart,
    },
    ContentBlockStart {
        index: u32,
        content_block: BlockStart,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {},
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<UsageWire>,
    },
    MessageStop {},
    Ping {},
    Error {
        error: ErrorBody,
    },
    /// Anthropic documents that new event types may appear; they are skipped.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct MessageStart {
    id: String,
    model: String,
    #[serde(default)]
    usage: UsageWire,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockStart {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    Thinking {},
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    /// `signature_delta`, `citations_delta`: nothing an OpenAI delta can carry.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// What an open content block turns into on the OpenAI side.
#[derive(Debug, Clone, Copy)]
enum BlockTarget {
    Content,
    ToolCall {
        openai_index: u32,
    },
    /// The forced `response_format` tool: its JSON input is the answer text.
    JsonAnswer,
    Reasoning,
    Ignored,
}

/// Why a stream could not be translated further.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum StreamFault {
    /// An `event: error` (overloaded, API error) after the 200 status was sent.
    #[error("{error_type}: {message}")]
    Upstream { error_type: String, message: String },
    #[error("{0}")]
    Malformed(String),
}

impl StreamFault {
    fn into_backend_error(self, upstream: &Upstream) -> BackendError {
        match self {
            StreamFault::Upstream { error_type, message } => BackendError::Upstream {
                backend: upstream.name.clone(),
                // 529 is Anthropic's own status for overload, so routing can treat it as such.
                status: if error_type == "overloaded_error" { 529 } else { 502 },
                message: upstream.redact(&message),
                error_type: Some(error_type),
                code: None,
                retry_after_secs: None,
            },
            StreamFault::Malformed(detail) => upstream.invalid(detail),
        }
    }
}

/// The stream's identity: every chunk repeats the message id, creation time and model.
#[derive(Debug)]
struct Identity {
    id: String,
    model: String,
}

/// A pure state machine: feed it each event's `data`, get the chunks it makes.
#[derive(Debug)]
pub(crate) struct StreamTranslator {
    forced_json_tool: Option<String>,
    created: i64,
    identity: Option<Identity>,
    usage: UsageWire,
    blocks: HashMap<u32, BlockTarget>,
    tool_calls_started: u32,
    json_answer_seen: bool,
    stopped: bool,
}

impl StreamTranslator {
    pub fn new(forced_json_tool: Option<String>, created: i64) -> Self {
        StreamTranslator {
            forced_json_tool,
            created,
            identity: None,
            usage: UsageWire::default(),
            blocks: HashMap::new(),
            tool_calls_started: 0,
            json_answer_seen: false,
            stopped: false,
        }
    }

    /// Whether `message_stop` arrived: the answer is complete.
    pub fn is_finished(&self) -> bool {
        self.stopped
    }

    pub fn on_event(&mut self, data: &str) -> Result<Vec<ChatCompletionChunk>, StreamFault> {
        if data.trim().is_empty() {
            return Ok(Vec::new());
        }
        let event: StreamEvent = serde_json::from_str(data)
            .map_err(|error| StreamFault::Malformed(format!("stream event is not an Anthropic event: {error}")))?;
        let chunk = match event {
            StreamEvent::MessageStart { message } => {
                self.usage = message.usage;
                self.identity = Some(Identity { id: message.id, model: message.model });
                let delta = Delta { role: Some(Role::Assistant), content: Some(String::new()), ..Delta::default() };
                self.chunk(delta, None)?
            }
            StreamEvent::ContentBlockStart { index, content_block } => self.block_start(index, content_block)?,
            StreamEvent::ContentBlockDelta { index, delta } => self.block_delta(index, delta)?,
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(usage) = usage {
                    self.usage.update(&usage);
                }
                match delta.stop_reason.as_deref().map(finish_reason) {
                    // The JSON answer ends a normal turn, whatever tool machinery carried it.
                    Some(FinishReason::ToolCalls) if self.json_answer_seen => {
                        self.chunk(Delta::default(), Some(FinishReason::Stop))?
                    }
                    Some(reason) => self.chunk(Delta::default(), Some(reason))?,
                    None => None,
                }
            }
            StreamEvent::MessageStop {} => {
                self.stopped = true;
                let identity = self.identity()?;
                Some(ChatCompletionChunk::usage_only(
                    &identity.id,
                    self.created,
                    &identity.model,
                    self.usage.to_openai(),
                ))
            }
            StreamEvent::Error { error } => {
                return Err(StreamFault::Upstream { error_type: error.kind, message: error.message });
            }
            StreamEvent::ContentBlockStop {} | StreamEvent::Ping {} | StreamEvent::Unknown => None,
        };
        Ok(chunk.into_iter().collect())
    }

    fn block_start(&mut self, index: u32, block: BlockStart) -> Result<Option<ChatCompletionChunk>, StreamFault> {
        let (target, delta) = match block {
            BlockStart::Text { text } => {
                let delta = (!text.is_empty()).then(|| Delta { content: Some(text), ..Delta::default() });
                (BlockTarget::Content, delta)
            }
            BlockStart::ToolUse { name, .. } if self.forced_json_tool.as_deref() == Some(name.as_str()) => {
                self.json_answer_seen = true;
                (BlockTarget::JsonAnswer, None)
            }
            BlockStart::ToolUse { id, name } => {
                let openai_index = self.tool_calls_started;
                self.tool_calls_started += 1;
                let call = ToolCallDelta {
                    index: openai_index,
                    id: Some(id),
                    kind: Some(ToolKind::Function),
                    function: Some(FunctionCallDelta { name: Some(name), arguments: Some(String::new()) }),
                };
                (
                    BlockTarget::ToolCall { openai_index },
                    Some(Delta { tool_calls: Some(vec![call]), ..Delta::default() }),
                )
            }
            BlockStart::Thinking {} => (BlockTarget::Reasoning, None),
            BlockStart::Other => (BlockTarget::Ignored, None),
        };
        self.blocks.insert(index, target);
        match delta {
            Some(delta) => self.chunk(delta, None),
            None => Ok(None),
        }
    }

    fn block_delta(&mut self, index: u32, delta: BlockDelta) -> Result<Option<ChatCompletionChunk>, StreamFault> {
        let Some(target) = self.blocks.get(&index).copied() else {
            return Err(StreamFault::Malformed(format!("content_block_delta for block {index}, which never started")));
        };
        let delta = match (target, delta) {
            (BlockTarget::Content, BlockDelta::TextDelta { text }) => Delta { content: Some(text), ..Delta::default() },
            (BlockTarget::JsonAnswer, BlockDelta::InputJsonDelta { partial_json }) if !partial_json.is_empty() => {
                Delta { content: Some(partial_json), ..Delta::default() }
            }
            (BlockTarget::ToolCall { openai_index }, BlockDelta::InputJsonDelta { partial_json })
                if !partial_json.is_empty() =>
            {
                let call = ToolCallDelta {
                    index: openai_index,
                    id: None,
                    kind: None,
                    function: Some(FunctionCallDelta { name: None, arguments: Some(partial_json) }),
                };
                Delta { tool_calls: Some(vec![call]), ..Delta::default() }
            }
            (BlockTarget::Reasoning, BlockDelta::ThinkingDelta { thinking }) => {
                Delta { reasoning_content: Some(thinking), ..Delta::default() }
            }
            // Empty JSON pieces, signatures, citations, deltas of ignored blocks.
            _ => return Ok(None),
        };
        self.chunk(delta, None)
    }

    fn identity(&self) -> Result<&Identity, StreamFault> {
        self.identity.as_ref().ok_or_else(|| StreamFault::Malformed("stream content before message_start".to_owned()))
    }

    fn chunk(&self, delta: Delta, finish: Option<FinishReason>) -> Result<Option<ChatCompletionChunk>, StreamFault> {
        let identity = self.identity()?;
        Ok(Some(ChatCompletionChunk::delta(&identity.id, self.created, &identity.model, delta, finish)))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<SseEvent, BackendError>> + Send>>;

/// Chunks of a 2xx streaming response. The stream ends after `message_stop` or the first
/// error; a connection that closes before `message_stop` is an error, not a short answer.
pub(crate) fn chunk_stream(
    upstream: Upstream,
    response: reqwest::Response,
    translator: StreamTranslator,
) -> impl Stream<Item = Result<ChatCompletionChunk, BackendError>> + Send {
    struct State {
        events: EventStream,
        upstream: Upstream,
        translator: StreamTranslator,
        pending: VecDeque<Result<ChatCompletionChunk, BackendError>>,
        done: bool,
    }
    let events: EventStream = Box::pin(sse_events(upstream.clone(), response));
    let state = State { events, upstream, translator, pending: VecDeque::new(), done: false };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.pending.pop_front() {
                return Some((item, state));
            }
            if state.done {
                return None;
            }
            match state.events.next().await {
                None => {
                    state.done = true;
                    if !state.translator.is_finished() {
                        state.pending.push_back(Err(state.upstream.invalid("the stream ended before message_stop")));
                    }
                }
                Some(Err(error)) => {
                    state.done = true;
                    state.pending.push_back(Err(error));
                }
                Some(Ok(event)) => match state.translator.on_event(&event.data) {
                    Ok(chunks) => {
                        state.pending.extend(chunks.into_iter().map(Ok));
                        state.done = state.translator.is_finished();
                    }
                    Err(fault) => {
                        state.done = true;
                        state.pending.push_back(Err(fault.into_backend_error(&state.upstream)));
                    }
                },
            }
        }
    })
}
