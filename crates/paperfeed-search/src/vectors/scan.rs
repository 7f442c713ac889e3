//! The three passes of a query, on rayon's pool, the first two compiled for the best
//! instruction set the CPU has ([`pulp::Arch::dispatch`]: `count_ones` becomes `popcnt`):
//!
//! 1. every row's sign code against the query's signs (Hamming distance, 6 words a row at 384
//!    dimensions: 154 MB for 3.2 million papers, read at memory speed), counted in a histogram,
//!    so the distance that admits the wanted number of rows is known without sorting;
//! 2. those rows' signs against the float query (a table look-up per code byte), keeping the
//!    best few thousand;
//! 3. those read (by position: a few thousand rows of half floats) and scored exactly.
//!
//! Small indexes skip the first pass and score every row.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use super::column::Rows;
use super::quantise::{Decoder, hamming};
use super::{Depth, dot};

/// Rows per rayon task in the first pass (a multiple of 64, so each task owns whole words of
/// the dead-row bits).
const BLOCK: usize = 1 << 14;

/// Distances are kept in a byte; a larger one (more than 255 of 384 bits differ: a vector
/// pointing away from the query) is kept as 255, as are dead rows.
const FAR: u8 = u8::MAX;

/// A loop body compiled inside [`pulp::Arch::dispatch`]. Implementors mark `run`
/// `#[inline(always)]`: a closure would go through its `FnOnce` shim, which LLVM does not
/// inline into the target-feature function (see `embed/kernels.rs`).
trait Kernel {
    type Output;
    fn run(self) -> Self::Output;
}

struct Run<K>(K);

impl<K: Kernel> WithSimd for Run<K> {
    type Output = K::Output;
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> K::Output {
        self.0.run()
    }
}

fn vectorized<K: Kernel>(kernel: K) -> K::Output {
    Arch::new().dispatch(Run(kernel))
}

