//! The element-wise and attention steps of the packed BERT encoder, on plain `f32` slices.
//!
//! Each step that follows a matrix product is fused into one pass over its output (bias and
//! activation; bias, residual and layer norm), and rows are shared out over rayon's pool, the
//! same threads candle's matrix products use. The loops are written so that the compiler can
//! vectorise them for the baseline x86-64 target: fixed-width lanes, no data-dependent
//! branches, an `erf` without `exp`, and no `mul_add` (without FMA in the target it is a
//! call to a software `fmaf`, one per element).

use rayon::prelude::*;

/// Lanes of the partial sums in [`dot`]: two SSE registers, or one AVX register.
const LANES: usize = 8;

/// Rows handed to a thread at a time in the row-wise kernels: large enough that rayon's
/// bookkeeping is negligible, small enough that two threads share a short batch.
const ROWS_PER_TASK: usize = 16;

/// The activation between a layer's two feed-forward products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x·Φ(x)` with the exact normal CDF (BERT's `gelu`).
    GeluErf,
    /// The tanh approximation of GELU (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
}

fn relu(x: f32) -> f32 {
    x.max(0.0)
}

/// The error function, as a rational approximation on [-4, 4] (outside it, erf is ±1 in
/// single precision). The coefficients are the ones XLA and Eigen use for `float`; the
/// absolute error against the exact function is below 1e-6 (see the tests), well inside what
/// float32 matrix products already round away.
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906e-4;
    p = p * x2 - 2.954_6e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_5e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

/// `activation(x + bias)` for every row of `x` (`x.len()` a multiple of `bias.len()`).
pub fn bias_activation(x: &[f32], bias: &[f32], activation: Activation) -> Vec<f32> {
    // One loop per activation, so that each inner loop is branch-free and vectorises.
    match activation {
        Activation::GeluErf => map_bias(x, bias, gelu_erf),
        Activation::GeluTanh => map_bias(x, bias, gelu_tanh),
        Activation::Relu => map_bias(x, bias, relu),
    }
}

fn map_bias(x: &[f32], bias: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    let width = bias.len();
    out.par_chunks_mut(width * ROWS_PER_TASK).zip(x.par_chunks(width * ROWS_PER_TASK)).for_each(|(out, x)| {
        for (out, x) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)) {
            for ((out, x), bias) in out.iter_mut().zip(x).zip(bias) {
                *out = f(x + bias);
            }
        }
    });
    out
}

/// The learned scale and shift of a layer norm, and its epsilon.
pub struct LayerNorm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub eps: f32,
}

impl LayerNorm {
    /// Normalises one row in place: `(x - mean) / sqrt(var + eps) * weight + bias`, with the
    /// biased variance, as torch's `LayerNorm` does.
    fn row(&self, row: &mut [f32]) {
        let width = row.len() as f32;
        let mean = lane_sum(row) / width;
        let mut squares = [0.0f32; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for chunk in chunks.by_ref() {
            for (square, value) in squares.iter_mut().zip(chunk) {
                let centred = value - mean;
                *square += centred * centred;
            }
        }
        let tail: f32 = chunks.remainder().iter().map(|value| (value - mean) * (value - mean)).sum();
        let variance = (squares.iter().sum::<f32>() + tail) / width;
        let scale = 1.0 / (variance + self.eps).sqrt();
        for ((value, weight), bias) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
            *value = (*value - mean) * scale * weight + bias;
        }
    }

    /// `layer_norm(x + bias + residual)` for every row (the end of each BERT sub-layer).
    pub fn bias_residual(&self, x: &[f32], bias: &[f32], residual: &[f32]) -> Vec<f32> {
        let width = bias.len();
        let mut out = vec![0.0; x.len()];
        out.par_chunks_mut(width * ROWS_PER_TASK)
            .zip(x.par_chunks(width * ROWS_PER_TASK).zip(residual.par_chunks(width * ROWS_PER_TASK)))
            .for_each(|(out, (x, residual))| {
                for ((out, x), residual) in
                    out.chunks_exact_mut(width).zip(x.chunks_exact(width)).zip(residual.chunks_exact(width))
                {
                    for (((out, x), residual), bias) in out.iter_mut().zip(x).zip(residual).zip(bias) {
                        *out = x + bias + residual;
                    }
                    self.row(out);
                }
            });
        out
    }

