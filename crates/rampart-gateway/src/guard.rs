//! Guardrails on a model call: the prompt (or the texts to embed) is screened before anything
//! is sent (redactions replace what the model would see, a block refuses the call), a chat
//! answer is screened before the caller sees it (whole or as it streams), and the prompt's
//! placeholders are re-hydrated for the caller. The model never sees what a rule redacted.
//!
//! Placeholders made for the prompt are the only ones re-hydrated: the vault keeps numbering
//! across stages, and a snapshot taken after the prompt is what answers are re-hydrated
//! with, so an entity the model produced itself and a rule redacted stays redacted.

use std::sync::Arc;

use rampart_core::EmbedInputs;
use rampart_guardrails::{Guardrails, Hit, Rehydrator, Stage, StreamGuard, Vault};
use rampart_policy::{Decision, Obligation};
use rampart_tokens::Encoding;
use rampart_types::{
    ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, ChunkChoice, ContentPart, Delta, FinishReason,
    FunctionCallDelta, MessageContent, Role, ToolCallDelta,
};

use crate::error::ApiError;

/// One request's guardrails: the rules switched on for it and its vault.
pub struct CallGuard {
    guardrails: Arc<Guardrails>,
    switched_on: Vec<String>,
    vault: Vault,
    /// The vault as it was after the prompt: what answers are re-hydrated with.
    prompt_vault: Option<Arc<Vault>>,
    pub hits: Vec<Hit>,
}

/// Rules a policy decision switched on: obligations `{"type": "guardrail", "rule": NAME}`.
pub fn switched_on_by(decision: &Decision) -> Vec<String> {
    decision
        .obligations
        .iter()
        .filter_map(|obligation| match obligation {
            Obligation::Guardrail(rule) => Some(rule.clone()),
            _ => None,
        })
        .collect()
}

/// Runs `screen` over `subject` with `guard`: inline, or on the blocking pool when a classifier
/// model scores texts, since a model's pass (milliseconds) must not hold up the other
/// connections of the serving thread. `None` when the blocking task died: the caller refuses
/// the call, as it would for any screening it cannot complete.
pub async fn screen_off_thread<T, F>(
    mut guard: CallGuard,
    mut subject: T,
    screen: F,
) -> Option<(CallGuard, T, Result<(), ApiError>)>
where
    T: Send + 'static,
    F: FnOnce(&mut CallGuard, &mut T) -> Result<(), ApiError> + Send + 'static,
{
    if !guard.guardrails.has_classifier() {
        let screened = screen(&mut guard, &mut subject);
        return Some((guard, subject, screened));
    }
    tokio::task::spawn_blocking(move || {
        let screened = screen(&mut guard, &mut subject);
        (guard, subject, screened)
    })
    .await
    .inspect_err(|error| tracing::error!(%error, "screening a request failed; the call is refused"))
    .ok()
}

impl CallGuard {
    pub fn new(guardrails: Arc<Guardrails>, switched_on: Vec<String>) -> Self {
        CallGuard { guardrails, switched_on, vault: Vault::default(), prompt_vault: None, hits: Vec::new() }
    }

    fn check(&mut self, stage: Stage, text: &mut String, param: impl FnOnce() -> String) -> Result<(), ApiError> {
        let checked = self.guardrails.check(stage, text, &self.switched_on, &mut self.vault);
        self.hits.extend(checked.hits.iter().cloned());
        if let Some(hit) = &checked.blocked {
            let param = param();
            return Err(ApiError::InvalidRequest {
                message: format!(
                    "guardrail '{}' blocks this request: {} ({}) found in {param}; remove it or ask an operator about the rule",
                    hit.rule,
                    hit.entity,
                    hit.category.as_str(),
                ),
                param: Some(param),
                code: Some("content_filter"),
            });
        }
        if let Some(redacted) = checked.redacted {
            *text = redacted;
        }
        Ok(())
    }

