//! The embedded SQLite backend: one file in the data directory, WAL mode, migrations applied
//! at open, one writer connection and a small pool of readers.

mod backup;
mod check;
mod community;
mod transfer;

pub use backup::{BackupPace, BackupReport, StoreCounts};
pub use check::StoreCheck;

use crate::encoding::{ids_json, vector_bytes, vector_from_bytes};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use paperfeed_core::{
    ArxivId, Author, Featuring, NewPaper, Paper, PaperVersion, Submitter, UpsertOutcome, merge,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, params};

use crate::{
    ApiToken, ChangedPaper, Comment, EmbeddingJob, FeedEntry, FeedOrder, FeedQuery,
    HarvestPosition, NewComment, NewSession, NewUser, PaperVector, Session, Store, StoreError,
    StoreStats, User, UserId, VoteOutcome, WriteMode,
};

/// Schema migrations, applied in order; never edit one that has landed. Each one that a store
/// has not recorded is applied, not only those above its highest: migrations written on
/// parallel branches (a 0003 landing after a 0004) still reach every store.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_papers.sql")),
    (2, include_str!("../migrations/sqlite/0002_embeddings.sql")),
    (3, include_str!("../migrations/sqlite/0003_community.sql")),
    (4, include_str!("../migrations/sqlite/0004_harvest.sql")),
    (5, include_str!("../migrations/sqlite/0005_digests.sql")),
    (6, include_str!("../migrations/sqlite/0006_leases.sql")),
    (
        7,
        include_str!("../migrations/sqlite/0007_digest_claimers.sql"),
    ),
];

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
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Unavailable(e.to_string())
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
        migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
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
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
}

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
    }
    // WAL + NORMAL survives a killed process (the case we promise); only an OS crash may lose
    // the last commits, never consistency.
    conn.pragma_update(None, "synchronous", "normal")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "create table if not exists schema_migrations (
             version integer primary key,
             applied_at text not null
         ) strict;",
    )?;
    let applied: Vec<i64> = conn
        .prepare("select version from schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(&found) = applied
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|m| m.0 == **v))
    {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    // Every migration not applied yet, in order: numbers taken by work merged from different
    // branches may land out of order, and each still runs exactly once.
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "insert into schema_migrations (version, applied_at) values (?1, ?2)",
            params![version, now_text()],
        )?;
        tx.commit()?;
        tracing::info!(migration.version = version, "applied store migration");
    }
    Ok(())
}

fn now_text() -> String {
    time_text(Utc::now())
}