    /// Normalises every row of `x` (rows of `self.weight.len()`) in place.
    pub fn rows(&self, x: &mut [f32]) {
        let width = self.weight.len();
        x.par_chunks_mut(width * ROWS_PER_TASK)
            .for_each(|rows| rows.chunks_exact_mut(width).for_each(|row| self.row(row)));
    }
}

fn lane_sum(values: &[f32]) -> f32 {
    let mut sums = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in chunks.by_ref() {
        for (sum, value) in sums.iter_mut().zip(chunk) {
            *sum += value;
        }
    }
    sums.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; LANES];
    let mut a_chunks = a.chunks_exact(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (a, b) in a_chunks.by_ref().zip(b_chunks.by_ref()) {
        for ((sum, a), b) in sums.iter_mut().zip(a).zip(b) {
            *sum += a * b;
        }
    }
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(a, b)| a * b).sum();
    sums.iter().sum::<f32>() + tail
}

/// The shape of multi-head self-attention over packed sequences.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub count: usize,
    pub size: usize,
}

impl Heads {
    pub fn hidden(self) -> usize {
        self.count * self.size
    }
}

/// Bidirectional multi-head attention within each sequence of a packed batch.
///
/// `qkv` holds one row per token, `[query | key | value]` (each `heads.hidden()` wide, before
/// `bias` is added); `lengths` are the sequences' token counts, in order, and sum to the rows.
/// Returns the context rows, `heads.hidden()` wide. No token attends across a sequence
/// boundary, so no mask and no padding are needed.
pub fn attention(qkv: &[f32], bias: &[f32], lengths: &[usize], heads: Heads) -> Vec<f32> {
    let hidden = heads.hidden();
    let mut out = vec![0.0; qkv.len() / 3];
    // One task per sequence, each owning its own rows of the output.
    let mut tasks = Vec::with_capacity(lengths.len());
    let mut rest = out.as_mut_slice();
    let mut first_row = 0;
    for &length in lengths {
        let (mine, others) = rest.split_at_mut(length * hidden);
        tasks.push((first_row, length, mine));
        rest = others;
        first_row += length;
    }
    tasks.into_par_iter().for_each(|(first_row, length, out)| {
        let rows = &qkv[first_row * 3 * hidden..(first_row + length) * 3 * hidden];
        sequence_attention(rows, bias, length, heads, out);
    });
    out
}