    /// Screens every message's text in place: user, system and developer text as `prompt`,
    /// tool messages as `tool_result`, earlier tool calls' arguments as `tool_arguments`.
    pub fn screen_request(&mut self, request: &mut ChatCompletionRequest) -> Result<(), ApiError> {
        for (index, message) in request.messages.iter_mut().enumerate() {
            let stage = match message.role {
                Role::Tool | Role::Function => Stage::ToolResult,
                _ => Stage::Prompt,
            };
            match &mut message.content {
                Some(MessageContent::Text(text)) => {
                    self.check(stage, text, || format!("messages[{index}].content"))?;
                }
                Some(MessageContent::Parts(parts)) => {
                    for (part_index, part) in parts.iter_mut().enumerate() {
                        if let ContentPart::Text { text } = part {
                            self.check(stage, text, || format!("messages[{index}].content[{part_index}].text"))?;
                        }
                    }
                }
                None => {}
            }
            for (call_index, call) in message.tool_calls.iter_mut().flatten().enumerate() {
                self.check(Stage::ToolArguments, &mut call.function.arguments, || {
                    format!("messages[{index}].tool_calls[{call_index}].function.arguments")
                })?;
            }
        }
        self.prompt_vault = Some(Arc::new(self.vault.clone()));
        Ok(())
    }

    /// Screens texts to embed in place, as `prompt`: a block refuses the call, redactions
    /// replace what the model embeds (the vector is then of the redacted text).
    ///
    /// Token-array inputs are ids of the upstream's tokenizer. Where the gateway has that
    /// tokenizer (OpenAI's BPE, for OpenAI models) it reads them back into text, screens it,
    /// and sends the redacted text's ids when a rule redacts. For any other model it cannot
    /// read them, so it refuses them rather than pass them unscreened (fail closed).
    pub fn screen_embedding_inputs(
        &mut self,
        inputs: &mut EmbedInputs,
        single: bool,
        upstream_model: &str,
    ) -> Result<(), ApiError> {
        let param = |index: usize| if single { "input".to_owned() } else { format!("input[{index}]") };
        match inputs {
            EmbedInputs::Texts(texts) => {
                for (index, text) in texts.iter_mut().enumerate() {
                    self.check(Stage::Prompt, text, || param(index))?;
                }
            }
            EmbedInputs::Tokens(batches) => {
                let encoding = Encoding::for_model(upstream_model);
                if !encoding.is_exact_for(upstream_model) {
                    return Err(ApiError::invalid(
                        format!(
                            "guardrails are on and the gateway cannot read token ids of model '{upstream_model}' back into text to screen them; send the input as text"
                        ),
                        Some("input"),
                    ));
                }
                for (index, ids) in batches.iter_mut().enumerate() {
                    let Some(original) = encoding.decode(ids) else {
                        let param = param(index);
                        let message = format!("{param} holds token ids that {} does not have", encoding.name());
                        return Err(ApiError::invalid(message, Some(&param)));
                    };
                    let mut text = original.clone();
                    self.check(Stage::Prompt, &mut text, || param(index))?;
                    if text != original {
                        *ids = encoding.encode(&text);
                    }
                }
            }
        }
        Ok(())
    }

    fn prompt_vault(&self) -> Arc<Vault> {
        self.prompt_vault.clone().unwrap_or_default()
    }

    /// Screens a whole answer: a block empties the choice and ends it with `content_filter`;
    /// redactions replace text; the prompt's placeholders are re-hydrated.
    pub fn screen_response(&mut self, response: &mut ChatCompletionResponse) {
        let rehydrate_with = self.prompt_vault();
        for choice in &mut response.choices {
            let mut filtered = false;
            if let Some(text) = &mut choice.message.content {
                filtered |= self.screen_answer_text(Stage::Response, text, &rehydrate_with);
            }
            for call in choice.message.tool_calls.iter_mut().flatten() {
                filtered |=
                    self.screen_answer_text(Stage::ToolArguments, &mut call.function.arguments, &rehydrate_with);
            }
            if filtered {
                choice.message.content = Some(String::new());
                choice.message.tool_calls = None;
                choice.finish_reason = Some(FinishReason::ContentFilter);
            }
        }
    }

