//! A BERT encoder over packed sequences: the tokens of every text in a request sit in one
//! matrix, one row each, with no padding.
//!
//! The usual padded batch (`[texts, longest, hidden]`) spends the matrix products on padding
//! rows that the mean pooling then throws away; with texts of mixed length that is a third to
//! a half of the work. Here the four products of each layer run once over all real tokens
//! (candle's gemm, on rayon's threads), and only attention, a few percent of the work, looks at
//! sequence boundaries. The weights and the arithmetic are those of Hugging Face's `BertModel`
//! (absolute positions, post-layer-norm), so the vectors match it to float rounding.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

use super::kernels::{self, Activation, Heads, LayerNorm};

/// The fields of a Hugging Face BERT `config.json` that the forward pass uses (others, such
/// as dropout rates, are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    #[serde(default)]
    pub model_type: Option<String>,
}

fn default_hidden_act() -> String {
    "gelu".to_owned()
}

fn default_type_vocab_size() -> usize {
    2
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

impl Config {
    /// What this encoder cannot run, in words; `None` when it can.
    pub fn unsupported(&self) -> Option<String> {
        if let Some(kind) = self.position_embedding_type.as_deref().filter(|kind| *kind != "absolute") {
            return Some(format!("position_embedding_type \"{kind}\" (only \"absolute\" is supported)"));
        }
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Some(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        self.activation().err()
    }

    fn activation(&self) -> Result<Activation, String> {
        // The names transformers' ACT2FN gives these functions.
        match self.hidden_act.as_str() {
            "gelu" => Ok(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => {
                Err(format!("hidden_act \"{other}\" (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)"))
            }
        }
    }
}

/// A `[out, in]` weight matrix and its bias.
struct Dense {
    weight: Tensor,
    bias: Vec<f32>,
}

impl Dense {
    fn load(vb: &VarBuilder, inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        Ok(Dense { weight: vb.get((outputs, inputs), "weight")?, bias: vb.get(outputs, "bias")?.to_vec1()? })
    }

    /// `x · weightᵀ`, without the bias (the step after adds it in its own pass).
    fn product(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight.t()?)
    }
}

fn layer_norm(vb: &VarBuilder, width: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    Ok(LayerNorm {
        weight: vb.get(width, "weight")?.to_vec1()?,
        bias: vb.get(width, "bias")?.to_vec1()?,
        eps: eps as f32,
    })
}

struct Layer {
    /// Query, key and value stacked into one `[3·hidden, hidden]` product.
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: &VarBuilder, config: &Config) -> candle_core::Result<Self> {
        let (hidden, eps) = (config.hidden_size, config.layer_norm_eps);
        let attention = vb.pp("attention");
        let parts = ["query", "key", "value"]
            .map(|name| Dense::load(&attention.pp("self").pp(name), hidden, hidden))
            .into_iter()
            .collect::<candle_core::Result<Vec<_>>>()?;
        let qkv = Dense {
            weight: Tensor::cat(&parts.iter().map(|part| &part.weight).collect::<Vec<_>>(), 0)?,
            bias: parts.iter().flat_map(|part| part.bias.iter().copied()).collect(),
        };
        Ok(Layer {
            qkv,
            attention_out: Dense::load(&attention.pp("output").pp("dense"), hidden, hidden)?,
            attention_norm: layer_norm(&attention.pp("output").pp("LayerNorm"), hidden, eps)?,
            intermediate: Dense::load(&vb.pp("intermediate").pp("dense"), hidden, config.intermediate_size)?,
            output: Dense::load(&vb.pp("output").pp("dense"), config.intermediate_size, hidden)?,
            output_norm: layer_norm(&vb.pp("output").pp("LayerNorm"), hidden, eps)?,
        })
    }
}

pub struct PackedEncoder {
    /// `[vocab, hidden]`, `[positions, hidden]` and `[types, hidden]`, kept as loaded (the
    /// word table is most of the model: no second copy).
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: Heads,
    activation: Activation,
    max_positions: usize,
}

/// One text's tokens: ids and segment ids, of equal length.
pub struct Sequence<'a> {
    pub ids: &'a [u32],
    pub type_ids: &'a [u32],
}

fn table(vb: &VarBuilder, rows: usize, width: usize) -> candle_core::Result<Tensor> {
    vb.get((rows, width), "weight")
}

