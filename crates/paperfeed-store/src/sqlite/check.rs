//! `SqliteStore::quick_check`: SQLite's `quick_check` over a store file before serving from
//! it, bounded in time. A damaged page otherwise shows up only later, as 500s on the pages
//! that read it and an index that cannot be filled.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::SqliteStore;
use crate::StoreError;

/// Problems listed at most (SQLite stops checking after this many).
const MAX_PROBLEMS: u32 = 10;

/// What [`SqliteStore::quick_check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreCheck {
    Sound,
    /// SQLite's own words for each problem found (at most ten).
    Damaged(Vec<String>),
    /// The check did not finish within its time and was stopped (a large store on a slow
    /// disk): nothing is known.
    Unfinished,
}

impl SqliteStore {
    /// Runs SQLite's `pragma quick_check` (every page and b-tree, without comparing indexes
    /// to their tables) over the store file at `path`, stopping it after `limit`. Changes
    /// nothing. Blocking: run it on a blocking thread.
    pub fn quick_check(path: &Path, limit: Duration) -> Result<StoreCheck, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        // Read-write (not create): a store left with a write-ahead log by a killed process
        // is read with it, as the server will.
        let conn = match Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            Ok(conn) => conn,
            Err(e) if is_damage(&e) => return Ok(StoreCheck::Damaged(vec![e.to_string()])),
            Err(e) => return Err(open_err(e.to_string())),
        };
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| open_err(e.to_string()))?;
        let interrupt = conn.get_interrupt_handle();
        let (done, finished) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
                interrupt.interrupt();
            }
        });
        let result = run(&conn);
        let _ = done.send(());
        let _ = watchdog.join();
        match result {
            Ok(lines) if lines.iter().all(|l| l == "ok") => Ok(StoreCheck::Sound),
            Ok(lines) => Ok(StoreCheck::Damaged(lines)),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) => {
                Ok(StoreCheck::Unfinished)
            }
            Err(e) if is_damage(&e) => Ok(StoreCheck::Damaged(vec![e.to_string()])),
            Err(e) => Err(open_err(e.to_string())),
        }
    }
}

fn run(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let mut statement = conn.prepare(&format!("pragma quick_check({MAX_PROBLEMS})"))?;
    let lines = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines)
}

/// Errors that mean the file itself is broken, rather than that it could not be reached.
fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store as _;
    use std::io::{Seek as _, SeekFrom, Write as _};

    #[tokio::test]
    async fn a_sound_store_passes_and_a_damaged_page_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite3");
        let store = SqliteStore::open(&path).unwrap();
        store.stats().await.unwrap();
        drop(store);
        let limit = Duration::from_secs(30);
        assert_eq!(
            SqliteStore::quick_check(&path, limit).unwrap(),
            StoreCheck::Sound
        );
        // Overwrite the second page (a table's root) with noise.
        let page = 4096;
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.seek(SeekFrom::Start(page)).unwrap();
        file.write_all(&vec![0xA5; page as usize]).unwrap();
        drop(file);
        match SqliteStore::quick_check(&path, limit).unwrap() {
            StoreCheck::Damaged(problems) => assert!(!problems.is_empty()),
            other => panic!("a damaged page passed the check: {other:?}"),
        }
    }
}
