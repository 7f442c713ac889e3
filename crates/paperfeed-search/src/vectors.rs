//! Nearest papers by embedding, from a persisted, memory-mapped, quantised index that grows by
//! appending and is never rebuilt at start.
//!
//! Each row keeps a vector twice: a sign code (one bit per component, taken around the index's
//! centre: 48 bytes at 384 dimensions) and the components as half floats (768 bytes). A query
//! reads every code (Hamming distance, `popcnt` over u64 words, on rayon's threads), ranks the
//! nearest few percent by the float query against their signs, and reads and scores exactly
//! the best few thousand of those ([`scan`]); an index smaller than `exact_limit` rows scores
//! every row. The codes (154 MB for 3.2 million papers) are memory-mapped, since every query
//! reads them all; the rows (2.5 GB) are read by position, so what queries read stays in the
//! page cache, shared and reclaimable, not in the process. Nothing is loaded at start but the
//! ids (about 20 bytes a paper).
//!
//! On disk ([`VectorIndex::open_or_create`], [`open`]): `codes-G.bin`, `rows-G.bin`,
//! `ids-G.bin` of generation `G`, and `meta.json`, the commit record (rows, dimensions, model,
//! centre, and the store's vector watermark), written after the rows it counts are durable and
//! renamed into place: rows past its count (an append cut short by a crash) are cut off when
//! the index is opened ([`append`]). A row replaced (a later row of the same paper wins) or
//! removed is dead; once dead rows pass a fifth of all, or the index has grown fourfold since
//! its centre was taken, a compaction copies the live rows into generation `G + 1`, beside the
//! old one, while searches go on, and switches to it by renaming the meta file ([`compact`]).
//! One process writes an index at a time (the file `lock`); others open it read-only.
//!
//! An index in memory ([`VectorIndex::new`]) works the same way without files, for tests and
//! one-off runs.

mod append;
mod column;
mod compact;
mod ids;
mod meta;
mod open;
mod quantise;
mod scan;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::{Path, PathBuf};

use paperfeed_core::ArxivId;

use column::{Column, RecordFile, Rows};
use ids::Ids;
use quantise::{Decoder, code_words, decode_row};

pub use append::Staged;
pub use compact::Compacted;

/// Default size below which every row is scored (no coarse pass).
pub const DEFAULT_EXACT_LIMIT: usize = 20_000;

/// How deep a query goes (see [`Depth`]), measured with `scripts/bench-vectors --sweep`
/// (docs/vectors.md): the first pass keeps this share of the rows by Hamming distance, and at
/// least [`MIN_COARSE`] and four times the second's; the second keeps, of those,
/// [`FINE_FRACTION`] of the rows, at least [`MIN_CANDIDATES`] and [`CANDIDATES_PER_RESULT`] per
/// result asked for, to be read and scored exactly. At a million vectors, recall@10 hardly
/// moves with the first pass from 1% on, and is set by the second: 0.97 at 500 rows, 0.99 at
/// 1 000, 0.999 at 2 000. The true neighbours' ranks under an approximation grow with the
/// index, so both passes scale with it.
pub const COARSE_FRACTION: f64 = 0.01;
pub const MIN_COARSE: usize = 10_000;
pub const FINE_FRACTION: f64 = 0.001;
pub const MIN_CANDIDATES: usize = 1_000;
pub const CANDIDATES_PER_RESULT: usize = 20;

/// The lock file held by the process that writes the index.
const LOCK: &str = "lock";

/// Dot product with eight independent accumulators, so the loop vectorises (a single running
/// float sum cannot be reordered by the compiler).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.len().min(b.len()) / 8;
    for i in 0..chunks {
        let (x, y) = (&a[i * 8..i * 8 + 8], &b[i * 8..i * 8 + 8]);
        for lane in 0..8 {
            acc[lane] += x[lane] * y[lane];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 8..a.len().min(b.len()) {
        sum += a[i] * b[i];
    }
    sum
}

/// One scored neighbour: cosine similarity, higher is closer.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    pub id: ArxivId,
    pub similarity: f32,
}

