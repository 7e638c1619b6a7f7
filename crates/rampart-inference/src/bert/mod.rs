//! BERT-family sentence embeddings (all-MiniLM-L6-v2 and its kin) on the CPU.

use std::path::{Path, PathBuf};

mod encoder;
mod kernels;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::InferenceError;
use encoder::Config;
pub(crate) use encoder::{Config as BertConfig, PackedEncoder, Sequence};

/// Tokens per forward pass. A request's texts are packed into passes of about this many
/// tokens (a text is never split): enough rows to keep the matrix products efficient, and a
/// bound on memory (the widest activation is `tokens × intermediate_size` floats, 12 MB for
/// all-MiniLM-L6-v2).
const TOKENS_PER_PASS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pooling {
    Mean,
    Cls,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct Module {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

pub struct BertEmbedder {
    encoder: PackedEncoder,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    dimensions: usize,
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, InferenceError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| InferenceError::ModelFiles { path: path.to_path_buf(), detail: error.to_string() })?;
    serde_json::from_str(&text)
        .map_err(|error| InferenceError::ModelFiles { path: path.to_path_buf(), detail: error.to_string() })
}

impl BertEmbedder {
    /// Loads a sentence-transformers model directory (config.json, tokenizer.json,
    /// model.safetensors, modules.json and the pooling config).
    pub fn load(dir: &Path) -> Result<Self, InferenceError> {
        let files = |detail: String| InferenceError::ModelFiles { path: dir.to_path_buf(), detail };
        if !dir.is_dir() {
            return Err(files("no such directory".to_owned()));
        }
        let config: Config = read_json(&dir.join("config.json"))?;
        if let Some(detail) = config.unsupported() {
            return Err(InferenceError::Unsupported { path: dir.join("config.json"), detail });
        }
        let modules: Vec<Module> =
            if dir.join("modules.json").is_file() { read_json(&dir.join("modules.json"))? } else { Vec::new() };
        let pooling_dir = modules
            .iter()
            .find(|module| module.kind.ends_with("models.Pooling"))
            .map(|module| dir.join(&module.path))
            .unwrap_or_else(|| dir.join("1_Pooling"));
        let pooling = if pooling_dir.join("config.json").is_file() {
            let pooling: PoolingConfig = read_json(&pooling_dir.join("config.json"))?;
            match (pooling.pooling_mode_mean_tokens, pooling.pooling_mode_cls_token) {
                (true, false) if !pooling.pooling_mode_max_tokens && !pooling.pooling_mode_mean_sqrt_len_tokens => {
                    Pooling::Mean
                }
                (false, true) if !pooling.pooling_mode_max_tokens && !pooling.pooling_mode_mean_sqrt_len_tokens => {
                    Pooling::Cls
                }
                _ => {
                    return Err(InferenceError::Unsupported {
                        path: pooling_dir,
                        detail: "only mean or CLS pooling is supported".to_owned(),
                    });
                }
            }
        } else {
            Pooling::Mean
        };
        let normalize = modules.iter().any(|module| module.kind.ends_with("models.Normalize"));
        let max_seq_length = if dir.join("sentence_bert_config.json").is_file() {
            read_json::<SentenceBertConfig>(&dir.join("sentence_bert_config.json"))?.max_seq_length
        } else {
            None
        }
        .unwrap_or(config.max_position_embeddings)
        .min(config.max_position_embeddings);

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|error| files(format!("tokenizer.json: {error}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_seq_length, ..TruncationParams::default() }))
            .map_err(|error| files(format!("tokenizer truncation: {error}")))?;
        // The encoder packs texts without padding.
        tokenizer.with_padding(None);

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path)
            .map_err(|error| InferenceError::ModelFiles { path: weights_path.clone(), detail: error.to_string() })?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|error| InferenceError::ModelFiles { path: weights_path.clone(), detail: error.to_string() })?;
        let encoder = PackedEncoder::load(vb, &config)
            .map_err(|error| InferenceError::Unsupported { path: PathBuf::from(dir), detail: error.to_string() })?;
        Ok(BertEmbedder { encoder, tokenizer, pooling, normalize, dimensions: config.hidden_size })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// One vector per text, in order, and the number of tokens the model read.
    ///
    /// Texts are tokenised together and run in passes of up to [`TOKENS_PER_PASS`] tokens,
    /// packed without padding (see [`encoder`]).
    pub fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64), InferenceError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| InferenceError::Tokenizer(error.to_string()))?;
        let tokens = encodings.iter().map(|encoding| encoding.get_ids().len() as u64).sum();
        let mut vectors = Vec::with_capacity(encodings.len());
        let mut rest = encodings.as_slice();
        while !rest.is_empty() {
            let mut count = 0;
            let mut pass_tokens = 0;
            for encoding in rest {
                if count > 0 && pass_tokens + encoding.get_ids().len() > TOKENS_PER_PASS {
                    break;
                }
                pass_tokens += encoding.get_ids().len();
                count += 1;
            }
            let (pass, later) = rest.split_at(count);
            let sequences: Vec<Sequence<'_>> = pass
                .iter()
                .map(|encoding| Sequence { ids: encoding.get_ids(), type_ids: encoding.get_type_ids() })
                .collect();
            let hidden = self.encoder.forward(&sequences)?;
            let mut first = 0;
            for sequence in &sequences {
                let rows = &hidden[first * self.dimensions..(first + sequence.ids.len()) * self.dimensions];
                vectors.push(self.pool(rows));
                first += sequence.ids.len();
            }
            rest = later;
        }
        Ok((vectors, tokens))
    }

    /// One text's vector from its tokens' last hidden states (`tokens × dimensions`, at least
    /// one token: the tokenizer adds `[CLS]` and `[SEP]`).
    fn pool(&self, rows: &[f32]) -> Vec<f32> {
        let mut pooled = match self.pooling {
            // Mean over the text's tokens, as sentence-transformers' Pooling does.
            Pooling::Mean => {
                let mut sum = vec![0.0f32; self.dimensions];
                for row in rows.chunks_exact(self.dimensions) {
                    sum.iter_mut().zip(row).for_each(|(sum, value)| *sum += value);
                }
                let count = (rows.len() / self.dimensions).max(1) as f32;
                sum.iter_mut().for_each(|value| *value /= count);
                sum
            }
            Pooling::Cls => rows.iter().take(self.dimensions).copied().collect(),
        };
        if self.normalize {
            // torch.nn.functional.normalize: x / max(‖x‖₂, 1e-12)
            let norm = pooled.iter().map(|value| value * value).sum::<f32>().sqrt().max(1e-12);
            pooled.iter_mut().for_each(|value| *value /= norm);
        }
        pooled
    }
}
