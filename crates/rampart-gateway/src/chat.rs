//! `POST /v1/chat/completions`: parse, validate, resolve the model, call its backend, and
//! answer as JSON or as server-sent events forwarded chunk by chunk.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use rampart_config::ModelKind;
use rampart_core::{BackendError, ChunkStream};
use rampart_types::{ChatCompletionRequest, ChatCompletionResponse, ErrorResponse, ToolChoice};

use opentelemetry::context::FutureExt as _;

use crate::auth::Caller;
use crate::budget::{admit_chat, count_chat_prompt};
use crate::cache;
use crate::decision::{CallFacts, decide_model_call};
use crate::error::ApiError;
use crate::guard::{CallGuard, Screened, StreamScreen, screen_off_thread, switched_on_by};
use crate::hints::take_route_hints;
use crate::middleware::{ModelLabel, RequestId};
use crate::record::CallRecord;
use crate::resolve::{field_error, observe_route};
use crate::routes::resolve_target;
use crate::spans::{ModelRequestFacts, RequestTrace};
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    tag = "openai",
    request_body = ChatCompletionRequest,
    responses(
        (status = 200, description = "A completion, or `text/event-stream` chunks when `stream` is true", body = ChatCompletionResponse),
        (status = 400, description = "Invalid request", body = ErrorResponse),
        (status = 404, description = "Unknown model", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 415, description = "Body is not JSON", body = ErrorResponse),
        (status = 429, description = "Upstream rate limit", body = ErrorResponse),
        (status = 502, description = "Upstream failure", body = ErrorResponse),
        (status = 504, description = "Upstream timeout", body = ErrorResponse),
    )
)]
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    Extension(caller): Extension<Caller>,
    trace: Option<Extension<RequestTrace>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let trace = trace.map(|Extension(trace)| trace);
    let mut record = CallRecord::new(state.clone(), request_id.0, "chat.completions", caller, trace.as_ref());
    match handle(&state, &headers, body, &mut record).await {
        Ok(Reply::Complete(response)) => {
            record.note_response(&response);
            record.finish(200, None);
            let mut response = match record.citations.take() {
                Some(citations) => axum::Json(with_rampart_field(&response, citations)).into_response(),
                None => axum::Json(response).into_response(),
            };
            record.served_headers(response.headers_mut(), true);
            record.label(response)
        }
        Ok(Reply::Stream(chunks, screen)) => {
            let label = ModelLabel(record.model.as_ref().map(|model| model.name.clone()).unwrap_or_default());
            let mut served = HeaderMap::new();
            record.served_headers(&mut served, false);
            let mut response = sse_response(chunks, screen, record);
            response.headers_mut().extend(served);
            response.extensions_mut().insert(label);
            response
        }
        Err(error) => {
            record.finish(error.status().as_u16(), Some(error.to_string()));
            record.label(error.into_response())
        }
    }
}

/// The answer with `rampart` (retrieval's citations) beside OpenAI's fields.
fn with_rampart_field(response: &ChatCompletionResponse, rampart: serde_json::Value) -> serde_json::Value {
    let mut value = serde_json::to_value(response).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert(crate::retrieval::rag::RAMPART_FIELD.to_owned(), rampart);
    }
    value
}

enum Reply {
    Complete(ChatCompletionResponse),
    /// The chunks, and the guardrails' screen when guardrails are on.
    Stream(ChunkStream, Option<StreamScreen>),
}

