//! The BERT encoder of all-MiniLM-L6-v2, inference only, written for CPU throughput.
//!
//! Same arithmetic as Hugging Face's `BertModel` (and candle-transformers' port of it), arranged
//! differently: the query, key and value projections are one matrix product; the query weights
//! are pre-scaled by 1/√head_dim; bias, activation, residual and LayerNorm are fused into one pass
//! after each product ([`super::kernels`]); attention skips padding by length instead of adding a
//! mask. Matrix products use weights packed once at load ([`super::matmul`]): an AVX-512 kernel, or
//! candle's matmul on a CPU without AVX-512.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use pulp::Arch;
use rayon::prelude::*;
use serde::Deserialize;

use super::kernels::{self, AttentionShape};
use super::matmul::Linear;

/// The fields of a Hugging Face BERT `config.json` this encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
}

/// How exactly a text is embedded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Precision {
    /// Stored vectors: within cosine 0.999 of sentence-transformers' (one product in 8 bits).
    Document,
    /// A search query: every product in 8 bits, about three times cheaper; its cosine to the
    /// document-precision vector is about 0.997, which moves no paper in or out of the nearest
    /// hundred that fusion reads (README, "Search, evaluated").
    Query,
}

struct Layer {
    /// `hidden × 3·hidden`: `[query/√d | key | value]`, laid out for `x · w`.
    qkv_w: Linear,
    /// The same three products in 8 bits, for [`Precision::Query`] (as `out_8` and `ff2_8`).
    qkv_8: Linear,
    out_8: Linear,
    ff2_8: Linear,
    qkv_b: Vec<f32>,
    out_w: Linear,
    out_b: Vec<f32>,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    ff1_w: Linear,
    ff1_b: Vec<f32>,
    ff2_w: Linear,
    ff2_b: Vec<f32>,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

pub(super) struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    /// Token type 0's embedding: every text is a single segment.
    token_type0: Vec<f32>,
    emb_ln_g: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    vocab: usize,
    max_positions: usize,
    eps: f32,
    arch: Arch,
}

/// Reads named tensors out of a safetensors map, checking shapes. Errors are plain reasons; the
/// caller names the file.
struct Weights {
    tensors: HashMap<String, Tensor>,
    prefix: &'static str,
}

impl Weights {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, String> {
        let full = format!("{}{name}", self.prefix);
        let t = self
            .tensors
            .get(&full)
            .ok_or_else(|| format!("tensor {full} is missing"))?;
        if t.dims() != shape {
            return Err(format!(
                "tensor {full} has shape {:?}, config.json implies {shape:?}",
                t.dims()
            ));
        }
        t.to_dtype(DType::F32)
            .map_err(|e| format!("tensor {full}: {e}"))
    }

    fn vec(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        self.get(name, shape)?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("tensor {name}: {e}"))
    }

    /// A PyTorch `Linear` weight (`out × in`) as the `in × out` matrix `x · w` wants.
    fn linear(&self, name: &str, out: usize, inp: usize) -> Result<Linear, String> {
        let w = self.get(name, &[out, inp])?;
        transposed(&w, inp, out, Linear::new).map_err(|e| format!("tensor {name}: {e}"))
    }

    /// As [`Weights::linear`], quantised to 8 bits where the CPU multiplies those faster.
    fn linear_int8(&self, name: &str, out: usize, inp: usize) -> Result<Linear, String> {
        let w = self.get(name, &[out, inp])?;
        transposed(&w, inp, out, Linear::new_int8).map_err(|e| format!("tensor {name}: {e}"))
    }
}

/// `w` (`out × in`) as the packed `in × out` matrix of `x · w`.
fn transposed(
    w: &Tensor,
    inp: usize,
    out: usize,
    pack: fn(&[f32], usize, usize) -> candle_core::Result<Linear>,
) -> candle_core::Result<Linear> {
    let t = w.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
    pack(&t, inp, out)
}

