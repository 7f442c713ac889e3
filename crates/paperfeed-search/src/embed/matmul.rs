//! The encoder's matrix products `x · w`, with each weight matrix packed once when the model is
//! loaded, in the order the AVX-512 kernel reads it.
//!
//! A general GEMM (candle's, the `gemm` crate) packs the right-hand matrix again on every call.
//! For a batch of a thousand tokens that is cheap next to the product, but a search query is a
//! dozen tokens: packing 1.7 MB of weights then costs many times the arithmetic, and the
//! product is spread over threads that are busy with other requests. Here the weights are
//! packed at load into panels of [`NR`] columns, so a product only streams them, and a product
//! of a few rows runs on the calling thread.
//!
//! The kernel needs AVX-512F; on a CPU without it every product goes to candle, unchanged.
#![expect(
    unsafe_code,
    reason = "AVX-512 intrinsics: raw loads and stores within slices whose bounds each \
              `SAFETY` comment states, run only after the CPU feature was detected"
)]

use candle_core::{Device, Tensor};
use rayon::prelude::*;

/// Columns per packed panel: two 16-float AVX-512 registers.
const NR: usize = 32;
/// Rows per kernel call: with [`NR`] that is 16 accumulator registers of the 32.
const MR: usize = 8;
/// Depth of one pass over a panel: a 128 × 32 block of weights is 16 KB, kept in L1 beside
/// the rows it meets.
const KC: usize = 128;
/// Rows per rayon task; products of fewer rows stay on the calling thread.
const ROWS_PER_TASK: usize = 64;

/// A weight matrix `w` (`k × n`, for `x · w`) ready for products.
pub(super) enum Linear {
    /// Panels of [`NR`] columns, each `k × NR` row-major, the last padded with zeros.
    Packed {
        panels: Vec<f32>,
        k: usize,
        n: usize,
    },
    /// Quantised to 8 bits for AVX-512 VNNI (see [`Int8Weights`]).
    Int8(Int8Weights),
    /// No AVX-512 here: candle's matmul.
    Candle(Tensor),
}

impl Linear {
    /// Packs `w` (`k × n`, row-major) for this CPU.
    pub(super) fn new(w: &[f32], k: usize, n: usize) -> candle_core::Result<Linear> {
        assert_eq!(w.len(), k * n, "weights are k × n");
        if !avx512() {
            return Ok(Linear::Candle(Tensor::from_slice(w, (k, n), &Device::Cpu)?));
        }
        Ok(Linear::Packed {
            panels: pack(w, k, n),
            k,
            n,
        })
    }

    /// Packs `w` (`k × n`, row-major) quantised to 8 bits when this CPU has AVX-512 VNNI
    /// (else as [`Linear::new`]). Products then cost about a third of the float ones, at an
    /// error that the encoder only tolerates in some layers (see `Bert::new`).
    pub(super) fn new_int8(w: &[f32], k: usize, n: usize) -> candle_core::Result<Linear> {
        if !(avx512() && vnni()) {
            return Linear::new(w, k, n);
        }
        Ok(Linear::Int8(pack_int8(w, k, n)))
    }

    /// `x · w` for `x` of `rows × k`, as `rows × n`.
    pub(super) fn forward(&self, x: &[f32], rows: usize) -> candle_core::Result<Vec<f32>> {
        match self {
            Linear::Packed { panels, k, n } => Ok(by_row_tasks(x, rows, *k, *n, |x, out| {
                // SAFETY: `Packed` is only built when the CPU has AVX-512F.
                unsafe { product(panels, *k, *n, x, out) }
            })),
            Linear::Int8(weights) => Ok(by_row_tasks(x, rows, weights.k, weights.n, |x, out| {
                // SAFETY: `Int8` is only built when the CPU has AVX-512F and VNNI.
                unsafe { product_int8(weights, x, out) }
            })),
            Linear::Candle(w) => {
                let x = Tensor::from_slice(x, (rows, w.dims()[0]), &Device::Cpu)?;
                x.matmul(w)?.flatten_all()?.to_vec1::<f32>()
            }
        }
    }
}

