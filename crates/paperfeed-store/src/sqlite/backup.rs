//! Online backups of the SQLite store with SQLite's backup API, and the checks a backup file
//! passes before it is restored.
//!
//! A backup copies the store page by page from a connection of its own, a few hundred pages
//! per step with a pause between steps, so a running `serve` keeps reading and writing (WAL:
//! readers never block the writer). When the server commits between two steps SQLite starts
//! the copy over, which keeps the snapshot consistent; after a few such restarts the rest is
//! copied in one step, one read transaction, which a busy writer cannot interrupt. The copy is
//! written to a temporary file beside the destination, switched to rollback-journal mode (one
//! self-contained file), checked, synced and only then renamed into place.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::migrate::MIGRATIONS;
use super::{SqliteStore, open_connection};
use crate::StoreError;
use crate::migrations::plan;

/// How a backup paces itself.
#[derive(Clone, Copy, Debug)]
pub struct BackupPace {
    /// Pages (4 KiB) copied per step.
    pub pages_per_step: i32,
    /// Pause between steps, for the server's own work.
    pub pause: Duration,
    /// Restarts (the store changed under the copy) tolerated before the rest is copied in
    /// one step.
    pub max_restarts: u32,
}

impl Default for BackupPace {
    fn default() -> Self {
        Self {
            pages_per_step: 256,
            pause: Duration::from_millis(5),
            max_restarts: 3,
        }
    }
}

/// What a store file holds, counted for the person running a backup or a restore.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub papers: i64,
    pub featured_days: i64,
    pub users: i64,
    pub api_tokens: i64,
    pub votes: i64,
    pub comments: i64,
    pub subscribers: i64,
    /// Digest jobs in state `sent`: one per subscriber and period mailed.
    pub digests_sent: i64,
    /// (subscriber, paper) pairs already mailed, so never mailed again.
    pub mailed_papers: i64,
    pub embeddings: i64,
    /// The schema migrations the file has applied.
    pub migrations: Vec<i64>,
}

impl std::fmt::Display for StoreCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} papers on {} featured days, {} users, {} API tokens, {} votes, {} comments, \
             {} subscribers, {} digests sent ({} papers mailed), {} embeddings",
            self.papers,
            self.featured_days,
            self.users,
            self.api_tokens,
            self.votes,
            self.comments,
            self.subscribers,
            self.digests_sent,
            self.mailed_papers,
            self.embeddings
        )
    }
}

/// What [`SqliteStore::backup_to`] wrote.
#[derive(Clone, Debug)]
pub struct BackupReport {
    pub bytes: u64,
    pub pages: i64,
    /// Times the copy started over because the store changed under it.
    pub restarts: u32,
    pub counts: StoreCounts,
}

impl SqliteStore {
    /// Writes a consistent snapshot of the store to `dest`, while the store stays in use (by
    /// this process or a running server). Fails when `dest` exists unless `overwrite`.
    /// Blocking: run it on a blocking thread.
    pub fn backup_to(
        &self,
        dest: &Path,
        overwrite: bool,
        pace: BackupPace,
    ) -> Result<BackupReport, StoreError> {
        let fail = |reason: String| StoreError::Open {
            path: dest.display().to_string(),
            reason,
        };
        if dest.exists() && !overwrite {
            return Err(fail("the file exists (pass --force to replace it)".into()));
        }
        let partial = partial_path(dest);
        let _ = std::fs::remove_file(&partial);
        let result = create_owner_only(&partial)
            .map_err(|e| fail(format!("creating {}: {e}", partial.display())))
            .and_then(|()| write_snapshot(self.path(), &partial, pace))
            .and_then(|(pages, restarts)| {
                let counts = inspect(&partial)?;
                sync_file(&partial)?;
                std::fs::rename(&partial, dest).map_err(|e| fail(format!("renaming: {e}")))?;
                sync_parent(dest);
                let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
                Ok(BackupReport {
                    bytes,
                    pages,
                    restarts,
                    counts,
                })
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    /// Checks that `path` is a sound paperfeed store this version can open (SQLite's
    /// `integrity_check`, the paperfeed tables, no migration this version does not know) and
    /// counts what it holds. Opens the file read-only: nothing is changed.
    pub fn inspect_backup(path: &Path) -> Result<StoreCounts, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                reason: "no such file".into(),
            });
        }
        inspect(path)
    }
}