impl Bert {
    /// Builds the encoder from the tensors of `model.safetensors`. `Err` is a reason.
    pub(super) fn new(config: &Config, tensors: HashMap<String, Tensor>) -> Result<Bert, String> {
        if config.hidden_act != "gelu" {
            return Err(format!(
                "hidden_act {:?} is not supported (only gelu)",
                config.hidden_act
            ));
        }
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !h.is_multiple_of(heads) {
            return Err(format!(
                "hidden_size {h} is not a multiple of {heads} heads"
            ));
        }
        if config.type_vocab_size == 0 {
            return Err("type_vocab_size is 0".to_owned());
        }
        // Checkpoints saved from BertForX carry a "bert." prefix; plain BertModel ones do not.
        let prefix = if tensors.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let w = Weights { tensors, prefix };
        let inter = config.intermediate_size;
        let scale = 1.0 / ((h / heads) as f64).sqrt();

        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}.");
            let a = format!("{p}attention.self.");
            let q = w.get(&format!("{a}query.weight"), &[h, h])?;
            let q = q.affine(scale, 0.0).map_err(|e| e.to_string())?;
            let k = w.get(&format!("{a}key.weight"), &[h, h])?;
            let v = w.get(&format!("{a}value.weight"), &[h, h])?;
            let qkv = Tensor::cat(&[q, k, v], 0).map_err(|e| e.to_string())?;
            let qkv_w = transposed(&qkv, h, 3 * h, Linear::new).map_err(|e| e.to_string())?;
            let qkv_8 = transposed(&qkv, h, 3 * h, Linear::new_int8).map_err(|e| e.to_string())?;
            let mut qkv_b = w.vec(&format!("{a}query.bias"), &[h])?;
            qkv_b.iter_mut().for_each(|b| *b *= scale as f32);
            qkv_b.extend(w.vec(&format!("{a}key.bias"), &[h])?);
            qkv_b.extend(w.vec(&format!("{a}value.bias"), &[h])?);
            let o = format!("{p}attention.output.");
            layers.push(Layer {
                qkv_w,
                qkv_8,
                out_8: w.linear_int8(&format!("{o}dense.weight"), h, h)?,
                ff2_8: w.linear_int8(&format!("{p}output.dense.weight"), h, inter)?,
                qkv_b,
                out_w: w.linear(&format!("{o}dense.weight"), h, h)?,
                out_b: w.vec(&format!("{o}dense.bias"), &[h])?,
                ln1_g: w.vec(&format!("{o}LayerNorm.weight"), &[h])?,
                ln1_b: w.vec(&format!("{o}LayerNorm.bias"), &[h])?,
                // The one product quantised: 8-bit products elsewhere (the attention's, and
                // the second feed-forward's, whose input the GELU leaves with outliers) cost
                // the vectors their cosine ≥ 0.999 to sentence-transformers' (measured in a
                // simulation over real abstracts: all four quantised, minimum 0.9988; this one
                // alone, 0.9998).
                ff1_w: w.linear_int8(&format!("{p}intermediate.dense.weight"), inter, h)?,
                ff1_b: w.vec(&format!("{p}intermediate.dense.bias"), &[inter])?,
                ff2_w: w.linear(&format!("{p}output.dense.weight"), h, inter)?,
                ff2_b: w.vec(&format!("{p}output.dense.bias"), &[h])?,
                ln2_g: w.vec(&format!("{p}output.LayerNorm.weight"), &[h])?,
                ln2_b: w.vec(&format!("{p}output.LayerNorm.bias"), &[h])?,
            });
        }
        let e = "embeddings.";
        let token_types = w.vec(
            &format!("{e}token_type_embeddings.weight"),
            &[config.type_vocab_size, h],
        )?;
        Ok(Bert {
            word: w.vec(
                &format!("{e}word_embeddings.weight"),
                &[config.vocab_size, h],
            )?,
            position: w.vec(
                &format!("{e}position_embeddings.weight"),
                &[config.max_position_embeddings, h],
            )?,
            token_type0: token_types[..h].to_vec(),
            emb_ln_g: w.vec(&format!("{e}LayerNorm.weight"), &[h])?,
            emb_ln_b: w.vec(&format!("{e}LayerNorm.bias"), &[h])?,
            layers,
            hidden: h,
            heads,
            vocab: config.vocab_size,
            max_positions: config.max_position_embeddings,
            eps: config.layer_norm_eps as f32,
            arch: Arch::new(),
        })
    }

    pub(super) fn hidden(&self) -> usize {
        self.hidden
    }

    pub(super) fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Mean-pooled, L2-normalised embeddings of a batch of token id sequences (each non-empty,
    /// at most `max_positions` long, ids below the vocabulary size: checked by the caller).
    pub(super) fn embed(
        &self,
        batch: &[&[u32]],
        precision: Precision,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let h = self.hidden;
        let lens: Vec<usize> = batch.iter().map(|ids| ids.len()).collect();
        let seq_len = lens.iter().copied().max().unwrap_or(0);
        let tokens = batch.len() * seq_len;
        if tokens == 0 {
            return Ok(vec![vec![0.0; h]; batch.len()]);
        }

        // Embeddings: word + position + token type 0, then LayerNorm. Padded rows stay zero.
        let mut x = vec![0.0f32; tokens * h];
        let embed_row = |(row, out): (usize, &mut [f32])| {
            let (b, pos) = (row / seq_len, row % seq_len);
            let Some(&id) = batch[b].get(pos) else {
                return;
            };
            kernels::vectorized(
                self.arch,
                EmbeddingRow {
                    out,
                    word: &self.word[id as usize * h..][..h],
                    position: &self.position[pos * h..][..h],
                    token_type: &self.token_type0,
                    gamma: &self.emb_ln_g,
                    beta: &self.emb_ln_b,
                    eps: self.eps,
                },
            );
        };
        if tokens <= kernels::SEQUENTIAL_ROWS {
            x.chunks_mut(h).enumerate().for_each(embed_row);
        } else {
            x.par_chunks_mut(h).enumerate().for_each(embed_row);
        }

        let shape = AttentionShape {
            lens: &lens,
            seq_len,
            heads: self.heads,
            head_dim: h / self.heads,
        };
        for layer in &self.layers {
            let (qkv_w, out_w, ff2_w) = match precision {
                Precision::Document => (&layer.qkv_w, &layer.out_w, &layer.ff2_w),
                Precision::Query => (&layer.qkv_8, &layer.out_8, &layer.ff2_8),
            };
            let qkv = qkv_w.forward(&x, tokens)?;
            let context = kernels::attention(self.arch, &qkv, &layer.qkv_b, &shape)?;
            let mut attended = out_w.forward(&context, tokens)?;
            self.residual_norm(&mut attended, &x, &layer.out_b, &layer.ln1_g, &layer.ln1_b);

            let mut inner = layer.ff1_w.forward(&attended, tokens)?;
            kernels::add_bias_gelu(self.arch, &mut inner, &layer.ff1_b);
            let mut out = ff2_w.forward(&inner, tokens)?;
            self.residual_norm(
                &mut out,
                &attended,
                &layer.ff2_b,
                &layer.ln2_g,
                &layer.ln2_b,
            );
            x = out;
        }

        // Mean over each sequence's real tokens, then unit length (sentence-transformers'
        // Pooling(mean) + Normalize, whose epsilons are 1e-9 and 1e-12).
        Ok(lens
            .iter()
            .enumerate()
            .map(|(b, &len)| {
                let mut v = vec![0.0f32; h];
                for row in x[b * seq_len * h..][..len * h].chunks_exact(h) {
                    v.iter_mut().zip(row).for_each(|(a, r)| *a += r);
                }
                let count = (len as f32).max(1e-9);
                v.iter_mut().for_each(|a| *a /= count);
                let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|a| *a /= norm);
                v
            })
            .collect())
    }

    pub(super) fn vocab(&self) -> usize {
        self.vocab
    }

    /// `x ← LayerNorm(x + bias + residual)` in place on a matmul output.
    fn residual_norm(
        &self,
        x: &mut [f32],
        residual: &[f32],
        bias: &[f32],
        gamma: &[f32],
        beta: &[f32],
    ) {
        kernels::add_bias_residual_layer_norm(self.arch, x, bias, residual, gamma, beta, self.eps)
    }
}

/// One token's input embedding: word + position + token type, then LayerNorm.
struct EmbeddingRow<'a> {
    out: &'a mut [f32],
    word: &'a [f32],
    position: &'a [f32],
    token_type: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
}

impl kernels::Kernel for EmbeddingRow<'_> {
    #[inline(always)]
    fn run(self) {
        let parts = self.word.iter().zip(self.position).zip(self.token_type);
        for (o, ((w, p), t)) in self.out.iter_mut().zip(parts) {
            *o = w + p + t;
        }
        kernels::layer_norm_row(self.out, self.gamma, self.beta, self.eps);
    }
}