/// `rows × n` from `product(x rows, out rows)` over blocks of [`ROWS_PER_TASK`] rows: on rayon's
/// pool for a batch, on the calling thread for a product of fewer rows (a search query).
fn by_row_tasks(
    x: &[f32],
    rows: usize,
    k: usize,
    n: usize,
    product: impl Fn(&[f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    assert_eq!(x.len(), rows * k, "x is rows × k");
    let mut out = vec![0.0f32; rows * n];
    if rows <= ROWS_PER_TASK {
        product(x, &mut out);
    } else {
        out.par_chunks_mut(ROWS_PER_TASK * n)
            .zip(x.par_chunks(ROWS_PER_TASK * k))
            .for_each(|(out, x)| product(x, out));
    }
    out
}

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `w` (`k × n`) quantised per column and packed as [`Int8Weights`] describes.
fn pack_int8(w: &[f32], k: usize, n: usize) -> Int8Weights {
    let panels = n.div_ceil(NR);
    let groups = k.div_ceil(4);
    let mut scales = vec![0.0f32; n];
    for (j, scale) in scales.iter_mut().enumerate() {
        let max = (0..k).map(|i| w[i * n + j].abs()).fold(0.0f32, f32::max);
        *scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    }
    let mut packed = vec![0i8; panels * groups * NR * 4];
    let mut sums = vec![0i32; panels * NR];
    for i in 0..k {
        for j in 0..n {
            let q = (w[i * n + j] / scales[j]).round().clamp(-127.0, 127.0) as i8;
            let (p, c) = (j / NR, j % NR);
            packed[((p * groups + i / 4) * NR + c) * 4 + i % 4] = q;
            sums[j] += i32::from(q);
        }
    }
    Int8Weights {
        panels: packed,
        scales,
        sums,
        k,
        n,
    }
}

/// A weight matrix quantised per output column (`w ≈ q · scale`); activations are quantised
/// per row when multiplied ([`quantize_rows`]).
pub(super) struct Int8Weights {
    /// Panels of [`NR`] columns, each `k/4` groups of `NR × 4` bytes (four consecutive depths
    /// of one column side by side, as `vpdpbusd` reads them); `k` padded to a multiple of 4
    /// with zeros.
    panels: Vec<i8>,
    /// Per column: the float a quantum of the column stands for.
    scales: Vec<f32>,
    /// Per column (padded to whole panels): the sum of its quantised weights, to take the
    /// activations' zero point back out.
    sums: Vec<i32>,
    k: usize,
    n: usize,
}

/// Rows of `x` (`rows × k`) quantised to unsigned bytes, each on its own range: a row's
/// floats are `(q - zero) · scale`. Returns the bytes (`rows × k` padded to a multiple of 4
/// with zeros, which meet zero weights), and each row's scale and zero point.
fn quantize_rows(x: &[f32], k: usize) -> (Vec<u8>, Vec<f32>, Vec<i32>) {
    let rows = x.len() / k;
    let kp = k.div_ceil(4) * 4;
    let mut q = vec![0u8; rows * kp];
    let mut scales = Vec::with_capacity(rows);
    let mut zeros = Vec::with_capacity(rows);
    for (row, out) in x.chunks_exact(k).zip(q.chunks_exact_mut(kp)) {
        let (lo, hi) = row
            .iter()
            .fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        // The range includes 0, so the zero point is a whole quantum within [0, 255].
        let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let zero = (-lo / scale).round().clamp(0.0, 255.0);
        let inv = 1.0 / scale;
        for (o, v) in out.iter_mut().zip(row) {
            *o = v.mul_add(inv, zero).round().clamp(0.0, 255.0) as u8;
        }
        scales.push(scale);
        zeros.push(zero as i32);
    }
    (q, scales, zeros)
}

/// `out ← x · w` for the rows of `x` with 8-bit products (see [`Int8Weights`]).
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512 VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn product_int8(w: &Int8Weights, x: &[f32], out: &mut [f32]) {
    let (k, n) = (w.k, w.n);
    let rows = x.len() / k;
    let kp = k.div_ceil(4) * 4;
    let (q, row_scales, zeros) = quantize_rows(x, k);
    let panel_bytes = kp * NR;
    for (p, panel) in w.panels.chunks_exact(panel_bytes).enumerate() {
        let cols = (n - p * NR).min(NR);
        let mut row = 0;
        while row < rows {
            let r = (rows - row).min(MR);
            let tile = Int8Tile {
                q: &q[row * kp..],
                kp,
                b: panel,
                row_scales: &row_scales[row..],
                zeros: &zeros[row..],
                col_scales: &w.scales[p * NR..][..cols],
                sums: &w.sums[p * NR..][..NR],
                out: &mut out[row * n + p * NR..],
                ldo: n,
            };
            // SAFETY: the caller guarantees AVX-512F and VNNI.
            unsafe { run_rows(tile, r) };
            row += r;
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn product_int8(_: &Int8Weights, _: &[f32], _: &mut [f32]) {
    unreachable!("Linear::Int8 is only built on x86_64 with AVX-512 VNNI")
}

/// Up to [`MR`] quantised rows times one 8-bit panel, into up to [`NR`] float columns.
#[cfg(target_arch = "x86_64")]
struct Int8Tile<'a> {
    q: &'a [u8],
    kp: usize,
    b: &'a [i8],
    row_scales: &'a [f32],
    zeros: &'a [i32],
    /// The real columns' scales (`cols` of them).
    col_scales: &'a [f32],
    sums: &'a [i32],
    out: &'a mut [f32],
    ldo: usize,
}

#[cfg(target_arch = "x86_64")]
impl RowTile for Int8Tile<'_> {
    /// # Safety
    /// The CPU must have AVX-512F and VNNI; `q` holds `R` rows of `kp` bytes, `b` is one panel
    /// (`kp × NR` bytes), the row slices have `R` entries, `sums` has `NR`, and `out` holds `R`
    /// rows of `ldo` with at least `col_scales.len()` each.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn run<const R: usize>(self) {
        use std::arch::x86_64::*;
        let q = self.q.as_ptr();
        let b = self.b.as_ptr();
        let mut acc = [[_mm512_setzero_si512(); 2]; R];
        for g in 0..self.kp / 4 {
            // SAFETY: group `g < kp/4`: 4 bytes of each of the R rows, 2 × 64 bytes of the panel.
            unsafe {
                let b0 = _mm512_loadu_si512(b.add(g * NR * 4).cast());
                let b1 = _mm512_loadu_si512(b.add(g * NR * 4 + 64).cast());
                for (r, acc) in acc.iter_mut().enumerate() {
                    let a = _mm512_set1_epi32(
                        q.add(r * self.kp + g * 4).cast::<i32>().read_unaligned(),
                    );
                    acc[0] = _mm512_dpbusd_epi32(acc[0], a, b0);
                    acc[1] = _mm512_dpbusd_epi32(acc[1], a, b1);
                }
            }
        }
        let cols = self.col_scales.len();
        let lo = column_mask(cols.min(16));
        let hi = column_mask(cols.saturating_sub(16));
        // SAFETY: masked loads read only the real columns; `sums` has NR entries.
        let (scale0, scale1, sums0, sums1) = unsafe {
            let s = self.col_scales.as_ptr();
            (
                _mm512_maskz_loadu_ps(lo, s),
                _mm512_maskz_loadu_ps(hi, s.add(16.min(cols))),
                _mm512_loadu_si512(self.sums.as_ptr().cast()),
                _mm512_loadu_si512(self.sums.as_ptr().add(16).cast()),
            )
        };
        for (r, acc) in acc.iter().enumerate() {
            let zero = _mm512_set1_epi32(self.zeros[r]);
            let scale = _mm512_set1_ps(self.row_scales[r]);
            let v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[0], _mm512_mullo_epi32(zero, sums0)));
            let v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[1], _mm512_mullo_epi32(zero, sums1)));
            // SAFETY: row `r < R` of `out` has at least `cols` floats; masked lanes are not
            // touched.
            unsafe {
                let o = self.out.as_mut_ptr().add(r * self.ldo);
                _mm512_mask_storeu_ps(o, lo, _mm512_mul_ps(v0, _mm512_mul_ps(scale, scale0)));
                _mm512_mask_storeu_ps(
                    o.add(16),
                    hi,
                    _mm512_mul_ps(v1, _mm512_mul_ps(scale, scale1)),
                );
            }
        }
    }
}

