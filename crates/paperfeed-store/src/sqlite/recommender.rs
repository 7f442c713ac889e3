//! [`RecommenderStore`] on SQLite: the recommender's controls and seeds (migration 0013), and
//! the one read of a reader's paper signals. None of these writes moves `change_seq`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::rows::{parse_time, time_text};
use crate::{
    CollectedPaper, PaperSignal, ReaderSignals, RecommenderSettings, RecommenderStore, Seed,
    SeedAdded, SeenReason, SeenReasons, StoreError, UserId,
};

fn paper_id(text: &str, column: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn percent(value: i64, column: &str) -> Result<u8, StoreError> {
    u8::try_from(value)
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| StoreError::Corrupt(format!("{column}: {value} is not a percentage")))
}

const SETTINGS_COLUMNS: &str =
    "paused, social_weight, recency_days, exploration, reset_at, updated_at";

fn settings_from_row(row: &Row<'_>) -> Result<RecommenderSettings, StoreError> {
    let days: i64 = row.get(2)?;
    let reset: Option<String> = row.get(4)?;
    let updated: String = row.get(5)?;
    Ok(RecommenderSettings {
        paused: row.get(0)?,
        social_weight: percent(row.get(1)?, "recommender_settings.social_weight")?,
        recency_days: u32::try_from(days).map_err(|_| {
            StoreError::Corrupt(format!("recommender_settings.recency_days: {days}"))
        })?,
        exploration: percent(row.get(3)?, "recommender_settings.exploration")?,
        reset_at: reset.as_deref().map(parse_time).transpose()?,
        updated_at: parse_time(&updated)?,
    })
}

fn settings_of(conn: &Connection, user: UserId) -> Result<Option<RecommenderSettings>, StoreError> {
    conn.prepare_cached(&format!(
        "select {SETTINGS_COLUMNS} from recommender_settings where user_id = ?1"
    ))?
    .query_row([user.0], |row| Ok(settings_from_row(row)))
    .optional()?
    .transpose()
}

fn user_exists(conn: &Connection, user: UserId) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("select 1 from users where id = ?1")?
        .query_row([user.0], |_| Ok(()))
        .optional()?
        .is_some())
}

fn put_settings(
    conn: &Connection,
    user: UserId,
    s: &RecommenderSettings,
) -> Result<bool, StoreError> {
    if !user_exists(conn, user)? {
        return Ok(false);
    }
    conn.prepare_cached(
        "insert into recommender_settings
             (user_id, paused, social_weight, recency_days, exploration, reset_at, updated_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         on conflict (user_id) do update set
             paused = excluded.paused, social_weight = excluded.social_weight,
             recency_days = excluded.recency_days, exploration = excluded.exploration,
             reset_at = excluded.reset_at, updated_at = excluded.updated_at",
    )?
    .execute(params![
        user.0,
        s.paused,
        i64::from(s.social_weight),
        i64::from(s.recency_days),
        i64::from(s.exploration),
        s.reset_at.map(time_text),
        time_text(s.updated_at),
    ])?;
    Ok(true)
}

/// `(paper, at)` rows of one query, read into signals.
fn signals(
    conn: &Connection,
    sql: &str,
    user: UserId,
    limit: i64,
    column: &str,
) -> Result<Vec<PaperSignal>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![user.0, limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let at: String = row.get(1)?;
        out.push(PaperSignal {
            paper: paper_id(&id, column)?,
            at: parse_time(&at)?,
        });
    }
    Ok(out)
}

