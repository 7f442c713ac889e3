//! The element-wise parts of a BERT layer, fused so each pass over the activations does as much
//! as it can: bias + GELU, bias + residual + LayerNorm, and attention (scores, masked softmax,
//! weighted sum) per sequence and head. Matrix products stay with candle's gemm.
//!
//! Everything runs on rayon's pool (the one gemm uses) and inside [`pulp::Arch::dispatch`], which
//! compiles the closure for the best instruction set this CPU has (AVX-512 / AVX2+FMA / SSE) and
//! picks it at run time: the loops below are written so LLVM vectorises them, and `exp` / `erf`
//! are polynomial approximations (error ≈ 1e-7) because the libm calls do not vectorise.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Runs `f` compiled for the best instruction set this CPU has.
///
/// pulp's own closure support goes through the closure's `FnOnce` shim, which LLVM does not
/// inline into the target-feature function, so the body would be compiled for plain SSE2 and
/// `mul_add` would become a libm call. A struct whose `with_simd` is `inline(always)` and calls
/// an `inline(always)` function avoids the shim.
#[inline(always)]
pub(super) fn vectorized<K: Kernel>(arch: Arch, kernel: K) {
    arch.dispatch(Run(kernel));
}

/// A loop body to run under [`vectorized`]; implementors mark `run` `#[inline(always)]`.
pub(super) trait Kernel {
    fn run(self);
}

struct Run<K>(K);

impl<K: Kernel> WithSimd for Run<K> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        self.0.run();
    }
}

/// Rows per rayon task for per-token work: enough to amortise scheduling (a row is ~400 floats).
const ROWS_PER_TASK: usize = 16;

/// `x ← LayerNorm(x + bias + residual) · gamma + beta`, row by row (rows of `gamma.len()`).
pub(super) fn add_bias_residual_layer_norm(
    arch: Arch,
    x: &mut [f32],
    bias: &[f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let h = gamma.len();
    x.par_chunks_mut(h * ROWS_PER_TASK)
        .zip(residual.par_chunks(h * ROWS_PER_TASK))
        .for_each(|(rows, residual)| {
            struct K<'a> {
                rows: &'a mut [f32],
                residual: &'a [f32],
                bias: &'a [f32],
                gamma: &'a [f32],
                beta: &'a [f32],
                eps: f32,
            }
            impl Kernel for K<'_> {
                #[inline(always)]
                fn run(self) {
                    let h = self.gamma.len();
                    for (row, res) in self
                        .rows
                        .chunks_exact_mut(h)
                        .zip(self.residual.chunks_exact(h))
                    {
                        for ((v, b), r) in row.iter_mut().zip(self.bias).zip(res) {
                            *v += b + r;
                        }
                        layer_norm_row(row, self.gamma, self.beta, self.eps);
                    }
                }
            }
            vectorized(
                arch,
                K {
                    rows,
                    residual,
                    bias,
                    gamma,
                    beta,
                    eps,
                },
            );
        });
}

/// `x ← GELU(x + bias)` with the exact (erf) GELU BERT uses, rows of `bias.len()`.
pub(super) fn add_bias_gelu(arch: Arch, x: &mut [f32], bias: &[f32]) {
    let h = bias.len();
    x.par_chunks_mut(h * ROWS_PER_TASK).for_each(|rows| {
        struct K<'a> {
            rows: &'a mut [f32],
            bias: &'a [f32],
        }
        impl Kernel for K<'_> {
            #[inline(always)]
            fn run(self) {
                for row in self.rows.chunks_exact_mut(self.bias.len()) {
                    for (v, b) in row.iter_mut().zip(self.bias) {
                        let y = *v + b;
                        *v = 0.5 * y * (1.0 + erf(y * std::f32::consts::FRAC_1_SQRT_2));
                    }
                }
            }
        }
        vectorized(arch, K { rows, bias });
    });
}

/// LayerNorm of one row in place (two passes: mean, then variance, as PyTorch does).
#[inline(always)]
pub(super) fn layer_norm_row(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut var = 0.0f32;
    for v in row.iter() {
        let d = v - mean;
        var = d.mul_add(d, var);
    }
    let inv = 1.0 / (var / n + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = ((*v - mean) * inv).mul_add(*g, *b);
    }
}

/// Sum with 16 independent lanes, so LLVM vectorises it (a plain fold is a serial chain).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = xs.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// Max, vectorisable like [`sum`].
#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 16];
    let chunks = xs.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = a.max(*v);
        }
    }
    rest.iter()
        .chain(acc.iter())
        .fold(f32::NEG_INFINITY, |m, v| m.max(*v))
}

/// `exp(x)` (Cephes' expf: range reduction by ln 2 and a degree-6 polynomial, relative error
/// below 2e-7), written without branches or calls so it vectorises.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let n = x.mul_add(std::f32::consts::LOG2_E, 0.5).floor();
    let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, x));
    let mut p = 1.987_569_1e-4f32;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let y = p.mul_add(r * r, r) + 1.0;
    // 2^n built from its exponent bits; n is in [-126, 127] after the clamp.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `erf(x)` (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7), branch-free.
#[inline(always)]
pub(super) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / 0.327_591_1f32.mul_add(a, 1.0);
    let mut p = 1.061_405_4f32;
    p = p.mul_add(t, -1.453_152_1);
    p = p.mul_add(t, 1.421_413_8);
    p = p.mul_add(t, -0.284_496_74);
    p = p.mul_add(t, 0.254_829_6);
    let y = 1.0 - p * t * exp(-a * a);
    y.copysign(x)
}