/// The candidates for the exact scoring: the `depth.coarse` rows whose codes are nearest to
/// the query's signs by Hamming distance, and of those the `depth.fine` best by the dot
/// product of the float query with their signs (±1: far more faithful than the Hamming
/// distance, and still only table look-ups, one per code byte).
pub(super) fn candidates(
    codes: &[u8],
    words: usize,
    dead: &[u64],
    query: &[f32],
    depth: Depth,
) -> Vec<u32> {
    let stride = words * 8;
    let rows = codes.len() / stride.max(1);
    let mut query_code = vec![0u64; words];
    for (i, x) in query.iter().enumerate() {
        if *x > 0.0 {
            query_code[i / 64] |= 1 << (i % 64);
        }
    }
    let mut distances = vec![FAR; rows];
    let histogram = distances
        .par_chunks_mut(BLOCK)
        .zip(codes.par_chunks(BLOCK * stride))
        .enumerate()
        .map(|(block, (out, codes))| {
            let dead = &dead[block * BLOCK / 64..];
            match words {
                6 => vectorized(Distances::<6> {
                    query: query_code.as_slice().try_into().unwrap_or([0; 6]),
                    codes,
                    dead,
                    out,
                }),
                _ => vectorized(AnyDistances {
                    query: &query_code,
                    codes,
                    dead,
                    out,
                }),
            }
        })
        .reduce(
            || [0u32; 256],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    // The smallest distance at which `coarse` live rows are reached (dead rows are all at
    // FAR, which is never admitted).
    let mut cut = FAR;
    let mut below = 0usize;
    for (d, &n) in histogram.iter().enumerate().take(usize::from(FAR)) {
        if below + n as usize >= depth.coarse {
            cut = d as u8;
            break;
        }
        below += n as usize;
    }
    // Rows at the cut-off distance are equally near by their codes: when there are many more
    // of them than needed, every `tie_step`-th is taken.
    let at_cut = histogram[usize::from(cut)] as usize;
    let needed = depth.coarse.saturating_sub(below).max(1);
    let tie_step = (at_cut / needed).max(1);
    let table = SignTable::new(query, stride);
    let mut scored: Vec<(f32, u32)> = distances
        .par_chunks(BLOCK)
        .zip(codes.par_chunks(BLOCK * stride))
        .enumerate()
        .flat_map_iter(|(block, (distances, codes))| {
            let mut scored = vectorized(SignScores {
                table: &table,
                distances,
                codes,
                stride,
                cut,
                tie_step,
                first_row: block * BLOCK,
            });
            keep_best(&mut scored, depth.fine);
            scored
        })
        .collect();
    keep_best(&mut scored, depth.fine);
    scored.into_iter().map(|(_, row)| row).collect()
}

/// Keeps the `n` highest scores (in no particular order).
fn keep_best(scored: &mut Vec<(f32, u32)>, n: usize) {
    if scored.len() > n && n > 0 {
        scored.select_nth_unstable_by(n - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(n);
    }
}

/// For each byte of a sign code, the sum of the query's components whose bits are set in it:
/// `query · signs = 2 × Σ table[byte] − Σ query`, so ranking by the table sum ranks by the
/// dot product with the ±1 vector.
struct SignTable {
    sums: Vec<[f32; 256]>,
}

impl SignTable {
    fn new(query: &[f32], stride: usize) -> SignTable {
        let sums = (0..stride)
            .map(|byte| {
                let component = |bit: usize| query.get(byte * 8 + bit).copied().unwrap_or(0.0);
                let mut sums = [0.0f32; 256];
                for value in 1..256usize {
                    let low = value.trailing_zeros() as usize;
                    sums[value] = sums[value & (value - 1)] + component(low);
                }
                sums
            })
            .collect();
        SignTable { sums }
    }

    #[inline(always)]
    fn score(&self, code: &[u8]) -> f32 {
        // Four running sums, so the additions do not wait on each other.
        let mut acc = [0.0f32; 4];
        let (quads, rest) = (code.chunks_exact(4), code.chunks_exact(4).remainder());
        for (quad, sums) in quads.zip(self.sums.chunks_exact(4)) {
            for lane in 0..4 {
                acc[lane] += sums[lane][usize::from(quad[lane])];
            }
        }
        let start = code.len() - rest.len();
        for (i, &b) in rest.iter().enumerate() {
            acc[0] += self.sums[start + i][usize::from(b)];
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3])
    }
}

/// The second pass for one block: the sign score of every row admitted by its distance.
struct SignScores<'a> {
    table: &'a SignTable,
    distances: &'a [u8],
    codes: &'a [u8],
    stride: usize,
    cut: u8,
    tie_step: usize,
    first_row: usize,
}

impl Kernel for SignScores<'_> {
    type Output = Vec<(f32, u32)>;
    #[inline(always)]
    fn run(self) -> Vec<(f32, u32)> {
        let mut out = Vec::new();
        let mut ties = 0usize;
        for (i, &d) in self.distances.iter().enumerate() {
            let admitted = d < self.cut || {
                let tie = d == self.cut;
                ties += usize::from(tie);
                tie && ties.is_multiple_of(self.tie_step)
            };
            if admitted {
                let code = &self.codes[i * self.stride..(i + 1) * self.stride];
                out.push((self.table.score(code), (self.first_row + i) as u32));
            }
        }
        out
    }
}

/// The first pass for one block of rows with codes of `W` words.
struct Distances<'a, const W: usize> {
    query: [u64; W],
    codes: &'a [u8],
    dead: &'a [u64],
    out: &'a mut [u8],
}

impl<const W: usize> Kernel for Distances<'_, W> {
    type Output = [u32; 256];
    #[inline(always)]
    fn run(self) -> [u32; 256] {
        let mut histogram = [0u32; 256];
        for (i, (code, out)) in self.codes.chunks_exact(W * 8).zip(self.out).enumerate() {
            let d = if self.dead[i / 64] & (1 << (i % 64)) != 0 {
                FAR
            } else {
                hamming(&self.query, code).min(u32::from(FAR)) as u8
            };
            *out = d;
            histogram[usize::from(d)] += 1;
        }
        histogram
    }
}

