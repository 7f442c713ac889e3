//! Opening an index on disk: the commit record read, the files checked and mapped, tails of
//! interrupted appends cut, files of other generations removed; the writer's lock.

use std::fs::File;
use std::path::Path;

use paperfeed_core::ArxivId;

use super::column::{Column, ColumnError, RecordFile, Rows};
use super::ids::{self, Ids, SLOT};
use super::meta::{FORMAT, Files, META, Meta};
use super::quantise::{code_words, row_bytes};
use super::{Disk, LOCK, VectorError, VectorIndex, VectorWatermark, io};
use crate::OpenOutcome;

/// What a committed index holds, read back.
struct Parts {
    codes: Column,
    rows: Rows,
    ids: Ids,
    id_file: RecordFile,
}

impl VectorIndex {
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
            Ok(Some(meta)) => Some(open_existing(dir, &meta, writable).map(|parts| (meta, parts))),
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
        let Some((meta, parts)) = opened else {
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
            // The codes and rows files are made by the first append, which fixes their strides.
            let id_file = RecordFile::create(&Files::of(dir, meta.generation).ids, SLOT)
                .map_err(io("created"))?;
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
        index.codes = parts.codes;
        index.rows = parts.rows;
        index.ids = parts.ids;
        index.centre = meta.centre;
        index.centre_rows = meta.centre_rows;
        index.watermark = meta.watermark.and_then(|w| {
            ArxivId::parse(&w.id)
                .ok()
                .map(|id| VectorWatermark { seq: w.seq, id })
        });
        index.disk = Some(Disk {
            dir: dir.to_owned(),
            ids: Some(parts.id_file),
            lock,
        });
        Ok((index, outcome))
    }

    /// Whether the index is on disk and its folder lost its commit record (deleted, emptied):
    /// the process should open it again ([`VectorIndex::reopened`]), which starts it afresh.
    pub fn is_lost(&self) -> bool {
        self.disk
            .as_ref()
            .is_some_and(|d| !d.dir.join(META).is_file())
    }

    /// The index opened again from its folder (for one found lost); an index in memory comes
    /// back empty.
    pub fn reopened(&self) -> Result<(VectorIndex, OpenOutcome), VectorError> {
        match &self.disk {
            Some(disk) => Self::open_or_create(&disk.dir, &self.model, self.exact_limit),
            None => Ok((VectorIndex::new(self.exact_limit), OpenOutcome::Fresh)),
        }
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
                Some(Self::open_or_create(
                    &disk.dir,
                    &self.model,
                    self.exact_limit,
                ))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// The columns and ids of a committed index, or why they cannot be used. `writable`: this
/// process holds the lock, and cuts what lies past the committed rows.
fn open_existing(dir: &Path, meta: &Meta, writable: bool) -> Result<Parts, String> {
    if meta.rows > 0 && (meta.dim == 0 || meta.centre.len() != meta.dim) {
        return Err(format!("{META} is inconsistent (dimensions {})", meta.dim));
    }
    let files = Files::of(dir, meta.generation);
    let open = |path: &Path, stride: usize| {
        RecordFile::open(path, stride, meta.rows, writable).map_err(|e| match e {
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
    if meta.dim == 0 {
        // Nothing appended yet: no codes or rows files.
        return Ok(Parts {
            codes: Column::memory(0),
            rows: Rows::memory(0),
            ids,
            id_file,
        });
    }
    let codes = Column::mapped(open(&files.codes, code_words(meta.dim) * 8)?, meta.rows)
        .map_err(|e| format!("its codes could not be mapped ({e})"))?;
    let rows = Rows::File(open(&files.rows, row_bytes(meta.dim))?);
    Ok(Parts {
        codes,
        rows,
        ids,
        id_file,
    })
}

/// The index's lock, when no other process holds it.
pub(super) fn take_lock(dir: &Path) -> Result<Option<File>, VectorError> {
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
pub(super) fn remove_stale(dir: &Path, generation: u64) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if Files::is_stale(&entry.file_name().to_string_lossy(), generation) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
