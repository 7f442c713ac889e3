//! Appending: vectors encoded and written past the committed rows (durably) while searches go
//! on ([`VectorIndex::stage`]), made searchable in a moment ([`VectorIndex::publish`]), and
//! made part of the commit record ([`VectorIndex::commit`]). A crash anywhere before the
//! commit record is renamed into place leaves the last committed index, whose files' tails
//! are cut when it is opened again.

use paperfeed_core::ArxivId;

use super::column::{Column, RecordFile, Rows};
use super::ids::{self, SLOT};
use super::meta::{FORMAT, Files, Meta, Watermark};
use super::quantise::{code_bytes, code_words, encode_row, row_bytes, sign_code};
use super::{VectorError, VectorIndex, VectorWatermark, io};

/// Vectors encoded for appending, not yet part of the index (see [`VectorIndex::stage`]).
#[derive(Debug)]
pub struct Staged {
    dim: usize,
    /// The centre taken from the first vectors of an empty index.
    centre: Option<Vec<f32>>,
    codes: Vec<u8>,
    rows: Vec<u8>,
    ids: Vec<(String, bool)>,
    watermark: Option<VectorWatermark>,
    /// The codes and rows files of an index on disk that was empty: made now that the
    /// vectors' length is known.
    fresh: Option<(RecordFile, RecordFile)>,
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

impl VectorIndex {
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
        let n = accepted.len() + if dim > 0 { removals.len() } else { 0 };
        let mut staged = Staged {
            dim,
            centre: centre.clone(),
            codes: Vec::with_capacity(n * words * 8),
            rows: Vec::with_capacity(n * row_bytes(dim)),
            ids: Vec::with_capacity(n),
            watermark,
            fresh: None,
            refused,
        };
        let mut slots = Vec::with_capacity(n * SLOT);
        let mut code = vec![0u64; words];
        for (id, vector) in &accepted {
            sign_code(vector, around, &mut code);
            code_bytes(&code, &mut staged.codes);
            encode_row(vector, &mut staged.rows);
            ids::encode_slot(id, false, &mut slots);
            staged.ids.push((id.as_str().to_owned(), false));
        }
        if dim > 0 {
            for id in &removals {
                staged.codes.resize(staged.codes.len() + words * 8, 0);
                staged.rows.resize(staged.rows.len() + row_bytes(dim), 0);
                ids::encode_slot(id, true, &mut slots);
                staged.ids.push((id.as_str().to_owned(), true));
            }
        }
        if self.ids.rows() + staged.ids.len() > u32::MAX as usize {
            return Err(VectorError::Full);
        }
        let Some(disk) = &self.disk else {
            return Ok(staged);
        };
        if staged.is_empty() {
            return Ok(staged);
        }
        let committed = self.ids.rows();
        if self.dim == 0 {
            // An empty index has no codes or rows files yet: their strides come with the
            // first vectors.
            let files = Files::of(&disk.dir, self.generation);
            let codes = RecordFile::create(&files.codes, words * 8).map_err(io("written"))?;
            let rows = RecordFile::create(&files.rows, row_bytes(dim)).map_err(io("written"))?;
            codes.write_after(0, &staged.codes).map_err(io("written"))?;
            rows.write_after(0, &staged.rows).map_err(io("written"))?;
            staged.fresh = Some((codes, rows));
        } else {
            self.codes.write(&staged.codes).map_err(io("written"))?;
            self.rows
                .write(committed, &staged.rows)
                .map_err(io("written"))?;
        }
        if let Some(file) = &disk.ids {
            file.write_after(committed, &slots).map_err(io("written"))?;
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
            self.centre = staged
                .centre
                .take()
                .unwrap_or_else(|| vec![0.0; staged.dim]);
            self.centre_rows = staged.ids.iter().filter(|(_, removed)| !removed).count();
            (self.codes, self.rows) = match staged.fresh.take() {
                Some((codes, rows)) => (
                    Column::mapped(codes, 0).map_err(io("mapped"))?,
                    Rows::File(rows),
                ),
                None => (
                    Column::memory(code_words(staged.dim) * 8),
                    Rows::memory(row_bytes(staged.dim)),
                ),
            };
        }
        self.codes.commit(&staged.codes).map_err(io("mapped"))?;
        self.rows.commit(&staged.rows);
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

    pub(super) fn meta(&self) -> Meta {
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
