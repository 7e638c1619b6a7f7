//! OpenAI chat requests served by the in-process GGUF model.

use futures_util::StreamExt;
use rampart_core::{BackendError, ChunkStream, unix_now_secs};
use rampart_types::{
    AssistantMessage, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Delta, FinishReason,
    ResponseFormat, Role, Usage,
};
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::llama::{
    ChatTurn, FinishKind, GenerationEvent, GenerationParams, LlamaChatModel, OutputFormat, SubmitError,
};

/// llama.cpp server's default `min_p`.
const DEFAULT_MIN_P: f32 = 0.05;

fn unsupported(backend: &str, what: &str, param: &str) -> BackendError {
    BackendError::Unsupported { backend: backend.to_owned(), what: what.to_owned(), param: Some(param.to_owned()) }
}

/// The conversation and sampling settings, or what this runtime cannot do yet.
fn translate(
    backend: &str,
    request: &ChatCompletionRequest,
) -> Result<(Vec<ChatTurn>, GenerationParams), BackendError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(unsupported(backend, "n > 1", "n"));
    }
    if request.tools.as_ref().is_some_and(|tools| !tools.is_empty()) {
        return Err(unsupported(backend, "tool calling (not yet in the embedded runtime)", "tools"));
    }
    let format = match &request.response_format {
        None | Some(ResponseFormat::Text) => OutputFormat::Text,
        Some(ResponseFormat::JsonObject) => OutputFormat::JsonObject,
        Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
            Some(schema) => OutputFormat::JsonSchema(schema.clone()),
            None => OutputFormat::JsonObject,
        },
    };
    let turns = turns_of(request);
    let seed = request.seed.map(|seed| seed as u32).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|time| time.subsec_nanos()).unwrap_or(0)
    });
    let params = GenerationParams {
        max_tokens: request.output_token_limit(),
        temperature: request.temperature.unwrap_or(1.0) as f32,
        top_p: request.top_p.unwrap_or(1.0) as f32,
        // A request that sets no nucleus gets llama.cpp server's and Ollama's default cut
        // (min-p 0.05): drawn from a whole 262k vocabulary, a small local model otherwise
        // strays into noise at temperature 1 (`rampart chat` printed runs of stray letters).
        min_p: if request.top_p.is_none() { DEFAULT_MIN_P } else { 0.0 },
        seed,
        stop: request.stop.as_ref().map(|stop| stop.to_vec()).unwrap_or_default(),
        format,
    };
    Ok((turns, params))
}

/// The conversation as the chat template sees it.
fn turns_of(request: &ChatCompletionRequest) -> Vec<ChatTurn> {
    request
        .messages
        .iter()
        .map(|message| ChatTurn {
            role: match message.role {
                Role::System | Role::Developer => "system",
                Role::Assistant => "assistant",
                Role::User | Role::Tool | Role::Function => "user",
            }
            .to_owned(),
            content: message.text_content(),
        })
        .collect()
}

/// The prompt's tokens with the model's own template and tokenizer.
pub(crate) fn count_prompt_tokens(model: &LlamaChatModel, request: &ChatCompletionRequest) -> u64 {
    model.count_prompt_tokens(&turns_of(request)) as u64
}

fn submit(
    backend: &str,
    model: &LlamaChatModel,
    request: &ChatCompletionRequest,
) -> Result<tokio::sync::mpsc::UnboundedReceiver<GenerationEvent>, BackendError> {
    let (turns, params) = translate(backend, request)?;
    model.submit(&turns, params).map_err(|error| match error {
        SubmitError::QueueFull => BackendError::Upstream {
            backend: backend.to_owned(),
            status: 429,
            message: "the local model is busy: its queue is full, retry shortly".to_owned(),
            error_type: Some("rate_limit_exceeded".to_owned()),
            code: Some("local_queue_full".to_owned()),
            retry_after_secs: Some(1),
        },
        SubmitError::Stopped => BackendError::Unreachable { backend: backend.to_owned(), detail: error.to_string() },
        SubmitError::Invalid { message, param } => unsupported(backend, &message, param),
    })
}

