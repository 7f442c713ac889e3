//! The [`Store`] contract on SQLite: reads run on a pooled reader, writes on the one writer,
//! each a transaction of its own.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Featuring, NewPaper, Paper, UpsertOutcome};
use rusqlite::{OptionalExtension, params};

use super::papers::upsert_batch;
use super::rows::{
    PAPER_COLUMN_COUNT, PAPER_COLUMNS, day_text, feed_entries, load_paper, one_day, paper_from_row,
    parse_day, read_change_seq, time_text,
};
use super::{SqliteStore, community, embeddings};
use crate::encoding::ids_json;
use crate::{
    ApiToken, ChangedPaper, Comment, EmbeddingJob, FeedEntry, FeedOrder, FeedQuery,
    HarvestPosition, NewComment, NewSession, NewUser, PaperVector, Session, Store, StoreError,
    StoreStats, User, UserId, VoteOutcome, WriteMode,
};

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
        if let Some(seq) = self.change_seq_now() {
            return Ok(seq);
        }
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
