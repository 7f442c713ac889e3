//! Nearest papers by embedding, from a persisted, memory-mapped, quantised index that grows by
//! appending and is never rebuilt at start.
//!
//! Each row keeps a vector twice, small: a sign code (one bit per component, taken around the
//! index's centre: 48 bytes at 384 dimensions) and int8 components with one scale (388 bytes).
//! A query reads every code (Hamming distance, `popcnt` over u64 words, on rayon's threads),
//! keeps the few thousand nearest, and scores those by the int8 dot product with the float
//! query; an index smaller than `exact_limit` rows scores every row. 3.2 million papers take
//! 1.4 GB on disk, of which the 154 MB of codes are read by every query and the rows only
//! where candidates fall, through the page cache: nothing is loaded at start but the ids.
//!
//! On disk (`open_or_create`): `codes-G.bin`, `rows-G.bin`, `ids-G.bin` of generation `G`, and
//! `meta.json`, the commit record (rows, dimensions, model, centre, and the store's vector
//! watermark), written after the rows it counts are durable and renamed into place: rows past
//! its count (an append cut short by a crash) are cut off when the index is opened. A row
//! replaced (a later row of the same paper wins) or removed is dead; once dead rows pass a
//! fifth of all, or the index has grown fourfold since its centre was taken, a compaction
//! copies the live rows into generation `G + 1`, beside the old one, while searches go on, and
//! switches to it by renaming the meta file. One process writes an index at a time (the file
//! `lock`); others open it read-only.
//!
//! An index in memory ([`VectorIndex::new`]) works the same way without files, for tests and
//! one-off runs.

mod column;
mod ids;
mod meta;
mod quantise;
mod scan;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::{Path, PathBuf};

use paperfeed_core::ArxivId;

use crate::OpenOutcome;
use column::{Column, ColumnError, RecordFile};
use ids::{Ids, SLOT};
use meta::{FORMAT, Files, META, Meta, Watermark};
use quantise::{code_bytes, code_words, decode_row, encode_row, row_bytes, sign_code};

/// Default size below which every row is scored (no coarse pass).
pub const DEFAULT_EXACT_LIMIT: usize = 20_000;

/// The share of rows the first pass of a query (Hamming distance) keeps, and at least how
/// many; measured with `scripts/bench-vectors` (docs/vectors.md).
pub const COARSE_FRACTION: f64 = 0.05;
pub const MIN_COARSE: usize = 20_000;

/// Candidates the second pass (signs against the float query) keeps for the int8 scoring: at
/// least this many, and at least [`CANDIDATES_PER_RESULT`] per result asked for.
pub const MIN_CANDIDATES: usize = 2_000;
pub const CANDIDATES_PER_RESULT: usize = 20;

/// A compaction runs once dead rows are this share of all rows (and at least
/// [`COMPACT_MIN_DEAD`]).
const COMPACT_FRACTION: f64 = 0.2;
const COMPACT_MIN_DEAD: usize = 1_000;

/// The centre is taken again (by a compaction) each time the index has grown fourfold since,
/// until it was taken from this many vectors: then it is as good as it gets.
const CENTRE_SETTLED: usize = 200_000;

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
    rows: Column,
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

/// Vectors encoded for appending, not yet part of the index (see [`VectorIndex::stage`]).
#[derive(Debug)]
pub struct Staged {
    dim: usize,
    centre: Option<Vec<f32>>,
    codes: Vec<u8>,
    rows: Vec<u8>,
    slots: Vec<u8>,
    ids: Vec<(String, bool)>,
    watermark: Option<VectorWatermark>,
    /// Vectors refused: another length than the index's, or not finite.
    pub refused: usize,
}

