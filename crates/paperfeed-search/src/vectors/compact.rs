//! Compaction: the live rows copied into the next generation (dead rows dropped, codes taken
//! around a centre of all of them) beside the files in use, while searches go on, then
//! switched to by renaming the commit record. A compaction cut short leaves files of a
//! generation no commit record names, removed at the next open.

use std::path::Path;

use paperfeed_core::ArxivId;

use super::column::{Column, RecordFile, Rows};
use super::ids::{self, Ids, SLOT};
use super::meta::Files;
use super::open::remove_stale;
use super::quantise::{Decoder, code_bytes, code_words, row_bytes, sign_code};
use super::{VectorError, VectorIndex, io, mean_of_rows};

/// A compaction runs once dead rows are this share of all rows (and at least
/// [`COMPACT_MIN_DEAD`]).
const COMPACT_FRACTION: f64 = 0.2;
const COMPACT_MIN_DEAD: usize = 1_000;

/// The centre is taken again (by a compaction) each time the index has grown fourfold since,
/// until it was taken from this many vectors: then it is as good as it gets.
const CENTRE_SETTLED: usize = 200_000;

/// Live rows copied per write.
const CHUNK: usize = 16_384;

/// A compacted copy of an index, ready to take its place (see [`VectorIndex::compacted`]).
#[derive(Debug)]
pub struct Compacted {
    generation: u64,
    codes: Column,
    rows: Rows,
    ids: Ids,
    id_file: Option<RecordFile>,
    centre: Vec<f32>,
    centre_rows: usize,
}

impl VectorIndex {
    /// Whether a compaction is due: many dead rows, or a centre taken from far fewer vectors
    /// than the index now holds.
    pub fn needs_compaction(&self) -> bool {
        let (rows, dead, live) = (self.ids.rows(), self.ids.dead(), self.len());
        let many_dead = dead >= COMPACT_MIN_DEAD && dead as f64 >= COMPACT_FRACTION * rows as f64;
        let centre_young =
            self.centre_rows < CENTRE_SETTLED && live >= 4 * self.centre_rows.max(64);
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
        let centre = mean_of_rows(&self.rows, &live, dim)?;
        let generation = self.generation + 1;
        let (mut codes, mut rows) = (Column::memory(words * 8), Rows::memory(row_bytes(dim)));
        let mut id_file = None;
        if let Some(disk) = &self.disk {
            let files = Files::of(&disk.dir, generation);
            let create = |path: &Path, stride: usize| {
                RecordFile::create(path, stride).map_err(io("compacted"))
            };
            codes = Column::mapped(create(&files.codes, words * 8)?, 0).map_err(io("compacted"))?;
            rows = Rows::File(create(&files.rows, row_bytes(dim))?);
            id_file = Some(create(&files.ids, SLOT)?);
        }
        let mut ids = Ids::default();
        let mut code = vec![0u64; words];
        let mut decoder = Decoder::default();
        let stride = self.rows.stride();
        let mut stored = vec![0u8; stride];
        for chunk in live.chunks(CHUNK) {
            let mut code_data = Vec::with_capacity(chunk.len() * words * 8);
            let mut row_data = Vec::with_capacity(chunk.len() * stride);
            let mut slots = Vec::with_capacity(chunk.len() * SLOT);
            let first = ids.rows();
            for &row in chunk {
                self.rows.read(row, &mut stored).map_err(io("compacted"))?;
                sign_code(decoder.decode(&stored), &centre, &mut code);
                code_bytes(&code, &mut code_data);
                row_data.extend_from_slice(&stored);
                let id = self.ids.id_of(row);
                slots.extend_from_slice(&slot_of(id));
                ids.push(id, false).ok_or(VectorError::Full)?;
            }
            codes.write(&code_data).map_err(io("compacted"))?;
            rows.write(first, &row_data).map_err(io("compacted"))?;
            if let Some(file) = &id_file {
                file.write_after(first, &slots).map_err(io("compacted"))?;
            }
            codes.commit(&code_data).map_err(io("compacted"))?;
            rows.commit(&row_data);
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
        meta.centre.clone_from(&centre);
        meta.centre_rows = centre_rows;
        if let Some(disk) = &self.disk
            && let Err(e) = meta.write(&disk.dir)
        {
            // Still on the old generation: drop the new files.
            let _ = remove_stale(&disk.dir, old_generation);
            return Err(io("compacted")(e));
        }
        self.generation = generation;
        self.codes = codes;
        self.rows = rows;
        self.ids = ids;
        self.centre = centre;
        self.centre_rows = centre_rows;
        if let (Some(disk), Some(id_file)) = (&mut self.disk, id_file) {
            disk.ids = Some(id_file);
            // The old files are unlinked; what still reads them (a map) keeps them until done.
            remove_stale(&disk.dir, generation).map_err(io("cleared"))?;
        }
        Ok(())
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
