//! GGUF chat through llama.cpp: one worker thread owns the model and its context and serves
//! generations one at a time from a bounded queue. Tokens stream out as they are decoded; a
//! caller that goes away stops decoding at the next token.
//!
//! Not here yet (issue 4 continues): decoding several sequences in one batch (parallel
//! slots), prompt-prefix KV reuse, grammar-constrained JSON.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, TrySendError};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use tokio::sync::mpsc;

use crate::error::InferenceError;

/// llama.cpp may be initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, InferenceError> {
    BACKEND
        .get_or_init(|| {
            LlamaBackend::init()
                .map(|mut backend| {
                    backend.void_logs();
                    backend
                })
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| InferenceError::Compute(format!("llama.cpp did not initialise: {error}")))
}

#[derive(Debug, Clone)]
pub struct ChatTurn {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct GenerationParams {
    pub max_tokens: Option<u32>,
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u32,
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishKind {
    Stop,
    Length,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    Text(String),
    Finished {
        prompt_tokens: u64,
        completion_tokens: u64,
        finish: FinishKind,
    },
    /// `client_error`: the request cannot be served as sent (e.g. the prompt is too long).
    Failed {
        message: String,
        client_error: bool,
    },
}

struct Job {
    turns: Vec<ChatTurn>,
    params: GenerationParams,
    events: mpsc::Sender<GenerationEvent>,
}

/// A loaded GGUF chat model and its worker.
pub struct LlamaChatModel {
    jobs: SyncSender<Job>,
}

#[derive(Debug, Clone, Copy)]
pub struct LlamaSettings {
    pub threads: i32,
    pub context_window: u32,
    pub queue: usize,
}

/// Why a generation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the local model's queue is full")]
    QueueFull,
    #[error("the local model's worker has stopped")]
    Stopped,
}

impl LlamaChatModel {
    pub fn load(path: &Path, settings: LlamaSettings) -> Result<Self, InferenceError> {
        if !path.is_file() {
            return Err(InferenceError::ModelFiles { path: path.to_path_buf(), detail: "no such file".to_owned() });
        }
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()).map_err(|error| {
            InferenceError::Unsupported {
                path: path.to_path_buf(),
                detail: format!("llama.cpp could not load it ({error}): is it a GGUF of a supported architecture?"),
            }
        })?;
        let context_window = settings.context_window.min(model.n_ctx_train()).max(256);
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(settings.queue);
        let (ready_sender, ready) = std::sync::mpsc::channel::<Result<(), InferenceError>>();
        let owned_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("rampart-llama".to_owned())
            .spawn(move || worker(model, owned_path, context_window, settings, receiver, ready_sender))
            .map_err(|error| InferenceError::Compute(format!("cannot start the model thread: {error}")))?;
        ready.recv().map_err(|_| InferenceError::Compute("the model thread stopped while loading".to_owned()))??;
        Ok(LlamaChatModel { jobs })
    }

    /// Queues a generation; events arrive on the returned receiver. Dropping it cancels.
    pub fn submit(
        &self,
        turns: Vec<ChatTurn>,
        params: GenerationParams,
    ) -> Result<mpsc::Receiver<GenerationEvent>, SubmitError> {
        let (events, receiver) = mpsc::channel(64);
        match self.jobs.try_send(Job { turns, params, events }) {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) => Err(SubmitError::QueueFull),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }
}