/// Instants as stored: RFC 3339 in UTC with milliseconds, so text order is time order.
fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("stored time {text:?}: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const PAPER_COLUMNS: &str = "p.id, p.title, p.abstract, p.authors, p.categories, p.published_at,
    p.versions, p.upvotes + p.local_upvotes, p.num_comments + p.local_comments, p.github_repo, p.github_stars, p.project_page,
    p.ai_summary, p.ai_keywords,
    (select json_group_array(json_array(f.day, f.submitter_name, f.submitter_fullname))
       from featurings f where f.paper_id = p.id)";

/// The number of columns in [`PAPER_COLUMNS`]; extra selected columns follow it.
const PAPER_COLUMN_COUNT: usize = 15;

fn paper_from_row(row: &Row<'_>) -> Result<Paper, StoreError> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    let id_text: String = row.get(0)?;
    let id = ArxivId::parse(&id_text).map_err(|e| corrupt("papers.id", &e))?;
    let json = |index: usize, _what: &str| -> Result<String, StoreError> { Ok(row.get(index)?) };
    let authors: Vec<Author> =
        serde_json::from_str(&json(3, "authors")?).map_err(|e| corrupt("papers.authors", &e))?;
    let categories: Vec<String> = serde_json::from_str(&json(4, "categories")?)
        .map_err(|e| corrupt("papers.categories", &e))?;
    let published_at: Option<String> = row.get(5)?;
    let published_at = published_at
        .map(|s| DateTime::parse_from_rfc3339(&s).map(|d| d.with_timezone(&Utc)))
        .transpose()
        .map_err(|e| corrupt("papers.published_at", &e))?;
    let versions: Vec<PaperVersion> =
        serde_json::from_str(&json(6, "versions")?).map_err(|e| corrupt("papers.versions", &e))?;
    let ai_keywords: Vec<String> = serde_json::from_str(&json(13, "ai_keywords")?)
        .map_err(|e| corrupt("papers.ai_keywords", &e))?;
    let featured_rows: Vec<(String, Option<String>, Option<String>)> =
        serde_json::from_str(&json(14, "featurings")?).map_err(|e| corrupt("featurings", &e))?;
    let mut featured = featured_rows
        .into_iter()
        .map(|(day, name, fullname)| {
            let date = day
                .parse::<NaiveDate>()
                .map_err(|e| corrupt("featurings.day", &e))?;
            Ok(Featuring {
                date,
                submitter: name.map(|name| Submitter { name, fullname }),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    featured.sort_by_key(|f| f.date);
    Ok(Paper {
        id,
        title: row.get(1)?,
        abstract_text: row.get(2)?,
        authors,
        categories,
        published_at,
        versions,
        featured,
        upvotes: row.get(7)?,
        num_comments: row.get(8)?,
        github_repo: row.get(9)?,
        github_stars: row.get(10)?,
        project_page: row.get(11)?,
        ai_summary: row.get(12)?,
        ai_keywords,
    })
}

fn load_paper(conn: &Connection, id: &str) -> Result<Option<Paper>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {PAPER_COLUMNS} from papers p where p.id = ?1"
    ))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => paper_from_row(row).map(Some),
        None => Ok(None),
    }
}

/// A paper as its sources said it, without local votes and comments: what `merge` folds a
/// record into (`write_paper` stores the imported counts; the local ones stay beside them).
fn load_imported_paper(conn: &Connection, id: &str) -> Result<Option<Paper>, StoreError> {
    let Some(mut paper) = load_paper(conn, id)? else {
        return Ok(None);
    };
    let (votes, comments): (i64, i64) = conn
        .prepare_cached("select local_upvotes, local_comments from papers where id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    paper.upvotes -= votes;
    paper.num_comments -= comments;
    Ok(Some(paper))
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn parse_day(text: &str) -> Result<NaiveDate, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("featurings.day {text:?}: {e}")))
}

/// Feed entries from rows of [`PAPER_COLUMNS`] followed by the featured day.
fn feed_entries(mut rows: rusqlite::Rows<'_>) -> Result<Vec<FeedEntry>, StoreError> {
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        let day: String = row.get(PAPER_COLUMN_COUNT)?;
        entries.push(FeedEntry {
            day: parse_day(&day)?,
            paper: paper_from_row(row)?,
        });
    }
    Ok(entries)
}

fn write_paper(tx: &Transaction<'_>, paper: &Paper, seq: i64, now: &str) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "insert into papers (id, title, abstract, authors, categories, published_at, versions,
             upvotes, num_comments, github_repo, github_stars, project_page, ai_summary,
             ai_keywords, created_at, updated_at, change_seq, text_hash)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16, ?17)
         on conflict (id) do update set
             title = excluded.title, abstract = excluded.abstract, authors = excluded.authors,
             categories = excluded.categories, published_at = excluded.published_at,
             versions = excluded.versions, upvotes = excluded.upvotes,
             num_comments = excluded.num_comments, github_repo = excluded.github_repo,
             github_stars = excluded.github_stars, project_page = excluded.project_page,
             ai_summary = excluded.ai_summary, ai_keywords = excluded.ai_keywords,
             updated_at = excluded.updated_at, change_seq = excluded.change_seq,
             text_hash = excluded.text_hash",
    )?;
    stmt.execute(params![
        paper.id.as_str(),
        paper.title,
        paper.abstract_text,
        to_json(&paper.authors)?,
        to_json(&paper.categories)?,
        paper
            .published_at
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true)),
        to_json(&paper.versions)?,
        paper.upvotes,
        paper.num_comments,
        paper.github_repo,
        paper.github_stars,
        paper.project_page,
        paper.ai_summary,
        to_json(&paper.ai_keywords)?,
        now,
        seq,
        paper.text_fingerprint(),
    ])?;
    let mut featuring = tx.prepare_cached(
        "insert into featurings (paper_id, day, submitter_name, submitter_fullname)
         values (?1, ?2, ?3, ?4)
         on conflict (paper_id, day) do update set
             submitter_name = excluded.submitter_name,
             submitter_fullname = excluded.submitter_fullname",
    )?;
    for f in &paper.featured {
        let (name, fullname) = f
            .submitter
            .as_ref()
            .map_or((None, None), |s| (Some(&s.name), s.fullname.as_ref()));
        featuring.execute(params![paper.id.as_str(), day_text(f.date), name, fullname])?;
    }
    Ok(())
}