    /// `true` when a block rule fired on the text.
    fn screen_answer_text(&mut self, stage: Stage, text: &mut String, rehydrate_with: &Vault) -> bool {
        let checked = self.guardrails.check(stage, text, &self.switched_on, &mut self.vault);
        self.hits.extend(checked.hits.iter().cloned());
        if checked.blocked.is_some() {
            return true;
        }
        if let Some(redacted) = checked.redacted {
            *text = redacted;
        }
        if !rehydrate_with.is_empty() {
            *text = rehydrate_with.rehydrate(text).into_owned();
        }
        false
    }

    /// The screen a streamed answer passes through, one per choice.
    pub fn stream_screen(&mut self) -> StreamScreen {
        StreamScreen {
            guardrails: self.guardrails.clone(),
            switched_on: self.switched_on.clone(),
            vault: std::mem::take(&mut self.vault),
            prompt_vault: self.prompt_vault(),
            choices: Vec::new(),
            hits: std::mem::take(&mut self.hits),
            template: None,
        }
    }
}

/// Screens a stream chunk by chunk, holding back only what could still be part of an entity
/// or of a placeholder.
pub struct StreamScreen {
    guardrails: Arc<Guardrails>,
    switched_on: Vec<String>,
    vault: Vault,
    prompt_vault: Arc<Vault>,
    choices: Vec<ChoiceScreen>,
    pub hits: Vec<Hit>,
    /// The stream's id and creation time, for a chunk that carries held-back text at the end.
    template: Option<(String, i64)>,
}

struct ChoiceScreen {
    index: u32,
    guard: StreamGuard,
    rehydrator: Rehydrator,
    /// One screen per streamed tool call (by its `index`), at the `tool_arguments` stage.
    tool_calls: Vec<ToolArgumentsScreen>,
    blocked: bool,
    finished: bool,
}

struct ToolArgumentsScreen {
    index: u32,
    guard: StreamGuard,
    rehydrator: Rehydrator,
}

/// What screening a choice's streamed tool-call arguments found.
struct ToolArgumentsStep {
    hits: Vec<Hit>,
    blocked: bool,
}

/// What the screen did to a chunk.
pub enum Screened {
    /// Send the chunk as it now is.
    Pass,
    /// A block rule fired: the choice was ended with `content_filter`; send the chunk, then
    /// end the stream once every choice is done (one choice in practice).
    Blocked,
}

impl StreamScreen {
    fn choice(&mut self, index: u32) -> &mut ChoiceScreen {
        let position = match self.choices.iter().position(|choice| choice.index == index) {
            Some(position) => position,
            None => {
                self.choices.push(ChoiceScreen {
                    index,
                    guard: StreamGuard::new(self.guardrails.clone(), Stage::Response, self.switched_on.clone()),
                    rehydrator: Rehydrator::new(self.prompt_vault.clone()),
                    tool_calls: Vec::new(),
                    blocked: false,
                    finished: false,
                });
                self.choices.len() - 1
            }
        };
        &mut self.choices[position]
    }

