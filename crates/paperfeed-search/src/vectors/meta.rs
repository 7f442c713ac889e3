//! The index's commit record, `meta.json`: written after the rows it counts are durable, to a
//! temporary file renamed over the old one, so after a crash it names either the old state or
//! the new one, never a half-written one. Rows in the files past its count are cut at open.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The layout this code writes; another one is rebuilt.
pub(super) const FORMAT: u32 = 1;

pub(super) const META: &str = "meta.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Meta {
    pub format: u32,
    /// The model the vectors come from: vectors of another model are another index.
    pub model: String,
    /// Components per vector; 0 until the first vector.
    pub dim: usize,
    /// Names the files (`codes-G.bin` …); compaction writes the next generation.
    pub generation: u64,
    /// Committed rows, live or dead.
    pub rows: usize,
    /// What the sign codes are taken around, and from how many vectors it was computed.
    pub centre: Vec<f32>,
    pub centre_rows: usize,
    /// The store's vectors are in the index up to here (see `VectorWatermark`).
    pub watermark: Option<Watermark>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Watermark {
    pub seq: i64,
    pub id: String,
}

impl Meta {
    pub(super) fn empty(model: &str) -> Meta {
        Meta {
            format: FORMAT,
            model: model.to_owned(),
            dim: 0,
            generation: 0,
            rows: 0,
            centre: Vec::new(),
            centre_rows: 0,
            watermark: None,
        }
    }

    pub(super) fn read(dir: &Path) -> Result<Option<Meta>, String> {
        let path = dir.join(META);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{META} could not be read ({e})")),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| format!("{META} is unreadable ({e})"))
    }

    /// Replaces the meta file atomically and durably.
    pub(super) fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{META}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, dir.join(META))?;
        sync_dir(dir)
    }
}

/// Makes a rename or a new file in `dir` durable (the directory entry itself).
pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The files of one generation.
pub(super) struct Files {
    pub codes: PathBuf,
    pub rows: PathBuf,
    pub ids: PathBuf,
}

impl Files {
    pub(super) fn of(dir: &Path, generation: u64) -> Files {
        Files {
            codes: dir.join(format!("codes-{generation}.bin")),
            rows: dir.join(format!("rows-{generation}.bin")),
            ids: dir.join(format!("ids-{generation}.bin")),
        }
    }

    /// Whether `name` is a data file of some generation other than `generation`: left by a
    /// compaction that was cut short or whose old files were not removed yet.
    pub(super) fn is_stale(name: &str, generation: u64) -> bool {
        let Some(stem) = name.strip_suffix(".bin") else {
            return false;
        };
        let Some((kind, number)) = stem.split_once('-') else {
            return false;
        };
        matches!(kind, "codes" | "rows" | "ids")
            && number.parse::<u64>().is_ok_and(|g| g != generation)
    }
}
