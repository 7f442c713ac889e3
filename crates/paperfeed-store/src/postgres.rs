//! The PostgreSQL backend: for several `paperfeed` nodes sharing one database. A small
//! connection pool per node (deadpool), plain TCP without TLS (`NoTls`: the server is expected on
//! loopback or a private network), migrations applied at open under an advisory lock so two
//! nodes starting at once do not race.
//!
//! Same contract as [`crate::SqliteStore`], with what several writers at once need:
//! - Lock order, everywhere: paper rows (by id when several), then other rows, then the
//!   `store_counters` row last. Writers never wait in a cycle, so there are no deadlocks.
//! - Papers are read `for no key update` before they are merged, so two nodes ingesting the same
//!   paper merge one after the other instead of overwriting each other's merge.
//! - `change_seq` is taken from the single counter row in the writing transaction, not from a
//!   sequence: see [`next_change_seq`].

mod community;
mod transfer;

use crate::encoding::{distinct_ids, vector_bytes, vector_from_bytes};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound as _, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use paperfeed_core::{
    ArxivId, Author, Featuring, NewPaper, Paper, PaperVersion, Submitter, UpsertOutcome, merge,
};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{NoTls, Row};

use crate::{
    ApiToken, ChangedPaper, Comment, EmbeddingJob, FeedEntry, FeedOrder, FeedQuery,
    HarvestPosition, NewComment, NewSession, NewUser, PaperVector, Session, Store, StoreError,
    StoreStats, User, UserId, VoteOutcome, WriteMode,
};

/// Schema migrations, applied in order at open; never edit one that has landed. Numbered on
/// their own (not the SQLite ones); applied by version set like SQLite's.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_schema.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_digest_claimers.sql"),
    ),
];

/// The advisory lock key that serialises migrations between nodes ("paperfee" in ASCII).
const MIGRATION_LOCK: i64 = 0x7061_7065_7266_6565;

/// Connections per node.
const POOL_SIZE: usize = 16;

pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The URL with any password masked, for messages.
    url: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .finish()
    }
}

/// An error with its causes: tokio-postgres keeps the server's message ("ERROR: relation …",
/// "Connection refused") in the source chain, not in its own text.
pub(crate) fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Unavailable(error_text(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Unavailable(format!("no database connection: {}", error_text(&e)))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages and
/// `paperfeed config`. Anything without a password comes back unchanged.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`; the database must
    /// exist) and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let masked = mask_password(url);
        let open_err = |reason: String| StoreError::Open {
            path: masked.clone(),
            reason,
        };
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                open_err(format!("not a PostgreSQL URL: {}", error_text(&e)))
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("paperfeed");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| open_err(error_text(&e)))?;
        let mut client = pool.get().await.map_err(|e| open_err(error_text(&e)))?;
        migrate(&mut client).await.map_err(|e| match e {
            StoreError::Unavailable(reason) => open_err(reason),
            other => other,
        })?;
        Ok(Self { pool, url: masked })
    }

    /// The URL with any password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    // Two nodes starting at once: the second waits here until the first has committed, then
    // finds every migration applied.
    tx.execute("select pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "set local client_min_messages = warning;
         create table if not exists schema_migrations (
             version bigint primary key,
             applied_at timestamptz not null
         )",
    )
    .await?;
    let applied: Vec<i64> = tx
        .query("select version from schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(&found) = applied
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|m| m.0 == **v))
    {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "insert into schema_migrations (version, applied_at) values ($1, now())",
            &[version],
        )
        .await?;
        tracing::info!(migration.version = version, "applied store migration");
    }
    tx.commit().await?;
    Ok(())
}

// --- Small helpers over prepared, cached statements.

pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, params).await?)
}

pub(crate) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, params).await?)
}

pub(crate) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

