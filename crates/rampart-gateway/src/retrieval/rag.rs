//! Retrieval in chat: `"rampart": {"rag": {...}}` in a chat request retrieves for the user's
//! last question, fills the retrieved-layer budget with the best chunks the caller may read,
//! puts them in front of the question with numbered sources, and returns the sources with the
//! answer as `rampart.citations` (in the first event of a stream).

use axum::http::HeaderMap;
use rampart_retrieval::{MAX_RESULTS, SearchMode, SearchRequest};
use rampart_types::{ChatCompletionRequest, ContentPart, MessageContent, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{SESSION_HEADER, api_error, enabled, parse_kind, visibility_for};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The request field holding Rampart's own options (taken out before the request goes on).
pub const RAMPART_FIELD: &str = "rampart";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RampartOptions {
    rag: Option<RagOptions>,
}

/// `rampart.rag`: every field is optional; `{}` retrieves with the configured defaults.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RagOptions {
    /// Search for this instead of the last user message.
    pub query: Option<String>,
    pub top_k: Option<usize>,
    pub mode: Option<SearchMode>,
    #[serde(default)]
    pub kinds: Vec<String>,
    pub session: Option<String>,
    pub include_global: Option<bool>,
    /// Tokens of retrieved text (default `[retrieval] context_budget_tokens`).
    pub budget_tokens: Option<usize>,
}

/// One source as returned with the answer.
#[derive(Debug, Clone, Serialize)]
pub struct Citation {
    /// The number the prompt used (`[1]`).
    pub index: usize,
    pub document_id: String,
    pub document_hash: String,
    pub document_name: String,
    pub chunk_id: String,
    pub chunk_index: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heading: Vec<String>,
    pub score: f32,
}

/// Takes `rampart` out of the request; `Some` when it asks for retrieval.
pub fn take_options(extra: &mut Map<String, Value>) -> Result<Option<RagOptions>, ApiError> {
    let Some(value) = extra.remove(RAMPART_FIELD) else {
        return Ok(None);
    };
    let options: RampartOptions = serde_json::from_value(value).map_err(|error| {
        ApiError::invalid(
            format!("`rampart` does not parse: {error} (expected {{\"rag\": {{…}}}})"),
            Some(RAMPART_FIELD),
        )
    })?;
    Ok(options.rag)
}

/// The text of the last user message.
fn last_question(request: &ChatCompletionRequest) -> Option<String> {
    request
        .messages
        .iter()
        .rev()
        .find(|message| message.role == Role::User)
        .and_then(|message| message.content.as_ref())
        .map(MessageContent::joined_text)
        .filter(|text| !text.trim().is_empty())
}

/// Retrieves for the request and puts the sources in front of its last user message (a
/// system message mid-conversation is refused by some chat templates; a user turn is not).
pub async fn augment(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
    headers: &HeaderMap,
    request: &mut ChatCompletionRequest,
    options: RagOptions,
) -> Result<Vec<Citation>, ApiError> {
    let retrieval = enabled(state)?;
    crate::decision::decide_retrieval(state, caller, request_id, "chat.completions").await?;
    let question = options.query.clone().or_else(|| last_question(request)).ok_or_else(|| {
        ApiError::invalid("retrieval needs a user message with text, or rampart.rag.query", Some("messages"))
    })?;
    let limit = options.top_k.unwrap_or(retrieval.settings.top_k);
    if limit == 0 || limit > MAX_RESULTS {
        return Err(ApiError::invalid(
            format!("rampart.rag.top_k must be 1 to {MAX_RESULTS}"),
            Some("rampart.rag.top_k"),
        ));
    }
    let header_session = headers.get(SESSION_HEADER).and_then(|value| value.to_str().ok());
    let mut visibility = visibility_for(&caller.0, options.session.as_deref().or(header_session));
    visibility.kinds = options.kinds.iter().map(|kind| parse_kind(kind)).collect::<Result<_, _>>()?;
    visibility.exclude_global = !options.include_global.unwrap_or(true);
    let search = SearchRequest {
        query: question,
        visibility,
        limit,
        mode: options.mode.unwrap_or_default(),
        candidates: retrieval.settings.candidates,
        weights: None,
    };
    let hits = retrieval.retriever.search(&search).await.map_err(api_error)?;
    let budget = options.budget_tokens.unwrap_or(retrieval.settings.context_budget_tokens);
    let encoding = rampart_tokens::Encoding::for_model(&request.model);
    let mut used = 0usize;
    let mut sources = String::new();
    let mut citations = Vec::new();
    for hit in hits {
        let index = citations.len() + 1;
        let mut title = hit.document.name.clone();
        if !hit.chunk.heading.is_empty() {
            title.push_str(" › ");
            title.push_str(&hit.chunk.heading.join(" › "));
        }
        let block = format!("[{index}] {title}\n{}\n\n", hit.chunk.text.trim());
        let tokens = encoding.count_text(&block) as usize;
        if used + tokens > budget {
            // The budget is a ceiling: a source that does not fit whole is left out.
            continue;
        }
        used += tokens;
        sources.push_str(&block);
        citations.push(Citation {
            index,
            document_id: hit.document.id,
            document_hash: hit.document.hash,
            document_name: hit.document.name,
            chunk_id: hit.chunk.id,
            chunk_index: hit.chunk.index,
            heading: hit.chunk.heading,
            score: hit.score,
        });
    }
    if citations.is_empty() {
        return Ok(citations);
    }
    let preamble = format!(
        "Answer using the numbered sources below and cite them like [1]. If they do not hold the answer, \
         say so.\n\nSources:\n{sources}Question: "
    );
    if let Some(message) = request.messages.iter_mut().rev().find(|message| message.role == Role::User) {
        message.content = Some(match message.content.take() {
            Some(MessageContent::Text(text)) => MessageContent::Text(format!("{preamble}{text}")),
            Some(MessageContent::Parts(mut parts)) => {
                parts.insert(0, ContentPart::Text { text: preamble });
                MessageContent::Parts(parts)
            }
            None => MessageContent::Text(preamble),
        });
    }
    Ok(citations)
}

/// `{"citations": [...]}`, the value of `rampart` in the answer.
pub fn citations_value(citations: &[Citation]) -> Value {
    serde_json::json!({ "citations": citations })
}