impl Staged {
    /// Rows it adds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A compacted copy of an index, ready to take its place (see [`VectorIndex::compacted`]).
#[derive(Debug)]
pub struct Compacted {
    generation: u64,
    codes: Column,
    rows: Column,
    ids: Ids,
    id_file: Option<RecordFile>,
    centre: Vec<f32>,
    centre_rows: usize,
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
            rows: Column::memory(0),
            ids: Ids::default(),
            centre: Vec::new(),
            centre_rows: 0,
            watermark: None,
            disk: None,
        }
    }

    /// Opens the index of vectors from `model` in `dir`, creating it when missing, and
    /// replacing it with an empty one when it is damaged, of another format or of another
    /// model (the caller then feeds it every vector again; nothing is logged here, the outcome
    /// says why). Rows an interrupted append left past the last commit are cut off. When
    /// another process writes the index, it is opened read-only as it was last committed.
    pub fn open_or_create(
        dir: &Path,
        model: &str,
        exact_limit: usize,
    ) -> Result<(VectorIndex, OpenOutcome), VectorError> {
        std::fs::create_dir_all(dir).map_err(io("created"))?;
        let lock = take_lock(dir)?;
        let writable = lock.is_some();
        let found = match Meta::read(dir) {
            Ok(None) => None,
            Ok(Some(meta)) if meta.format != FORMAT => {
                Some(Err(format!("it has format {}, not {FORMAT}", meta.format)))
            }
            Ok(Some(meta)) if meta.model != model => Some(Err(format!(
                "it holds vectors of {}, not {model}",
                meta.model
            ))),
            Ok(Some(meta)) => Some(Self::open_existing(dir, &meta, writable).map(|parts| (meta, parts))),
            Err(reason) => Some(Err(reason)),
        };
        let (outcome, opened) = match found {
            Some(Ok(opened)) => (OpenOutcome::Reused, Some(opened)),
            Some(Err(reason)) => (OpenOutcome::Rebuilt { reason }, None),
            None if has_data_files(dir).map_err(io("read"))? => (
                OpenOutcome::Rebuilt {
                    reason: format!("the folder holds files but no {META}"),
                },
                None,
            ),
            None => (OpenOutcome::Fresh, None),
        };
        let mut index = VectorIndex::new(exact_limit);
        index.model = model.to_owned();
        let Some((meta, (codes, rows, ids, id_file))) = opened else {
            if !writable {
                // Another process is (re)creating it: nothing to read yet.
                index.disk = Some(Disk {
                    dir: dir.to_owned(),
                    ids: None,
                    lock: None,
                });
                return Ok((index, outcome));
            }
            clear(dir).map_err(io("cleared"))?;
            let meta = Meta::empty(model);
            let files = Files::of(dir, meta.generation);
            let id_file = RecordFile::create(&files.ids, SLOT).map_err(io("created"))?;
            for path in [&files.codes, &files.rows] {
                RecordFile::create(path, 0).map_err(io("created"))?;
            }
            meta.write(dir).map_err(io("created"))?;
            index.disk = Some(Disk {
                dir: dir.to_owned(),
                ids: Some(id_file),
                lock,
            });
            return Ok((index, outcome));
        };
        if writable {
            remove_stale(dir, meta.generation).map_err(io("cleared"))?;
        }
        index.dim = meta.dim;
        index.generation = meta.generation;
        index.codes = codes;
        index.rows = rows;
        index.ids = ids;
        index.centre = meta.centre;
        index.centre_rows = meta.centre_rows;
        index.watermark = meta.watermark.and_then(|w| {
            ArxivId::parse(&w.id)
                .ok()
                .map(|id| VectorWatermark { seq: w.seq, id })
        });
        index.disk = Some(Disk {
            dir: dir.to_owned(),
            ids: Some(id_file),
            lock,
        });
        Ok((index, outcome))
    }

    /// The columns and ids of a committed index, or why they cannot be used.
    fn open_existing(
        dir: &Path,
        meta: &Meta,
        cut: bool,
    ) -> Result<(Column, Column, Ids, RecordFile), String> {
        if meta.rows > 0 && (meta.dim == 0 || meta.centre.len() != meta.dim) {
            return Err(format!("{META} is inconsistent (dimensions {})", meta.dim));
        }
        let files = Files::of(dir, meta.generation);
        let open = |path: &Path, stride: usize| {
            RecordFile::open(path, stride, meta.rows, cut).map_err(|e| match e {
                ColumnError::Short { .. } => format!("it is damaged: {e}"),
                ColumnError::Io(e) => format!("its files could not be read ({e})"),
            })
        };
        let id_file = open(&files.ids, SLOT)?;
        let mut ids = Ids::default();
        let mut reader = id_file
            .reader(meta.rows)
            .map_err(|e| format!("its ids could not be read ({e})"))?;
        let mut slot = [0u8; SLOT];
        for row in 0..meta.rows {
            std::io::Read::read_exact(&mut reader, &mut slot)
                .map_err(|e| format!("its ids could not be read ({e})"))?;
            let (id, removed) = ids::decode_slot(&slot).map_err(|e| format!("row {row}: {e}"))?;
            ids.push(id, removed)
                .ok_or_else(|| "it has more rows than it can number".to_owned())?;
        }
        drop(reader);
        let mapped = |path: &Path, stride: usize, random: bool| {
            Column::mapped(open(path, stride)?, meta.rows, random)
                .map_err(|e| format!("its files could not be mapped ({e})"))
        };
        let codes = mapped(&files.codes, code_words(meta.dim) * 8, false)?;
        let rows = mapped(&files.rows, row_bytes(meta.dim), true)?;
        Ok((codes, rows, ids, id_file))
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

    /// Rows on disk, live and dead.
    pub fn rows(&self) -> usize {
        self.ids.rows()
    }

    pub fn contains(&self, id: &ArxivId) -> bool {
        self.ids.row_of(id.as_str()).is_some()
    }

    /// The stored vector of a paper, as floats again (within half an int8 step of what was
    /// given: cosines within about 1e-3).
    pub fn get(&self, id: &ArxivId) -> Option<Vec<f32>> {
        self.ids
            .row_of(id.as_str())
            .map(|row| decode_row(self.rows.row(row)))
    }

    /// Every stored vector with its paper, in the order they were added (decoded one at a
    /// time: use [`VectorIndex::sample`] for statistics over a large index).
    pub fn iter(&self) -> impl Iterator<Item = (ArxivId, Vec<f32>)> + '_ {
        self.ids.live_rows().filter_map(|row| {
            self.ids
                .arxiv_id(row)
                .map(|id| (id, decode_row(self.rows.row(row))))
        })
    }

    /// About `n` vectors spread evenly over the index.
    pub fn sample(&self, n: usize) -> Vec<Vec<f32>> {
        let step = (self.len() / n.max(1)).max(1);
        self.ids
            .live_rows()
            .step_by(step)
            .take(n)
            .map(|row| decode_row(self.rows.row(row)))
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

    /// Opens the same index again, when this one is read-only and the process that wrote it
    /// has let go of it: `None` while it still writes (or this one is writable already).
    pub fn reopen_writable(&self) -> Option<Result<(VectorIndex, OpenOutcome), VectorError>> {
        let disk = self.disk.as_ref()?;
        if disk.lock.is_some() {
            return None;
        }
        match take_lock(&disk.dir) {
            Ok(Some(lock)) => {
                drop(lock);
                Some(Self::open_or_create(&disk.dir, &self.model, self.exact_limit))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Adds or replaces vectors in one go (stage, publish, commit, compact when due): for an
    /// index in memory or a caller holding it alone. Returns how many were refused (another
    /// length than the index's, or not finite).
    pub fn insert(
        &mut self,
        items: impl IntoIterator<Item = (ArxivId, Vec<f32>)>,
    ) -> Result<usize, VectorError> {
        let staged = self.stage(items, Vec::new(), None)?;
        let refused = staged.refused;
        self.publish(staged)?;
        self.commit()?;
        if self.needs_compaction() {
            let compacted = self.compacted()?;
            self.install(compacted)?;
        }
        Ok(refused)
    }

    /// Removes papers' vectors (a removal row each; the paper's rows die).
    pub fn remove(&mut self, ids: &[ArxivId]) -> Result<(), VectorError> {
        let present: Vec<ArxivId> = ids.iter().filter(|id| self.contains(id)).cloned().collect();
        if present.is_empty() {
            return Ok(());
        }
        let staged = self.stage(Vec::new(), present, None)?;
        self.publish(staged)?;
        self.commit()
    }

    /// Encodes vectors (and removals) and, for an index on disk, writes them past the
    /// committed rows durably; searches go on meanwhile (`&self`). They become part of the
    /// index with [`VectorIndex::publish`], and of its commit record with
    /// [`VectorIndex::commit`]; `watermark` goes with them. One stage at a time: callers
    /// serialise stage, publish and commit.
    pub fn stage(
        &self,
        items: impl IntoIterator<Item = (ArxivId, Vec<f32>)>,
        removals: Vec<ArxivId>,
        watermark: Option<VectorWatermark>,
    ) -> Result<Staged, VectorError> {
        if !self.is_writable() {
            return Err(VectorError::Locked);
        }
        let mut dim = self.dim;
        let mut accepted: Vec<(ArxivId, Vec<f32>)> = Vec::new();
        let mut refused = 0;
        for (id, vector) in items {
            if dim == 0 {
                dim = vector.len();
            }
            if vector.len() != dim || dim == 0 || !vector.iter().all(|x| x.is_finite()) {
                refused += 1;
                continue;
            }
            accepted.push((id, vector));
        }
        // The first vectors of an index fix its centre (a compaction takes it again as the
        // index grows).
        let centre = (self.dim == 0 && !accepted.is_empty())
            .then(|| mean(accepted.iter().map(|(_, v)| v.as_slice()), dim));
        let around = centre.as_deref().unwrap_or(&self.centre);
        let words = code_words(dim);
        let mut staged = Staged {
            dim,
            centre: centre.clone(),
            codes: Vec::with_capacity((accepted.len() + removals.len()) * words * 8),
            rows: Vec::with_capacity((accepted.len() + removals.len()) * row_bytes(dim)),
            slots: Vec::with_capacity((accepted.len() + removals.len()) * SLOT),
            ids: Vec::with_capacity(accepted.len() + removals.len()),
            watermark,
            refused,
        };
        let mut code = vec![0u64; words];
        for (id, vector) in &accepted {
            sign_code(vector, around, &mut code);
            code_bytes(&code, &mut staged.codes);
            encode_row(vector, &mut staged.rows);
            ids::encode_slot(id, false, &mut staged.slots);
            staged.ids.push((id.as_str().to_owned(), false));
        }
        if dim > 0 {
            for id in &removals {
                staged.codes.resize(staged.codes.len() + words * 8, 0);
                staged.rows.resize(staged.rows.len() + row_bytes(dim), 0);
                ids::encode_slot(id, true, &mut staged.slots);
                staged.ids.push((id.as_str().to_owned(), true));
            }
        }
        if self.ids.rows() + staged.ids.len() > u32::MAX as usize {
            return Err(VectorError::Full);
        }
        if let Some(disk) = &self.disk
            && !staged.is_empty()
        {
            let write = |column: &Column, data: &[u8]| column.write(data);
            // An empty index's columns were made before its dimensions were known.
            if self.dim == 0 {
                let files = Files::of(&disk.dir, self.generation);
                let codes = RecordFile::create(&files.codes, words * 8).map_err(io("written"))?;
                let rows = RecordFile::create(&files.rows, row_bytes(dim)).map_err(io("written"))?;
                codes.write_after(0, &staged.codes).map_err(io("written"))?;
                rows.write_after(0, &staged.rows).map_err(io("written"))?;
            } else {
                write(&self.codes, &staged.codes).map_err(io("written"))?;
                write(&self.rows, &staged.rows).map_err(io("written"))?;
            }
            if let Some(ids) = &disk.ids {
                ids.write_after(self.ids.rows(), &staged.slots)
                    .map_err(io("written"))?;
            }
        }
        Ok(staged)
    }

    /// Makes staged rows searchable. Quick (no I/O but, rarely, a larger map): callers hold
    /// the index exclusively only for this.
    pub fn publish(&mut self, mut staged: Staged) -> Result<(), VectorError> {
        if let Some(watermark) = staged.watermark.take() {
            self.watermark = Some(watermark);
        }
        if staged.is_empty() {
            return Ok(());
        }
        if self.dim == 0 {
            self.dim = staged.dim;
            self.centre = staged.centre.unwrap_or_else(|| vec![0.0; staged.dim]);
            self.centre_rows = staged.ids.iter().filter(|(_, removed)| !removed).count();
            let words = code_words(staged.dim) * 8;
            let stride = row_bytes(staged.dim);
            match &self.disk {
                None => {
                    self.codes = Column::memory(words);
                    self.rows = Column::memory(stride);
                }
                Some(disk) => {
                    let files = Files::of(&disk.dir, self.generation);
                    let open = |path: &Path, stride: usize, random: bool| {
                        RecordFile::open(path, stride, 0, true)
                            .map_err(|e| match e {
                                ColumnError::Io(e) => e,
                                other => std::io::Error::other(other.to_string()),
                            })
                            .and_then(|file| Column::mapped(file, 0, random))
                            .map_err(io("opened"))
                    };
                    self.codes = open(&files.codes, words, false)?;
                    self.rows = open(&files.rows, stride, true)?;
                }
            }
        }
        self.codes.commit(&staged.codes).map_err(io("mapped"))?;
        self.rows.commit(&staged.rows).map_err(io("mapped"))?;
        for (id, removed) in &staged.ids {
            self.ids.push(id, *removed).ok_or(VectorError::Full)?;
        }
        Ok(())
    }

    /// Writes the commit record of an index on disk: rows published so far survive a crash
    /// from here on. Nothing to do in memory.
    pub fn commit(&self) -> Result<(), VectorError> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        self.meta().write(&disk.dir).map_err(io("committed"))
    }

    fn meta(&self) -> Meta {
        Meta {
            format: FORMAT,
            model: self.model.clone(),
            dim: self.dim,
            generation: self.generation,
            rows: self.ids.rows(),
            centre: self.centre.clone(),
            centre_rows: self.centre_rows,
            watermark: self.watermark.as_ref().map(|w| Watermark {
                seq: w.seq,
                id: w.id.to_string(),
            }),
        }
    }

    /// Whether a compaction is due: many dead rows, or a centre taken from far fewer vectors
    /// than the index now holds.
    pub fn needs_compaction(&self) -> bool {
        let (rows, dead, live) = (self.ids.rows(), self.ids.dead(), self.len());
        let many_dead = dead >= COMPACT_MIN_DEAD && dead as f64 >= COMPACT_FRACTION * rows as f64;
        let centre_young = self.centre_rows < CENTRE_SETTLED && live >= 4 * self.centre_rows.max(64);
        self.is_writable() && live > 0 && (many_dead || centre_young)
    }

    /// Copies the live rows into the next generation, with codes around a centre taken from
    /// all of them, and writes its files durably (not yet its commit record). Searches go on
    /// meanwhile (`&self`); no rows may be staged until [`VectorIndex::install`].
    pub fn compacted(&self) -> Result<Compacted, VectorError> {
        if !self.is_writable() {
            return Err(VectorError::Locked);
        }
        let (dim, words) = (self.dim, code_words(self.dim));
        let live: Vec<usize> = self.ids.live_rows().collect();
        let centre = mean_of_rows(&self.rows, &live, dim);
        let generation = self.generation + 1;
        let (mut codes, mut rows) = (Column::memory(words * 8), Column::memory(row_bytes(dim)));
        let mut id_file = None;
        if let Some(disk) = &self.disk {
            let files = Files::of(&disk.dir, generation);
            let create = |path: &Path, stride: usize| RecordFile::create(path, stride).map_err(io("compacted"));
            codes = Column::mapped(create(&files.codes, words * 8)?, 0, false).map_err(io("compacted"))?;
            rows = Column::mapped(create(&files.rows, row_bytes(dim))?, 0, true).map_err(io("compacted"))?;
            id_file = Some(create(&files.ids, SLOT)?);
        }
        let mut ids = Ids::default();
        let mut code = vec![0u64; words];
        for chunk in live.chunks(16_384) {
            let mut code_data = Vec::with_capacity(chunk.len() * words * 8);
            let mut row_data = Vec::with_capacity(chunk.len() * row_bytes(dim));
            let mut slots = Vec::with_capacity(chunk.len() * SLOT);
            for &row in chunk {
                let stored = self.rows.row(row);
                sign_code(&decode_row(stored), &centre, &mut code);
                code_bytes(&code, &mut code_data);
                row_data.extend_from_slice(stored);
                let id = self.ids.id_of(row);
                slots.extend_from_slice(&slot_of(id));
                ids.push(id, false).ok_or(VectorError::Full)?;
            }
            codes.write(&code_data).map_err(io("compacted"))?;
            rows.write(&row_data).map_err(io("compacted"))?;
            if let Some(file) = &id_file {
                file.write_after(ids.rows() - chunk.len(), &slots)
                    .map_err(io("compacted"))?;
            }
            codes.commit(&code_data).map_err(io("compacted"))?;
            rows.commit(&row_data).map_err(io("compacted"))?;
        }
        Ok(Compacted {
            generation,
            codes,
            rows,
            ids,
            id_file,
            centre,
            centre_rows: live.len(),
        })
    }

    /// Puts a compacted copy in place: its commit record first (the switch, by rename), then
    /// in memory, then the old generation's files go. Quick.
    pub fn install(&mut self, compacted: Compacted) -> Result<(), VectorError> {
        let old_generation = self.generation;
        let Compacted {
            generation,
            codes,
            rows,
            ids,
            id_file,
            centre,
            centre_rows,
        } = compacted;
        let mut meta = self.meta();
        meta.generation = generation;
        meta.rows = ids.rows();
        meta.centre = centre.clone();
        meta.centre_rows = centre_rows;
        if let Some(disk) = &self.disk {
            if let Err(e) = meta.write(&disk.dir) {
                // Still on the old generation: drop the new files.
                let _ = remove_stale(&disk.dir, old_generation);
                return Err(io("compacted")(e));
            }
        }
        self.generation = generation;
        self.codes = codes;
        self.rows = rows;
        self.ids = ids;
        self.centre = centre;
        self.centre_rows = centre_rows;
        if let (Some(disk), Some(id_file)) = (&mut self.disk, id_file) {
            disk.ids = Some(id_file);
            // The old files are unlinked; maps of them stay readable until dropped.
            remove_stale(&disk.dir, generation).map_err(io("cleared"))?;
        }
        Ok(())
    }

    /// How many rows each pass of a query for `k` papers keeps.
    fn depth(&self, k: usize) -> scan::Depth {
        let fine = MIN_CANDIDATES.max(k.saturating_mul(CANDIDATES_PER_RESULT));
        let coarse = ((self.len() as f64 * COARSE_FRACTION) as usize)
            .max(MIN_COARSE)
            .max(2 * fine);
        scan::Depth { coarse, fine }
    }

    /// The `k` nearest papers to `query` (a unit vector), most similar first, skipping
    /// `exclude` (the paper itself, for "similar papers").
    pub fn nearest(&self, query: &[f32], k: usize, exclude: Option<&ArxivId>) -> Vec<Neighbour> {
        if query.len() != self.dim || k == 0 || self.is_empty() {
            return Vec::new();
        }
        let excluded = exclude.and_then(|id| self.ids.row_of(id.as_str()));
        let ids = &self.ids;
        let keep = |row: u32| !ids.is_dead(row as usize) && Some(row as usize) != excluded;
        let stride = self.rows.stride();
        let scored = if self.is_approximate() {
            let candidates = scan::candidates(
                self.codes.bytes(),
                code_words(self.dim),
                ids.dead_words(),
                query,
                self.depth(k),
            );
            scan::score(query, self.rows.bytes(), stride, &candidates, &keep)
        } else {
            scan::score_all(query, self.rows.bytes(), stride, &keep)
        };
        scan::best(scored, k)
            .into_iter()
            .filter_map(|(similarity, row)| {
                self.ids.arxiv_id(row as usize).map(|id| Neighbour { id, similarity })
            })
            .collect()
    }
}

/// The slot of an id already checked (read from a slot or an `ArxivId`).
fn slot_of(id: &str) -> Vec<u8> {
    let mut slot = Vec::with_capacity(SLOT);
    match ArxivId::parse(id) {
        Ok(id) => ids::encode_slot(&id, false, &mut slot),
        Err(_) => slot.resize(SLOT, 0),
    }
    slot
}

/// The mean of `vectors` (all of length `dim`).
fn mean<'a>(vectors: impl Iterator<Item = &'a [f32]>, dim: usize) -> Vec<f32> {
    let mut sum = vec![0.0f64; dim];
    let mut n = 0usize;
    for v in vectors {
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += f64::from(*x));
        n += 1;
    }
    sum.into_iter()
        .map(|s| (s / n.max(1) as f64) as f32)
        .collect()
}

fn mean_of_rows(rows: &Column, live: &[usize], dim: usize) -> Vec<f32> {
    use rayon::prelude::*;
    let sum = live
        .par_chunks(16_384)
        .map(|chunk| {
            let mut sum = vec![0.0f64; dim];
            for &row in chunk {
                sum.iter_mut()
                    .zip(decode_row(rows.row(row)))
                    .for_each(|(s, x)| *s += f64::from(x));
            }
            sum
        })
        .reduce(
            || vec![0.0f64; dim],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    sum.into_iter()
        .map(|s| (s / live.len().max(1) as f64) as f32)
        .collect()
}

/// The index's lock, when no other process holds it.
fn take_lock(dir: &Path) -> Result<Option<File>, VectorError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK))
        .map_err(io("locked"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io("locked")(e)),
    }
}

/// Whether `dir` holds anything but the lock.
fn has_data_files(dir: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        if entry?.file_name() != LOCK {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes everything in `dir` but the lock.
fn clear(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == LOCK {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Removes the data files of generations other than `generation`.
fn remove_stale(dir: &Path, generation: u64) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if Files::is_stale(&entry.file_name().to_string_lossy(), generation) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