/// Instants as SQLite keeps them: to the millisecond, so both backends hand out equal values.
pub(crate) fn ms(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

pub(crate) fn corrupt(what: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Takes the next `change_seq` for a transaction that changed something a page shows.
///
/// Why a counter row and not a sequence: the search indexer of every node pages through
/// `papers_changed_since(watermark)` and then moves its watermark to the highest `change_seq`
/// it saw. With a sequence, writer A could take 10 and writer B 11, B commit first, and an
/// indexer read 11 and move past 10 before A commits: A's papers would never be indexed. Here
/// the `update` locks the one counter row until the transaction ends, so whoever takes the next
/// value waits until the previous taker has committed (or rolled back, giving its value back):
/// changes become visible in `change_seq` order and a watermark never jumps over one in flight.
/// Callers take it last, after locking the papers they write, so every writer locks in the
/// same order (papers, then the counter) and none wait in a cycle.
pub(crate) async fn next_change_seq<C: GenericClient>(tx: &C) -> Result<i64, StoreError> {
    Ok(query_one(
        tx,
        "update store_counters set value = value + 1 where name = 'change_seq' returning value",
        &[],
    )
    .await?
    .try_get(0)?)
}

const PAPER_COLUMNS: &str = "p.id, p.title, p.abstract, p.authors, p.categories, p.published_at,
    p.versions, p.upvotes + p.local_upvotes, p.num_comments + p.local_comments, p.github_repo,
    p.github_stars, p.project_page, p.ai_summary, p.ai_keywords,
    (select coalesce(jsonb_agg(jsonb_build_array(f.day, f.submitter_name, f.submitter_fullname)
                               order by f.day), '[]'::jsonb)
       from featurings f where f.paper_id = p.id)";

/// The number of columns in [`PAPER_COLUMNS`]; extra selected columns follow it.
const PAPER_COLUMN_COUNT: usize = 15;

fn paper_from_row(row: &Row) -> Result<Paper, StoreError> {
    let id_text: String = row.try_get(0)?;
    let id = ArxivId::parse(&id_text).map_err(|e| corrupt("papers.id", &e))?;
    let json = |index: usize, what: &str| -> Result<serde_json::Value, StoreError> {
        row.try_get::<_, serde_json::Value>(index)
            .map_err(|e| corrupt(what, &e))
    };
    let authors: Vec<Author> = serde_json::from_value(json(3, "papers.authors")?)
        .map_err(|e| corrupt("papers.authors", &e))?;
    let categories: Vec<String> = serde_json::from_value(json(4, "papers.categories")?)
        .map_err(|e| corrupt("papers.categories", &e))?;
    let versions: Vec<PaperVersion> = serde_json::from_value(json(6, "papers.versions")?)
        .map_err(|e| corrupt("papers.versions", &e))?;
    let ai_keywords: Vec<String> = serde_json::from_value(json(13, "papers.ai_keywords")?)
        .map_err(|e| corrupt("papers.ai_keywords", &e))?;
    let featured_rows: Vec<(NaiveDate, Option<String>, Option<String>)> =
        serde_json::from_value(json(14, "featurings")?).map_err(|e| corrupt("featurings", &e))?;
    let featured = featured_rows
        .into_iter()
        .map(|(date, name, fullname)| Featuring {
            date,
            submitter: name.map(|name| Submitter { name, fullname }),
        })
        .collect();
    Ok(Paper {
        id,
        title: row.try_get(1)?,
        abstract_text: row.try_get(2)?,
        authors,
        categories,
        published_at: row.try_get(5)?,
        versions,
        featured,
        upvotes: row.try_get(7)?,
        num_comments: row.try_get(8)?,
        github_repo: row.try_get(9)?,
        github_stars: row.try_get(10)?,
        project_page: row.try_get(11)?,
        ai_summary: row.try_get(12)?,
        ai_keywords,
    })
}

async fn load_paper<C: GenericClient>(c: &C, id: &str) -> Result<Option<Paper>, StoreError> {
    query_opt(
        c,
        &format!("select {PAPER_COLUMNS} from papers p where p.id = $1"),
        &[&id],
    )
    .await?
    .map(|row| paper_from_row(&row))
    .transpose()
}

/// Writes a merged paper: a new row (false when another node inserted it meanwhile: merge
/// again into theirs) or an update of the row locked by the batch.
async fn write_paper<C: GenericClient>(
    tx: &C,
    paper: &Paper,
    is_new: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let published = paper.published_at.map(|d| d.trunc_subsecs(0));
    let (authors, categories, versions, keywords) = (
        Json(&paper.authors),
        Json(&paper.categories),
        Json(&paper.versions),
        Json(&paper.ai_keywords),
    );
    let params: [&(dyn ToSql + Sync); 16] = [
        &paper.id.as_str(),
        &paper.title,
        &paper.abstract_text,
        &authors,
        &categories,
        &published,
        &versions,
        &paper.upvotes,
        &paper.num_comments,
        &paper.github_repo,
        &paper.github_stars,
        &paper.project_page,
        &paper.ai_summary,
        &keywords,
        &now,
        &paper.text_fingerprint(),
    ];
    let written = if is_new {
        // change_seq is stamped at the end of the batch (see next_change_seq).
        execute(
            tx,
            "insert into papers (id, title, abstract, authors, categories, published_at,
                 versions, upvotes, num_comments, github_repo, github_stars, project_page,
                 ai_summary, ai_keywords, created_at, updated_at, change_seq, text_hash)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, 0,
                     $16)
             on conflict (id) do nothing",
            &params,
        )
        .await?
    } else {
        execute(
            tx,
            "update papers set title = $2, abstract = $3, authors = $4, categories = $5,
                 published_at = $6, versions = $7, upvotes = $8, num_comments = $9,
                 github_repo = $10, github_stars = $11, project_page = $12, ai_summary = $13,
                 ai_keywords = $14, updated_at = $15, text_hash = $16
              where id = $1",
            &params,
        )
        .await?
    };
    if written == 0 {
        return Ok(false);
    }
    for f in &paper.featured {
        let (name, fullname) = f
            .submitter
            .as_ref()
            .map_or((None, None), |s| (Some(&s.name), s.fullname.as_ref()));
        execute(
            tx,
            "insert into featurings (paper_id, day, submitter_name, submitter_fullname)
             values ($1, $2, $3, $4)
             on conflict (paper_id, day) do update set
                 submitter_name = excluded.submitter_name,
                 submitter_fullname = excluded.submitter_fullname",
            &[&paper.id.as_str(), &f.date, &name, &fullname],
        )
        .await?;
    }
    Ok(true)
}