fn upsert_batch(
    conn: &mut Connection,
    batch: Vec<NewPaper>,
    position: Option<(String, HarvestPosition)>,
    mode: WriteMode,
) -> Result<Vec<UpsertOutcome>, StoreError> {
    let tx = conn.transaction()?;
    if let Some((source, position)) = &position {
        tx.execute(
            "insert into harvest_positions (source, cursor, last_day, updated_at)
             values (?1, ?2, ?3, ?4)
             on conflict (source) do update set cursor = excluded.cursor,
                 last_day = excluded.last_day, updated_at = excluded.updated_at",
            params![
                source,
                position.cursor,
                position.last_day.map(day_text),
                now_text()
            ],
        )?;
    }
    let seq: i64 = tx.query_row(
        "select value + 1 from store_counters where name = 'change_seq'",
        [],
        |r| r.get(0),
    )?;
    let now = now_text();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed = false;
    for record in batch {
        let existing = load_imported_paper(&tx, record.id.as_str())?;
        let merged = merge(existing.as_ref(), record);
        let outcome = match &existing {
            None => UpsertOutcome::New,
            Some(old) if *old == merged => UpsertOutcome::Unchanged,
            Some(_) => UpsertOutcome::Updated,
        };
        if outcome != UpsertOutcome::Unchanged {
            write_paper(&tx, &merged, seq, &now)?;
            changed = true;
        }
        outcomes.push(outcome);
    }
    if changed {
        tx.execute(
            "update store_counters set value = ?1 where name = 'change_seq'",
            [seq],
        )?;
    }
    match mode {
        WriteMode::Commit => tx.commit()?,
        WriteMode::DryRun => tx.rollback()?,
    }
    Ok(outcomes)
}

#[async_trait]
impl Store for SqliteStore {
    async fn upsert_papers(
        &self,
        batch: Vec<NewPaper>,
        mode: WriteMode,
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        self.write(move |conn| upsert_batch(conn, batch, None, mode))
            .await
    }

    async fn upsert_harvest_batch(
        &self,
        source: &str,
        batch: Vec<NewPaper>,
        position: HarvestPosition,
        mode: WriteMode,
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        let position = Some((source.to_owned(), position));
        self.write(move |conn| upsert_batch(conn, batch, position, mode))
            .await
    }

