//! Text classification with Hugging Face `*ForSequenceClassification` checkpoints on the CPU:
//! how guardrails score prompt injection with a model, where an operator has one.
//!
//! Two families load:
//! - **DeBERTa-v2/v3** (`DebertaV2ForSequenceClassification`): Meta's Prompt Guard (86M, and
//!   Llama Prompt Guard 2 22M/86M), ProtectAI's `deberta-v3-*-prompt-injection`, and their kin.
//!   The encoder is candle-transformers' port of the disentangled-attention model.
//! - **BERT** (`BertForSequenceClassification`): the packed encoder of the embeddings, then the
//!   `[CLS]` row through the pooler's tanh layer and the classifier.
//!
//! A model directory holds `config.json` (with `id2label`), `tokenizer.json` and
//! `model.safetensors`, as `huggingface-cli download` leaves them. A text longer than the
//! model's window is scored in overlapping windows, and its score is the highest window's: an
//! injection at the end of a long tool result is not cut off.

mod labels;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::debertav2;
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::{BertConfig, PackedEncoder, Sequence, read_json};
use crate::error::InferenceError;

/// Tokens per window when neither the operator nor the model says otherwise: what the
/// published injection classifiers were trained on.
const DEFAULT_WINDOW_TOKENS: usize = 512;

/// The fields of `config.json` read before choosing an architecture.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    id2label: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    num_labels: Option<usize>,
    #[serde(default)]
    max_position_embeddings: Option<usize>,
}

enum Model {
    Bert { encoder: PackedEncoder, pooler: Linear, classifier: Linear },
    Deberta(Box<debertav2::DebertaV2SeqClassificationModel>),
}

/// A sequence-classification model, its tokenizer, and which of its labels count as a hit.
pub struct TextClassifier {
    model: Model,
    tokenizer: Tokenizer,
    labels: Vec<String>,
    /// Indices into `labels` whose probabilities add up to the score.
    positive: Vec<usize>,
}

impl std::fmt::Debug for TextClassifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TextClassifier")
            .field("labels", &self.labels)
            .field("positive", &self.positive_labels())
            .finish_non_exhaustive()
    }
}

