//! One repository's folder in the Hugging Face hub cache, in the layout `huggingface_hub`
//! writes and reads, so Python tools and this binary share the files:
//!
//! ```text
//! <cache>/models--sentence-transformers--all-MiniLM-L6-v2/
//!   blobs/<etag>                         each file's bytes, named by the Hub's ETag for it
//!   snapshots/<commit>/<path> -> ../../blobs/<etag>   (relative symlinks)
//! ```
//!
//! `refs/<branch>` files are not written: the fetch asks for a commit, not a branch (as
//! `huggingface_hub` does for a commit, it records no ref). Nothing half-written is ever under
//! a blob's name: a download goes to `blobs/<etag>.<unique>.incomplete` (the suffix Python tools
//! use for the same) and is renamed only once checked; on failure it is removed. The snapshot's
//! links are made only once every blob is in place.

use std::fs::File;
use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};

use super::FetchError;
use super::pin::PinnedFile;

/// The cache folder of one repository.
#[derive(Debug, Clone)]
pub struct RepoCache {
    dir: PathBuf,
}

impl RepoCache {
    /// `repo` (`org/name`) in the hub cache `hub`.
    pub fn new(hub: &Path, repo: &str) -> Self {
        Self {
            dir: hub.join(format!("models--{}", repo.replace('/', "--"))),
        }
    }

    pub fn blob(&self, file: &PinnedFile) -> PathBuf {
        self.dir.join("blobs").join(file.etag)
    }

    pub fn snapshot(&self, revision: &str) -> PathBuf {
        self.dir.join("snapshots").join(revision)
    }

    /// Whether the blob of `file` is there with exactly the pinned bytes. A blob with other
    /// bytes (damaged on disk, or left by a tool that checks nothing) counts as missing: the
    /// fetch replaces it.
    pub fn holds(&self, file: &PinnedFile) -> Result<bool, FetchError> {
        let path = self.blob(file);
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(FetchError::io("reading", &path, e)),
            Ok(meta) if meta.len() != file.size => Ok(false),
            Ok(_) => Ok(sha256_of_file(&path)? == file.sha256),
        }
    }

    /// A new temporary file beside the blobs for `file`'s download.
    pub fn temp_blob(&self, file: &PinnedFile) -> Result<TempBlob, FetchError> {
        let blobs = self.dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| FetchError::io("creating", &blobs, e))?;
        let dest = self.blob(file);
        loop {
            let path = blobs.join(format!("{}.{}.incomplete", file.etag, unique()));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(handle) => {
                    return Ok(TempBlob {
                        file: BufWriter::with_capacity(1 << 18, handle),
                        path,
                        dest,
                    });
                }
                // Another download of this process or another one took the name: next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(FetchError::io("creating", &path, e)),
            }
        }
    }

    /// Links every one of `files` into the snapshot of `revision` (relative symlinks to their
    /// blobs, which must all be in place); returns the snapshot's folder. Links already right
    /// are left alone; anything else under a file's name is replaced, atomically.
    pub fn link_snapshot(
        &self,
        revision: &str,
        files: &[PinnedFile],
    ) -> Result<PathBuf, FetchError> {
        let snapshot = self.snapshot(revision);
        for file in files {
            let link = snapshot.join(file.path);
            let parent = link.parent().unwrap_or(&snapshot);
            std::fs::create_dir_all(parent).map_err(|e| FetchError::io("creating", parent, e))?;
            // snapshots/<commit>/[folders/]<name> → as many `..` as folders, plus two.
            let ups = file.path.matches('/').count() + 2;
            let target = PathBuf::from("../".repeat(ups))
                .join("blobs")
                .join(file.etag);
            if std::fs::read_link(&link).is_ok_and(|t| t == target) {
                continue;
            }
            let temp = parent.join(format!(".{}.{}.link", file.etag, unique()));
            std::os::unix::fs::symlink(&target, &temp)
                .map_err(|e| FetchError::io("linking", &temp, e))?;
            if let Err(e) = std::fs::rename(&temp, &link) {
                let _ = std::fs::remove_file(&temp);
                return Err(FetchError::io("linking", &link, e));
            }
        }
        Ok(snapshot)
    }
}

/// A download in progress: written, then either renamed to its blob's name by
/// [`TempBlob::commit`] or removed when dropped.
#[derive(Debug)]
pub struct TempBlob {
    path: PathBuf,
    dest: PathBuf,
    file: BufWriter<File>,
}

impl TempBlob {
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        self.file
            .write_all(bytes)
            .map_err(|e| FetchError::io("writing", &self.path, e))
    }

    /// Flushes the file to disk, then renames it to its blob's name: after a crash the blob is
    /// either absent or whole. On failure the temporary file is removed (by drop).
    pub fn commit(mut self) -> Result<(), FetchError> {
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_all())
            .map_err(|e| FetchError::io("writing", &self.path, e))?;
        std::fs::rename(&self.path, &self.dest)
            .map_err(|e| FetchError::io("renaming", &self.path, e))
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        // After a successful commit the path no longer exists and this does nothing.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A name part no other download of this process or another one is using right now.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Lowercase hex SHA-256 of a file, read in chunks.
pub fn sha256_of_file(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(|e| FetchError::io("reading", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| FetchError::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