async fn handle(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: Body,
    record: &mut CallRecord,
) -> Result<Reply, ApiError> {
    let value = crate::body::read_json(headers, body, state.limits.body_limit_bytes).await?;
    let mut request = ChatCompletionRequest::from_json(value).map_err(field_error)?;
    record.requested_model = request.model.clone();
    record.stream = request.is_stream();
    record.include_usage = request.include_usage_in_stream();
    record.principal = record.caller().principal(headers, request.user.as_deref());
    validate(&request)?;
    let rag = crate::retrieval::rag::take_options(&mut request.extra)?;
    // Routes read the metadata as sent, before Rampart's own keys are taken out of it.
    // Copied only for a route name: a plain model name never needs it.
    let metadata = match state.routes.get(&request.model) {
        Some(_) => request.extra.get("metadata").and_then(serde_json::Value::as_object).cloned(),
        None => None,
    };
    let mut hints = take_route_hints(headers, &mut request.extra)?;
    let model =
        resolve_target(state, headers, &request.model, ModelKind::Chat, metadata.as_ref(), &mut hints, |model| {
            count_chat_prompt(model, &request).tokens
        })?;
    record.model = Some(model.clone());
    let facts = CallFacts {
        request_id: record.request_id(),
        endpoint: "chat.completions",
        requested_model: &request.model,
        stream: request.is_stream(),
        prompt_prefix_hash: crate::decision::prompt_prefix_hash(&request.messages),
    };
    let (decision, decided) = decide_model_call(state, record.caller(), &model, &mut hints, facts).await?;
    record.span.requested(&request.model, &request_facts(&request));
    let mut guard = match &state.guardrails {
        Some(guardrails) => {
            let guard = CallGuard::new(guardrails.clone(), switched_on_by(&decision));
            let (mut guard, screened_request, screened) =
                screen_off_thread(guard, request, |guard, request| guard.screen_request(request))
                    .await
                    .ok_or_else(|| ApiError::Internal { request_id: record.request_id().to_owned() })?;
            request = screened_request;
            record.guardrail_hits(guard.hits.drain(..));
            screened?;
            Some(guard)
        }
        None => None,
    };
    // After screening, so the question the user typed is what guardrails judged; before the
    // cache, so the key covers the sources the model will see.
    if let Some(options) = rag {
        let caller = record.caller().clone();
        let request_id = record.request_id().to_owned();
        let citations =
            crate::retrieval::rag::augment(state, &caller, &request_id, headers, &mut request, options).await?;
        record.citations = Some(crate::retrieval::rag::citations_value(&citations));
    }
    if state.conversations.is_some() {
        let messages = serde_json::to_value(&request.messages).unwrap_or_default();
        record.conversation = Some(crate::conversation_log::ConversationDraft { messages, answer: String::new() });
    }
    // Tools in one order, whatever order the client listed them in, so identical requests are
    // identical upstream and providers' prompt caches keep hitting.
    rampart_cache::sort_tools(&mut request);
    let cache_plan = cache::plan(state, headers, &model, &record.principal, &request)?;
    if let Some(plan) = &cache_plan
        && let Some(mut cached) = cache::lookup(state, &model.name, plan).await
    {
        decided.committed().await?;
        record.cache = Some(true);
        record.backend = Some(cache::CACHE_BACKEND.to_owned());
        cached.model = model.name.clone();
        if request.is_stream() {
            let screen = guard.as_mut().map(CallGuard::stream_screen);
            return Ok(Reply::Stream(cache::replay(cached), screen));
        }
        screen_answer(guard.as_mut(), &mut cached, record);
        return Ok(Reply::Complete(cached));
    }
    record.cache = cache_plan.as_ref().map(|_| false);
    let admission = admit_chat(state, &record.principal, &model, &hints, &mut request).await?;
    record.permit = admission.permit;
    // Nothing has left the gateway yet (see `before_send` for which calls wait here).
    let decided = crate::decision::before_send(state, decided, &model, &hints).await?;
    record.prompt_tokens = admission.prompt.map(|prompt| prompt.tokens);
    // A stream under token or spend limits is counted as it goes out, so an abandoned one is
    // settled with what it sent; under a capped budget it is also cut at the cap.
    if !record.permit.is_empty() {
        record.stream_meter = admission.prompt.map(|prompt| (prompt.encoding, admission.output_cap));
    }
    let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
    let started = Instant::now();
    // The call runs in its span's context, so backends send that span's `traceparent`.
    let context = record.span.context();
    if request.is_stream() {
        let result = state.router.chat_stream(&model, &request, &hints, deadline).with_context(context).await;
        // Not a byte of the answer, nor the upstream's error, before the decision is on record.
        decided.committed().await?;
        let routed = observe_route(state, started, result)?;
        record.served(&routed);
        let screen = guard.as_mut().map(CallGuard::stream_screen);
        return Ok(Reply::Stream(routed.value, screen));
    }
    let result = state.router.chat(&model, &request, &hints, deadline).with_context(context).await;
    decided.committed().await?;
    let routed = observe_route(state, started, result)?;
    record.served(&routed);
    let mut response = routed.value;
    response.model = routed.model.name.clone();
    let usage = *response.usage.get_or_insert_with(Default::default);
    record.usage = Some(usage);
    // An answer a budget cut short is not the answer the request would get: never cache it.
    // Cached as the model gave it: answers are screened (and re-hydrated) per request.
    if let Some(plan) = cache_plan
        && admission.output_cap.is_none()
    {
        cache::store(state, plan, &response);
    }
    screen_answer(guard.as_mut(), &mut response, record);
    Ok(Reply::Complete(response))
}