/// Shapes of one batch for [`attention`].
pub(super) struct AttentionShape<'a> {
    /// Real length of each sequence; sequence `b` occupies rows `b * seq_len ..`.
    pub lens: &'a [usize],
    /// Padded length of every sequence.
    pub seq_len: usize,
    pub heads: usize,
    pub head_dim: usize,
}

/// Multi-head self-attention of a padded batch. `qkv` holds, per token row, the query (already
/// scaled by 1/√head_dim), key and value projections without their bias, `[q | k | v]` each
/// `heads * head_dim` wide; `bias` is the matching `3 * hidden` bias. Returns the context rows
/// (`tokens × hidden`). Padding is masked by length: keys past a sequence's length are never
/// looked at, and padded query rows are left zero (they are never pooled).
pub(super) fn attention(arch: Arch, qkv: &[f32], bias: &[f32], shape: &AttentionShape) -> Vec<f32> {
    let AttentionShape {
        lens,
        seq_len,
        heads,
        head_dim,
    } = *shape;
    let hidden = heads * head_dim;
    let block = head_dim * seq_len;

    // Keys transposed (head_dim × len, so a query's scores are axpys over contiguous rows) and
    // values (len × head_dim), one block per (sequence, head), bias added here once.
    let mut keys_t = vec![0.0f32; lens.len() * heads * block];
    let mut values = vec![0.0f32; lens.len() * heads * block];
    keys_t
        .par_chunks_mut(block)
        .zip(values.par_chunks_mut(block))
        .enumerate()
        .for_each(|(i, (kt, v))| {
            let (b, head) = (i / heads, i % heads);
            let k_off = hidden + head * head_dim;
            let v_off = 2 * hidden + head * head_dim;
            for j in 0..lens[b] {
                let row = &qkv[(b * seq_len + j) * 3 * hidden..][..3 * hidden];
                for d in 0..head_dim {
                    kt[d * seq_len + j] = row[k_off + d] + bias[k_off + d];
                }
                for ((dst, src), bi) in v[j * head_dim..][..head_dim]
                    .iter_mut()
                    .zip(&row[v_off..v_off + head_dim])
                    .zip(&bias[v_off..v_off + head_dim])
                {
                    *dst = src + bi;
                }
            }
        });

    let mut context = vec![0.0f32; lens.len() * seq_len * hidden];
    context
        .par_chunks_mut(hidden)
        .enumerate()
        .with_min_len(4)
        .for_each_init(
            || vec![0.0f32; seq_len],
            |scores, (row_index, out)| {
                let (b, i) = (row_index / seq_len, row_index % seq_len);
                let len = lens[b];
                if i >= len {
                    return;
                }
                vectorized(
                    arch,
                    AttentionRow {
                        q: &qkv[row_index * 3 * hidden..][..hidden],
                        q_bias: &bias[..hidden],
                        keys_t: &keys_t[b * heads * block..][..heads * block],
                        values: &values[b * heads * block..][..heads * block],
                        scores: &mut scores[..len],
                        out,
                        seq_len,
                        head_dim,
                    },
                );
            },
        );
    context
}

/// One query row of one sequence, all heads: scores against the keys, softmax, weighted sum
/// of the values into `out`.
struct AttentionRow<'a> {
    q: &'a [f32],
    q_bias: &'a [f32],
    /// This sequence's transposed keys, one `head_dim × seq_len` block per head.
    keys_t: &'a [f32],
    /// This sequence's values, one `seq_len × head_dim` block per head.
    values: &'a [f32],
    /// Scratch, as long as the sequence.
    scores: &'a mut [f32],
    out: &'a mut [f32],
    seq_len: usize,
    head_dim: usize,
}

impl Kernel for AttentionRow<'_> {
    #[inline(always)]
    fn run(self) {
        let (dim, block) = (self.head_dim, self.head_dim * self.seq_len);
        let len = self.scores.len();
        let scores = self.scores;
        for (head, out) in self.out.chunks_exact_mut(dim).enumerate() {
            let kt = &self.keys_t[head * block..][..block];
            let v = &self.values[head * block..][..len * dim];
            scores.fill(0.0);
            let q = self.q[head * dim..][..dim].iter();
            for (d, (qd, bd)) in q.zip(&self.q_bias[head * dim..][..dim]).enumerate() {
                let qd = qd + bd;
                for (s, k) in scores.iter_mut().zip(&kt[d * self.seq_len..][..len]) {
                    *s = qd.mul_add(*k, *s);
                }
            }
            let m = max(scores);
            for s in scores.iter_mut() {
                *s = exp(*s - m);
            }
            let inv = 1.0 / sum(scores);
            for (p, vj) in scores.iter().zip(v.chunks_exact(dim)) {
                let p = p * inv;
                for (o, x) in out.iter_mut().zip(vj) {
                    *o = p.mul_add(*x, *o);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_float_precision() {
        let mut worst = 0.0f32;
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let rel = (exp(x) - x.exp()).abs() / x.exp();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
    }

    #[test]
    fn erf_matches_reference_values() {
        // erf values from a table (Abramowitz & Stegun table 7.1).
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
            (-1.0, -0.842_700_8),
            (6.0, 1.0),
        ] {
            assert!((erf(x) - want).abs() < 3e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn layer_norm_row_centres_and_scales() {
        let mut row = vec![1.0f32, 2.0, 3.0, 4.0];
        layer_norm_row(&mut row, &[1.0; 4], &[0.0; 4], 0.0);
        let mean: f32 = row.iter().sum::<f32>() / 4.0;
        let var: f32 = row.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{row:?}");
    }
}
