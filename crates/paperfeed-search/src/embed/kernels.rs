//! The element-wise parts of a BERT layer, fused so each pass over the activations does as much
//! as it can: bias + GELU, bias + residual + LayerNorm, and attention per sequence and head (its
//! two products through [`super::matmul`], the softmax between them here).
//!
//! Everything runs on rayon's pool (the one gemm uses) and inside [`pulp::Arch::dispatch`], which
//! compiles the closure for the best instruction set this CPU has (AVX-512 / AVX2+FMA / SSE) and
//! picks it at run time: the loops below are written so LLVM vectorises them, and `exp` / `erf`
//! are polynomial approximations (error ≈ 1e-7) because the libm calls do not vectorise.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use super::matmul::Linear;

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

/// Up to this many token rows (a search query, a short title), per-token work runs on the
/// calling thread: handing it to rayon's pool costs more than the work, and under load the pool
/// is busy with other requests' batches.
pub(super) const SEQUENTIAL_ROWS: usize = 64;

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
    let task = |(rows, residual): (&mut [f32], &[f32])| {
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
    };
    let chunk = h * ROWS_PER_TASK;
    if x.len() <= h * SEQUENTIAL_ROWS {
        x.chunks_mut(chunk)
            .zip(residual.chunks(chunk))
            .for_each(task);
    } else {
        x.par_chunks_mut(chunk)
            .zip(residual.par_chunks(chunk))
            .for_each(task);
    }
}

/// `x ← GELU(x + bias)` with the exact (erf) GELU BERT uses, rows of `bias.len()`.
pub(super) fn add_bias_gelu(arch: Arch, x: &mut [f32], bias: &[f32]) {
    let h = bias.len();
    let task = |rows: &mut [f32]| {
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
    };
    if x.len() <= h * SEQUENTIAL_ROWS {
        x.chunks_mut(h * ROWS_PER_TASK).for_each(task);
    } else {
        x.par_chunks_mut(h * ROWS_PER_TASK).for_each(task);
    }
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
/// (`tokens × hidden`). Each (sequence, head) is two matrix products over the sequence's real
/// length — scores `Q·Kᵀ`, then `softmax(scores)·V` — so padding is never looked at, and
/// padded rows are left zero (they are never pooled).
pub(super) fn attention(
    arch: Arch,
    qkv: &[f32],
    bias: &[f32],
    shape: &AttentionShape,
) -> candle_core::Result<Vec<f32>> {
    let AttentionShape {
        lens,
        seq_len,
        heads,
        head_dim,
    } = *shape;
    let hidden = heads * head_dim;
    let blocks: Vec<(usize, usize)> = (0..lens.len())
        .flat_map(|b| (0..heads).map(move |head| (b, head)))
        .collect();
    let one = |&(b, head): &(usize, usize)| -> candle_core::Result<Vec<f32>> {
        let len = lens[b];
        let (q_off, k_off, v_off) = (
            head * head_dim,
            hidden + head * head_dim,
            2 * hidden + head * head_dim,
        );
        let mut q = Vec::with_capacity(len * head_dim);
        let mut keys_t = vec![0.0f32; head_dim * len];
        let mut values = Vec::with_capacity(len * head_dim);
        for j in 0..len {
            let row = &qkv[(b * seq_len + j) * 3 * hidden..][..3 * hidden];
            let with_bias = |off: usize| {
                row[off..off + head_dim]
                    .iter()
                    .zip(&bias[off..off + head_dim])
                    .map(|(x, b)| x + b)
            };
            q.extend(with_bias(q_off));
            for (d, k) in with_bias(k_off).enumerate() {
                keys_t[d * len + j] = k;
            }
            values.extend(with_bias(v_off));
        }
        let mut scores = Linear::new(&keys_t, head_dim, len)?.forward(&q, len)?;
        for row in scores.chunks_exact_mut(len) {
            vectorized(arch, Softmax { row });
        }
        Linear::new(&values, len, head_dim)?.forward(&scores, len)
    };
    let contexts: Vec<Vec<f32>> = if lens.len() * seq_len <= SEQUENTIAL_ROWS {
        blocks.iter().map(one).collect::<candle_core::Result<_>>()?
    } else {
        blocks
            .par_iter()
            .map(one)
            .collect::<candle_core::Result<_>>()?
    };
    let mut context = vec![0.0f32; lens.len() * seq_len * hidden];
    for (&(b, head), block) in blocks.iter().zip(&contexts) {
        for (j, part) in block.chunks_exact(head_dim).enumerate() {
            context[(b * seq_len + j) * hidden + head * head_dim..][..head_dim]
                .copy_from_slice(part);
        }
    }
    Ok(context)
}

/// `row ← softmax(row)`.
struct Softmax<'a> {
    row: &'a mut [f32],
}

impl Kernel for Softmax<'_> {
    #[inline(always)]
    fn run(self) {
        let m = max(self.row);
        for s in self.row.iter_mut() {
            *s = exp(*s - m);
        }
        let inv = 1.0 / sum(self.row);
        for s in self.row.iter_mut() {
            *s *= inv;
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
