//! Before a call: count the prompt, hold it to the model's context window, and reserve it on
//! the `[[limits]]` that apply; the reservation is settled by [`crate::record::CallRecord`]
//! once the call's usage is known.

use std::sync::Arc;

use rampart_config::ContextOverflow;
use rampart_core::{Principal, unix_now_secs};
use rampart_limits::{Demand, Permit};
use rampart_router::{ResolvedModel, RouteHints};
use rampart_tokens::Encoding;
use rampart_types::{ChatCompletionRequest, EmbeddingInput, Role};

use crate::error::ApiError;
use crate::state::AppState;

/// The answer's length bound when a spend budget applies and neither the client nor the
/// model's `context_window` gives one.
const DEFAULT_OUTPUT_BOUND: u64 = 4096;
/// Estimated prompts (a tokenizer that is not the model's own) are reserved with this margin,
/// so a budget holds even when the upstream counts a few more tokens than the estimate.
const ESTIMATE_MARGIN: f64 = 0.10;

/// A prompt's size before sending.
#[derive(Debug, Clone, Copy)]
pub struct PromptCount {
    pub tokens: u64,
    /// Counted with the model's own tokenizer (or OpenAI's for an OpenAI model).
    pub exact: bool,
    /// The encoding that counts the answer as it streams.
    pub encoding: Encoding,
}

impl PromptCount {
    fn reserved_tokens(self) -> u64 {
        if self.exact { self.tokens } else { (self.tokens as f64 * (1.0 + ESTIMATE_MARGIN)).ceil() as u64 + 1 }
    }
}

/// What a chat request was admitted with.
#[derive(Debug, Default)]
pub struct ChatAdmission {
    pub permit: Permit,
    pub prompt: Option<PromptCount>,
    /// The answer must stop at this many tokens because a budget has no room for more.
    pub output_cap: Option<u64>,
}

/// Counts `request`'s prompt when a context window or a limit needs it, applies the context
/// overflow strategy, and reserves on the limits (capping `max_tokens` to what a budget pays).
pub async fn admit_chat(
    state: &AppState,
    principal: &Principal,
    model: &Arc<ResolvedModel>,
    hints: &RouteHints,
    request: &mut ChatCompletionRequest,
) -> Result<ChatAdmission, ApiError> {
    let limited = state.limiter.applies(principal, &model.name);
    let needs_count = model.context_window.is_some() || state.limiter.needs_token_count(principal, &model.name);
    if !needs_count && !limited {
        return Ok(ChatAdmission::default());
    }
    let choices = u64::from(request.n.unwrap_or(1).max(1));
    let explicit_output = request.max_completion_tokens.or(request.max_tokens).map(u64::from);
    let prompt = if needs_count { Some(fit_context(state, model, request, explicit_output)?) } else { None };
    if !limited {
        return Ok(ChatAdmission { prompt, ..ChatAdmission::default() });
    }
    let prompt_tokens = prompt.map_or(0, PromptCount::reserved_tokens);
    let room = model.context_window.map(|window| u64::from(window).saturating_sub(prompt_tokens));
    let per_choice = explicit_output.or(room).unwrap_or(DEFAULT_OUTPUT_BOUND).max(1);
    let demand = Demand {
        principal,
        model: &model.name,
        price: highest_price(state, model, hints)?,
        prompt_tokens,
        max_output_tokens: per_choice.saturating_mul(choices),
        output_is_explicit: explicit_output.is_some(),
        now_unix_secs: unix_now_secs(),
    };
    let permit = state.limiter.admit(&demand).await.inspect_err(|error| state.metrics.limit_refused(error))?;
    let output_cap = permit.output_cap.map(|cap| (cap / choices).max(1));
    // Under a spend budget the answer must never outgrow what was reserved for it.
    let bound = output_cap.or((permit.reserves_spend() && explicit_output.is_none()).then_some(per_choice));
    if let Some(bound) = bound {
        let bound = u32::try_from(bound).unwrap_or(u32::MAX);
        if request.max_completion_tokens.is_some() {
            request.max_completion_tokens = Some(bound);
        } else {
            request.max_tokens = Some(bound);
        }
    }
    Ok(ChatAdmission { permit, prompt, output_cap })
}