fn screen_answer(guard: Option<&mut CallGuard>, response: &mut ChatCompletionResponse, record: &mut CallRecord) {
    if let Some(draft) = &mut record.conversation {
        draft.answer = response.choices.first().and_then(|choice| choice.message.content.clone()).unwrap_or_default();
    }
    if let Some(guard) = guard {
        guard.screen_response(response);
        record.guardrail_hits(guard.hits.drain(..));
    }
}

fn request_facts(request: &ChatCompletionRequest) -> ModelRequestFacts {
    ModelRequestFacts {
        max_tokens: request.max_completion_tokens.or(request.max_tokens).map(u64::from),
        temperature: request.temperature,
        top_p: request.top_p,
        seed: request.seed,
        stream: request.is_stream(),
    }
}

fn validate(request: &ChatCompletionRequest) -> Result<(), ApiError> {
    if request.messages.is_empty() {
        return Err(ApiError::invalid("'messages' must contain at least one message", Some("messages")));
    }
    if let Some(temperature) = request.temperature
        && !(0.0..=2.0).contains(&temperature)
    {
        return Err(ApiError::invalid(
            format!("'temperature' is {temperature}: it must be between 0 and 2"),
            Some("temperature"),
        ));
    }
    if let Some(top_p) = request.top_p
        && !(0.0..=1.0).contains(&top_p)
    {
        return Err(ApiError::invalid(format!("'top_p' is {top_p}: it must be between 0 and 1"), Some("top_p")));
    }
    if request.n == Some(0) {
        return Err(ApiError::invalid("'n' must be at least 1", Some("n")));
    }
    for (param, value) in [("max_tokens", request.max_tokens), ("max_completion_tokens", request.max_completion_tokens)]
    {
        if value == Some(0) {
            return Err(ApiError::invalid(format!("'{param}' must be at least 1"), Some(param)));
        }
    }
    if let Some(ToolChoice::Named(named)) = &request.tool_choice {
        let known = request.tools.iter().flatten().any(|tool| tool.function.name == named.function.name);
        if !known {
            return Err(ApiError::invalid(
                format!("'tool_choice' names function '{}', which is not in 'tools'", named.function.name),
                Some("tool_choice"),
            ));
        }
    }
    for (index, tool) in request.tools.iter().flatten().enumerate() {
        if tool.function.name.is_empty() {
            return Err(ApiError::invalid(
                "function names must not be empty",
                Some(&format!("tools[{index}].function.name")),
            ));
        }
    }
    Ok(())
}