/// Where the index stands in the store's vectors (the store's vector counter and, within that
/// write, the last paper read): everything up to here is in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorWatermark {
    pub seq: i64,
    pub id: ArxivId,
}

/// How many rows each pass of an approximate query keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depth {
    /// Rows nearest by Hamming distance, ranked by the float query against their signs.
    pub coarse: usize,
    /// Of those, the best by that rank, read and scored exactly.
    pub fine: usize,
}

/// Why the vector index failed. Messages are safe to show; the I/O error (which may name
/// files) is the `source`, for logs.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("the vector index is being written by another paperfeed process")]
    Locked,
    #[error("the vector index could not be {action}")]
    Io {
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the vector index holds as many rows as it can number")]
    Full,
}

fn io(action: &'static str) -> impl FnOnce(std::io::Error) -> VectorError {
    move |source| VectorError::Io { action, source }
}

/// The files of an index on disk, and its lock when this process writes it.
#[derive(Debug)]
struct Disk {
    dir: PathBuf,
    /// The ids file; `None` only for a read-only index that found nothing to read.
    ids: Option<RecordFile>,
    lock: Option<File>,
}

pub struct VectorIndex {
    model: String,
    /// Components per vector; 0 until the first vector (which fixes it).
    dim: usize,
    exact_limit: usize,
    generation: u64,
    codes: Column,
    rows: Rows,
    ids: Ids,
    centre: Vec<f32>,
    centre_rows: usize,
    watermark: Option<VectorWatermark>,
    disk: Option<Disk>,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("len", &self.len())
            .field("rows", &self.ids.rows())
            .field("dim", &self.dim)
            .field("on_disk", &self.disk.is_some())
            .finish()
    }
}

impl Default for VectorIndex {
    fn default() -> Self {
        VectorIndex::new(DEFAULT_EXACT_LIMIT)
    }
}

impl VectorIndex {
    /// An empty index in memory.
    pub fn new(exact_limit: usize) -> Self {
        VectorIndex {
            model: String::new(),
            dim: 0,
            exact_limit,
            generation: 0,
            codes: Column::memory(0),
            rows: Rows::memory(0),
            ids: Ids::default(),
            centre: Vec::new(),
            centre_rows: 0,
            watermark: None,
            disk: None,
        }
    }

    /// Papers with a vector.
    pub fn len(&self) -> usize {
        self.ids.live()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Components per vector (0 while empty).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows, live and dead.
    pub fn rows(&self) -> usize {
        self.ids.rows()
    }

    pub fn contains(&self, id: &ArxivId) -> bool {
        self.ids.row_of(id.as_str()).is_some()
    }

    /// The vector of row `row`, as floats again; `None` (logged) when it cannot be read.
    fn vector_at(&self, row: usize) -> Option<Vec<f32>> {
        let mut bytes = vec![0u8; self.rows.stride()];
        match self.rows.read(row, &mut bytes) {
            Ok(()) => Some(decode_row(&bytes)),
            Err(error) => {
                tracing::error!(%error, row, "reading the vector index's rows failed");
                None
            }
        }
    }

    /// The stored vector of a paper, as floats again (half floats: cosines with the given
    /// vector within about 1e-5).
    pub fn get(&self, id: &ArxivId) -> Option<Vec<f32>> {
        self.ids
            .row_of(id.as_str())
            .and_then(|row| self.vector_at(row))
    }

    /// Every stored vector with its paper, in the order they were added (read one at a time:
    /// use [`VectorIndex::sample`] for statistics over a large index).
    pub fn iter(&self) -> impl Iterator<Item = (ArxivId, Vec<f32>)> + '_ {
        self.ids.live_rows().filter_map(|row| {
            let id = self.ids.arxiv_id(row)?;
            Some((id, self.vector_at(row)?))
        })
    }

    /// About `n` vectors spread evenly over the index.
    pub fn sample(&self, n: usize) -> Vec<Vec<f32>> {
        let step = (self.len() / n.max(1)).max(1);
        self.ids
            .live_rows()
            .step_by(step)
            .take(n)
            .filter_map(|row| self.vector_at(row))
            .collect()
    }