impl PackedEncoder {
    /// Loads the weights of a `BertModel` checkpoint, with or without a `bert.` (or
    /// `<model_type>.`) prefix, as Hugging Face saves them.
    pub fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Self> {
        let vb = match &config.model_type {
            _ if vb.contains_tensor("embeddings.word_embeddings.weight") => vb,
            _ if vb.contains_tensor("bert.embeddings.word_embeddings.weight") => vb.pp("bert"),
            Some(model_type) if vb.contains_tensor(&format!("{model_type}.embeddings.word_embeddings.weight")) => {
                vb.pp(model_type)
            }
            _ => vb,
        };
        let hidden = config.hidden_size;
        if config.num_attention_heads == 0 || !hidden.is_multiple_of(config.num_attention_heads) {
            candle_core::bail!(
                "hidden_size {hidden} is not a multiple of num_attention_heads {}",
                config.num_attention_heads
            );
        }
        let embeddings = vb.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|index| Layer::load(&vb.pp("encoder").pp("layer").pp(index), config))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(PackedEncoder {
            word: table(&embeddings.pp("word_embeddings"), config.vocab_size, hidden)?,
            position: table(&embeddings.pp("position_embeddings"), config.max_position_embeddings, hidden)?,
            token_type: table(&embeddings.pp("token_type_embeddings"), config.type_vocab_size, hidden)?,
            embedding_norm: layer_norm(&embeddings.pp("LayerNorm"), hidden, config.layer_norm_eps)?,
            layers,
            heads: Heads { count: config.num_attention_heads, size: hidden / config.num_attention_heads },
            activation: config.activation().map_err(candle_core::Error::Msg)?,
            max_positions: config.max_position_embeddings,
        })
    }

    pub fn hidden(&self) -> usize {
        self.heads.hidden()
    }

    /// The last layer's hidden states of every token of every sequence, packed in order
    /// (`Σ lengths × hidden`, row-major).
    pub fn forward(&self, sequences: &[Sequence<'_>]) -> candle_core::Result<Vec<f32>> {
        let hidden = self.hidden();
        let lengths: Vec<usize> = sequences.iter().map(|sequence| sequence.ids.len()).collect();
        let rows: usize = lengths.iter().sum();
        let (word, token_type, position) = (borrow(&self.word)?, borrow(&self.token_type)?, borrow(&self.position)?);
        let mut x = self.embed(sequences, rows, word.slice()?, token_type.slice()?, position.slice()?)?;
        self.embedding_norm.rows(&mut x);
        let mut x = Tensor::from_vec(x, (rows, hidden), &Device::Cpu)?;
        for layer in &self.layers {
            let qkv = layer.qkv.product(&x)?;
            let context = with_slice(&qkv, |qkv| kernels::attention(qkv, &layer.qkv.bias, &lengths, self.heads))?;
            let context = Tensor::from_vec(context, (rows, hidden), &Device::Cpu)?;
            let attended = with_slice(&layer.attention_out.product(&context)?, |out| {
                with_slice(&x, |residual| layer.attention_norm.bias_residual(out, &layer.attention_out.bias, residual))
            })??;
            let attended = Tensor::from_vec(attended, (rows, hidden), &Device::Cpu)?;
            let intermediate = with_slice(&layer.intermediate.product(&attended)?, |out| {
                kernels::bias_activation(out, &layer.intermediate.bias, self.activation)
            })?;
            let intermediate = Tensor::from_vec(intermediate, (rows, layer.intermediate.bias.len()), &Device::Cpu)?;
            let output = with_slice(&layer.output.product(&intermediate)?, |out| {
                with_slice(&attended, |residual| layer.output_norm.bias_residual(out, &layer.output.bias, residual))
            })??;
            x = Tensor::from_vec(output, (rows, hidden), &Device::Cpu)?;
        }
        x.flatten_all()?.to_vec1()
    }

    /// The input rows: word + token type + position embeddings of every token.
    fn embed(
        &self,
        sequences: &[Sequence<'_>],
        rows: usize,
        word: &[f32],
        token_type: &[f32],
        position: &[f32],
    ) -> candle_core::Result<Vec<f32>> {
        let hidden = self.hidden();
        let mut x = Vec::with_capacity(rows * hidden);
        for sequence in sequences {
            if sequence.ids.len() > self.max_positions {
                candle_core::bail!("{} tokens exceed the model's {} positions", sequence.ids.len(), self.max_positions);
            }
            for (index, (&id, &type_id)) in sequence.ids.iter().zip(sequence.type_ids).enumerate() {
                let word = row(word, id as usize, hidden, "token id")?;
                let token_type = row(token_type, type_id as usize, hidden, "token type id")?;
                let position = row(position, index, hidden, "position")?;
                x.extend(word.iter().zip(token_type).zip(position).map(|((w, t), p)| w + t + p));
            }
        }
        Ok(x)
    }
}

fn row<'a>(table: &'a [f32], index: usize, width: usize, what: &str) -> candle_core::Result<&'a [f32]> {
    table
        .get(index * width..(index + 1) * width)
        .ok_or_else(|| candle_core::Error::Msg(format!("{what} {index} is outside the model's embedding table")))
}

/// A contiguous f32 CPU tensor's data, borrowed without a copy.
struct Borrowed<Guard> {
    storage: Guard,
    range: std::ops::Range<usize>,
}

fn borrow(tensor: &Tensor) -> candle_core::Result<Borrowed<impl std::ops::Deref<Target = candle_core::Storage> + '_>> {
    if tensor.dtype() != DType::F32 {
        candle_core::bail!("expected f32, found {:?}", tensor.dtype());
    }
    let (storage, layout) = tensor.storage_and_layout();
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("expected a contiguous tensor");
    };
    Ok(Borrowed { storage, range: start..end })
}

impl<Guard: std::ops::Deref<Target = candle_core::Storage>> Borrowed<Guard> {
    fn slice(&self) -> candle_core::Result<&[f32]> {
        let candle_core::Storage::Cpu(storage) = &*self.storage else {
            candle_core::bail!("the packed encoder runs on the CPU only");
        };
        Ok(&storage.as_slice::<f32>()?[self.range.clone()])
    }
}

/// Runs `f` over a contiguous f32 CPU tensor's data, without copying it.
fn with_slice<R>(tensor: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    Ok(f(borrow(tensor)?.slice()?))
}