/// `w` (`k × n`) as panels of [`NR`] columns, each `k × NR`, the last padded with zeros.
fn pack(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    let panels = n.div_ceil(NR);
    let mut packed = vec![0.0f32; panels * k * NR];
    for (p, panel) in packed.chunks_exact_mut(k * NR).enumerate() {
        let cols = (n - p * NR).min(NR);
        for (row, dst) in panel.chunks_exact_mut(NR).enumerate() {
            dst[..cols].copy_from_slice(&w[row * n + p * NR..][..cols]);
        }
    }
    packed
}

/// `out ← x · w` for the rows of `x` (`rows × k`), `out` being `rows × n`.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn product(panels: &[f32], k: usize, n: usize, x: &[f32], out: &mut [f32]) {
    let rows = x.len() / k;
    let mut depth = 0;
    while depth < k {
        let kc = (k - depth).min(KC);
        for (p, panel) in panels.chunks_exact(k * NR).enumerate() {
            let cols = (n - p * NR).min(NR);
            let b = &panel[depth * NR..][..kc * NR];
            let mut row = 0;
            while row < rows {
                let r = (rows - row).min(MR);
                let tile = Tile {
                    x: &x[row * k + depth..],
                    ldx: k,
                    b,
                    kc,
                    accumulate: depth > 0,
                    out: &mut out[row * n + p * NR..],
                    ldo: n,
                    cols,
                };
                // SAFETY: the caller guarantees AVX-512F.
                unsafe { run_rows(tile, r) };
                row += r;
            }
        }
        depth += kc;
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn product(_: &[f32], _: usize, _: usize, _: &[f32], _: &mut [f32]) {
    unreachable!("Linear::Packed is only built on x86_64 with AVX-512F")
}

/// One block of the product: up to [`MR`] rows of `x` times `kc` rows of one panel, into up to
/// [`NR`] columns of `out` (added to them when `accumulate`).
#[cfg(target_arch = "x86_64")]
struct Tile<'a> {
    x: &'a [f32],
    ldx: usize,
    b: &'a [f32],
    kc: usize,
    accumulate: bool,
    out: &'a mut [f32],
    ldo: usize,
    cols: usize,
}