impl TextClassifier {
    /// Loads the model in `dir`. `positive_labels` names the labels whose probabilities make
    /// the score (any case); empty: every label that does not read as benign (see
    /// [`labels::positive`]). `window_tokens` caps the tokens per window (default 512, and
    /// never more than the model's positions).
    pub fn load(dir: &Path, positive_labels: &[String], window_tokens: Option<usize>) -> Result<Self, InferenceError> {
        let files = |detail: String| InferenceError::ModelFiles { path: dir.to_path_buf(), detail };
        let unsupported = |detail: String| InferenceError::Unsupported { path: dir.join("config.json"), detail };
        if !dir.is_dir() {
            return Err(files("no such directory".to_owned()));
        }
        // Read once, then taken apart by the architecture it names.
        let config_path = dir.join("config.json");
        let config_json: serde_json::Value = read_json(&config_path)?;
        let config_error = |error: serde_json::Error| InferenceError::ModelFiles {
            path: config_path.clone(),
            detail: error.to_string(),
        };
        let header: Header = serde_json::from_value(config_json.clone()).map_err(config_error)?;
        let labels = labels::in_order(header.id2label.as_ref(), header.num_labels).map_err(unsupported)?;
        let positive = labels::positive(&labels, positive_labels).map_err(unsupported)?;

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path)
            .map_err(|error| InferenceError::ModelFiles { path: weights_path.clone(), detail: error.to_string() })?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|error| InferenceError::ModelFiles { path: weights_path.clone(), detail: error.to_string() })?;
        let weights_error = |error: candle_core::Error| InferenceError::Unsupported {
            path: PathBuf::from(dir),
            detail: error.to_string(),
        };
        let model = match family(&header).map_err(unsupported)? {
            Family::Bert => {
                let config: BertConfig = serde_json::from_value(config_json).map_err(config_error)?;
                if let Some(detail) = config.unsupported() {
                    return Err(unsupported(detail));
                }
                let encoder = PackedEncoder::load(vb.clone(), &config).map_err(weights_error)?;
                let hidden = config.hidden_size;
                let pooler = ["bert.pooler.dense", "pooler.dense"]
                    .into_iter()
                    .find(|prefix| vb.contains_tensor(&format!("{prefix}.weight")))
                    .ok_or_else(|| unsupported("the checkpoint has no pooler (bert.pooler.dense)".to_owned()))?;
                let pooler = candle_nn::linear(hidden, hidden, vb.pp(pooler)).map_err(weights_error)?;
                let classifier = candle_nn::linear(hidden, labels.len(), vb.pp("classifier")).map_err(weights_error)?;
                Model::Bert { encoder, pooler, classifier }
            }
            Family::Deberta => {
                let config: debertav2::Config = serde_json::from_value(config_json).map_err(config_error)?;
                if config.pooler_hidden_size.is_none() || config.pooler_hidden_act.is_none() {
                    return Err(unsupported(
                        "a DeBERTa classifier needs pooler_hidden_size and pooler_hidden_act in config.json".to_owned(),
                    ));
                }
                let id2label = labels.iter().enumerate().map(|(index, label)| (index as u32, label.clone())).collect();
                // candle's port asserts on shapes in places: a malformed checkpoint must be an
                // error here, not a panic at start-up.
                // The encoder's weights sit under `deberta.`; the pooler and the classifier at the
                // root, where candle's port looks for them whatever the prefix.
                let encoder = vb.set_prefix("deberta");
                let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    debertav2::DebertaV2SeqClassificationModel::load(encoder, &config, Some(id2label))
                }))
                .map_err(|_| unsupported("the DeBERTa checkpoint does not match its config.json".to_owned()))?;
                Model::Deberta(Box::new(loaded.map_err(weights_error)?))
            }
        };

        let positions = header.max_position_embeddings.unwrap_or(DEFAULT_WINDOW_TOKENS);
        let window = window_tokens.unwrap_or(DEFAULT_WINDOW_TOKENS).min(positions);
        if window < 8 {
            return Err(unsupported(format!("a window of {window} tokens is too small to classify text")));
        }
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|error| files(format!("tokenizer.json: {error}")))?;
        // Overlapping windows: the overflow of a long text comes back as further encodings,
        // each with its own special tokens.
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: window, stride: window / 8, ..Default::default() }))
            .map_err(|error| files(format!("tokenizer truncation: {error}")))?;
        tokenizer.with_padding(None);
        Ok(TextClassifier { model, tokenizer, labels, positive })
    }

    /// The model's labels, in output order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The labels whose probabilities make the score.
    pub fn positive_labels(&self) -> Vec<&str> {
        self.positive.iter().map(|&index| self.labels[index].as_str()).collect()
    }

    /// The probability that `text` is what the positive labels name: their softmax
    /// probabilities added up, in the window that scores highest.
    pub fn score(&self, text: &str) -> Result<f32, InferenceError> {
        let mut highest = 0.0f32;
        for logits in self.logits(text)? {
            let probabilities = softmax(&logits);
            let score: f32 = self.positive.iter().map(|&index| probabilities[index]).sum();
            highest = highest.max(score);
        }
        Ok(highest.clamp(0.0, 1.0))
    }

    /// The raw logits of each window of `text`, in label order.
    pub fn logits(&self, text: &str) -> Result<Vec<Vec<f32>>, InferenceError> {
        let encoding =
            self.tokenizer.encode(text, true).map_err(|error| InferenceError::Tokenizer(error.to_string()))?;
        let mut windows = vec![(encoding.get_ids().to_vec(), encoding.get_type_ids().to_vec())];
        windows.extend(
            encoding.get_overflowing().iter().map(|window| (window.get_ids().to_vec(), window.get_type_ids().to_vec())),
        );
        let mut all = Vec::with_capacity(windows.len());
        for (ids, type_ids) in &windows {
            let logits = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.forward(ids, type_ids)))
                .map_err(|_| InferenceError::Compute("the classifier failed on this input".to_owned()))??;
            if logits.len() != self.labels.len() {
                return Err(InferenceError::Compute(format!(
                    "the classifier gave {} logits for {} labels",
                    logits.len(),
                    self.labels.len()
                )));
            }
            all.push(logits);
        }
        Ok(all)
    }

    fn forward(&self, ids: &[u32], type_ids: &[u32]) -> Result<Vec<f32>, InferenceError> {
        match &self.model {
            Model::Bert { encoder, pooler, classifier } => {
                let hidden = encoder.hidden();
                let rows = encoder.forward(&[Sequence { ids, type_ids }])?;
                let cls = Tensor::from_slice(&rows[..hidden], (1, hidden), &Device::Cpu)?;
                let pooled = pooler.forward(&cls)?.tanh()?;
                Ok(classifier.forward(&pooled)?.flatten_all()?.to_vec1()?)
            }
            Model::Deberta(model) => {
                let input_ids = Tensor::from_slice(ids, (1, ids.len()), &Device::Cpu)?;
                let type_ids = Tensor::from_slice(type_ids, (1, type_ids.len()), &Device::Cpu)?;
                // One window, no padding: every token is attended to.
                let mask = Tensor::ones((1, ids.len()), DType::U32, &Device::Cpu)?;
                Ok(model.forward(&input_ids, Some(type_ids), Some(mask))?.flatten_all()?.to_vec1()?)
            }
        }
    }
}

enum Family {
    Bert,
    Deberta,
}

fn family(header: &Header) -> Result<Family, String> {
    let architecture = header.architectures.first().map(String::as_str).unwrap_or_default();
    match (header.model_type.as_deref(), architecture) {
        (Some("deberta-v2"), _) | (_, "DebertaV2ForSequenceClassification") => Ok(Family::Deberta),
        (Some("bert"), _) | (_, "BertForSequenceClassification") => Ok(Family::Bert),
        (model_type, _) => Err(format!(
            "model_type {} ({}): supported are BERT (BertForSequenceClassification) and DeBERTa-v2/v3 \
             (DebertaV2ForSequenceClassification), e.g. Prompt Guard or deberta-v3-base-prompt-injection-v2",
            model_type.unwrap_or("(none)"),
            if architecture.is_empty() { "no architectures" } else { architecture },
        )),
    }
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|logit| (logit - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|value| value / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::softmax;

    #[test]
    fn softmax_is_stable_for_large_logits() {
        let probabilities = softmax(&[1000.0, 1000.0, -1000.0]);
        assert!((probabilities[0] - 0.5).abs() < 1e-6 && (probabilities[1] - 0.5).abs() < 1e-6);
        assert!(probabilities[2] < 1e-30);
    }
}