async fn upsert_batch(
    store: &PostgresStore,
    batch: Vec<NewPaper>,
    position: Option<(&str, HarvestPosition)>,
    mode: WriteMode,
) -> Result<Vec<UpsertOutcome>, StoreError> {
    let mut client = store.client().await?;
    // A paper another node inserted between our look-up and our insert: the whole batch again,
    // which then finds and locks it (each retry follows a commit of the other writer, so a few
    // suffice even for several nodes loading the same files at once).
    for _ in 0..8 {
        let tx = client.transaction().await?;
        if let Some(outcomes) = try_upsert_batch(&tx, &batch, position.as_ref()).await? {
            match mode {
                WriteMode::Commit => tx.commit().await?,
                WriteMode::DryRun => tx.rollback().await?,
            }
            return Ok(outcomes);
        }
        tx.rollback().await?;
    }
    Err(StoreError::Unavailable(
        "a batch kept meeting papers inserted meanwhile by another writer".into(),
    ))
}

/// One attempt at a batch in `tx`: `None` when a new paper turned out to be inserted by
/// another writer meanwhile (roll back and try again).
async fn try_upsert_batch<C: GenericClient>(
    tx: &C,
    batch: &[NewPaper],
    position: Option<&(&str, HarvestPosition)>,
) -> Result<Option<Vec<UpsertOutcome>>, StoreError> {
    let now = ms(Utc::now());
    let mut ids: Vec<&str> = batch.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    // One round trip: every stored paper of the batch, locked in id order (which any two
    // batches sharing papers agree on), as its sources said it (without local votes and
    // comments): what `merge` folds a record into.
    let rows = query(
        tx,
        &format!(
            "select {PAPER_COLUMNS}, p.local_upvotes, p.local_comments from papers p
              where p.id = any($1) order by p.id for no key update of p"
        ),
        &[&ids],
    )
    .await?;
    let mut current: HashMap<String, Paper> = HashMap::with_capacity(batch.len());
    for row in &rows {
        let mut paper = paper_from_row(row)?;
        paper.upvotes -= row.try_get::<_, i64>(PAPER_COLUMN_COUNT)?;
        paper.num_comments -= row.try_get::<_, i64>(PAPER_COLUMN_COUNT + 1)?;
        current.insert(paper.id.as_str().to_owned(), paper);
    }
    let stored: HashSet<String> = current.keys().cloned().collect();
    // Records fold in batch order (a paper twice in a batch merges twice, as in SQLite).
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for record in batch {
        let id = record.id.as_str();
        let existing = current.get(id);
        let merged = merge(existing, record.clone());
        let outcome = match existing {
            None => UpsertOutcome::New,
            Some(old) if *old == merged => UpsertOutcome::Unchanged,
            Some(_) => UpsertOutcome::Updated,
        };
        if outcome != UpsertOutcome::Unchanged {
            changed.insert(id.to_owned());
            current.insert(id.to_owned(), merged);
        }
        outcomes.push(outcome);
    }
    for id in &changed {
        let paper = current
            .get(id)
            .ok_or_else(|| StoreError::Corrupt(format!("paper {id} vanished from its batch")))?;
        if !write_paper(tx, paper, !stored.contains(id), now).await? {
            return Ok(None);
        }
    }
    if let Some((source, position)) = position {
        execute(
            tx,
            "insert into harvest_positions (source, cursor, last_day, updated_at)
             values ($1, $2, $3, $4)
             on conflict (source) do update set cursor = excluded.cursor,
                 last_day = excluded.last_day, updated_at = excluded.updated_at",
            &[source, &position.cursor, &position.last_day, &now],
        )
        .await?;
    }
    if !changed.is_empty() {
        let seq = next_change_seq(tx).await?;
        let changed: Vec<String> = changed.into_iter().collect();
        execute(
            tx,
            "update papers set change_seq = $1 where id = any($2)",
            &[&seq, &changed],
        )
        .await?;
    }
    Ok(Some(outcomes))
}

