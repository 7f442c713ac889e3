//! The vector file format of `paperfeed vectors export|import` (docs/vectors.md): a NumPy
//! `.npy` file of float32 little-endian, C order, shape `[N, 384]`, and beside it a text file
//! of N arXiv ids, one per line, row `i` being the vector of the paper on line `i + 1`.
//!
//! Only that one layout is read; anything else is refused with the file and the reason before
//! a vector is read. Rows are read and written one at a time, so any size streams.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Values in a row: all-MiniLM-L6-v2's dimension.
pub const DIM: usize = 384;
const ROW_BYTES: u64 = (DIM * 4) as u64;
const MAGIC: &[u8] = b"\x93NUMPY";
/// The header `write` makes: always this long (padding absorbs the row count), so the count
/// can be written last, in place.
const WRITTEN_HEADER: usize = 128;

/// The ids file beside a vector file: the same path with the extension `.ids`.
pub fn ids_path(npy: &Path) -> PathBuf {
    npy.with_extension("ids")
}

/// Why a vector file cannot be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

fn invalid(path: &Path, reason: impl Into<String>) -> NpyError {
    NpyError::Invalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> NpyError + '_ {
    move |source| NpyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A checked `.npy` file being read row by row.
pub struct NpyReader {
    path: PathBuf,
    reader: BufReader<File>,
    data_start: u64,
    rows: u64,
    next: u64,
    buf: Vec<u8>,
}

impl NpyReader {
    /// Opens `path` and checks its header and its length: float32 little-endian, C order,
    /// `[N, 384]`, exactly `N` rows of data after the header.
    pub fn open(path: &Path) -> Result<NpyReader, NpyError> {
        let file = File::open(path).map_err(io_error(path))?;
        let meta = file.metadata().map_err(io_error(path))?;
        if !meta.is_file() {
            return Err(invalid(path, "not a regular file"));
        }
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut fixed = [0u8; 8];
        reader
            .read_exact(&mut fixed)
            .map_err(|_| invalid(path, "too short for a .npy file"))?;
        if &fixed[..6] != MAGIC {
            return Err(invalid(path, "not a .npy file (no \\x93NUMPY magic)"));
        }
        let header_len = match fixed[6] {
            1 => {
                let mut len = [0u8; 2];
                reader
                    .read_exact(&mut len)
                    .map_err(|_| invalid(path, "truncated in its header"))?;
                u64::from(u16::from_le_bytes(len))
            }
            2 | 3 => {
                let mut len = [0u8; 4];
                reader
                    .read_exact(&mut len)
                    .map_err(|_| invalid(path, "truncated in its header"))?;
                u64::from(u32::from_le_bytes(len))
            }
            v => {
                return Err(invalid(
                    path,
                    format!(".npy format version {v} is not known"),
                ));
            }
        };
        if header_len > 1 << 20 {
            return Err(invalid(path, format!("header of {header_len} bytes")));
        }
        let prefix = if fixed[6] == 1 { 10 } else { 12 };
        let mut header = vec![0u8; header_len as usize];
        reader
            .read_exact(&mut header)
            .map_err(|_| invalid(path, "truncated in its header"))?;
        let header = String::from_utf8_lossy(&header);
        let rows = parse_header(&header).map_err(|reason| invalid(path, reason))?;
        let data_start = prefix + header_len;
        let want = data_start + rows * ROW_BYTES;
        let have = meta.len();
        if have < want {
            return Err(invalid(
                path,
                format!(
                    "truncated: the header says {rows} rows of {DIM} float32 values ({want} \
                     bytes in all), the file has {have} bytes (room for {} whole rows)",
                    have.saturating_sub(data_start) / ROW_BYTES
                ),
            ));
        }
        if have > want {
            return Err(invalid(
                path,
                format!(
                    "{} bytes after the {rows} rows the header announces",
                    have - want
                ),
            ));
        }
        Ok(NpyReader {
            path: path.to_owned(),
            reader,
            data_start,
            rows,
            next: 0,
            buf: vec![0u8; ROW_BYTES as usize],
        })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next row, `None` after the last.
    pub fn next_row(&mut self) -> Result<Option<Vec<f32>>, NpyError> {
        if self.next == self.rows {
            return Ok(None);
        }
        self.reader
            .read_exact(&mut self.buf)
            .map_err(io_error(&self.path))?;
        self.next += 1;
        Ok(Some(
            self.buf
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ))
    }

    /// Row `index` (0-based), read without moving the stream of [`NpyReader::next_row`]'s
    /// rows: for checking a sample before the import proper.
    pub fn row_at(&self, index: u64) -> Result<Vec<f32>, NpyError> {
        let mut file = File::open(&self.path).map_err(io_error(&self.path))?;
        file.seek(SeekFrom::Start(self.data_start + index * ROW_BYTES))
            .map_err(io_error(&self.path))?;
        let mut buf = vec![0u8; ROW_BYTES as usize];
        file.read_exact(&mut buf).map_err(io_error(&self.path))?;
        Ok(buf
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// The row count of a header dict such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (12, 384), }`; `Err` is the reason.
fn parse_header(header: &str) -> Result<u64, String> {
    let value_of = |key: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{key}'"))
            .ok_or_else(|| format!("the header has no '{key}'"))?;
        let rest = header[at + key.len() + 2..].trim_start();
        rest.strip_prefix(':')
            .map(str::trim_start)
            .ok_or_else(|| format!("the header's '{key}' has no value"))
    };
    let descr = value_of("descr")?;
    let dtype = descr
        .strip_prefix('\'')
        .and_then(|d| d.split_once('\''))
        .map(|(d, _)| d)
        .ok_or_else(|| "the header's 'descr' is not a string".to_owned())?;
    if dtype != "<f4" {
        return Err(format!(
            "dtype {dtype:?}: vectors must be float32 little-endian ('<f4'; NumPy: \
             array.astype('<f4'))"
        ));
    }
    if !value_of("fortran_order")?.starts_with("False") {
        return Err("fortran_order is True: rows must be in C order (np.ascontiguousarray)".into());
    }
    let shape = value_of("shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .map(|(s, _)| s)
        .ok_or_else(|| "the header's 'shape' is not a tuple".to_owned())?;
    let dims: Vec<&str> = inner
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let parsed: Result<Vec<u64>, _> = dims.iter().map(|d| d.parse::<u64>()).collect();
    match parsed.as_deref() {
        Ok([rows, cols]) if *cols == DIM as u64 => Ok(*rows),
        _ => Err(format!(
            "shape ({inner}): it must be (N, {DIM}), one row of {DIM} values per paper"
        )),
    }
}

/// Writes `[N, 384]` float32 rows to a file, the count filled in by [`NpyWriter::finish`].
pub struct NpyWriter {
    path: PathBuf,
    writer: BufWriter<File>,
    rows: u64,
}

impl NpyWriter {
    pub fn create(path: &Path) -> Result<NpyWriter, NpyError> {
        let file = File::create(path).map_err(io_error(path))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        writer.write_all(&header(0)).map_err(io_error(path))?;
        Ok(NpyWriter {
            path: path.to_owned(),
            writer,
            rows: 0,
        })
    }

    pub fn write_row(&mut self, row: &[f32]) -> Result<(), NpyError> {
        if row.len() != DIM {
            return Err(invalid(
                &self.path,
                format!("a stored vector has {} values, not {DIM}", row.len()),
            ));
        }
        for x in row {
            self.writer
                .write_all(&x.to_le_bytes())
                .map_err(io_error(&self.path))?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Writes the row count into the header and flushes to disk; returns the count.
    pub fn finish(self) -> Result<u64, NpyError> {
        let path = self.path;
        let mut file = self
            .writer
            .into_inner()
            .map_err(|e| io_error(&path)(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io_error(&path))?;
        file.write_all(&header(self.rows))
            .map_err(io_error(&path))?;
        file.sync_all().map_err(io_error(&path))?;
        Ok(self.rows)
    }
}

/// A version 1.0 header for `rows` rows, [`WRITTEN_HEADER`] bytes long.
fn header(rows: u64) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {DIM}), }}");
    let text_len = WRITTEN_HEADER - 10;
    let mut out = Vec::with_capacity(WRITTEN_HEADER);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(text_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(WRITTEN_HEADER - 1, b' ');
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_numpy_writes_are_read() {
        assert_eq!(
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 384), }"),
            Ok(3)
        );
        assert_eq!(
            parse_header("{'descr':'<f4','fortran_order':False,'shape':(0,384)}"),
            Ok(0)
        );
    }

    #[test]
    fn other_dtypes_orders_and_shapes_are_refused_with_the_reason() {
        let f8 = parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 384), }");
        assert!(f8.unwrap_err().contains("\"<f8\""));
        let fortran = parse_header("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 384), }");
        assert!(fortran.unwrap_err().contains("fortran_order"));
        for shape in ["(3, 383)", "(384,)", "(2, 3, 384)", "(-1, 384)"] {
            let h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
            assert!(
                parse_header(&h).unwrap_err().contains("(N, 384)"),
                "{shape}"
            );
        }
    }

    #[test]
    fn the_written_header_is_padded_to_64_bytes_and_reads_back() {
        for rows in [0, 7, u64::MAX] {
            let h = header(rows);
            assert_eq!(h.len(), WRITTEN_HEADER);
            assert!(h.len().is_multiple_of(64));
            let text = String::from_utf8_lossy(&h[10..]);
            assert_eq!(parse_header(&text), Ok(rows));
        }
    }
}