    async fn harvest_position(&self, source: &str) -> Result<Option<HarvestPosition>, StoreError> {
        let source = source.to_owned();
        self.read(move |conn| {
            let row: Option<(Option<String>, Option<String>)> = conn
                .query_row(
                    "select cursor, last_day from harvest_positions where source = ?1",
                    [&source],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            row.map(|(cursor, last_day)| {
                Ok(HarvestPosition {
                    cursor,
                    last_day: last_day.as_deref().map(parse_day).transpose()?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn get_paper(&self, id: &ArxivId) -> Result<Option<Paper>, StoreError> {
        let id = id.as_str().to_owned();
        self.read(move |conn| load_paper(conn, &id)).await
    }

    async fn get_papers(&self, ids: &[ArxivId]) -> Result<Vec<Paper>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids_json(ids)?;
        self.read(move |conn| {
            // `json_each` numbers the ids in `key`: the order they were asked in.
            let mut stmt = conn.prepare_cached(&format!(
                "select {PAPER_COLUMNS} from json_each(?1) j join papers p on p.id = j.value
                  order by j.key"
            ))?;
            let mut rows = stmt.query([ids])?;
            let mut papers = Vec::new();
            while let Some(row) = rows.next()? {
                papers.push(paper_from_row(row)?);
            }
            Ok(papers)
        })
        .await
    }

    async fn featured_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {PAPER_COLUMNS}, fd.day
                   from featurings fd join papers p on p.id = fd.paper_id
                  where fd.day between ?1 and ?2
                  order by fd.day desc, p.upvotes + p.local_upvotes desc, p.id"
            ))?;
            let rows = stmt.query([day_text(from), day_text(to)])?;
            feed_entries(rows)
        })
        .await
    }

    async fn featured_page(&self, query: FeedQuery) -> Result<Vec<FeedEntry>, StoreError> {
        let order = match query.order {
            FeedOrder::Newest => "fd.day desc, p.upvotes + p.local_upvotes desc, p.id",
            FeedOrder::MostUpvoted => "p.upvotes + p.local_upvotes desc, fd.day desc, p.id",
        };
        let (from, to) = query.days.map_or((None, None), |(a, b)| {
            (Some(day_text(a)), Some(day_text(b)))
        });
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {PAPER_COLUMNS}, fd.day
                   from featurings fd join papers p on p.id = fd.paper_id
                  where (?1 is null or fd.day >= ?1) and (?2 is null or fd.day <= ?2)
                    and (?3 is null or fd.submitter_name = ?3)
                  order by {order} limit ?4 offset ?5"
            ))?;
            let rows = stmt.query(params![from, to, query.submitter, limit, offset])?;
            feed_entries(rows)
        })
        .await
    }

    async fn papers_page(
        &self,
        before: Option<ArxivId>,
        limit: usize,
    ) -> Result<Vec<Paper>, StoreError> {
        let before = before.map(|id| id.as_str().to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {PAPER_COLUMNS} from papers p
                  where ?1 is null or p.id < ?1 order by p.id desc limit ?2"
            ))?;
            let mut rows = stmt.query(params![before, limit])?;
            let mut papers = Vec::new();
            while let Some(row) = rows.next()? {
                papers.push(paper_from_row(row)?);
            }
            Ok(papers)
        })
        .await
    }

    async fn featured_day_before(&self, day: NaiveDate) -> Result<Option<NaiveDate>, StoreError> {
        self.read(move |conn| {
            one_day(
                conn,
                "select max(day) from featurings where day < ?1",
                day_text(day),
            )
        })
        .await
    }

    async fn featured_day_after(&self, day: NaiveDate) -> Result<Option<NaiveDate>, StoreError> {
        self.read(move |conn| {
            one_day(
                conn,
                "select min(day) from featurings where day > ?1",
                day_text(day),
            )
        })
        .await
    }

    async fn latest_featured_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        self.read(|conn| {
            let day: Option<String> =
                conn.query_row("select max(day) from featurings", [], |r| r.get(0))?;
            day.as_deref().map(parse_day).transpose()
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.read(|conn| {
            let stats = conn.query_row(
                "select (select count(*) from papers),
                        (select count(distinct day) from featurings),
                        (select value from store_counters where name = 'change_seq')",
                [],
                |r| {
                    Ok(StoreStats {
                        papers: r.get::<_, i64>(0)?.unsigned_abs(),
                        featured_days: r.get::<_, i64>(1)?.unsigned_abs(),
                        change_seq: r.get(2)?,
                    })
                },
            )?;
            Ok(stats)
        })
        .await
    }

    async fn change_seq(&self) -> Result<i64, StoreError> {
        self.read(read_change_seq).await
    }

    async fn papers_changed_since(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<ChangedPaper>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {PAPER_COLUMNS}, p.change_seq from papers p
                  where p.change_seq > ?1 order by p.change_seq, p.id limit ?2"
            ))?;
            let mut out = Vec::new();
            let mut rows = stmt.query(params![since, limit])?;
            while let Some(row) = rows.next()? {
                out.push(ChangedPaper {
                    change_seq: row.get(PAPER_COLUMN_COUNT)?,
                    paper: paper_from_row(row)?,
                });
            }
            drop(rows);
            // Finish the last change, so that paging by change_seq never skips papers.
            if let Some(last) = out.last().filter(|_| out.len() as i64 == limit) {
                let (seq, after) = (last.change_seq, last.paper.id.to_string());
                let mut rest = conn.prepare_cached(&format!(
                    "select {PAPER_COLUMNS}, p.change_seq from papers p
                      where p.change_seq = ?1 and p.id > ?2 order by p.id"
                ))?;
                let mut rows = rest.query(params![seq, after])?;
                while let Some(row) = rows.next()? {
                    out.push(ChangedPaper {
                        change_seq: seq,
                        paper: paper_from_row(row)?,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn embedding_backlog(
        &self,
        model: &str,
        limit: usize,
    ) -> Result<Vec<EmbeddingJob>, StoreError> {
        let model = model.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select p.id, p.text_hash, p.title, p.abstract from papers p
                   left join paper_embeddings e on e.paper_id = p.id and e.model = ?1
                  where e.paper_id is null or e.text_hash != p.text_hash
                  order by p.id limit ?2",
            )?;
            let mut rows = stmt.query(params![model, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let title: String = row.get(2)?;
                let abstract_text: String = row.get(3)?;
                out.push(EmbeddingJob {
                    id: ArxivId::parse(&id)
                        .map_err(|e| StoreError::Corrupt(format!("papers.id: {e}")))?,
                    text_hash: row.get(1)?,
                    text: paperfeed_core::embedding_text(&title, &abstract_text),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn count_embedding_backlog(&self, model: &str) -> Result<u64, StoreError> {
        let model = model.to_owned();
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached(
                    "select count(*) from papers p
                   left join paper_embeddings e on e.paper_id = p.id and e.model = ?1
                  where e.paper_id is null or e.text_hash != p.text_hash",
                )?
                .query_row([model], |r| r.get(0))?;
            Ok(n.unsigned_abs())
        })
        .await
    }

    async fn put_embeddings(
        &self,
        model: &str,
        vectors: Vec<PaperVector>,
    ) -> Result<(), StoreError> {
        let model = model.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "insert into paper_embeddings (paper_id, model, text_hash, vector)
                     select id, ?2, ?3, ?4 from papers where id = ?1 and text_hash = ?3
                     on conflict (paper_id, model) do update set
                         text_hash = excluded.text_hash, vector = excluded.vector",
                )?;
                for v in &vectors {
                    stmt.execute(params![
                        v.id.as_str(),
                        model,
                        v.text_hash,
                        vector_bytes(&v.vector)
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn embeddings(&self, model: &str) -> Result<Vec<PaperVector>, StoreError> {
        let model = model.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
                   join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
                  where e.model = ?1 order by e.paper_id",
            )?;
            let mut rows = stmt.query([model])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let blob: Vec<u8> = row.get(2)?;
                out.push(PaperVector {
                    id: ArxivId::parse(&id).map_err(|e| {
                        StoreError::Corrupt(format!("paper_embeddings.paper_id: {e}"))
                    })?,
                    text_hash: row.get(1)?,
                    vector: vector_from_bytes(&blob)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn embeddings_of(
        &self,
        model: &str,
        ids: &[ArxivId],
    ) -> Result<Vec<PaperVector>, StoreError> {
        let model = model.to_owned();
        let ids = ids_json(ids)?;
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
                   join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
                  where e.model = ?1 and e.paper_id in (select value from json_each(?2))
                  order by e.paper_id",
            )?;
            let mut rows = stmt.query(rusqlite::params![model, ids])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let blob: Vec<u8> = row.get(2)?;
                out.push(PaperVector {
                    id: ArxivId::parse(&id).map_err(|e| {
                        StoreError::Corrupt(format!("paper_embeddings.paper_id: {e}"))
                    })?,
                    text_hash: row.get(1)?,
                    vector: vector_from_bytes(&blob)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.write(move |conn| community::create_user(conn, &user))
            .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let name = username.to_owned();
        self.read(move |conn| community::user_by_name(conn, &name))
            .await
    }

    async fn set_password_hash(
        &self,
        user: UserId,
        password_hash: String,
        keep: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            community::set_password_hash(conn, user, &password_hash, keep.as_deref())
        })
        .await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(move |conn| community::create_session(conn, &session))
            .await
    }

    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let id_hash = id_hash.to_owned();
        self.read(move |conn| community::session(conn, &id_hash, now))
            .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let id_hash = id_hash.to_owned();
        self.write(move |conn| {
            conn.execute("delete from sessions where id_hash = ?1", [id_hash])?;
            Ok(())
        })
        .await
    }

    async fn create_api_token(
        &self,
        user: UserId,
        name: String,
        token_hash: String,
    ) -> Result<ApiToken, StoreError> {
        self.write(move |conn| community::create_api_token(conn, user, &name, &token_hash))
            .await
    }

    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        self.read(move |conn| community::api_tokens(conn, user))
            .await
    }

    async fn revoke_api_token(&self, user: UserId, token_id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Ok(conn.execute(
                "delete from api_tokens where id = ?1 and user_id = ?2",
                params![token_id, user.0],
            )? > 0)
        })
        .await
    }

    async fn user_by_api_token(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        let hash = token_hash.to_owned();
        self.read(move |conn| community::user_by_api_token(conn, &hash))
            .await
    }

    async fn set_vote(
        &self,
        user: UserId,
        paper: &ArxivId,
        up: bool,
    ) -> Result<Option<VoteOutcome>, StoreError> {
        let paper = paper.clone();
        self.write(move |conn| community::set_vote(conn, user, &paper, up))
            .await
    }

    async fn has_voted(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        let paper = paper.as_str().to_owned();
        self.read(move |conn| community::has_voted(conn, user, &paper))
            .await
    }

    async fn add_comment(&self, comment: NewComment) -> Result<Option<Comment>, StoreError> {
        self.write(move |conn| community::add_comment(conn, &comment))
            .await
    }

    async fn comments(&self, paper: &ArxivId) -> Result<Vec<Comment>, StoreError> {
        let paper = paper.as_str().to_owned();
        self.read(move |conn| community::comments(conn, &paper))
            .await
    }

    async fn comment(&self, id: i64) -> Result<Option<Comment>, StoreError> {
        self.read(move |conn| community::comment(conn, id)).await
    }

    async fn edit_comment(
        &self,
        id: i64,
        author: UserId,
        body: String,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| community::edit_comment(conn, id, author, &body))
            .await
    }

    async fn delete_comment(&self, id: i64, author: UserId) -> Result<bool, StoreError> {
        self.write(move |conn| community::delete_comment(conn, id, author))
            .await
    }

    async fn set_comment_hidden(&self, id: i64, hidden: bool) -> Result<bool, StoreError> {
        self.write(move |conn| community::set_comment_hidden(conn, id, hidden))
            .await
    }

    async fn feature_paper(
        &self,
        paper: &ArxivId,
        featuring: Featuring,
    ) -> Result<bool, StoreError> {
        let paper = paper.clone();
        self.write(move |conn| community::feature_paper(conn, &paper, &featuring))
            .await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "insert into leases (name, holder, until) values (?1, ?2, ?3)
                     on conflict (name) do update set holder = excluded.holder,
                         until = excluded.until
                      where leases.until <= ?4 or leases.holder = excluded.holder
                     returning 1",
                )?
                .query_row(
                    params![name, holder, time_text(until), time_text(now)],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| {
            Ok(conn.execute(
                "delete from leases where name = ?1 and holder = ?2",
                params![name, holder],
            )? > 0)
        })
        .await
    }
}

fn read_change_seq(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("select value from store_counters where name = 'change_seq'")?
        .query_row([], |r| r.get(0))?)
}

fn one_day(conn: &Connection, sql: &str, arg: String) -> Result<Option<NaiveDate>, StoreError> {
    let day: Option<String> = conn
        .prepare_cached(sql)?
        .query_row([arg], |r| r.get(0))
        .optional()?
        .flatten();
    day.as_deref().map(parse_day).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_store_contract_holds_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap();
        crate::run_store_contract(&store).await;
    }

    #[tokio::test]
    async fn the_mail_outbox_contract_holds_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap();
        crate::run_mail_contract(&store).await;
    }

    #[tokio::test]
    async fn reopening_an_existing_store_keeps_its_papers_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paperfeed.sqlite3");
        {
            let store = SqliteStore::open(&path).unwrap();
            let p = NewPaper::new(
                ArxivId::parse("2309.11523").unwrap(),
                "T".into(),
                "A".into(),
                vec![],
            );
            store
                .upsert_papers(vec![p], WriteMode::Commit)
                .await
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.stats().await.unwrap().papers, 1);
    }

    #[tokio::test]
    async fn a_store_from_a_newer_paperfeed_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paperfeed.sqlite3");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "insert into schema_migrations (version, applied_at) values (999, 'x')",
            [],
        )
        .unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(err.to_string().contains("upgrade paperfeed"), "{err}");
    }
}