    /// Screens the chunk's text in place. A choice's held-back text goes out with its
    /// finishing chunk.
    pub fn screen(&mut self, chunk: &mut ChatCompletionChunk) -> Screened {
        if self.template.is_none() {
            self.template = Some((chunk.id.clone(), chunk.created));
        }
        let mut outcome = Screened::Pass;
        for choice in &mut chunk.choices {
            let index = choice.index;
            let finishing = choice.finish_reason.is_some();
            let incoming = choice.delta.content.take();
            let mut vault = std::mem::take(&mut self.vault);
            let screen = self.choice(index);
            if screen.blocked {
                self.vault = vault;
                continue;
            }
            let mut step = screen.guard.push(incoming.as_deref().unwrap_or_default(), &mut vault);
            let mut emit = std::mem::take(&mut step.emit);
            let mut hits = std::mem::take(&mut step.hits);
            let mut blocked = step.blocked.is_some();
            if finishing && !blocked {
                let last = screen.guard.finish(&mut vault);
                emit.push_str(&last.emit);
                hits.extend(last.hits);
                blocked = last.blocked.is_some();
            }
            if !blocked {
                let new_screen = |index| ToolArgumentsScreen {
                    index,
                    guard: StreamGuard::new(self.guardrails.clone(), Stage::ToolArguments, self.switched_on.clone()),
                    rehydrator: Rehydrator::new(self.prompt_vault.clone()),
                };
                if let Some(screen) = self.choices.iter_mut().find(|choice| choice.index == index) {
                    let tools =
                        screen.screen_tool_arguments(&mut choice.delta.tool_calls, finishing, &mut vault, new_screen);
                    hits.extend(tools.hits);
                    blocked = tools.blocked;
                }
            }
            let screen = self.choice(index);
            let mut text = if blocked { String::new() } else { screen.rehydrator.push(&emit) };
            if finishing && !blocked {
                text.push_str(&screen.rehydrator.finish());
            }
            screen.finished |= finishing;
            if blocked {
                screen.blocked = true;
                choice.finish_reason = Some(FinishReason::ContentFilter);
                choice.delta.tool_calls = None;
                outcome = Screened::Blocked;
            }
            self.vault = vault;
            self.hits.extend(hits);
            if incoming.is_some() || !text.is_empty() {
                choice.delta.content = Some(text);
            }
        }
        outcome
    }

    /// Text still held back for choices that never got a finishing chunk (the upstream just
    /// ended), as one chunk per choice; hits found on the way land in `hits`.
    pub fn flush(&mut self) -> Vec<ChatCompletionChunk> {
        let (id, created) = self.template.clone().unwrap_or_default();
        let mut chunks = Vec::new();
        let mut vault = std::mem::take(&mut self.vault);
        for screen in &mut self.choices {
            if screen.finished || screen.blocked {
                continue;
            }
            screen.finished = true;
            let last = screen.guard.finish(&mut vault);
            self.hits.extend(last.hits);
            let mut blocked = last.blocked.is_some();
            let mut text = String::new();
            let mut tool_calls = None;
            if !blocked {
                text = screen.rehydrator.push(&last.emit);
                text.push_str(&screen.rehydrator.finish());
                let tools = screen.finish_tool_arguments(&mut tool_calls, &mut vault);
                self.hits.extend(tools.hits);
                blocked = tools.blocked;
            }
            if blocked {
                text.clear();
                tool_calls = None;
            } else if text.is_empty() && tool_calls.is_none() {
                continue;
            }
            chunks.push(ChatCompletionChunk {
                id: id.clone(),
                object: "chat.completion.chunk".to_owned(),
                created,
                model: String::new(),
                choices: vec![ChunkChoice {
                    index: screen.index,
                    delta: Delta {
                        content: (!text.is_empty() || tool_calls.is_none()).then_some(text),
                        tool_calls,
                        ..Delta::default()
                    },
                    finish_reason: blocked.then_some(FinishReason::ContentFilter),
                    logprobs: None,
                }],
                usage: None,
                system_fingerprint: None,
            });
        }
        self.vault = vault;
        chunks
    }

    /// Whether every choice seen has been blocked (the stream should end).
    pub fn all_blocked(&self) -> bool {
        !self.choices.is_empty() && self.choices.iter().all(|choice| choice.blocked)
    }
}

