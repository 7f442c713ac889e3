//! The [`Store`] contract on PostgreSQL: each call on a pooled connection, each write one
//! transaction, locks taken in the order `postgres.rs` describes.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Featuring, NewPaper, Paper, UpsertOutcome};
use tokio_postgres::Row;

use super::papers::upsert_batch;
use super::rows::{PAPER_COLUMN_COUNT, PAPER_COLUMNS, feed_entries, load_paper, paper_from_row};
use super::sql::{execute, limit_of, ms, query, query_one, query_opt};
use super::{PostgresStore, community, embeddings};
use crate::encoding::distinct_ids;
use crate::{
    ApiToken, ChangedPaper, Comment, EmbeddingJob, FeedEntry, FeedOrder, FeedQuery,
    HarvestPosition, NewComment, NewSession, NewUser, PaperVector, Session, Store, StoreError,
    StoreStats, User, UserId, VoteOutcome, WriteMode,
};

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
        embeddings::backlog(self, model, limit).await
    }

    async fn count_embedding_backlog(&self, model: &str) -> Result<u64, StoreError> {
        embeddings::count_backlog(self, model).await
    }

    async fn put_embeddings(
        &self,
        model: &str,
        vectors: Vec<PaperVector>,
    ) -> Result<(), StoreError> {
        embeddings::put(self, model, vectors).await
    }

    async fn embeddings(&self, model: &str) -> Result<Vec<PaperVector>, StoreError> {
        embeddings::of_model(self, model).await
    }

    async fn embeddings_of(
        &self,
        model: &str,
        ids: &[ArxivId],
    ) -> Result<Vec<PaperVector>, StoreError> {
        embeddings::of_papers(self, model, ids).await
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