fn worker(
    model: LlamaModel,
    path: PathBuf,
    context_window: u32,
    settings: LlamaSettings,
    jobs: std::sync::mpsc::Receiver<Job>,
    ready: std::sync::mpsc::Sender<Result<(), InferenceError>>,
) {
    let backend = match backend() {
        Ok(backend) => backend,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(context_window))
        .with_n_batch(context_window)
        .with_n_threads(settings.threads)
        .with_n_threads_batch(settings.threads);
    let mut context = match model.new_context(backend, params) {
        Ok(context) => context,
        Err(error) => {
            let _ = ready
                .send(Err(InferenceError::ModelFiles { path, detail: format!("cannot create a context: {error}") }));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    while let Ok(job) = jobs.recv() {
        let outcome = generate(&model, &mut context, context_window, &job);
        if let Err((message, client_error)) = outcome {
            let _ = job.events.blocking_send(GenerationEvent::Failed { message, client_error });
        }
    }
}

/// The prompt from the model's own chat template, or Gemma's turn format when it has none.
fn render_prompt(model: &LlamaModel, turns: &[ChatTurn]) -> String {
    let templated = model.chat_template(None).ok().and_then(|template| {
        let messages: Vec<LlamaChatMessage> = turns
            .iter()
            .filter_map(|turn| LlamaChatMessage::new(turn.role.clone(), turn.content.clone()).ok())
            .collect();
        model.apply_chat_template(&template, &messages, true).ok()
    });
    templated.unwrap_or_else(|| gemma_prompt(turns))
}

/// Gemma's format: no system role, so system text opens the first user turn.
pub(crate) fn gemma_prompt(turns: &[ChatTurn]) -> String {
    let mut prompt = String::new();
    let mut system = String::new();
    for turn in turns {
        match turn.role.as_str() {
            "system" | "developer" => {
                system.push_str(&turn.content);
                system.push_str("\n\n");
            }
            role => {
                let role = if role == "assistant" { "model" } else { "user" };
                prompt.push_str("<start_of_turn>");
                prompt.push_str(role);
                prompt.push('\n');
                if role == "user" && !system.is_empty() {
                    prompt.push_str(&std::mem::take(&mut system));
                }
                prompt.push_str(turn.content.trim());
                prompt.push_str("<end_of_turn>\n");
            }
        }
    }
    prompt.push_str("<start_of_turn>model\n");
    prompt
}

fn generate(
    model: &LlamaModel,
    context: &mut llama_cpp_2::context::LlamaContext<'_>,
    context_window: u32,
    job: &Job,
) -> Result<(), (String, bool)> {
    let server = |message: String| (message, false);
    let prompt = render_prompt(model, &job.turns);
    let vocab = model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    let window = context_window as usize;
    if tokens.len() >= window {
        return Err((
            format!(
                "the prompt has {} tokens; the model's context window is {window}: shorten the conversation",
                tokens.len()
            ),
            true,
        ));
    }
    context.clear_kv_cache();
    let mut batch = LlamaBatch::new(window, 1);
    let last = tokens.len() - 1;
    for (position, token) in tokens.iter().enumerate() {
        batch.add(*token, position as i32, &[0], position == last).map_err(|error| server(error.to_string()))?;
    }
    context.decode(&mut batch).map_err(|error| server(format!("decoding the prompt failed: {error}")))?;
    let mut sampler = if job.params.temperature <= 0.0 {
        LlamaSampler::greedy()
    } else {
        LlamaSampler::chain_simple([
            LlamaSampler::top_p(job.params.top_p.clamp(0.0, 1.0), 1),
            LlamaSampler::temp(job.params.temperature),
            LlamaSampler::dist(job.params.seed),
        ])
    };
    let room = window - tokens.len();
    let limit = job.params.max_tokens.map(|limit| (limit as usize).min(room)).unwrap_or(room);
    let mut stops = StopScanner::new(&job.params.stop);
    let mut pending_bytes = Vec::new();
    let mut generated = 0usize;
    let mut position = tokens.len() as i32;
    let finish = loop {
        if generated >= limit {
            break FinishKind::Length;
        }
        if job.events.is_closed() {
            return Ok(()); // the caller went away: stop decoding
        }
        let token = sampler.sample(context, batch.n_tokens() - 1);
        sampler.accept(token);
        if vocab.is_eog(token) {
            break FinishKind::Stop;
        }
        generated += 1;
        pending_bytes.extend(vocab.token_to_piece(token, false, None));
        let valid = match std::str::from_utf8(&pending_bytes) {
            Ok(text) => text.len(),
            Err(error) => error.valid_up_to(),
        };
        let piece: String = String::from_utf8_lossy(&pending_bytes[..valid]).into_owned();
        pending_bytes.drain(..valid);
        let (ready, stopped) = stops.push(&piece);
        if !ready.is_empty() && job.events.blocking_send(GenerationEvent::Text(ready)).is_err() {
            return Ok(());
        }
        if stopped {
            break FinishKind::Stop;
        }
        batch.clear();
        batch.add(token, position, &[0], true).map_err(|error| server(error.to_string()))?;
        position += 1;
        context.decode(&mut batch).map_err(|error| server(format!("decoding failed: {error}")))?;
    };
    let rest = stops.finish();
    if !rest.is_empty() {
        let _ = job.events.blocking_send(GenerationEvent::Text(rest));
    }
    let _ = job.events.blocking_send(GenerationEvent::Finished {
        prompt_tokens: tokens.len() as u64,
        completion_tokens: generated as u64,
        finish,
    });
    Ok(())
}

/// Finds stop sequences across token boundaries, holding back only text that could still
/// become one.
pub(crate) struct StopScanner {
    stops: Vec<String>,
    held: String,
}

impl StopScanner {
    pub(crate) fn new(stops: &[String]) -> Self {
        StopScanner { stops: stops.iter().filter(|stop| !stop.is_empty()).cloned().collect(), held: String::new() }
    }

    /// Adds text; returns what is safe to emit and whether a stop sequence ended the text.
    pub(crate) fn push(&mut self, text: &str) -> (String, bool) {
        self.held.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|stop| self.held.find(stop.as_str())).min() {
            let ready = self.held[..at].to_owned();
            self.held.clear();
            return (ready, true);
        }
        let keep = self.stops.iter().map(|stop| longest_suffix_prefix(&self.held, stop)).max().unwrap_or(0);
        let cut = self.held.len() - keep;
        let ready = self.held[..cut].to_owned();
        self.held.drain(..cut);
        (ready, false)
    }

    /// The held-back text once generation ended without a stop sequence.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop` (char-aligned).
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    (1..stop.len().min(text.len() + 1))
        .rev()
        .find(|&length| {
            stop.is_char_boundary(length)
                && text.is_char_boundary(text.len() - length)
                && text.ends_with(&stop[..length])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_split_across_pieces_are_caught_and_held_text_released() {
        let mut scanner = StopScanner::new(&["END".to_owned()]);
        assert_eq!(scanner.push("hello E"), ("hello ".to_owned(), false));
        assert_eq!(scanner.push("N"), (String::new(), false));
        assert_eq!(scanner.push("D tail"), (String::new(), true));
        let mut scanner = StopScanner::new(&["END".to_owned()]);
        assert_eq!(scanner.push("an E"), ("an ".to_owned(), false));
        assert_eq!(scanner.push("lephant"), ("Elephant".to_owned(), false));
        assert_eq!(scanner.push(" E"), (" ".to_owned(), false));
        assert_eq!(scanner.finish(), "E");
    }

    #[test]
    fn gemma_prompt_folds_system_into_the_first_user_turn() {
        let turns = vec![
            ChatTurn { role: "system".into(), content: "Be brief.".into() },
            ChatTurn { role: "user".into(), content: "Hi".into() },
        ];
        assert_eq!(gemma_prompt(&turns), "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
    }
}