/// Streams chunks to the client as they arrive: one SSE event per upstream chunk, no buffering.
fn sse_response(chunks: ChunkStream, screen: Option<StreamScreen>, mut record: CallRecord) -> Response {
    let include_usage = record.include_usage;
    let public_model = record.model.as_ref().map(|model| model.name.clone()).unwrap_or_default();
    let budget = record.stream_meter.map(|(encoding, cap)| StreamBudget { cap, encoding, counted: 0 });
    // Citations go first, in a chunk with no choices (as OpenAI's usage chunk has none), so a
    // client can show sources while the answer streams.
    let prelude = record.citations.take().map(|citations| {
        let chunk = serde_json::json!({
            "id": format!("chatcmpl-{}", record.request_id()),
            "object": "chat.completion.chunk",
            "created": rampart_core::unix_now_secs(),
            "model": public_model,
            "choices": [],
            crate::retrieval::rag::RAMPART_FIELD: citations,
        });
        Ok::<Bytes, Infallible>(Bytes::from(format!("data: {chunk}\n\n")))
    });
    let state = SseState { chunks, record, include_usage, public_model, budget, screen, ended: false };
    let events = futures_util::stream::unfold(state, |mut state| async move {
        let bytes = state.next_event().await?;
        Some((Ok::<Bytes, Infallible>(bytes), state))
    });
    let events = futures_util::stream::iter(prelude).chain(events);
    let mut response = Response::new(Body::from_stream(events));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

struct SseState {
    chunks: ChunkStream,
    record: CallRecord,
    include_usage: bool,
    public_model: String,
    /// Set when limits count the answer's tokens: its output is counted as it streams.
    budget: Option<StreamBudget>,
    /// Guardrails on the answer as it streams, when they are on.
    screen: Option<StreamScreen>,
    ended: bool,
}

/// A streamed answer's output as counted, and the cap a budget set on it (if any).
struct StreamBudget {
    cap: Option<u64>,
    encoding: rampart_tokens::Encoding,
    counted: u64,
}

impl StreamBudget {
    /// Counts a chunk's output; whether the answer has now used up its budget, either by
    /// passing the cap or by stopping at it for length.
    fn exhausted_by(&mut self, chunk: &rampart_types::ChatCompletionChunk) -> bool {
        let mut stopped_for_length = false;
        for choice in &chunk.choices {
            let delta = &choice.delta;
            for text in [&delta.content, &delta.refusal, &delta.reasoning_content].into_iter().flatten() {
                self.counted += self.encoding.count_text(text);
            }
            for call in delta.tool_calls.iter().flatten() {
                if let Some(function) = &call.function {
                    self.counted += function.arguments.as_deref().map_or(0, |text| self.encoding.count_text(text));
                }
            }
            stopped_for_length |= choice.finish_reason == Some(rampart_types::FinishReason::Length);
        }
        match self.cap {
            Some(cap) => stopped_for_length || self.counted > cap,
            None => false,
        }
    }

    /// What went out to the client: a chunk that passes the cap is never sent.
    fn sent(&self) -> u64 {
        self.cap.map_or(self.counted, |cap| self.counted.min(cap))
    }
}

impl SseState {
    async fn next_event(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        loop {
            match self.chunks.next().await {
                Some(Ok(mut chunk)) => {
                    if let Some(usage) = chunk.usage {
                        self.record.usage = Some(usage);
                    }
                    self.record.note_chunk(&chunk);
                    if let Some(draft) = &mut self.record.conversation
                        && let Some(text) = chunk.choices.first().and_then(|choice| choice.delta.content.as_deref())
                    {
                        draft.answer.push_str(text);
                    }
                    if let Some(screen) = &mut self.screen {
                        let screened = screen.screen(&mut chunk);
                        self.record.guardrail_hits(screen.hits.drain(..));
                        if matches!(screened, Screened::Blocked) && screen.all_blocked() {
                            // The answer broke a block rule: this chunk ends it with
                            // `content_filter`, and nothing more of it is sent.
                            self.ended = true;
                            self.record.finish(200, Some("an answer guardrail ended the stream".to_owned()));
                            self.chunks = Box::pin(futures_util::stream::empty());
                            chunk.model.clone_from(&self.public_model);
                            chunk.usage = None;
                            let mut events = sse_data(&chunk).to_vec();
                            events.extend_from_slice(b"data: [DONE]\n\n");
                            return Some(Bytes::from(events));
                        }
                    }
                    if let Some(budget) = &mut self.budget {
                        let exhausted = budget.exhausted_by(&chunk);
                        self.record.streamed_tokens = Some(budget.sent());
                        if exhausted {
                            return Some(self.cut_for_budget(chunk));
                        }
                    }
                    // The backend always reports usage; forward it only if the client asked.
                    if chunk.choices.is_empty() && chunk.usage.is_some() && !self.include_usage {
                        continue;
                    }
                    if !self.include_usage {
                        chunk.usage = None;
                    }
                    chunk.model.clone_from(&self.public_model);
                    return Some(sse_data(&chunk));
                }
                Some(Err(error)) => {
                    self.ended = true;
                    return Some(self.fail(error));
                }
                None => {
                    self.ended = true;
                    let mut events = Vec::new();
                    // Text a guardrail still held back when the upstream ended without a
                    // finishing chunk goes out now.
                    if let Some(screen) = &mut self.screen {
                        let held = screen.flush();
                        self.record.guardrail_hits(screen.hits.drain(..));
                        for mut chunk in held {
                            chunk.model.clone_from(&self.public_model);
                            events.extend_from_slice(&sse_data(&chunk));
                        }
                    }
                    self.record.finish(200, None);
                    events.extend_from_slice(b"data: [DONE]\n\n");
                    return Some(Bytes::from(events));
                }
            }
        }
    }

    /// The budget ran out mid-answer: this chunk goes out if it stopped at the cap, and then
    /// a final error event in OpenAI's `insufficient_quota` shape says why the answer ends;
    /// the upstream stream is dropped.
    fn cut_for_budget(&mut self, mut chunk: rampart_types::ChatCompletionChunk) -> Bytes {
        self.ended = true;
        let cap = self.budget.as_ref().and_then(|budget| budget.cap).unwrap_or(0);
        let limit = self.record.permit.capped_by.clone().unwrap_or_default();
        let mut events = Vec::new();
        let stopped_at_cap = self.budget.as_ref().is_some_and(|budget| budget.counted <= cap);
        if stopped_at_cap {
            chunk.model.clone_from(&self.public_model);
            if !self.include_usage {
                chunk.usage = None;
            }
            events.extend_from_slice(&sse_data(&chunk));
        }
        let message = format!(
            "budget '{limit}' has no room for more of this answer: it was cut at {cap} tokens; the budget resets \
             with its window"
        );
        let error = ErrorResponse::new("insufficient_quota", message.clone()).with_code("insufficient_quota");
        self.record.finish(200, Some(message));
        self.chunks = Box::pin(futures_util::stream::empty());
        events.extend_from_slice(&sse_data(&error));
        Bytes::from(events)
    }

    /// A failure after the stream started: the status line is sent, so the error goes out as a
    /// final event in OpenAI's error shape, which the official SDKs raise as an exception.
    fn fail(&mut self, error: BackendError) -> Bytes {
        let backend = self.record.backend.clone().unwrap_or_default();
        self.record
            .state_metrics()
            .upstream_errors
            .get_or_create(&crate::metrics::UpstreamErrorLabels { backend, kind: error.metric_kind() })
            .inc();
        let error = ApiError::Backend(error);
        self.record.finish(error.status().as_u16(), Some(error.to_string()));
        sse_data(&error.to_body())
    }
}

fn sse_data<T: serde::Serialize>(value: &T) -> Bytes {
    let mut event = Vec::with_capacity(256);
    event.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut event, value).is_err() {
        event.extend_from_slice(
            br#"{"error":{"message":"could not encode event","type":"api_error","param":null,"code":null}}"#,
        );
    }
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}