fn sequence_attention(rows: &[f32], bias: &[f32], length: usize, heads: Heads, out: &mut [f32]) {
    let (hidden, size) = (heads.hidden(), heads.size);
    let scale = 1.0 / (size as f32).sqrt();
    // One head's queries, keys and values, gathered contiguously with the bias added.
    let mut query = vec![0.0f32; length * size];
    let mut key = vec![0.0f32; length * size];
    let mut value = vec![0.0f32; length * size];
    let mut scores = vec![0.0f32; length];
    let mut context = vec![0.0f32; size];
    for head in 0..heads.count {
        for (token, row) in rows.chunks_exact(3 * hidden).enumerate() {
            for (part, target, factor) in [(0, &mut query, scale), (1, &mut key, 1.0), (2, &mut value, 1.0)] {
                let start = part * hidden + head * size;
                let target = &mut target[token * size..(token + 1) * size];
                for ((target, x), bias) in
                    target.iter_mut().zip(&row[start..start + size]).zip(&bias[start..start + size])
                {
                    *target = (x + bias) * factor;
                }
            }
        }
        for (token, query) in query.chunks_exact(size).enumerate() {
            let mut max = f32::NEG_INFINITY;
            for (score, key) in scores.iter_mut().zip(key.chunks_exact(size)) {
                *score = dot(query, key);
                max = max.max(*score);
            }
            let mut total = 0.0;
            for score in scores.iter_mut() {
                *score = (*score - max).exp();
                total += *score;
            }
            context.fill(0.0);
            for (weight, value) in scores.iter().zip(value.chunks_exact(size)) {
                for (context, value) in context.iter_mut().zip(value) {
                    *context += weight * value;
                }
            }
            let target = &mut out[token * hidden + head * size..token * hidden + (head + 1) * size];
            for (target, context) in target.iter_mut().zip(&context) {
                *target = context / total;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// erf by its Maclaurin series in f64 (for |x| ≤ 4 the largest term is below 1e6, so f64
    /// cancellation costs under 1e-9).
    fn erf_reference(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_within_a_millionth_of_the_exact_function() {
        let mut worst = 0.0f64;
        for step in -6000..=6000 {
            let x = step as f64 / 1000.0;
            // Beyond 4, 1 - erf(x) < 2e-8.
            let want = if x.abs() > 4.0 { x.signum() } else { erf_reference(x) };
            worst = worst.max((f64::from(erf(x as f32)) - want).abs());
        }
        assert!(worst < 1e-6, "worst absolute error {worst}");
        assert_eq!(erf(0.0), 0.0);
        assert!((erf(10.0) - 1.0).abs() < 1e-6 && (erf(-10.0) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn layer_norm_matches_the_definition() {
        let norm =
            LayerNorm { weight: vec![1.0, 2.0, 0.5, 1.0, 1.0], bias: vec![0.0, 1.0, 0.0, 0.0, -1.0], eps: 1e-12 };
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, -1.0, 0.0, 1.0, 0.0, 0.0];
        let out = norm.bias_residual(&x, &[0.0; 5], &[0.0; 10]);
        for (row, got) in x.chunks(5).zip(out.chunks(5)) {
            let mean = row.iter().sum::<f32>() / 5.0;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 5.0;
            for (index, value) in row.iter().enumerate() {
                let want = (value - mean) / var.sqrt() * norm.weight[index] + norm.bias[index];
                assert!((got[index] - want).abs() < 1e-5, "{got:?}");
            }
        }
    }

    /// Attention over a packed pair of sequences equals attention over each alone, computed
    /// the textbook way.
    #[test]
    fn packed_attention_keeps_sequences_apart() {
        let heads = Heads { count: 2, size: 3 };
        let hidden = heads.hidden();
        let lengths = [2usize, 3];
        let rows: usize = lengths.iter().sum();
        let qkv: Vec<f32> = (0..rows * 3 * hidden).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
        let bias: Vec<f32> = (0..3 * hidden).map(|i| i as f32 / 20.0).collect();
        let got = attention(&qkv, &bias, &lengths, heads);
        let mut first = 0;
        for length in lengths {
            for head in 0..heads.count {
                let part = |token: usize, which: usize, dim: usize| {
                    let column = which * hidden + head * heads.size + dim;
                    qkv[(first + token) * 3 * hidden + column] + bias[column]
                };
                for query in 0..length {
                    let scores: Vec<f32> = (0..length)
                        .map(|key| {
                            (0..heads.size).map(|d| part(query, 0, d) * part(key, 1, d)).sum::<f32>() / 3f32.sqrt()
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let weights: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f32 = weights.iter().sum();
                    for d in 0..heads.size {
                        let want: f32 = (0..length).map(|key| weights[key] / total * part(key, 2, d)).sum();
                        let at = (first + query) * hidden + head * heads.size + d;
                        assert!(
                            (got[at] - want).abs() < 1e-5,
                            "token {} head {head} dim {d}: {} vs {want}",
                            first + query,
                            got[at]
                        );
                    }
                }
            }
            first += length;
        }
    }
}
