//! [`VisibilityStore`] on PostgreSQL, mirroring `sqlite/visibility.rs` (migration 0005). None
//! of these writes move `change_seq`. Adding a mute locks the user's row, so two nodes adding
//! at once never pass the limit; seen marks are written in paper-id order, so concurrent marks
//! of one reader never wait on each other in a cycle.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use paperfeed_core::{ArxivId, MuteKind};
use tokio_postgres::Row;

use super::PostgresStore;
use super::sql::{corrupt, execute, limit_of, ms, query, query_one, query_opt};
use crate::encoding::distinct_ids;
use crate::{
    Dismissal, Mute, MuteAdded, NewMute, ReaderMarks, SeenMark, SeenReason, SeenReasons,
    StoreError, UserId, VisibilityStore,
};

const MUTE_COLUMNS: &str = "id, kind, text, created_at";

fn paper_id(text: &str, column: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| corrupt(column, &e))
}

fn mute_from_row(row: &Row) -> Result<Mute, StoreError> {
    let kind: String = row.try_get(1)?;
    Ok(Mute {
        id: row.try_get(0)?,
        kind: MuteKind::parse(&kind).ok_or_else(|| corrupt("mutes.kind", &kind))?,
        text: row.try_get(2)?,
        created_at: row.try_get(3)?,
    })
}

async fn mutes_of<C: GenericClient>(c: &C, user: UserId) -> Result<Vec<Mute>, StoreError> {
    query(
        c,
        &format!("select {MUTE_COLUMNS} from mutes where user_id = $1 order by id"),
        &[&user.0],
    )
    .await?
    .iter()
    .map(mute_from_row)
    .collect()
}