impl ChoiceScreen {
    /// Screens the arguments of a chunk's tool-call deltas in place, each tool call through
    /// its own stream guard; on the choice's finishing chunk, what the guards still hold goes
    /// out as argument deltas of that chunk.
    fn screen_tool_arguments(
        &mut self,
        deltas: &mut Option<Vec<ToolCallDelta>>,
        finishing: bool,
        vault: &mut Vault,
        new_screen: impl Fn(u32) -> ToolArgumentsScreen,
    ) -> ToolArgumentsStep {
        let mut hits = Vec::new();
        for delta in deltas.iter_mut().flatten() {
            let Some(arguments) = delta.function.as_mut().and_then(|function| function.arguments.as_mut()) else {
                continue;
            };
            let position = match self.tool_calls.iter().position(|screen| screen.index == delta.index) {
                Some(position) => position,
                None => {
                    self.tool_calls.push(new_screen(delta.index));
                    self.tool_calls.len() - 1
                }
            };
            let screen = &mut self.tool_calls[position];
            let step = screen.guard.push(arguments, vault);
            hits.extend(step.hits);
            if step.blocked.is_some() {
                return ToolArgumentsStep { hits, blocked: true };
            }
            *arguments = screen.rehydrator.push(&step.emit);
        }
        if finishing {
            let rest = self.finish_tool_arguments(deltas, vault);
            hits.extend(rest.hits);
            return ToolArgumentsStep { hits, blocked: rest.blocked };
        }
        ToolArgumentsStep { hits, blocked: false }
    }

