//! Append-only columns of fixed-size records, in memory or in files: the sign codes, which every
//! query reads whole, through a memory map ([`Column`]); the rows, of which a query reads a few
//! thousand among millions, by position ([`Rows`]), so the pages read stay in the page cache,
//! shared and reclaimable, rather than in the process's own memory.
//!
//! A file is written only past its committed records (what lies there is garbage, overwritten or
//! cut) and read only up to them, so the bytes a reader sees never change under it. The map
//! reserves room past the end of the file and grows by half when an append needs more, so an
//! append does not remap (and readers keep the pages they have) until then.

use std::fs::{File, OpenOptions};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::Path;

use memmap2::{Mmap, MmapOptions};

/// The least a map reserves (bytes): small indexes remap rarely.
const MIN_RESERVE: usize = 1 << 20;

/// A file of fixed-size records, of which the first `rows` are committed.
#[derive(Debug)]
pub(super) struct RecordFile {
    file: File,
    stride: usize,
}

impl RecordFile {
    /// Creates (or empties) the file at `path`.
    pub(super) fn create(path: &Path, stride: usize) -> std::io::Result<RecordFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(RecordFile { file, stride })
    }

    /// Opens the file at `path`, which must hold at least `rows` records. When `writable`,
    /// what lies past them (an append that never committed) is cut off; otherwise it is left
    /// alone (another process may be writing there) and never read.
    pub(super) fn open(
        path: &Path,
        stride: usize,
        rows: usize,
        writable: bool,
    ) -> Result<RecordFile, ColumnError> {
        let cut = writable;
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(ColumnError::Io)?;
        let len = file.metadata().map_err(ColumnError::Io)?.len();
        let committed = (rows as u64).saturating_mul(stride as u64);
        if len < committed {
            return Err(ColumnError::Short {
                file: file_name(path),
                bytes: len,
                expected: committed,
            });
        }
        if cut && len > committed {
            file.set_len(committed).map_err(ColumnError::Io)?;
            file.sync_all().map_err(ColumnError::Io)?;
        }
        Ok(RecordFile { file, stride })
    }

    /// Writes `data` (whole records) after the first `rows` records and makes it durable.
    /// Until the caller commits the new count, the records are not part of the column.
    pub(super) fn write_after(&self, rows: usize, data: &[u8]) -> std::io::Result<()> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start((rows * self.stride) as u64))?;
        file.write_all(data)?;
        self.file.sync_data()
    }

    /// Reads `out.len()` bytes from record `row` on (committed records only).
    pub(super) fn read_at(&self, row: usize, out: &mut [u8]) -> std::io::Result<()> {
        let offset = (row * self.stride) as u64;
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, out, offset)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < out.len() {
                let n = std::os::windows::fs::FileExt::seek_read(
                    &self.file,
                    &mut out[done..],
                    offset + done as u64,
                )?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
            Ok(())
        }
    }

    /// The first `rows` records, read through the file (not the map), a buffer at a time.
    pub(super) fn reader(&self, rows: usize) -> std::io::Result<impl std::io::Read + '_> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        let limit = (rows * self.stride) as u64;
        Ok(std::io::BufReader::with_capacity(
            1 << 20,
            std::io::Read::take(file, limit),
        ))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Why a column could not be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum ColumnError {
    #[error("{file} holds {bytes} bytes, fewer than the {expected} its committed rows need")]
    Short {
        file: String,
        bytes: u64,
        expected: u64,
    },
    #[error(transparent)]
    Io(std::io::Error),
}

/// Records of `stride` bytes, the first `rows` of them readable as one slice.
#[derive(Debug)]
pub(super) struct Column {
    stride: usize,
    rows: usize,
    data: Data,
}

#[derive(Debug)]
enum Data {
    Memory(Vec<u8>),
    Mapped {
        file: RecordFile,
        /// `None` until there is something to map.
        map: Option<Mmap>,
        /// Bytes the map covers (past the end of the file, reserved for appends).
        reserved: usize,
    },
}

impl Column {
    pub(super) fn memory(stride: usize) -> Column {
        Column {
            stride,
            rows: 0,
            data: Data::Memory(Vec::new()),
        }
    }

