//! Digest claimers' liveness on SQLite: one lock file per claimer beside the database,
//! `<database>-claimers/<id>.lock`, locked exclusively by its claimer for its life. The kernel
//! drops the lock when the process dies, however it dies, so another process can tell a dead
//! claimer from a live one by trying the lock.
//!
//! Testers take the lock *shared* and let go at once: two testers never mistake each other for
//! the owner, and a live owner's exclusive lock refuses them both. Ids are random and never
//! reused, so a file is only ever locked exclusively by the one claimer it names; that is what
//! makes removing the file of a dead claimer safe.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::StoreError;
use crate::mail::ClaimerLock;

/// The folder of claimers' lock files for the database at `database`.
pub(crate) fn claimers_dir(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-claimers");
    PathBuf::from(name)
}

fn lock_path(dir: &Path, id: i64) -> PathBuf {
    dir.join(format!("{id}.lock"))
}

/// A live claimer's lock: the open, exclusively locked file.
pub(crate) struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Creates and locks the file of claimer `id` (a fresh random id: the file is new).
    pub(crate) fn acquire(dir: &Path, id: i64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::unavailable_from(format!("creating {}", dir.display()), e))?;
        let path = lock_path(dir, id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::unavailable_from(format!("creating {}", path.display()), e))?;
        file.try_lock()
            .map_err(|e| StoreError::unavailable_from(format!("locking {}", path.display()), e))?;
        Ok(Self { file, path })
    }
}

#[async_trait]
impl ClaimerLock for FileLock {
    fn held(&self) -> bool {
        // A lock on an open file holds until the file is closed.
        true
    }

    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        // Removed while still locked, so nobody can find it unlocked and think it dead
        // before it is gone; then closing the file lets the lock go.
        let FileLock { file, path } = *self;
        let removed = std::fs::remove_file(&path);
        drop(file);
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::unavailable_from(
                format!("removing {}", path.display()),
                e,
            )),
            _ => Ok(()),
        }
    }
}

/// Whether claimer `id` is alive: its lock file exists and is locked by someone. An error
/// other than "no such file" cannot disprove it, so it counts as alive (the lease decides).
pub(crate) fn is_alive(dir: &Path, id: i64) -> bool {
    let file = match File::open(lock_path(dir, id)) {
        Ok(file) => file,
        Err(e) => return e.kind() != io::ErrorKind::NotFound,
    };
    // Refused (`WouldBlock`: the owner holds it) or failed: alive, as far as we can tell.
    file.try_lock_shared().is_err()
}

/// Removes the lock file of a claimer found dead (nobody will lock it again: ids are not
/// reused).
pub(crate) fn forget(dir: &Path, id: i64) {
    let _ = std::fs::remove_file(lock_path(dir, id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimer_is_alive_while_its_lock_is_held_and_dead_once_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let dir = claimers_dir(&dir.path().join("paperfeed.sqlite3"));
        let lock = FileLock::acquire(&dir, 7).unwrap();
        assert!(is_alive(&dir, 7));
        assert!(is_alive(&dir, 7), "testing does not take the lock away");
        assert!(
            !is_alive(&dir, 8),
            "no file: never registered, or cleaned up"
        );
        drop(lock); // as when the process dies: the file stays, unlocked
        assert!(lock_path(&dir, 7).exists());
        assert!(!is_alive(&dir, 7));
        forget(&dir, 7);
        assert!(!lock_path(&dir, 7).exists());
    }
}