fn failure(backend: &str, message: String) -> BackendError {
    BackendError::InvalidResponse { backend: backend.to_owned(), detail: message }
}

fn usage(prompt_tokens: u64, cached_tokens: u64, completion_tokens: u64) -> Usage {
    Usage::new(prompt_tokens, completion_tokens).with_cached_prompt_tokens(cached_tokens)
}

fn finish_reason(finish: FinishKind) -> FinishReason {
    match finish {
        FinishKind::Stop => FinishReason::Stop,
        FinishKind::Length => FinishReason::Length,
    }
}

fn completion_id() -> String {
    format!(
        "chatcmpl-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.as_nanos()).unwrap_or(0)
    )
}

pub(crate) async fn complete(
    backend: &str,
    model: &LlamaChatModel,
    request: &ChatCompletionRequest,
) -> Result<ChatCompletionResponse, BackendError> {
    let mut events = submit(backend, model, request)?;
    let mut text = String::new();
    while let Some(event) = events.recv().await {
        match event {
            GenerationEvent::Text(piece) => text.push_str(&piece),
            GenerationEvent::Finished { prompt_tokens, cached_tokens, completion_tokens, finish } => {
                return Ok(ChatCompletionResponse::single_choice(
                    completion_id(),
                    unix_now_secs(),
                    request.model.clone(),
                    AssistantMessage::text(text),
                    Some(finish_reason(finish)),
                    usage(prompt_tokens, cached_tokens, completion_tokens),
                ));
            }
            GenerationEvent::Failed { message } => return Err(failure(backend, message)),
        }
    }
    Err(BackendError::InvalidResponse {
        backend: backend.to_owned(),
        detail: "the model stopped without finishing".to_owned(),
    })
}

pub(crate) fn stream(
    backend: &str,
    model: &LlamaChatModel,
    request: &ChatCompletionRequest,
) -> Result<ChunkStream, BackendError> {
    let events = submit(backend, model, request)?;
    let id = completion_id();
    let created = unix_now_secs();
    let model_name = request.model.clone();
    let backend = backend.to_owned();
    let first = ChatCompletionChunk::delta(
        &id,
        created,
        &model_name,
        Delta { role: Some(Role::Assistant), content: Some(String::new()), ..Delta::default() },
        None,
    );
    let chunks = UnboundedReceiverStream::new(events).flat_map(move |event| {
        let items: Vec<Result<ChatCompletionChunk, BackendError>> = match event {
            GenerationEvent::Text(piece) => vec![Ok(ChatCompletionChunk::delta(
                &id,
                created,
                &model_name,
                Delta { content: Some(piece), ..Delta::default() },
                None,
            ))],
            GenerationEvent::Finished { prompt_tokens, cached_tokens, completion_tokens, finish } => vec![
                Ok(ChatCompletionChunk::delta(
                    &id,
                    created,
                    &model_name,
                    Delta::default(),
                    Some(finish_reason(finish)),
                )),
                Ok(ChatCompletionChunk::usage_only(
                    &id,
                    created,
                    &model_name,
                    usage(prompt_tokens, cached_tokens, completion_tokens),
                )),
            ],
            GenerationEvent::Failed { message } => vec![Err(failure(&backend, message))],
        };
        futures_util::stream::iter(items)
    });
    Ok(Box::pin(futures_util::stream::iter([Ok(first)]).chain(chunks)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: serde_json::Value) -> ChatCompletionRequest {
        let mut body = serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        ChatCompletionRequest::from_json(body).unwrap()
    }

    #[test]
    fn a_request_without_a_nucleus_gets_the_default_min_p_and_one_with_it_gets_exactly_what_it_asked() {
        let (_, params) = translate("local", &request(serde_json::json!({}))).unwrap();
        assert_eq!((params.temperature, params.top_p, params.min_p), (1.0, 1.0, DEFAULT_MIN_P));
        let (_, params) = translate("local", &request(serde_json::json!({"top_p": 0.9, "temperature": 0.5}))).unwrap();
        assert_eq!((params.temperature, params.top_p, params.min_p), (0.5, 0.9, 0.0));
    }
}