    /// Ends every tool call's guard, adding what each still held to `deltas`.
    fn finish_tool_arguments(
        &mut self,
        deltas: &mut Option<Vec<ToolCallDelta>>,
        vault: &mut Vault,
    ) -> ToolArgumentsStep {
        let mut hits = Vec::new();
        for screen in &mut self.tool_calls {
            let last = screen.guard.finish(vault);
            hits.extend(last.hits);
            if last.blocked.is_some() {
                return ToolArgumentsStep { hits, blocked: true };
            }
            let mut rest = screen.rehydrator.push(&last.emit);
            rest.push_str(&screen.rehydrator.finish());
            if rest.is_empty() {
                continue;
            }
            let deltas = deltas.get_or_insert_with(Vec::new);
            match deltas.iter_mut().find(|delta| delta.index == screen.index) {
                Some(delta) => {
                    let function = delta.function.get_or_insert_with(FunctionCallDelta::default);
                    function.arguments.get_or_insert_with(String::new).push_str(&rest);
                }
                None => deltas.push(ToolCallDelta {
                    index: screen.index,
                    id: None,
                    kind: None,
                    function: Some(FunctionCallDelta { name: None, arguments: Some(rest) }),
                }),
            }
        }
        ToolArgumentsStep { hits, blocked: false }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use rampart_guardrails::{Action, Rule};

    use super::*;

    fn screen() -> StreamScreen {
        let rules = vec![
            Rule::new("pii", vec!["email".to_owned()], Action::Redact),
            Rule::new("secrets", vec!["secret".to_owned()], Action::Block),
        ];
        let guardrails = Arc::new(Guardrails::new(rules, None).unwrap());
        CallGuard::new(guardrails, Vec::new()).stream_screen()
    }

    fn arguments_chunk(index: u32, arguments: &str, finish: Option<FinishReason>) -> ChatCompletionChunk {
        let delta = Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id: None,
                kind: None,
                function: Some(FunctionCallDelta { name: None, arguments: Some(arguments.to_owned()) }),
            }]),
            ..Delta::default()
        };
        ChatCompletionChunk::delta("chatcmpl-1", 0, "m", delta, finish)
    }

    /// The arguments of tool call `index` as the caller would assemble them from the chunks.
    fn assembled(chunks: &[ChatCompletionChunk], index: u32) -> String {
        chunks
            .iter()
            .flat_map(|chunk| &chunk.choices)
            .flat_map(|choice| choice.delta.tool_calls.iter().flatten())
            .filter(|delta| delta.index == index)
            .filter_map(|delta| delta.function.as_ref()?.arguments.clone())
            .collect()
    }

    #[test]
    fn an_email_split_across_streamed_tool_arguments_is_redacted() {
        let mut screen = screen();
        let parts = [r#"{"to": "alice.mar"#, r#"tin@example.org", "cc": "#, r#""bob@example.com"}"#];
        let mut chunks: Vec<_> = parts.iter().map(|part| arguments_chunk(0, part, None)).collect();
        chunks.push(ChatCompletionChunk::delta("chatcmpl-1", 0, "m", Delta::default(), Some(FinishReason::ToolCalls)));
        for chunk in &mut chunks {
            assert!(matches!(screen.screen(chunk), Screened::Pass));
        }
        let arguments = assembled(&chunks, 0);
        assert!(!arguments.contains("alice") && !arguments.contains("bob@"), "{arguments}");
        assert_eq!(arguments, r#"{"to": "[EMAIL_1]", "cc": "[EMAIL_2]"}"#);
        assert_eq!(screen.hits.len(), 2);
    }

    #[test]
    fn a_secret_in_streamed_tool_arguments_ends_the_choice_with_content_filter() {
        let mut screen = screen();
        let mut first = arguments_chunk(1, r#"{"key": "AKIAIOSFO"#, None);
        let mut second = arguments_chunk(1, r#"DNN7EXAMPLE"}"#, Some(FinishReason::ToolCalls));
        assert!(matches!(screen.screen(&mut first), Screened::Pass));
        assert!(matches!(screen.screen(&mut second), Screened::Blocked));
        let choice = &second.choices[0];
        assert_eq!(choice.finish_reason, Some(FinishReason::ContentFilter));
        assert!(choice.delta.tool_calls.is_none());
        assert!(!assembled(&[first, second], 1).contains("AKIA"), "the key's start was held back");
    }

    fn call_guard() -> CallGuard {
        let rules = vec![
            Rule::new("pii", vec!["email".to_owned()], Action::Redact),
            Rule::new("secrets", vec!["secret".to_owned()], Action::Block),
        ];
        CallGuard::new(Arc::new(Guardrails::new(rules, None).unwrap()), Vec::new())
    }

    #[test]
    fn token_array_inputs_are_read_back_screened_and_re_encoded() {
        let encoding = Encoding::Cl100kBase;
        let clean = encoding.encode("the weather in Paris");
        let mut inputs =
            EmbedInputs::Tokens(vec![encoding.encode("write to jane.doe@example.com today"), clean.clone()]);
        call_guard().screen_embedding_inputs(&mut inputs, false, "text-embedding-3-small").unwrap();
        let EmbedInputs::Tokens(batches) = &inputs else { panic!("still token arrays") };
        assert_eq!(encoding.decode(&batches[0]).unwrap(), "write to [EMAIL_1] today");
        assert_eq!(batches[1], clean, "an input with nothing to redact is sent as it came");

        let mut secret = EmbedInputs::Tokens(vec![clean.clone(), encoding.encode("key AKIAIOSFODNN7EXAMPLE")]);
        let error = call_guard().screen_embedding_inputs(&mut secret, false, "text-embedding-3-small").unwrap_err();
        let ApiError::InvalidRequest { param, code, .. } = error else { panic!("a 400") };
        assert_eq!((param.as_deref(), code), (Some("input[1]"), Some("content_filter")));
    }

    /// Ids of a tokenizer the gateway does not have cannot be screened: refused, not passed.
    #[test]
    fn token_array_inputs_of_an_unknown_tokenizer_are_refused() {
        let mut inputs = EmbedInputs::Tokens(vec![vec![101, 7592, 102]]);
        let error = call_guard().screen_embedding_inputs(&mut inputs, true, "all-minilm-l6-v2").unwrap_err();
        assert!(error.to_string().contains("send the input as text"), "{error}");
        let mut bad_ids = EmbedInputs::Tokens(vec![vec![u32::MAX]]);
        let error = call_guard().screen_embedding_inputs(&mut bad_ids, true, "text-embedding-3-small").unwrap_err();
        assert!(error.to_string().contains("cl100k_base"), "{error}");
    }

    /// A stream that ends without a finishing chunk still gets the held-back arguments.
    #[test]
    fn held_back_tool_arguments_are_flushed_when_the_upstream_just_ends() {
        let mut screen = screen();
        let mut chunk = arguments_chunk(0, r#"{"city": "Paris"}"#, None);
        screen.screen(&mut chunk);
        let rest = screen.flush();
        let arguments = assembled(&[chunk].into_iter().chain(rest).collect::<Vec<_>>(), 0);
        assert_eq!(arguments, r#"{"city": "Paris"}"#);
    }
}