/// Reserves an embeddings request's input tokens on the limits that apply.
pub async fn admit_embeddings(
    state: &AppState,
    principal: &Principal,
    model: &Arc<ResolvedModel>,
    hints: &RouteHints,
    input: &EmbeddingInput,
) -> Result<Permit, ApiError> {
    if !state.limiter.applies(principal, &model.name) {
        return Ok(Permit::default());
    }
    let prompt_tokens = if state.limiter.needs_token_count(principal, &model.name) {
        let encoding = Encoding::for_model(&model.upstream_model);
        let count = PromptCount {
            tokens: encoding.count_embedding_input(input),
            exact: encoding.is_exact_for(&model.upstream_model),
            encoding,
        };
        count.reserved_tokens()
    } else {
        0
    };
    let demand = Demand {
        principal,
        model: &model.name,
        price: highest_price(state, model, hints)?,
        prompt_tokens,
        max_output_tokens: 0,
        output_is_explicit: true,
        now_unix_secs: unix_now_secs(),
    };
    state.limiter.admit(&demand).await.inspect_err(|error| state.metrics.limit_refused(error)).map_err(ApiError::from)
}

/// The prompt's tokens, after the `[context] overflow` strategy has made it fit (or a 400).
fn fit_context(
    state: &AppState,
    model: &ResolvedModel,
    request: &mut ChatCompletionRequest,
    explicit_output: Option<u64>,
) -> Result<PromptCount, ApiError> {
    let mut count = count_chat_prompt(model, request);
    let Some(window) = model.context_window.map(u64::from) else { return Ok(count) };
    if count.tokens >= window && state.context.overflow == ContextOverflow::DropOldest {
        // Oldest first, never a system or developer message, never the last message.
        while count.tokens >= window {
            let last = request.messages.len().saturating_sub(1);
            let Some(oldest) = request.messages[..last]
                .iter()
                .position(|message| !matches!(message.role, Role::System | Role::Developer))
            else {
                break;
            };
            request.messages.remove(oldest);
            count = count_chat_prompt(model, request);
        }
    }
    if count.tokens >= window {
        return Err(ApiError::InvalidRequest {
            message: format!(
                "This model's maximum context length is {window} tokens. However, your messages resulted in {} \
                 tokens{}. Please reduce the length of the messages.",
                count.tokens,
                if count.exact { "" } else { " (estimated)" }
            ),
            param: Some("messages".to_owned()),
            code: Some("context_length_exceeded"),
        });
    }
    if let Some(output) = explicit_output
        && count.tokens + output > window
    {
        return Err(ApiError::InvalidRequest {
            message: format!(
                "This model's maximum context length is {window} tokens. However, you requested {} tokens ({} in \
                 the messages, {output} in the completion). Please reduce the length of the messages or completion.",
                count.tokens + output,
                count.tokens
            ),
            param: Some("max_tokens".to_owned()),
            code: Some("context_length_exceeded"),
        });
    }
    Ok(count)
}

/// The model's own tokenizer when its backend has one (an embedded model), else OpenAI's
/// encoding for its upstream name (exact for OpenAI models, an estimate for others).
pub fn count_chat_prompt(model: &ResolvedModel, request: &ChatCompletionRequest) -> PromptCount {
    let encoding = Encoding::for_model(&model.upstream_model);
    if let Some(tokens) = model.replicas.first().and_then(|replica| replica.backend.count_prompt_tokens(request)) {
        return PromptCount { tokens, exact: true, encoding };
    }
    PromptCount { tokens: encoding.count_chat(request), exact: encoding.is_exact_for(&model.upstream_model), encoding }
}

/// The highest price among the models the request may be served by, so a fallback to a
/// dearer model cannot spend more than was reserved.
fn highest_price(
    state: &AppState,
    model: &Arc<ResolvedModel>,
    hints: &RouteHints,
) -> Result<rampart_config::PricePerMillionTokens, ApiError> {
    let candidates = state.router.plan(model, hints)?;
    Ok(candidates.iter().fold(model.price, |highest, candidate| rampart_config::PricePerMillionTokens {
        input: highest.input.max(candidate.price.input),
        output: highest.output.max(candidate.price.output),
    }))
}