    /// Whether searches take the coarse pass over sign codes (the index has at least
    /// `exact_limit` rows) rather than scoring every row.
    pub fn is_approximate(&self) -> bool {
        self.ids.rows() >= self.exact_limit
    }

    /// Where the index stands in the store's vectors (`None`: before the first).
    pub fn watermark(&self) -> Option<&VectorWatermark> {
        self.watermark.as_ref()
    }

    /// Whether this process may append (it holds the lock), or the index is in memory.
    pub fn is_writable(&self) -> bool {
        self.disk.as_ref().is_none_or(|d| d.lock.is_some())
    }

    /// The folder of an index on disk.
    pub fn dir(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.dir.as_path())
    }

    /// Bytes the index's files take on disk (0 in memory).
    pub fn disk_bytes(&self) -> u64 {
        let Some(dir) = self.dir() else { return 0 };
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// How deep a query for `k` papers goes by default (see [`COARSE_FRACTION`]).
    pub fn depth(&self, k: usize) -> Depth {
        let rows = self.len() as f64;
        let fine = MIN_CANDIDATES
            .max(k.saturating_mul(CANDIDATES_PER_RESULT))
            .max((rows * FINE_FRACTION) as usize);
        let coarse = ((rows * COARSE_FRACTION) as usize)
            .max(MIN_COARSE)
            .max(4 * fine);
        Depth { coarse, fine }
    }

    /// The `k` nearest papers to `query` (a unit vector), most similar first, skipping
    /// `exclude` (the paper itself, for "similar papers").
    pub fn nearest(&self, query: &[f32], k: usize, exclude: Option<&ArxivId>) -> Vec<Neighbour> {
        self.nearest_at(query, k, exclude, self.depth(k))
    }

    /// [`VectorIndex::nearest`] at a given depth (benchmarks weigh depth against recall).
    pub fn nearest_at(
        &self,
        query: &[f32],
        k: usize,
        exclude: Option<&ArxivId>,
        depth: Depth,
    ) -> Vec<Neighbour> {
        if query.len() != self.dim || k == 0 || self.is_empty() {
            return Vec::new();
        }
        let excluded = exclude.and_then(|id| self.ids.row_of(id.as_str()));
        let ids = &self.ids;
        let keep = |row: u32| !ids.is_dead(row as usize) && Some(row as usize) != excluded;
        let scored = if self.is_approximate() {
            let mut candidates = scan::candidates(
                self.codes.bytes(),
                code_words(self.dim),
                ids.dead_words(),
                query,
                depth,
            );
            scan::score(query, &self.rows, &mut candidates, &keep)
        } else {
            scan::score_all(query, &self.rows, self.ids.rows(), &keep)
        };
        scan::best(scored, k)
            .into_iter()
            .filter_map(|(similarity, row)| {
                self.ids
                    .arxiv_id(row as usize)
                    .map(|id| Neighbour { id, similarity })
            })
            .collect()
    }
}

/// The mean of rows `live` of `rows` (all of `dim` components), read a batch at a time.
fn mean_of_rows(rows: &Rows, live: &[usize], dim: usize) -> Result<Vec<f32>, VectorError> {
    use rayon::prelude::*;
    let stride = rows.stride();
    let sum = live
        .par_chunks(16_384)
        .map(|chunk| {
            let mut sum = vec![0.0f64; dim];
            let mut decoder = Decoder::default();
            let mut bytes = vec![0u8; stride];
            for &row in chunk {
                rows.read(row, &mut bytes).map_err(io("read"))?;
                sum.iter_mut()
                    .zip(decoder.decode(&bytes))
                    .for_each(|(s, x)| *s += f64::from(*x));
            }
            Ok(sum)
        })
        .try_reduce(
            || vec![0.0f64; dim],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )?;
    Ok(sum
        .into_iter()
        .map(|s| (s / live.len().max(1) as f64) as f32)
        .collect())
}