/// The first pass for codes of any length (dimensions other than 384: tests, other models).
struct AnyDistances<'a> {
    query: &'a [u64],
    codes: &'a [u8],
    dead: &'a [u64],
    out: &'a mut [u8],
}

impl Kernel for AnyDistances<'_> {
    type Output = [u32; 256];
    #[inline(always)]
    fn run(self) -> [u32; 256] {
        let mut histogram = [0u32; 256];
        let stride = self.query.len() * 8;
        for (i, (code, out)) in self.codes.chunks_exact(stride).zip(self.out).enumerate() {
            let d = if self.dead[i / 64] & (1 << (i % 64)) != 0 {
                FAR
            } else {
                let d: u32 = self
                    .query
                    .iter()
                    .zip(code.chunks_exact(8))
                    .map(|(q, c)| {
                        let word =
                            u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                        (q ^ word).count_ones()
                    })
                    .sum();
                d.min(u32::from(FAR)) as u8
            };
            *out = d;
            histogram[usize::from(d)] += 1;
        }
        histogram
    }
}

/// Candidates per rayon task in the last pass.
const SCORE_BATCH: usize = 256;

/// `query · row` for each of `candidates` that `keep` accepts, as (similarity, row). A row that
/// cannot be read is left out (and the first such failure logged).
pub(super) fn score(
    query: &[f32],
    rows: &Rows,
    candidates: &mut [u32],
    keep: &(dyn Fn(u32) -> bool + Sync),
) -> Vec<(f32, u32)> {
    // In file order: neighbouring candidates share pages.
    candidates.sort_unstable();
    let stride = rows.stride();
    let failed = std::sync::atomic::AtomicBool::new(false);
    candidates
        .par_chunks(SCORE_BATCH)
        .flat_map_iter(|batch| {
            let mut decoder = Decoder::default();
            let mut bytes = vec![0u8; stride];
            let mut out = Vec::with_capacity(batch.len());
            for &row in batch {
                if !keep(row) {
                    continue;
                }
                match rows.read(row as usize, &mut bytes) {
                    Ok(()) => out.push((dot(query, decoder.decode(&bytes)), row)),
                    Err(error) => {
                        if !failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            tracing::error!(%error, "reading the vector index's rows failed");
                        }
                    }
                }
            }
            out
        })
        .collect()
}

/// Rows per read in the exact pass.
const READ_BATCH: usize = 1024;

/// Every row of `0..count` that `keep` accepts, scored: the exact pass of small indexes.
pub(super) fn score_all(
    query: &[f32],
    rows: &Rows,
    count: usize,
    keep: &(dyn Fn(u32) -> bool + Sync),
) -> Vec<(f32, u32)> {
    let stride = rows.stride();
    let failed = std::sync::atomic::AtomicBool::new(false);
    (0..count.div_ceil(READ_BATCH))
        .into_par_iter()
        .flat_map_iter(|batch| {
            let first = batch * READ_BATCH;
            let n = READ_BATCH.min(count - first);
            let mut bytes = vec![0u8; n * stride];
            let mut decoder = Decoder::default();
            let mut out = Vec::with_capacity(n);
            match rows.read(first, &mut bytes) {
                Ok(()) => {
                    for (i, row) in bytes.chunks_exact(stride).enumerate() {
                        let r = (first + i) as u32;
                        if keep(r) {
                            out.push((dot(query, decoder.decode(row)), r));
                        }
                    }
                }
                Err(error) => {
                    if !failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        tracing::error!(%error, "reading the vector index's rows failed");
                    }
                }
            }
            out
        })
        .collect()
}

/// The `k` best, most similar first (ties: the earlier row first).
pub(super) fn best(mut scored: Vec<(f32, u32)>, k: usize) -> Vec<(f32, u32)> {
    let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, order);
        scored.truncate(k);
    }
    scored.sort_by(order);
    scored.truncate(k);
    scored
}