#[cfg(target_arch = "x86_64")]
impl RowTile for Tile<'_> {
    /// # Safety
    /// The CPU must have AVX-512F; `x` holds `R` rows of `ldx` from its start with at least `kc`
    /// each, `b` is `kc × NR`, and `out` holds `R` rows of `ldo` with at least `cols` each.
    #[target_feature(enable = "avx512f")]
    unsafe fn run<const R: usize>(self) {
        use std::arch::x86_64::*;
        let x = self.x.as_ptr();
        let b = self.b.as_ptr();
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for kk in 0..self.kc {
            // SAFETY: `kk < kc`, and `b` is `kc × NR`; row `r < R` of `x` has `kc` floats.
            unsafe {
                let b0 = _mm512_loadu_ps(b.add(kk * NR));
                let b1 = _mm512_loadu_ps(b.add(kk * NR + 16));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let a = _mm512_set1_ps(*x.add(r * self.ldx + kk));
                    acc[0] = _mm512_fmadd_ps(a, b0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(a, b1, acc[1]);
                }
            }
        }
        // Columns past `cols` (the padding of the last panel) are neither read nor written.
        let lo = column_mask(self.cols.min(16));
        let hi = column_mask(self.cols.saturating_sub(16));
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: row `r < R` of `out` has at least `cols` floats; masked lanes are not
            // touched.
            unsafe {
                let o = self.out.as_mut_ptr().add(r * self.ldo);
                let (mut v0, mut v1) = (acc[0], acc[1]);
                if self.accumulate {
                    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(lo, o));
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(hi, o.add(16)));
                }
                _mm512_mask_storeu_ps(o, lo, v0);
                _mm512_mask_storeu_ps(o.add(16), hi, v1);
            }
        }
    }
}

