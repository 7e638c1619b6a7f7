//! GGUF chat through llama.cpp, served like llama.cpp server's parallel slots.
//!
//! One worker thread owns the model's context, whose KV cache holds `slots` sequences. Each
//! step decodes one batch holding the next token of every generating sequence plus a chunk of
//! any prompt still being read (continuous batching: a request joins or leaves the batch
//! between steps). A new prompt goes to the idle slot whose cache shares its longest prefix, and
//! only the rest of the prompt is computed. Requests beyond the slots wait in a bounded queue;
//! past it, [`LlamaChatModel::submit`] answers [`SubmitError::QueueFull`].
//!
//! Prompts are rendered, tokenised and checked against the context window on the caller's
//! side, so a request that cannot be served fails at once instead of after the queue.

mod grammar;
mod prompt;
mod scheduler;
mod stop;

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use tokio::sync::mpsc;

use crate::error::InferenceError;
use stop::StopScanner;

/// Tokens decoded in one step at most: all generating sequences plus prompt chunks.
const BATCH_TOKENS: u32 = 512;

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

/// What the output must be.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum OutputFormat {
    #[default]
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON that validates against this schema.
    JsonSchema(serde_json::Value),
}

#[derive(Debug, Clone)]
pub struct GenerationParams {
    pub max_tokens: Option<u32>,
    pub temperature: f32,
    pub top_p: f32,
    /// Tokens less likely than this share of the likeliest are never drawn (0: off).
    pub min_p: f32,
    pub seed: u32,
    pub stop: Vec<String>,
    pub format: OutputFormat,
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
        /// Prompt tokens whose KV entries were reused from the slot's previous request.
        cached_tokens: u64,
        completion_tokens: u64,
        finish: FinishKind,
    },
    /// Decoding failed part-way (a fault of the runtime, not of the request).
    Failed {
        message: String,
    },
}

/// A generation ready for the worker: tokens, sampler and where its events go.
pub(super) struct Job {
    tokens: Vec<llama_cpp_2::token::LlamaToken>,
    sampler: LlamaSampler,
    /// Completion tokens allowed: `max_tokens`, capped by the room left in the context.
    limit: usize,
    stop: Vec<String>,
    events: mpsc::UnboundedSender<GenerationEvent>,
}

#[derive(Debug, Clone, Copy)]
pub struct LlamaSettings {
    pub threads: i32,
    /// Tokens of context per sequence.
    pub context_window: u32,
    /// Sequences decoded together.
    pub slots: u32,
    /// Requests that may wait for a free slot.
    pub queue: usize,
}

/// Why a generation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the local model's queue is full")]
    QueueFull,
    #[error("the local model's worker has stopped")]
    Stopped,
    /// The request cannot be served as sent; `param` names the field at fault.
    #[error("{message}")]
    Invalid { message: String, param: &'static str },
}

/// A loaded GGUF chat model and its worker.
pub struct LlamaChatModel {
    model: Arc<LlamaModel>,
    context_window: usize,
    jobs: SyncSender<Job>,
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
        let model = Arc::new(model);
        let context_window = settings.context_window.min(model.n_ctx_train()).max(256);
        let slots = settings.slots.clamp(1, 64);
        // One KV stream per slot, each `context_window` long: a long prompt in one slot can
        // never take another slot's room.
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(context_window * slots))
            .with_n_seq_max(slots)
            .with_kv_unified(false)
            .with_n_batch(BATCH_TOKENS)
            .with_n_ubatch(BATCH_TOKENS)
            .with_n_threads(settings.threads)
            .with_n_threads_batch(settings.threads);
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(settings.queue);
        let (ready_sender, ready) = std::sync::mpsc::channel::<Result<(), InferenceError>>();
        let worker_model = model.clone();
        let owned_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("rampart-llama".to_owned())
            .spawn(move || {
                let context = match worker_model.new_context(backend, params) {
                    Ok(context) => context,
                    Err(error) => {
                        let detail = format!("cannot create a context: {error}");
                        let _ = ready_sender.send(Err(InferenceError::ModelFiles { path: owned_path, detail }));
                        return;
                    }
                };
                let _ = ready_sender.send(Ok(()));
                scheduler::run(&worker_model, context, slots as usize, BATCH_TOKENS as usize, receiver);
            })
            .map_err(|error| InferenceError::Compute(format!("cannot start the model thread: {error}")))?;
        ready.recv().map_err(|_| InferenceError::Compute("the model thread stopped while loading".to_owned()))??;
        Ok(LlamaChatModel { model, context_window: context_window as usize, jobs })
    }

    /// The tokens `turns` take once rendered with the model's chat template.
    pub fn count_prompt_tokens(&self, turns: &[ChatTurn]) -> usize {
        let prompt = prompt::render(&self.model, turns);
        self.model.vocab().tokenize(prompt.as_bytes(), true, true).len()
    }

    /// Queues a generation; events arrive on the returned receiver. Dropping it cancels.
    pub fn submit(
        &self,
        turns: &[ChatTurn],
        params: GenerationParams,
    ) -> Result<mpsc::UnboundedReceiver<GenerationEvent>, SubmitError> {
        let prompt = prompt::render(&self.model, turns);
        let tokens = self.model.vocab().tokenize(prompt.as_bytes(), true, true);
        let window = self.context_window;
        if tokens.len() >= window {
            return Err(SubmitError::Invalid {
                message: format!(
                    "the prompt has {} tokens; the model's context window is {window}: shorten the conversation",
                    tokens.len()
                ),
                param: "messages",
            });
        }
        let sampler = self.sampler(&params)?;
        let room = window - tokens.len();
        let limit = params.max_tokens.map_or(room, |limit| (limit as usize).min(room));
        let (events, receiver) = mpsc::unbounded_channel();
        if limit == 0 {
            // `max_tokens: 0`: nothing to generate, so nothing to queue.
            let _ = events.send(GenerationEvent::Finished {
                prompt_tokens: tokens.len() as u64,
                cached_tokens: 0,
                completion_tokens: 0,
                finish: FinishKind::Length,
            });
            return Ok(receiver);
        }
        match self.jobs.try_send(Job { tokens, sampler, limit, stop: params.stop, events }) {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) => Err(SubmitError::QueueFull),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }

    /// Greedy at temperature 0, else top-p, min-p, temperature and a seeded draw; a grammar, when
    /// the format asks for one, masks every token that would break it.
    fn sampler(&self, params: &GenerationParams) -> Result<LlamaSampler, SubmitError> {
        let invalid_format = |message: String| SubmitError::Invalid { message, param: "response_format" };
        let mut chain = Vec::new();
        if let Some(grammar) = grammar::for_format(&params.format).map_err(invalid_format)? {
            let sampler = LlamaSampler::grammar(&self.model, &grammar, "root")
                .map_err(|error| invalid_format(format!("the output grammar was rejected: {error}")))?;
            chain.push(sampler);
        }
        if params.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.push(LlamaSampler::top_p(params.top_p.clamp(0.0, 1.0), 1));
            if params.min_p > 0.0 {
                chain.push(LlamaSampler::min_p(params.min_p.min(1.0), 1));
            }
            chain.push(LlamaSampler::temp(params.temperature));
            chain.push(LlamaSampler::dist(params.seed));
        }
        Ok(LlamaSampler::chain_simple(chain))
    }
}