    /// A column over `file`, of which `rows` records are committed.
    pub(super) fn mapped(file: RecordFile, rows: usize) -> std::io::Result<Column> {
        let mut column = Column {
            stride: file.stride,
            rows: 0,
            data: Data::Mapped {
                file,
                map: None,
                reserved: 0,
            },
        };
        column.grow_to(rows)?;
        Ok(column)
    }

    /// Every committed record, back to back.
    pub(super) fn bytes(&self) -> &[u8] {
        let len = self.rows * self.stride;
        match &self.data {
            Data::Memory(bytes) => &bytes[..len],
            Data::Mapped { map: Some(map), .. } => &map[..len],
            Data::Mapped { map: None, .. } => &[],
        }
    }

    /// Writes records after the committed ones, durably, without committing them (a file
    /// column); an in-memory column keeps nothing until [`Column::commit`].
    pub(super) fn write(&self, data: &[u8]) -> std::io::Result<()> {
        match &self.data {
            Data::Memory(_) => Ok(()),
            Data::Mapped { file, .. } => file.write_after(self.rows, data),
        }
    }

    /// Makes the records given to [`Column::write`] part of the column.
    pub(super) fn commit(&mut self, data: &[u8]) -> std::io::Result<()> {
        let added = data.len().checked_div(self.stride).unwrap_or(0);
        match &mut self.data {
            Data::Memory(bytes) => {
                bytes.extend_from_slice(data);
                self.rows += added;
                Ok(())
            }
            Data::Mapped { .. } => self.grow_to(self.rows + added),
        }
    }

    /// Commits `rows` records, mapping more of the file when they pass the reserved room.
    fn grow_to(&mut self, rows: usize) -> std::io::Result<()> {
        let needed = rows * self.stride;
        if let Data::Mapped {
            file,
            map,
            reserved,
        } = &mut self.data
            && needed > *reserved
        {
            let size = needed.max(*reserved + *reserved / 2).max(MIN_RESERVE);
            // SAFETY: the map is read-only and shared, and only its first `rows × stride`
            // bytes are ever read (`bytes`), which the file holds (it was checked at open or
            // written and synced by `write` before this commit). Those bytes never change while
            // mapped: records are written only past the committed ones, a file is cut only
            // when opened, before it is mapped, and compaction writes new files. Other
            // paperfeed processes write only while holding the index's lock, the same way.
            // The pages reserved past the end of the file are never touched until appends
            // have filled them.
            #[expect(
                unsafe_code,
                reason = "a memory map of the index's own append-only file"
            )]
            let mapped = unsafe { MmapOptions::new().len(size).map(&file.file)? };
            *map = Some(mapped);
            *reserved = size;
        }
        self.rows = rows;
        Ok(())
    }
}

/// Records read by position: in memory, or from a file with one read per record (or range).
#[derive(Debug)]
pub(super) enum Rows {
    Memory { stride: usize, bytes: Vec<u8> },
    File(RecordFile),
}

impl Rows {
    pub(super) fn memory(stride: usize) -> Rows {
        Rows::Memory {
            stride,
            bytes: Vec::new(),
        }
    }

    pub(super) fn stride(&self) -> usize {
        match self {
            Rows::Memory { stride, .. } => *stride,
            Rows::File(file) => file.stride,
        }
    }

    /// Reads records `first..first + out.len() / stride` (committed ones) into `out`.
    pub(super) fn read(&self, first: usize, out: &mut [u8]) -> std::io::Result<()> {
        match self {
            Rows::Memory { stride, bytes } => {
                let start = first * stride;
                let source = bytes
                    .get(start..start + out.len())
                    .ok_or(std::io::ErrorKind::UnexpectedEof)?;
                out.copy_from_slice(source);
                Ok(())
            }
            Rows::File(file) => file.read_at(first, out),
        }
    }

    /// Writes records after the first `committed` ones, durably, without committing them; an
    /// in-memory column keeps nothing until [`Rows::commit`].
    pub(super) fn write(&self, committed: usize, data: &[u8]) -> std::io::Result<()> {
        match self {
            Rows::Memory { .. } => Ok(()),
            Rows::File(file) => file.write_after(committed, data),
        }
    }

    /// Makes the records given to [`Rows::write`] part of the column.
    pub(super) fn commit(&mut self, data: &[u8]) {
        if let Rows::Memory { bytes, .. } = self {
            bytes.extend_from_slice(data);
        }
    }
}