/// A block of a product over up to [`MR`] rows, compiled once per row count so that its
/// accumulators are registers.
#[cfg(target_arch = "x86_64")]
trait RowTile {
    /// # Safety
    /// As each implementor states: the CPU features it is compiled for, and its slices'
    /// extents for `R` rows.
    unsafe fn run<const R: usize>(self);
}

/// Runs `tile` over its `rows` (1 to [`MR`]).
///
/// # Safety
/// As [`RowTile::run`] for `tile`.
#[cfg(target_arch = "x86_64")]
unsafe fn run_rows(tile: impl RowTile, rows: usize) {
    // SAFETY: passed on to the caller.
    unsafe {
        match rows {
            8 => tile.run::<8>(),
            7 => tile.run::<7>(),
            6 => tile.run::<6>(),
            5 => tile.run::<5>(),
            4 => tile.run::<4>(),
            3 => tile.run::<3>(),
            2 => tile.run::<2>(),
            _ => tile.run::<1>(),
        }
    }
}

/// The lane mask of the first `cols` (≤ 16) lanes.
#[cfg(target_arch = "x86_64")]
fn column_mask(cols: usize) -> u16 {
    if cols >= 16 {
        u16::MAX
    } else {
        (1u16 << cols) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Products of every awkward shape (rows not a multiple of the tile, columns not a multiple
    /// of the panel, depth over one pass) match a plain triple loop.
    #[test]
    fn products_match_the_definition() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for (rows, k, n) in [
            (1, 384, 1152),
            (13, 384, 384),
            (70, 300, 40),
            (129, 1536, 384),
            (9, 5, 33),
        ] {
            let w: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let x: Vec<f32> = (0..rows * k).map(|_| next()).collect();
            let got = Linear::new(&w, k, n).unwrap().forward(&x, rows).unwrap();
            let got8 = Linear::new_int8(&w, k, n)
                .unwrap()
                .forward(&x, rows)
                .unwrap();
            // The path of a CPU without AVX-512, whatever this one has.
            let candle = Tensor::from_slice(&w[..], (k, n), &Device::Cpu).unwrap();
            let fallback = Linear::Candle(candle).forward(&x, rows).unwrap();
            for r in 0..rows {
                for c in 0..n {
                    let want: f32 = (0..k).map(|i| x[r * k + i] * w[i * n + c]).sum();
                    let g = got[r * n + c];
                    let f = fallback[r * n + c];
                    assert!(
                        (f - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "candle {rows}×{k}×{n} at ({r}, {c}): {f} vs {want}"
                    );
                    assert!(
                        (g - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "{rows}×{k}×{n} at ({r}, {c}): {g} vs {want}"
                    );
                    // Each 8-bit product is off by up to half a quantum of each side: for
                    // these uniform entries, a few hundredths over hundreds of terms.
                    let g8 = got8[r * n + c];
                    let bound = 2e-3 * (k as f32).sqrt() * 8.0;
                    assert!(
                        (g8 - want).abs() <= bound,
                        "8-bit {rows}×{k}×{n} at ({r}, {c}): {g8} vs {want}"
                    );
                }
            }
        }
    }
}