/// The queries of a reader's paper signals (`?1` the user, `?2` the limit; newest first), and
/// the column each names: seeds, upvotes, saves, dismissals, opened papers.
fn paper_signal_queries() -> [(String, &'static str); 5] {
    let newest = |table: &str, at: &str, filter: &str| {
        format!(
            "select paper_id, {at} from {table} where user_id = ?1{filter}
              order by {at} desc, paper_id limit ?2"
        )
    };
    let opened = format!(
        " and reasons & {} != 0",
        SeenReasons::of(SeenReason::Opened).bits()
    );
    [
        (
            newest("recommender_seeds", "added_at", ""),
            "recommender_seeds.paper_id",
        ),
        (newest("votes", "created_at", ""), "votes.paper_id"),
        (
            newest("saved_papers", "saved_at", ""),
            "saved_papers.paper_id",
        ),
        (
            newest("dismissed_papers", "created_at", ""),
            "dismissed_papers.paper_id",
        ),
        (
            newest("seen_papers", "first_seen_at", &opened),
            "seen_papers.paper_id",
        ),
    ]
}

fn reader_signals(
    conn: &Connection,
    user: UserId,
    limit: i64,
) -> Result<ReaderSignals, StoreError> {
    // One snapshot: a write between two of these reads cannot show half of itself.
    let tx = conn.unchecked_transaction()?;
    let settings = settings_of(&tx, user)?;
    let mut lists = Vec::with_capacity(5);
    for (sql, column) in paper_signal_queries() {
        lists.push(signals(&tx, &sql, user, limit, column)?);
    }
    let mut collected = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "select cp.paper_id, c.id, c.name, cp.added_at
               from collections c join collection_papers cp on cp.collection_id = c.id
              where c.user_id = ?1
              order by cp.added_at desc, cp.paper_id, c.id limit ?2",
        )?;
        let mut rows = stmt.query(params![user.0, limit])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let at: String = row.get(3)?;
            collected.push(CollectedPaper {
                paper: paper_id(&id, "collection_papers.paper_id")?,
                collection: row.get(1)?,
                collection_name: row.get(2)?,
                at: parse_time(&at)?,
            });
        }
    }
    tx.finish()?;
    let [seeds, upvotes, saved, dismissed, opened]: [Vec<PaperSignal>; 5] = lists
        .try_into()
        .map_err(|_| StoreError::unavailable("reading a reader's signals"))?;
    Ok(ReaderSignals {
        settings,
        seeds,
        upvotes,
        saved,
        collected,
        dismissed,
        opened,
    })
}

fn add_seed(
    conn: &mut Connection,
    user: UserId,
    paper: &str,
    at: DateTime<Utc>,
    max: usize,
) -> Result<SeedAdded, StoreError> {
    let tx = conn.transaction()?;
    let exists = tx
        .prepare_cached("select 1 from papers where id = ?1")?
        .query_row([paper], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(SeedAdded::NoSuchPaper);
    }
    let already = tx
        .prepare_cached("select 1 from recommender_seeds where user_id = ?1 and paper_id = ?2")?
        .query_row(params![user.0, paper], |_| Ok(()))
        .optional()?
        .is_some();
    if already {
        return Ok(SeedAdded::AlreadyThere);
    }
    let count: i64 = tx
        .prepare_cached("select count(*) from recommender_seeds where user_id = ?1")?
        .query_row([user.0], |r| r.get(0))?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= max {
        return Ok(SeedAdded::Full);
    }
    tx.prepare_cached(
        "insert into recommender_seeds (user_id, paper_id, added_at) values (?1, ?2, ?3)",
    )?
    .execute(params![user.0, paper, time_text(at)])?;
    tx.commit()?;
    Ok(SeedAdded::Added)
}

#[async_trait]
impl RecommenderStore for SqliteStore {
    async fn recommender_settings(
        &self,
        user: UserId,
    ) -> Result<Option<RecommenderSettings>, StoreError> {
        self.read(move |conn| settings_of(conn, user)).await
    }

    async fn set_recommender_settings(
        &self,
        user: UserId,
        settings: &RecommenderSettings,
    ) -> Result<bool, StoreError> {
        let settings = settings.clone();
        self.write(move |conn| put_settings(conn, user, &settings))
            .await
    }

    async fn reset_recommender(
        &self,
        user: UserId,
        settings: &RecommenderSettings,
    ) -> Result<bool, StoreError> {
        let settings = settings.clone();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if !put_settings(&tx, user, &settings)? {
                return Ok(false);
            }
            tx.prepare_cached("delete from recommender_seeds where user_id = ?1")?
                .execute([user.0])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn add_seed(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
        max: usize,
    ) -> Result<SeedAdded, StoreError> {
        let paper = paper.as_str().to_owned();
        self.write(move |conn| add_seed(conn, user, &paper, at, max))
            .await
    }

    async fn remove_seed(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        let paper = paper.as_str().to_owned();
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "delete from recommender_seeds where user_id = ?1 and paper_id = ?2",
                )?
                .execute(params![user.0, paper])?
                > 0)
        })
        .await
    }

    async fn seeds(&self, user: UserId) -> Result<Vec<Seed>, StoreError> {
        self.read(move |conn| {
            let [(sql, column), ..] = paper_signal_queries();
            Ok(signals(conn, &sql, user, i64::MAX, column)?
                .into_iter()
                .map(|s| Seed {
                    paper: s.paper,
                    added_at: s.at,
                })
                .collect())
        })
        .await
    }

    async fn reader_signals(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<ReaderSignals, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| reader_signals(conn, user, limit))
            .await
    }
}
