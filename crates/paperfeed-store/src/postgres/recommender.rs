//! [`RecommenderStore`] on PostgreSQL, mirroring `sqlite/recommender.rs` (migration 0008).
//! None of these writes moves `change_seq`. Adding a seed locks the user's row, so two nodes
//! adding at once never pass the limit.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use paperfeed_core::ArxivId;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PostgresStore;
use super::sql::{corrupt, execute, limit_of, ms, query, query_one, query_opt};
use crate::{
    CollectedPaper, PaperSignal, ReaderSignals, RecommenderSettings, RecommenderStore, Seed,
    SeedAdded, SeenReason, SeenReasons, StoreError, UserId,
};

fn paper_id(text: &str, column: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| corrupt(column, &e))
}

fn percent(value: i64, column: &str) -> Result<u8, StoreError> {
    u8::try_from(value)
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| corrupt(column, &format!("{value} is not a percentage")))
}

const SETTINGS_COLUMNS: &str =
    "paused, social_weight, recency_days, exploration, reset_at, updated_at";

fn settings_from_row(row: &Row) -> Result<RecommenderSettings, StoreError> {
    let days: i64 = row.try_get(2)?;
    Ok(RecommenderSettings {
        paused: row.try_get(0)?,
        social_weight: percent(row.try_get(1)?, "recommender_settings.social_weight")?,
        recency_days: u32::try_from(days)
            .map_err(|_| corrupt("recommender_settings.recency_days", &days))?,
        exploration: percent(row.try_get(3)?, "recommender_settings.exploration")?,
        reset_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

async fn settings_of<C: GenericClient>(
    c: &C,
    user: UserId,
) -> Result<Option<RecommenderSettings>, StoreError> {
    query_opt(
        c,
        &format!("select {SETTINGS_COLUMNS} from recommender_settings where user_id = $1"),
        &[&user.0],
    )
    .await?
    .as_ref()
    .map(settings_from_row)
    .transpose()
}

async fn put_settings<C: GenericClient>(
    c: &C,
    user: UserId,
    s: &RecommenderSettings,
) -> Result<bool, StoreError> {
    // Inserting from the user's row: no row when there is no such user.
    let written = execute(
        c,
        "insert into recommender_settings
             (user_id, paused, social_weight, recency_days, exploration, reset_at, updated_at)
         select id, $2, $3, $4, $5, $6, $7 from users where id = $1
         on conflict (user_id) do update set
             paused = excluded.paused, social_weight = excluded.social_weight,
             recency_days = excluded.recency_days, exploration = excluded.exploration,
             reset_at = excluded.reset_at, updated_at = excluded.updated_at",
        &[
            &user.0,
            &s.paused,
            &i64::from(s.social_weight),
            &i64::from(s.recency_days),
            &i64::from(s.exploration),
            &s.reset_at.map(ms),
            &ms(s.updated_at),
        ],
    )
    .await?;
    Ok(written > 0)
}

/// `(paper, at)` rows of one query, read into signals.
async fn signals<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    column: &str,
) -> Result<Vec<PaperSignal>, StoreError> {
    query(c, sql, params)
        .await?
        .iter()
        .map(|row| {
            let id: String = row.try_get(0)?;
            Ok(PaperSignal {
                paper: paper_id(&id, column)?,
                at: row.try_get(1)?,
            })
        })
        .collect()
}

/// The queries of a reader's paper signals (`$1` the user, `$2` the limit; newest first), and
/// the column each names: seeds, upvotes, saves, dismissals, opened papers.
fn paper_signal_queries() -> [(String, &'static str); 5] {
    let newest = |table: &str, at: &str, filter: &str| {
        format!(
            "select paper_id, {at} from {table} where user_id = $1{filter}
              order by {at} desc, paper_id limit $2"
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

async fn reader_signals<C: GenericClient>(
    c: &C,
    user: UserId,
    limit: i64,
) -> Result<ReaderSignals, StoreError> {
    let settings = settings_of(c, user).await?;
    let mut lists = Vec::with_capacity(5);
    for (sql, column) in paper_signal_queries() {
        lists.push(signals(c, &sql, &[&user.0, &limit], column).await?);
    }
    let collected = query(
        c,
        "select cp.paper_id, c.id, c.name, cp.added_at
           from collections c join collection_papers cp on cp.collection_id = c.id
          where c.user_id = $1
          order by cp.added_at desc, cp.paper_id, c.id limit $2",
        &[&user.0, &limit],
    )
    .await?
    .iter()
    .map(|row| {
        let id: String = row.try_get(0)?;
        Ok(CollectedPaper {
            paper: paper_id(&id, "collection_papers.paper_id")?,
            collection: row.try_get(1)?,
            collection_name: row.try_get(2)?,
            at: row.try_get(3)?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
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

#[async_trait]
impl RecommenderStore for PostgresStore {
    async fn recommender_settings(
        &self,
        user: UserId,
    ) -> Result<Option<RecommenderSettings>, StoreError> {
        settings_of(&self.client().await?, user).await
    }

    async fn set_recommender_settings(
        &self,
        user: UserId,
        settings: &RecommenderSettings,
    ) -> Result<bool, StoreError> {
        put_settings(&self.client().await?, user, settings).await
    }

    async fn reset_recommender(
        &self,
        user: UserId,
        settings: &RecommenderSettings,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !put_settings(&tx, user, settings).await? {
            return Ok(false);
        }
        execute(
            &tx,
            "delete from recommender_seeds where user_id = $1",
            &[&user.0],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn add_seed(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
        max: usize,
    ) -> Result<SeedAdded, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The reader's row lock orders concurrent adds of one reader, from any node.
        query_opt(
            &tx,
            "select 1 from users where id = $1 for update",
            &[&user.0],
        )
        .await?;
        let id = paper.as_str();
        if query_opt(&tx, "select 1 from papers where id = $1", &[&id])
            .await?
            .is_none()
        {
            return Ok(SeedAdded::NoSuchPaper);
        }
        if query_opt(
            &tx,
            "select 1 from recommender_seeds where user_id = $1 and paper_id = $2",
            &[&user.0, &id],
        )
        .await?
        .is_some()
        {
            return Ok(SeedAdded::AlreadyThere);
        }
        let count: i64 = query_one(
            &tx,
            "select count(*) from recommender_seeds where user_id = $1",
            &[&user.0],
        )
        .await?
        .try_get(0)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Ok(SeedAdded::Full);
        }
        execute(
            &tx,
            "insert into recommender_seeds (user_id, paper_id, added_at) values ($1, $2, $3)",
            &[&user.0, &id, &ms(at)],
        )
        .await?;
        tx.commit().await?;
        Ok(SeedAdded::Added)
    }

    async fn remove_seed(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        Ok(execute(
            &self.client().await?,
            "delete from recommender_seeds where user_id = $1 and paper_id = $2",
            &[&user.0, &paper.as_str()],
        )
        .await?
            > 0)
    }

    async fn seeds(&self, user: UserId) -> Result<Vec<Seed>, StoreError> {
        let [(sql, column), ..] = paper_signal_queries();
        Ok(
            signals(&self.client().await?, &sql, &[&user.0, &i64::MAX], column)
                .await?
                .into_iter()
                .map(|s| Seed {
                    paper: s.paper,
                    added_at: s.at,
                })
                .collect(),
        )
    }

    async fn reader_signals(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<ReaderSignals, StoreError> {
        let mut client = self.client().await?;
        // One snapshot: a write between two of these reads cannot show half of itself.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let signals = reader_signals(&tx, user, limit_of(limit)).await?;
        tx.commit().await?;
        Ok(signals)
    }
}
