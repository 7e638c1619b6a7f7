//! BERT-family sentence embeddings (all-MiniLM-L6-v2 and its kin) on the CPU.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::InferenceError;

/// Sentences per forward pass, after sorting by length: small enough that each pass pads
/// little, large enough to keep the matrix products efficient (and memory bounded).
const BATCH: usize = 8;

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
    model: BertModel,
    tokenizer: Tokenizer,
    pooling: Pooling,
    normalize: bool,
    dimensions: usize,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, InferenceError> {
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
        tokenizer
            .with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..PaddingParams::default() }));

        let weights_path = dir.join("model.safetensors");
        let weights = std::fs::read(&weights_path)
            .map_err(|error| InferenceError::ModelFiles { path: weights_path.clone(), detail: error.to_string() })?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|error| InferenceError::ModelFiles { path: weights_path.clone(), detail: error.to_string() })?;
        let model = BertModel::load(vb, &config)
            .map_err(|error| InferenceError::Unsupported { path: PathBuf::from(dir), detail: error.to_string() })?;
        Ok(BertEmbedder { model, tokenizer, pooling, normalize, dimensions: config.hidden_size })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// One vector per text, in order, and the number of tokens the model read.
    ///
    /// Texts are tokenised together, then run in sub-batches of similar length (sorted by
    /// token count), each padded only to its own longest text: padding is wasted compute, and
    /// the mean pooling ignores it anyway, so the vectors are the same.
    pub fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64), InferenceError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| InferenceError::Tokenizer(error.to_string()))?;
        let lengths: Vec<usize> = encodings
            .iter()
            .map(|encoding| encoding.get_attention_mask().iter().filter(|&&bit| bit == 1).count())
            .collect();
        let tokens = lengths.iter().map(|&length| length as u64).sum();
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&index| lengths[index]);
        let mut vectors = vec![Vec::new(); encodings.len()];
        for batch in order.chunks(BATCH) {
            let length = batch.iter().map(|&index| lengths[index]).max().unwrap_or(0);
            let rows = batch.len();
            let mut ids = Vec::with_capacity(rows * length);
            let mut types = Vec::with_capacity(rows * length);
            let mut mask = Vec::with_capacity(rows * length);
            for &index in batch {
                // Padding is on the right, so the first `length` positions hold every real token.
                let encoding = &encodings[index];
                ids.extend_from_slice(&encoding.get_ids()[..length]);
                types.extend_from_slice(&encoding.get_type_ids()[..length]);
                mask.extend_from_slice(&encoding.get_attention_mask()[..length]);
            }
            for (index, vector) in batch.iter().zip(self.forward(ids, types, mask, rows, length)?) {
                vectors[*index] = vector;
            }
        }
        Ok((vectors, tokens))
    }

    /// Pooled (and, where the model says so, normalised) vectors of one padded batch.
    fn forward(
        &self,
        ids: Vec<u32>,
        types: Vec<u32>,
        mask: Vec<u32>,
        rows: usize,
        length: usize,
    ) -> Result<Vec<Vec<f32>>, InferenceError> {
        let device = &self.model.device;
        let ids = Tensor::from_vec(ids, (rows, length), device)?;
        let types = Tensor::from_vec(types, (rows, length), device)?;
        let mask = Tensor::from_vec(mask, (rows, length), device)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let pooled = match self.pooling {
            Pooling::Mean => {
                // Mean over real tokens only, as sentence-transformers' Pooling does.
                let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                summed.broadcast_div(&counts)?
            }
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
        };
        let pooled = if self.normalize {
            // torch.nn.functional.normalize: x / max(‖x‖₂, 1e-12)
            let norms = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            pooled.broadcast_div(&norms)?
        } else {
            pooled
        };
        Ok(pooled.to_vec2::<f32>()?)
    }
}