async fn mark_seen_in<C: GenericClient>(
    c: &C,
    user: UserId,
    ids: &[&str],
    reason: SeenReason,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    execute(
        c,
        "insert into seen_papers (user_id, paper_id, reasons, first_seen_at)
         select $1, p.id, $3, $4 from unnest($2::text[]) as u(id) join papers p on p.id = u.id
          order by p.id
         on conflict (user_id, paper_id)
         do update set reasons = seen_papers.reasons | excluded.reasons",
        &[&user.0, &ids, &SeenReasons::of(reason).bits(), &ms(at)],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl VisibilityStore for PostgresStore {
    async fn add_mute(
        &self,
        user: UserId,
        mute: NewMute,
        max: usize,
    ) -> Result<MuteAdded, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        query_opt(
            &tx,
            "select 1 from users where id = $1 for update",
            &[&user.0],
        )
        .await?;
        let existing = query_opt(
            &tx,
            &format!(
                "select {MUTE_COLUMNS} from mutes where user_id = $1 and kind = $2 and key = $3"
            ),
            &[&user.0, &mute.kind.as_str(), &mute.key],
        )
        .await?;
        if let Some(row) = existing {
            return Ok(MuteAdded::AlreadyThere(mute_from_row(&row)?));
        }
        let count: i64 = query_one(
            &tx,
            "select count(*) from mutes where user_id = $1",
            &[&user.0],
        )
        .await?
        .try_get(0)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Ok(MuteAdded::Full);
        }
        let at = ms(mute.created_at);
        let id: i64 = query_one(
            &tx,
            "insert into mutes (user_id, kind, text, key, created_at)
             values ($1, $2, $3, $4, $5) returning id",
            &[&user.0, &mute.kind.as_str(), &mute.text, &mute.key, &at],
        )
        .await?
        .try_get(0)?;
        tx.commit().await?;
        Ok(MuteAdded::Added(Mute {
            id,
            kind: mute.kind,
            text: mute.text,
            created_at: at,
        }))
    }

    async fn remove_mute(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        Ok(execute(
            &self.client().await?,
            "delete from mutes where id = $1 and user_id = $2",
            &[&id, &user.0],
        )
        .await?
            > 0)
    }

    async fn mutes(&self, user: UserId) -> Result<Vec<Mute>, StoreError> {
        mutes_of(&self.client().await?, user).await
    }

    async fn dismiss_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = paper.as_str();
        if query_opt(&tx, "select 1 from papers where id = $1", &[&id])
            .await?
            .is_none()
        {
            return Ok(false);
        }
        execute(
            &tx,
            "insert into dismissed_papers (user_id, paper_id, created_at) values ($1, $2, $3)
             on conflict (user_id, paper_id) do nothing",
            &[&user.0, &id, &ms(at)],
        )
        .await?;
        mark_seen_in(&tx, user, &[id], SeenReason::Dismissed, at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn undismiss_paper(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        Ok(execute(
            &self.client().await?,
            "delete from dismissed_papers where user_id = $1 and paper_id = $2",
            &[&user.0, &paper.as_str()],
        )
        .await?
            > 0)
    }

    async fn dismissed_papers(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<Vec<Dismissal>, StoreError> {
        query(
            &self.client().await?,
            "select paper_id, created_at from dismissed_papers where user_id = $1
              order by created_at desc, paper_id limit $2",
            &[&user.0, &limit_of(limit)],
        )
        .await?
        .iter()
        .map(|row| {
            let id: String = row.try_get(0)?;
            Ok(Dismissal {
                paper: paper_id(&id, "dismissed_papers.paper_id")?,
                dismissed_at: row.try_get(1)?,
            })
        })
        .collect()
    }

    async fn mark_seen(
        &self,
        user: UserId,
        papers: &[ArxivId],
        reason: SeenReason,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if papers.is_empty() {
            return Ok(());
        }
        let ids = distinct_ids(papers);
        mark_seen_in(&self.client().await?, user, &ids, reason, at).await
    }

    async fn seen_papers(&self, user: UserId, limit: usize) -> Result<Vec<SeenMark>, StoreError> {
        query(
            &self.client().await?,
            "select paper_id, reasons, first_seen_at from seen_papers where user_id = $1
              order by first_seen_at desc, paper_id limit $2",
            &[&user.0, &limit_of(limit)],
        )
        .await?
        .iter()
        .map(|row| {
            let id: String = row.try_get(0)?;
            Ok(SeenMark {
                paper: paper_id(&id, "seen_papers.paper_id")?,
                reasons: SeenReasons::from_bits(row.try_get(1)?),
                first_seen_at: row.try_get(2)?,
            })
        })
        .collect()
    }

    async fn reader_marks(
        &self,
        user: UserId,
        papers: &[ArxivId],
    ) -> Result<ReaderMarks, StoreError> {
        let client = self.client().await?;
        let ids = distinct_ids(papers);
        let mut marks = ReaderMarks {
            mutes: mutes_of(&client, user).await?,
            ..ReaderMarks::default()
        };
        if ids.is_empty() {
            return Ok(marks);
        }
        for row in query(
            &client,
            "select paper_id from dismissed_papers where user_id = $1 and paper_id = any($2)",
            &[&user.0, &ids],
        )
        .await?
        {
            let id: String = row.try_get(0)?;
            marks
                .dismissed
                .insert(paper_id(&id, "dismissed_papers.paper_id")?);
        }
        for row in query(
            &client,
            "select paper_id, reasons from seen_papers where user_id = $1 and paper_id = any($2)",
            &[&user.0, &ids],
        )
        .await?
        {
            let id: String = row.try_get(0)?;
            marks.seen.insert(
                paper_id(&id, "seen_papers.paper_id")?,
                SeenReasons::from_bits(row.try_get(1)?),
            );
        }
        Ok(marks)
    }

    async fn user_id_by_email(&self, email: &str) -> Result<Option<UserId>, StoreError> {
        Ok(query_opt(
            &self.client().await?,
            "select id from users where lower(email) = lower($1)",
            &[&email],
        )
        .await?
        .map(|row| row.try_get(0).map(UserId))
        .transpose()?)
    }
}