/// Creates `path` empty and readable by its owner only, before SQLite writes the snapshot in
/// it: the snapshot holds password hashes and mail addresses, and SQLite keeps the mode of a
/// file it opens (a file it creates would get 0644 under the usual umask).
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// Copies `source` into a new file at `dest`; returns the page count and the restarts.
fn write_snapshot(source: &Path, dest: &Path, pace: BackupPace) -> Result<(i64, u32), StoreError> {
    let src = open_connection(source, true)?;
    let mut dst = Connection::open(dest).map_err(|e| StoreError::Open {
        path: dest.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut restarts = 0;
    {
        let backup = Backup::new(&src, &mut dst)?;
        let mut last_remaining = i32::MAX;
        loop {
            let pages = if restarts >= pace.max_restarts {
                -1
            } else {
                pace.pages_per_step
            };
            match backup.step(pages)? {
                StepResult::Done => break,
                StepResult::More => {
                    let remaining = backup.progress().remaining;
                    if remaining > last_remaining {
                        restarts += 1;
                    }
                    last_remaining = remaining;
                }
                // The source is locked for a moment (a checkpoint): wait and try again.
                StepResult::Busy | StepResult::Locked => {}
                _ => {}
            }
            std::thread::sleep(pace.pause);
        }
    }
    // One self-contained file: no -wal beside it to lose when it is copied around.
    dst.pragma_update(None, "journal_mode", "delete")?;
    let pages: i64 = dst.query_row("pragma page_count", [], |r| r.get(0))?;
    dst.close().map_err(|(_, e)| StoreError::from(e))?;
    Ok((pages, restarts))
}

fn inspect(path: &Path) -> Result<StoreCounts, StoreError> {
    let not_a_store = |reason: String| StoreError::Corrupt(format!("{}: {reason}", path.display()));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_a_store(e.to_string()))?;
    let problems: Vec<String> = conn
        .prepare("pragma integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(|e| not_a_store(format!("not a SQLite database ({e})")))?;
    if problems != ["ok"] {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        return Err(not_a_store(format!(
            "SQLite's integrity check failed: {}",
            shown.join("; ")
        )));
    }
    let has_migrations: Option<String> = conn
        .query_row(
            "select name from sqlite_master where type = 'table' and name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_migrations.is_none() {
        return Err(not_a_store(
            "a SQLite database, but not a paperfeed store (no schema_migrations table)".into(),
        ));
    }
    let migrations: Vec<i64> = conn
        .prepare("select version from schema_migrations order by version")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // A file written by a newer paperfeed is refused; what it lacks, opening it applies.
    plan(MIGRATIONS, &migrations)?;
    if !migrations.contains(&1) {
        return Err(not_a_store(
            "a paperfeed store without its first migration".into(),
        ));
    }
    // Tables of migrations the file has not applied yet count as empty: opening it applies them.
    let count = |table: &str, filter: &str| -> Result<i64, StoreError> {
        let exists: Option<String> = conn
            .query_row(
                "select name from sqlite_master where type = 'table' and name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Ok(0);
        }
        Ok(
            conn.query_row(&format!("select count(*) from {table} {filter}"), [], |r| {
                r.get(0)
            })?,
        )
    };
    Ok(StoreCounts {
        papers: count("papers", "")?,
        featured_days: conn
            .query_row("select count(distinct day) from featurings", [], |r| {
                r.get(0)
            })
            .unwrap_or(0),
        users: count("users", "")?,
        api_tokens: count("api_tokens", "")?,
        votes: count("votes", "")?,
        comments: count("comments", "")?,
        subscribers: count("subscribers", "")?,
        digests_sent: count("digest_jobs", "where state = 'sent'")?,
        mailed_papers: count("mailed_papers", "")?,
        embeddings: count("paper_embeddings", "")?,
        migrations,
    })
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: format!("syncing: {e}"),
        })
}

/// Makes a rename durable; best effort (not every file system can sync a directory).
fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, WriteMode};
    use paperfeed_core::{ArxivId, NewPaper};

    fn paper(id: &str) -> NewPaper {
        NewPaper::new(
            ArxivId::parse(id).unwrap(),
            format!("Title {id}"),
            "An abstract.".into(),
            Vec::new(),
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_backup_taken_while_the_store_is_written_is_a_consistent_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("live.sqlite3")).unwrap();
        let first: Vec<NewPaper> = (1..=300).map(|n| paper(&format!("2401.{n:05}"))).collect();
        store.upsert_papers(first, WriteMode::Commit).await.unwrap();

        // A writer keeps committing while the backup copies a few pages at a time.
        let writer = store.clone();
        let busy = tokio::spawn(async move {
            for n in 1..=100 {
                let p = paper(&format!("2402.{n:05}"));
                writer
                    .upsert_papers(vec![p], WriteMode::Commit)
                    .await
                    .unwrap();
            }
        });
        let dest = dir.path().join("backup.sqlite3");
        let pace = BackupPace {
            pages_per_step: 2,
            pause: Duration::from_millis(1),
            max_restarts: 3,
        };
        let copy = store.clone();
        let target = dest.clone();
        let report = tokio::task::spawn_blocking(move || copy.backup_to(&target, false, pace))
            .await
            .unwrap()
            .unwrap();
        busy.await.unwrap();
        assert!(report.counts.papers >= 300 && report.counts.papers <= 400);
        assert_eq!(report.bytes, std::fs::metadata(&dest).unwrap().len());
        assert!(!partial_path(&dest).exists());
        assert_eq!(SqliteStore::inspect_backup(&dest).unwrap(), report.counts);
        let restored = SqliteStore::open(&dest).unwrap();
        assert_eq!(
            restored.stats().await.unwrap().papers as i64,
            report.counts.papers
        );

        // Not over an existing file unless asked.
        let again = store.backup_to(&dest, false, BackupPace::default());
        assert!(again.unwrap_err().to_string().contains("--force"));
        let forced = store.backup_to(&dest, true, BackupPace::default()).unwrap();
        assert_eq!(forced.counts.papers, 400);
    }

    #[test]
    fn a_file_that_is_not_a_sound_paperfeed_store_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(
            &text,
            "just some text, long enough to not be a header".repeat(100),
        )
        .unwrap();
        let err = SqliteStore::inspect_backup(&text).unwrap_err().to_string();
        assert!(err.contains("not a SQLite database"), "{err}");

        let other = dir.path().join("other.sqlite3");
        Connection::open(&other)
            .unwrap()
            .execute_batch("create table t (x); insert into t values (1);")
            .unwrap();
        let err = SqliteStore::inspect_backup(&other).unwrap_err().to_string();
        assert!(err.contains("not a paperfeed store"), "{err}");

        let newer = dir.path().join("newer.sqlite3");
        drop(SqliteStore::open(&newer).unwrap());
        Connection::open(&newer)
            .unwrap()
            .execute(
                "insert into schema_migrations (version, applied_at) values (999, 'x')",
                [],
            )
            .unwrap();
        let err = SqliteStore::inspect_backup(&newer).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found: 999, .. }),
            "{err}"
        );

        let err = SqliteStore::inspect_backup(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
    }
}
