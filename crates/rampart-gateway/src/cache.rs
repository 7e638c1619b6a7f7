//! The exact-match response cache at the edge: whether a request uses it, lookup, replay as a
//! stream, and storing complete answers.
//!
//! A request uses the cache when its model sets `cache_ttl_secs` or it sends
//! `x-rampart-cache: use` (`x-rampart-cache-ttl` sets its TTL); `x-rampart-cache: skip` or
//! `Cache-Control: no-cache` / `no-store` opt it out. Keys are scoped to the tenant, so one
//! tenant's answers are never served to another. The cache never fails a request: an
//! unreachable cache is a miss, counted in `rampart_cache_lookups_total{result="error"}`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use bytes::Bytes;
use rampart_cache::{CacheKey, chat_cache_key};
use rampart_core::{ChunkStream, Principal};
use rampart_router::ResolvedModel;
use rampart_types::{
    ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, ChunkChoice, Delta, FunctionCallDelta,
    ToolCallDelta,
};

use crate::error::ApiError;
use crate::state::AppState;

pub const CACHE_HEADER: &str = "x-rampart-cache";
pub const CACHE_TTL_HEADER: &str = "x-rampart-cache-ttl";
/// What the request log names as the backend of an answer served from the cache.
pub const CACHE_BACKEND: &str = "cache";

/// A request that uses the cache: its key, and how long its answer is kept.
#[derive(Debug, Clone)]
pub struct CachePlan {
    pub key: CacheKey,
    pub ttl: Duration,
}

/// Whether and how `request` uses the cache (`None`: it does not).
pub fn plan(
    state: &AppState,
    headers: &HeaderMap,
    model: &ResolvedModel,
    principal: &Principal,
    request: &ChatCompletionRequest,
) -> Result<Option<CachePlan>, ApiError> {
    let header = |name| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    let no_cache = header(axum::http::header::CACHE_CONTROL.as_str())
        .is_some_and(|value| value.split(',').any(|part| matches!(part.trim(), "no-cache" | "no-store")));
    let asked = match header(CACHE_HEADER).map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => None,
        Some("use" | "on" | "true") => Some(true),
        Some("skip" | "off" | "false") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid(format!("{CACHE_HEADER} is '{other}': use `use` or `skip`"), None));
        }
    };
    let ttl_secs = match header(CACHE_TTL_HEADER) {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(secs) if secs > 0 => Some(secs),
            _ => {
                return Err(ApiError::invalid(
                    format!("{CACHE_TTL_HEADER} is '{text}': give a whole number of seconds above 0"),
                    None,
                ));
            }
        },
    };
    let enabled = match asked {
        Some(choice) => choice,
        None => model.cache_ttl_secs.is_some() || ttl_secs.is_some(),
    };
    if !enabled || no_cache {
        return Ok(None);
    }
    let ttl = ttl_secs.or(model.cache_ttl_secs).unwrap_or(state.cache_default_ttl.as_secs());
    // The tenant is part of the key: answers are never shared across tenants.
    let scope = format!("{}\u{1f}tenant={}", model.name, principal.tenant.as_deref().unwrap_or_default());
    Ok(Some(CachePlan { key: chat_cache_key(&scope, request), ttl: Duration::from_secs(ttl) }))
}

/// The stored answer for `plan`, if any.
pub async fn lookup(state: &AppState, model: &str, plan: &CachePlan) -> Option<ChatCompletionResponse> {
    let found = match state.cache.get(&plan.key).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "response cache lookup failed; answering from the model");
            state.metrics.cache_lookup(model, "error");
            return None;
        }
    };
    let response = found.and_then(|bytes| serde_json::from_slice::<ChatCompletionResponse>(&bytes).ok());
    state.metrics.cache_lookup(model, if response.is_some() { "hit" } else { "miss" });
    response
}

/// Keeps a complete answer for later identical requests, in the background.
pub fn store(state: &Arc<AppState>, plan: CachePlan, response: &ChatCompletionResponse) {
    let Ok(bytes) = serde_json::to_vec(response) else { return };
    let state = state.clone();
    crate::background::spawn(async move {
        if let Err(error) = state.cache.put(&plan.key, Bytes::from(bytes), plan.ttl).await {
            tracing::warn!(%error, "could not store an answer in the response cache");
        }
    });
}

/// A cached answer as the chunks a stream of it would have had: per choice, one chunk with
/// the whole message and one with its finish reason, then usage.
pub fn replay(response: ChatCompletionResponse) -> ChunkStream {
    let mut chunks = Vec::new();
    let chunk = |choices: Vec<ChunkChoice>| ChatCompletionChunk {
        id: response.id.clone(),
        object: "chat.completion.chunk".to_owned(),
        created: response.created,
        model: response.model.clone(),
        choices,
        usage: None,
        system_fingerprint: response.system_fingerprint.clone(),
    };
    for choice in &response.choices {
        let message = &choice.message;
        let tool_calls = message.tool_calls.as_ref().map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(index, call)| ToolCallDelta {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    id: Some(call.id.clone()),
                    kind: Some(call.kind),
                    function: Some(FunctionCallDelta {
                        name: Some(call.function.name.clone()),
                        arguments: Some(call.function.arguments.clone()),
                    }),
                })
                .collect()
        });
        let delta = Delta {
            role: Some(message.role),
            content: message.content.clone(),
            tool_calls,
            refusal: message.refusal.clone(),
            reasoning_content: message.reasoning_content.clone(),
        };
        chunks.push(chunk(vec![ChunkChoice { index: choice.index, delta, finish_reason: None, logprobs: None }]));
        chunks.push(chunk(vec![ChunkChoice {
            index: choice.index,
            delta: Delta::default(),
            finish_reason: choice.finish_reason,
            logprobs: None,
        }]));
    }
    let mut usage_chunk = chunk(Vec::new());
    usage_chunk.usage = response.usage;
    chunks.push(usage_chunk);
    Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)))
}