fn feed_entries(rows: &[Row]) -> Result<Vec<FeedEntry>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(FeedEntry {
                day: row.try_get(PAPER_COLUMN_COUNT)?,
                paper: paper_from_row(row)?,
            })
        })
        .collect()
}

fn limit_of(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(row: &Row) -> Result<u64, StoreError> {
    Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
}

#[async_trait]
impl Store for PostgresStore {
    async fn upsert_papers(
        &self,
        batch: Vec<NewPaper>,
        mode: WriteMode,
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        upsert_batch(self, batch, None, mode).await
    }

    async fn upsert_harvest_batch(
        &self,
        source: &str,
        batch: Vec<NewPaper>,
        position: HarvestPosition,
        mode: WriteMode,
    ) -> Result<Vec<UpsertOutcome>, StoreError> {
        upsert_batch(self, batch, Some((source, position)), mode).await
    }

    async fn harvest_position(&self, source: &str) -> Result<Option<HarvestPosition>, StoreError> {
        let client = self.client().await?;
        query_opt(
            &client,
            "select cursor, last_day from harvest_positions where source = $1",
            &[&source],
        )
        .await?
        .map(|row| {
            Ok(HarvestPosition {
                cursor: row.try_get(0)?,
                last_day: row.try_get(1)?,
            })
        })
        .transpose()
    }

    async fn get_paper(&self, id: &ArxivId) -> Result<Option<Paper>, StoreError> {
        let client = self.client().await?;
        load_paper(&client, id.as_str()).await
    }

    async fn get_papers(&self, ids: &[ArxivId]) -> Result<Vec<Paper>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = distinct_ids(ids);
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "select {PAPER_COLUMNS} from unnest($1::text[]) with ordinality as u(id, n)
                   join papers p on p.id = u.id
                  order by u.n"
            ),
            &[&ids],
        )
        .await?;
        rows.iter().map(paper_from_row).collect()
    }

    async fn featured_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "select {PAPER_COLUMNS}, fd.day
                   from featurings fd join papers p on p.id = fd.paper_id
                  where fd.day between $1 and $2
                  order by fd.day desc, p.upvotes + p.local_upvotes desc, p.id"
            ),
            &[&from, &to],
        )
        .await?;
        feed_entries(&rows)
    }

    async fn featured_page(&self, feed: FeedQuery) -> Result<Vec<FeedEntry>, StoreError> {
        let order = match feed.order {
            FeedOrder::Newest => "fd.day desc, p.upvotes + p.local_upvotes desc, p.id",
            FeedOrder::MostUpvoted => "p.upvotes + p.local_upvotes desc, fd.day desc, p.id",
        };
        let (from, to) = feed.days.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        let (limit, offset) = (limit_of(feed.limit), limit_of(feed.offset));
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "select {PAPER_COLUMNS}, fd.day
                   from featurings fd join papers p on p.id = fd.paper_id
                  where ($1::date is null or fd.day >= $1) and ($2::date is null or fd.day <= $2)
                    and ($3::text is null or fd.submitter_name = $3)
                  order by {order} limit $4 offset $5"
            ),
            &[&from, &to, &feed.submitter, &limit, &offset],
        )
        .await?;
        feed_entries(&rows)
    }

    async fn papers_page(
        &self,
        before: Option<ArxivId>,
        limit: usize,
    ) -> Result<Vec<Paper>, StoreError> {
        let before = before.map(|id| id.as_str().to_owned());
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!(
                "select {PAPER_COLUMNS} from papers p
                  where $1::text is null or p.id < $1 order by p.id desc limit $2"
            ),
            &[&before, &limit_of(limit)],
        )
        .await?;
        rows.iter().map(paper_from_row).collect()
    }

    async fn featured_day_before(&self, day: NaiveDate) -> Result<Option<NaiveDate>, StoreError> {
        let client = self.client().await?;
        Ok(query_one(
            &client,
            "select max(day) from featurings where day < $1",
            &[&day],
        )
        .await?
        .try_get(0)?)
    }

    async fn featured_day_after(&self, day: NaiveDate) -> Result<Option<NaiveDate>, StoreError> {
        let client = self.client().await?;
        Ok(query_one(
            &client,
            "select min(day) from featurings where day > $1",
            &[&day],
        )
        .await?
        .try_get(0)?)
    }

    async fn latest_featured_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        let client = self.client().await?;
        Ok(query_one(&client, "select max(day) from featurings", &[])
            .await?
            .try_get(0)?)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            "select (select count(*) from papers),
                    (select count(distinct day) from featurings),
                    (select value from store_counters where name = 'change_seq')",
            &[],
        )
        .await?;
        Ok(StoreStats {
            papers: row.try_get::<_, i64>(0)?.unsigned_abs(),
            featured_days: row.try_get::<_, i64>(1)?.unsigned_abs(),
            change_seq: row.try_get(2)?,
        })
    }

    async fn change_seq(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        Ok(query_one(
            &client,
            "select value from store_counters where name = 'change_seq'",
            &[],
        )
        .await?
        .try_get(0)?)
    }

    async fn papers_changed_since(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<ChangedPaper>, StoreError> {
        let limit = limit_of(limit);
        let client = self.client().await?;
        let changed = |row: &Row| -> Result<ChangedPaper, StoreError> {
            Ok(ChangedPaper {
                change_seq: row.try_get(PAPER_COLUMN_COUNT)?,
                paper: paper_from_row(row)?,
            })
        };
        let rows = query(
            &client,
            &format!(
                "select {PAPER_COLUMNS}, p.change_seq from papers p
                  where p.change_seq > $1 order by p.change_seq, p.id limit $2"
            ),
            &[&since, &limit],
        )
        .await?;
        let mut out = rows.iter().map(changed).collect::<Result<Vec<_>, _>>()?;
        // Finish the last change, so that paging by change_seq never skips papers.
        if let Some(last) = out.last().filter(|_| out.len() as i64 == limit) {
            let (seq, after) = (last.change_seq, last.paper.id.to_string());
            let rest = query(
                &client,
                &format!(
                    "select {PAPER_COLUMNS}, p.change_seq from papers p
                      where p.change_seq = $1 and p.id > $2 order by p.id"
                ),
                &[&seq, &after],
            )
            .await?;
            for row in &rest {
                out.push(changed(row)?);
            }
        }
        Ok(out)
    }

    async fn embedding_backlog(
        &self,
        model: &str,
        limit: usize,
    ) -> Result<Vec<EmbeddingJob>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "select p.id, p.text_hash, p.title, p.abstract from papers p
               left join paper_embeddings e on e.paper_id = p.id and e.model = $1
              where e.paper_id is null or e.text_hash != p.text_hash
              order by p.id limit $2",
            &[&model, &limit_of(limit)],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let title: String = row.try_get(2)?;
                let abstract_text: String = row.try_get(3)?;
                Ok(EmbeddingJob {
                    id: ArxivId::parse(&id).map_err(|e| corrupt("papers.id", &e))?,
                    text_hash: row.try_get(1)?,
                    text: paperfeed_core::embedding_text(&title, &abstract_text),
                })
            })
            .collect()
    }

    async fn count_embedding_backlog(&self, model: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        count(
            &query_one(
                &client,
                "select count(*) from papers p
                   left join paper_embeddings e on e.paper_id = p.id and e.model = $1
                  where e.paper_id is null or e.text_hash != p.text_hash",
                &[&model],
            )
            .await?,
        )
    }

    async fn put_embeddings(
        &self,
        model: &str,
        vectors: Vec<PaperVector>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for v in &vectors {
            execute(
                &tx,
                "insert into paper_embeddings (paper_id, model, text_hash, vector)
                 select id, $2, $3, $4 from papers where id = $1 and text_hash = $3
                 on conflict (paper_id, model) do update set
                     text_hash = excluded.text_hash, vector = excluded.vector",
                &[
                    &v.id.as_str(),
                    &model,
                    &v.text_hash,
                    &vector_bytes(&v.vector),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn embeddings(&self, model: &str) -> Result<Vec<PaperVector>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
               join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
              where e.model = $1 order by e.paper_id",
            &[&model],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let blob: Vec<u8> = row.try_get(2)?;
                Ok(PaperVector {
                    id: ArxivId::parse(&id)
                        .map_err(|e| corrupt("paper_embeddings.paper_id", &e))?,
                    text_hash: row.try_get(1)?,
                    vector: vector_from_bytes(&blob)?,
                })
            })
            .collect()
    }

    async fn embeddings_of(
        &self,
        model: &str,
        ids: &[ArxivId],
    ) -> Result<Vec<PaperVector>, StoreError> {
        let ids: Vec<&str> = ids.iter().map(ArxivId::as_str).collect();
        let client = self.client().await?;
        let rows = query(
            &client,
            "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
               join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
              where e.model = $1 and e.paper_id = any($2) order by e.paper_id",
            &[&model, &ids],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let blob: Vec<u8> = row.try_get(2)?;
                Ok(PaperVector {
                    id: ArxivId::parse(&id)
                        .map_err(|e| corrupt("paper_embeddings.paper_id", &e))?,
                    text_hash: row.try_get(1)?,
                    vector: vector_from_bytes(&blob)?,
                })
            })
            .collect()
    }

    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        community::create_user(&self.client().await?, &user).await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        community::user_by_name(&self.client().await?, username).await
    }

    async fn set_password_hash(
        &self,
        user: UserId,
        password_hash: String,
        keep: Option<String>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        execute(
            &tx,
            "update users set password_hash = $2 where id = $1",
            &[&user.0, &password_hash],
        )
        .await?;
        execute(
            &tx,
            "delete from sessions where user_id = $1 and ($2::text is null or id_hash != $2)",
            &[&user.0, &keep],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        execute(
            &self.client().await?,
            "insert into sessions (id_hash, user_id, csrf_token, created_at, expires_at)
             values ($1, $2, $3, $4, $5)",
            &[
                &session.id_hash,
                &session.user.0,
                &session.csrf_token,
                &ms(session.created_at),
                &ms(session.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        community::session(&self.client().await?, id_hash, now).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        execute(
            &self.client().await?,
            "delete from sessions where id_hash = $1",
            &[&id_hash],
        )
        .await?;
        Ok(())
    }

    async fn create_api_token(
        &self,
        user: UserId,
        name: String,
        token_hash: String,
    ) -> Result<ApiToken, StoreError> {
        let now = ms(Utc::now());
        let row = query_one(
            &self.client().await?,
            "insert into api_tokens (user_id, name, token_hash, created_at)
             values ($1, $2, $3, $4) returning id",
            &[&user.0, &name, &token_hash, &now],
        )
        .await?;
        Ok(ApiToken {
            id: row.try_get(0)?,
            name,
            created_at: now,
        })
    }

    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = query(
            &self.client().await?,
            "select id, name, created_at from api_tokens where user_id = $1 order by id",
            &[&user.0],
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ApiToken {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    created_at: row.try_get(2)?,
                })
            })
            .collect()
    }

    async fn revoke_api_token(&self, user: UserId, token_id: i64) -> Result<bool, StoreError> {
        Ok(execute(
            &self.client().await?,
            "delete from api_tokens where id = $1 and user_id = $2",
            &[&token_id, &user.0],
        )
        .await?
            > 0)
    }

    async fn user_by_api_token(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        community::user_by_api_token(&self.client().await?, token_hash).await
    }

    async fn set_vote(
        &self,
        user: UserId,
        paper: &ArxivId,
        up: bool,
    ) -> Result<Option<VoteOutcome>, StoreError> {
        let mut client = self.client().await?;
        community::set_vote(&mut client, user, paper.as_str(), up).await
    }

    async fn has_voted(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        Ok(query_opt(
            &self.client().await?,
            "select 1 from votes where user_id = $1 and paper_id = $2",
            &[&user.0, &paper.as_str()],
        )
        .await?
        .is_some())
    }

    async fn add_comment(&self, comment: NewComment) -> Result<Option<Comment>, StoreError> {
        let mut client = self.client().await?;
        community::add_comment(&mut client, &comment).await
    }

    async fn comments(&self, paper: &ArxivId) -> Result<Vec<Comment>, StoreError> {
        community::comments(&self.client().await?, paper.as_str()).await
    }

    async fn comment(&self, id: i64) -> Result<Option<Comment>, StoreError> {
        community::comment(&self.client().await?, id).await
    }

    async fn edit_comment(
        &self,
        id: i64,
        author: UserId,
        body: String,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        community::edit_comment(&mut client, id, author, &body).await
    }

    async fn delete_comment(&self, id: i64, author: UserId) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        community::delete_comment(&mut client, id, author).await
    }

    async fn set_comment_hidden(&self, id: i64, hidden: bool) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        community::set_comment_hidden(&mut client, id, hidden).await
    }

    async fn feature_paper(
        &self,
        paper: &ArxivId,
        featuring: Featuring,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        community::feature_paper(&mut client, paper.as_str(), &featuring).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // One statement: concurrent askers serialise on the row (or the unique key when it is
        // new) and the `where` sees the winner's row, so one of them gets the lease.
        Ok(query_opt(
            &self.client().await?,
            "insert into leases (name, holder, until) values ($1, $2, $3)
             on conflict (name) do update set holder = excluded.holder, until = excluded.until
              where leases.until <= $4 or leases.holder = excluded.holder
             returning 1",
            &[&name, &holder, &ms(until), &ms(now)],
        )
        .await?
        .is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        Ok(execute(
            &self.client().await?,
            "delete from leases where name = $1 and holder = $2",
            &[&name, &holder],
        )
        .await?
            > 0)
    }
}

#[cfg(test)]
mod tests;
