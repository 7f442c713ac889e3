//! The embedded SQLite backend: one file in the data directory, WAL mode, migrations applied
//! at open, one writer connection and a small pool of readers.
//!
//! This file holds the handle and its connections; the [`Store`](crate::Store) contract is
//! kept in `store.rs` (papers, feeds, community, leases) with `papers.rs` (writing batches),
//! `embeddings.rs`, `rows.rs` (how rows read and write), `migrate.rs`; the outbox in
//! `mail.rs` with `claimers.rs`; `backup.rs`, `check.rs` and `transfer.rs` serve the
//! operator's commands.

mod accounts;
mod backup;
mod check;
mod claimers;
mod community;
mod embeddings;
mod follows;
mod for_you_digest;
mod identities;
mod library;
mod mail;
mod migrate;
mod papers;
mod recommender;
mod rows;
mod saved_searches;
mod store;
#[cfg(test)]
mod tests;
mod thumbnails;
mod transfer;
mod vector_transfer;
mod visibility;

pub use backup::{BackupPace, BackupReport, StoreCounts};
pub use check::StoreCheck;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// Readers kept open for reuse; more may be opened under load and are closed after use.
const IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Connections that read the change counter on the caller's thread (see
    /// [`SqliteStore::change_seq_now`]), opened on first use.
    counter_readers: [Mutex<Option<Connection>>; COUNTER_READERS],
}

/// Connections for [`SqliteStore::change_seq_now`]: one per thread that may ask at once.
const COUNTER_READERS: usize = 4;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::unavailable_from("", e)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_err(e.to_string()))?;
        }
        let mut writer = open_connection(path, false).map_err(|e| open_err(e.to_string()))?;
        migrate::migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                counter_readers: Default::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a reader connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&inner.path, true)?,
            };
            let result = f(&conn);
            let mut readers = inner.readers.lock().unwrap_or_else(PoisonError::into_inner);
            if readers.len() < IDLE_READERS {
                readers.push(conn);
            }
            result
        })
        .await
    }

    /// The change counter, read on the calling thread instead of the blocking pool: every
    /// request asks for it, and the hand-off to the pool cost more than the read (one row of
    /// a WAL database, a few microseconds; readers never wait for the writer). It never
    /// waits: a connection that is in use, a database that is busy (busy timeout 0) or any
    /// error gives `None`, and the caller reads through the pool.
    pub(crate) fn change_seq_now(&self) -> Option<i64> {
        let mut slot = self
            .inner
            .counter_readers
            .iter()
            .find_map(|slot| slot.try_lock().ok())?;
        if slot.is_none() {
            let conn = open_connection(&self.inner.path, true).ok()?;
            conn.busy_timeout(Duration::ZERO).ok()?;
            *slot = Some(conn);
        }
        let seq = slot.as_ref().map(rows::read_change_seq)?;
        if seq.is_err() {
            // Opened afresh next time.
            *slot = None;
        }
        seq.ok()
    }

    /// Runs `f` on the single writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
    }
}

async fn run_blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::unavailable_from("store task failed", e))?
}

/// The writer's page cache, as SQLite's `cache_size` reads a negative number: KiB.
const WRITER_CACHE_KIB: i64 = -64 * 1024;

fn open_connection(path: &Path, read_only: bool) -> Result<Connection, rusqlite::Error> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "wal")?;
        // The one writer's page cache, 64 MiB instead of SQLite's 2 MB: ingesting 100k papers
        // with the default read and wrote the same index pages back and forth (2.3M pwrite
        // and 1.9M pread calls). Readers keep the default: there are several of them, and
        // the OS page cache serves their reads.
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
    }
    // WAL + NORMAL survives a killed process (the case we promise); only an OS crash may lose
    // the last commits, never consistency.
    conn.pragma_update(None, "synchronous", "normal")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    conn.set_prepared_statement_cache_capacity(64);
    // The query planner stability guarantee: plans never depend on bound values. Without it,
    // SQLite marks a statement comparing a column with a bound parameter (`user_id = ?1`) to
    // be planned again whenever its bindings are cleared, which the statement cache does each
    // time a statement goes back to it: every cached statement was parsed and planned anew on
    // every use (a tenth of a reader's page). No query here gains from value-dependent plans
    // (no LIKE or GLOB on parameters, no ANALYZE statistics).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}
