//! Follows, the paper index (`paper_keys`) and private feed tokens on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use paperfeed_core::{
    ArxivId, FollowKind, FollowTarget, IndexKind, Paper, index_entries, listing_time,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::SqliteStore;
use super::rows::{PAPER_COLUMNS, paper_from_row, parse_time, time_text};
use crate::follows::{check_key_count, indexed, merge_index_rows};
use crate::{
    AccountClaim, FeedToken, FeedTokenStore, Follow, FollowStore, IndexKey, IndexLabel,
    IndexedPaper, ListingCursor, Store, StoreError, UserId,
};

/// Rewrites `paper`'s rows of the index, in the transaction that writes the paper.
pub(super) fn index_paper(tx: &Transaction<'_>, paper: &Paper) -> Result<(), StoreError> {
    let id = paper.id.as_str();
    tx.prepare_cached("delete from paper_keys where paper_id = ?1")?
        .execute([id])?;
    let mut insert = tx.prepare_cached(
        "insert or ignore into paper_keys (kind, key, sort_at, paper_id, label)
         values (?1, ?2, ?3, ?4, ?5)",
    )?;
    insert_rows(&mut insert, paper)
}

/// Runs `insert` (kind, key, sort_at, paper_id, label) for each of `paper`'s index rows.
fn insert_rows(insert: &mut rusqlite::Statement<'_>, paper: &Paper) -> Result<(), StoreError> {
    let at = time_text(listing_time(paper));
    let id = paper.id.as_str();
    for entry in index_entries(paper) {
        insert.execute(params![entry.kind.as_str(), entry.key, at, id, entry.label])?;
    }
    Ok(())
}

/// Papers written by one batch from which their index rows wait for [`catch_up_index`] instead of
/// being written with them. Written paper by paper, each row lands on its own page of the index
/// (rows are ordered by author key), so a batch of an arXiv-sized ingest dirtied thousands of
/// pages and the WAL carried each of them again and again; the catch-up writes them once, in
/// order. Batches of the daily feed's size stay below and are indexed as they are written.
pub(super) const DEFER_INDEX_FROM: usize = 256;

const PENDING_AFTER: &str = "paper_index_pending_after";

/// The change_seq after which papers may lack their index rows; `None` when every paper has
/// them.
fn pending_after(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let value: i64 = conn
        .prepare_cached("select value from store_counters where name = ?1")?
        .query_row([PENDING_AFTER], |r| r.get(0))?;
    Ok((value >= 0).then_some(value))
}

/// Marks the papers of the batch being written at `seq` as waiting for their index rows (the
/// mark covers every later batch too, until the catch-up).
pub(super) fn defer_index(tx: &Transaction<'_>, seq: i64) -> Result<(), StoreError> {
    if pending_after(tx)?.is_none() {
        tx.prepare_cached("update store_counters set value = ?2 where name = ?1")?
            .execute(params![PENDING_AFTER, seq - 1])?;
    }
    Ok(())
}

/// The secondary indexes of `paper_keys`, as migration 0009 made them: dropped and made again
/// when a catch-up writes most of the table (SQLite builds an index from sorted rows far faster
/// than it keeps one up to date row by row).
const INDEX_DDL: [(&str, &str); 2] = [
    (
        "paper_keys_by_paper",
        "create index paper_keys_by_paper on paper_keys (paper_id)",
    ),
    (
        "paper_keys_accounts_by_author",
        "create index paper_keys_accounts_by_author on paper_keys (label) where kind = 'account'",
    ),
];

/// Writes the index rows of every paper whose rows were deferred, in one transaction: the rows
/// are gathered in a temporary table, then inserted in the index's order. Returns how many
/// papers were indexed (0 when nothing waited).
pub(super) fn catch_up_index(conn: &mut Connection) -> Result<u64, StoreError> {
    // Asked after every change the indexer sees (a vote, a comment): nothing waits almost
    // always, and that answer needs no write lock. (On the writer's own connection: a reader
    // taken here would stay open when `ingest` exits, leaving its last writes in the WAL.)
    if pending_after(conn)?.is_none() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let Some(after) = pending_after(&tx)? else {
        return Ok(0);
    };
    tx.execute_batch(
        "create temp table if not exists pending_keys (
             kind text, key text, sort_at text, paper_id text, label text);
         delete from temp.pending_keys;",
    )?;
    let mut count: u64 = 0;
    {
        let mut read = tx.prepare(&format!(
            "select {PAPER_COLUMNS} from papers p where p.change_seq > ?1"
        ))?;
        let mut insert = tx.prepare(
            "insert into temp.pending_keys (kind, key, sort_at, paper_id, label)
             values (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut rows = read.query([after])?;
        while let Some(row) = rows.next()? {
            insert_rows(&mut insert, &paper_from_row(row)?)?;
            count += 1;
        }
    }
    let stored: i64 = tx.query_row("select count(*) from papers", [], |r| r.get(0))?;
    // Most of the store is new (a first ingest): the secondary indexes are made again after.
    let rebuild = count > 10_000 && count.saturating_mul(2) >= u64::try_from(stored).unwrap_or(0);
    tx.execute(
        "delete from paper_keys where paper_id in (select id from papers where change_seq > ?1)",
        [after],
    )?;
    if rebuild {
        for (name, _) in INDEX_DDL {
            tx.execute_batch(&format!("drop index if exists {name}"))?;
        }
    }
    tx.execute_batch(
        "insert or ignore into paper_keys (kind, key, sort_at, paper_id, label)
         select kind, key, sort_at, paper_id, label from temp.pending_keys
          order by kind, key, sort_at, paper_id;
         delete from temp.pending_keys;",
    )?;
    if rebuild {
        for (_, ddl) in INDEX_DDL {
            tx.execute_batch(ddl)?;
        }
    }
    tx.execute(
        "update store_counters set value = -1 where name = ?1",
        [PENDING_AFTER],
    )?;
    if count > 0 {
        // Author, organisation and category pages and the Following feed show more now: the
        // counter moves (a step no paper carries), so cached pages and ETags are renewed.
        tx.execute(
            "update store_counters set value = value + 1 where name = 'change_seq'",
            [],
        )?;
    }
    tx.commit()?;
    Ok(count)
}

/// Fills the index for every stored paper: run once, by the migration that made it.
pub(super) fn backfill_index(tx: &Transaction<'_>) -> Result<u64, StoreError> {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let papers: Vec<Paper> = {
            let mut stmt = tx.prepare(&format!(
                "select {PAPER_COLUMNS} from papers p where p.id > ?1 order by p.id limit 500"
            ))?;
            let mut rows = stmt.query([&after])?;
            let mut papers = Vec::new();
            while let Some(row) = rows.next()? {
                papers.push(paper_from_row(row)?);
            }
            papers
        };
        let Some(last) = papers.last() else {
            return Ok(count);
        };
        after = last.id.as_str().to_owned();
        for paper in &papers {
            index_paper(tx, paper)?;
            count += 1;
        }
    }
}

fn follow_from_row(row: &Row<'_>) -> Result<Option<Follow>, StoreError> {
    let kind: String = row.get(0)?;
    let key: String = row.get(1)?;
    let created: String = row.get(2)?;
    let Some(target) = FollowKind::parse(&kind).and_then(|k| FollowTarget::parse(k, &key)) else {
        return Ok(None);
    };
    Ok(Some(Follow {
        target,
        created_at: parse_time(&created)?,
    }))
}

/// The newest rows of one key, strictly after `before`.
fn key_rows(
    conn: &Connection,
    key: &IndexKey,
    before: Option<&ListingCursor>,
    limit: i64,
) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
    let mut out = Vec::new();
    let mut push = |row: &Row<'_>| -> Result<(), StoreError> {
        let at: String = row.get(1)?;
        out.push((row.get(0)?, parse_time(&at)?));
        Ok(())
    };
    match before {
        None => {
            let mut stmt = conn.prepare_cached(
                "select paper_id, sort_at from paper_keys where kind = ?1 and key = ?2
                  order by sort_at desc, paper_id desc limit ?3",
            )?;
            let mut rows = stmt.query(params![key.0.as_str(), key.1, limit])?;
            while let Some(row) = rows.next()? {
                push(row)?;
            }
        }
        Some(cursor) => {
            let mut stmt = conn.prepare_cached(
                "select paper_id, sort_at from paper_keys where kind = ?1 and key = ?2
                    and (sort_at, paper_id) < (?3, ?4)
                  order by sort_at desc, paper_id desc limit ?5",
            )?;
            let mut rows = stmt.query(params![
                key.0.as_str(),
                key.1,
                time_text(cursor.at),
                cursor.id.as_str(),
                limit
            ])?;
            while let Some(row) = rows.next()? {
                push(row)?;
            }
        }
    }
    Ok(out)
}

fn claims(
    conn: &Connection,
    sql: &str,
    values: &[String],
) -> Result<Vec<AccountClaim>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut out = Vec::new();
    for value in values {
        let mut rows = stmt.query([value])?;
        while let Some(row) = rows.next()? {
            out.push(AccountClaim {
                account: row.get(0)?,
                author: row.get(1)?,
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[async_trait]
impl FollowStore for SqliteStore {
    async fn catch_up_paper_index(&self) -> Result<u64, StoreError> {
        self.write(catch_up_index).await
    }

    async fn follow(
        &self,
        user: UserId,
        target: &FollowTarget,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (kind, key) = (target.kind().as_str(), target.key());
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "insert into follows (user_id, kind, key, created_at) values (?1, ?2, ?3, ?4)
                     on conflict do nothing",
                )?
                .execute(params![user.0, kind, key, time_text(now)])?
                > 0)
        })
        .await
    }

    async fn unfollow(&self, user: UserId, target: &FollowTarget) -> Result<bool, StoreError> {
        let (kind, key) = (target.kind().as_str(), target.key());
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "delete from follows where user_id = ?1 and kind = ?2 and key = ?3",
                )?
                .execute(params![user.0, kind, key])?
                > 0)
        })
        .await
    }

    async fn follows(&self, user: UserId) -> Result<Vec<Follow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select kind, key, created_at from follows where user_id = ?1
                  order by created_at desc, kind, key",
            )?;
            let mut rows = stmt.query([user.0])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.extend(follow_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn is_following(&self, user: UserId, target: &FollowTarget) -> Result<bool, StoreError> {
        let (kind, key) = (target.kind().as_str(), target.key());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "select 1 from follows where user_id = ?1 and kind = ?2 and key = ?3",
                )?
                .query_row(params![user.0, kind, key], |_| Ok(()))
                .optional()?
                .is_some())
        })
        .await
    }

    async fn indexed_papers(
        &self,
        keys: &[IndexKey],
        before: Option<ListingCursor>,
        limit: usize,
    ) -> Result<Vec<IndexedPaper>, StoreError> {
        check_key_count(keys)?;
        if keys.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let asked = keys.to_vec();
        let per_key = i64::try_from(limit).unwrap_or(i64::MAX);
        let merged = self
            .read(move |conn| {
                let mut rows = Vec::new();
                for (i, key) in asked.iter().enumerate() {
                    for (id, at) in key_rows(conn, key, before.as_ref(), per_key)? {
                        rows.push((id, at, i));
                    }
                }
                Ok(merge_index_rows(rows, limit))
            })
            .await?;
        let ids = merged
            .iter()
            .map(|(id, _, _)| {
                ArxivId::parse(id)
                    .map_err(|e| StoreError::Corrupt(format!("paper_keys.paper_id: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let papers = self.get_papers(&ids).await?;
        Ok(indexed(merged, papers, keys))
    }

    async fn index_labels(
        &self,
        kind: IndexKind,
        keys: &[String],
    ) -> Result<Vec<IndexLabel>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select label, count(*) from paper_keys where kind = ?1 and key = ?2
                  group by label order by count(*) desc, label",
            )?;
            let mut out = Vec::new();
            for key in keys {
                let mut rows = stmt.query(params![kind.as_str(), key])?;
                while let Some(row) = rows.next()? {
                    out.push(IndexLabel {
                        key: key.clone(),
                        label: row.get(0)?,
                        papers: row.get::<_, i64>(1)?.unsigned_abs(),
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn claims_by_authors(&self, authors: &[String]) -> Result<Vec<AccountClaim>, StoreError> {
        let authors = authors.to_vec();
        self.read(move |conn| {
            claims(
                conn,
                "select distinct key, label from paper_keys where kind = 'account' and label = ?1",
                &authors,
            )
        })
        .await
    }

    async fn claims_by_accounts(
        &self,
        accounts: &[String],
    ) -> Result<Vec<AccountClaim>, StoreError> {
        let accounts = accounts.to_vec();
        self.read(move |conn| {
            claims(
                conn,
                "select distinct key, label from paper_keys where kind = 'account' and key = ?1",
                &accounts,
            )
        })
        .await
    }
}

fn feed_token_from_row(row: &Row<'_>) -> Result<FeedToken, StoreError> {
    let created: String = row.get(3)?;
    let used: Option<String> = row.get(4)?;
    Ok(FeedToken {
        id: row.get(0)?,
        user: UserId(row.get(1)?),
        scope: row.get(2)?,
        created_at: parse_time(&created)?,
        last_used_at: used.as_deref().map(parse_time).transpose()?,
    })
}

const FEED_TOKEN_COLUMNS: &str = "id, user_id, scope, created_at, last_used_at";

#[async_trait]
impl FeedTokenStore for SqliteStore {
    async fn create_feed_token(
        &self,
        user: UserId,
        scope: String,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<FeedToken, StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "insert into feed_tokens (user_id, scope, token_hash, created_at)
                 values (?1, ?2, ?3, ?4)",
            )?
            .execute(params![user.0, scope, token_hash, time_text(now)])?;
            Ok(FeedToken {
                id: conn.last_insert_rowid(),
                user,
                scope,
                created_at: parse_time(&time_text(now))?,
                last_used_at: None,
            })
        })
        .await
    }

    async fn feed_tokens(&self, user: UserId) -> Result<Vec<FeedToken>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {FEED_TOKEN_COLUMNS} from feed_tokens where user_id = ?1 order by id"
            ))?;
            let mut rows = stmt.query([user.0])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(feed_token_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn revoke_feed_token(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached("delete from feed_tokens where id = ?1 and user_id = ?2")?
                .execute(params![id, user.0])?
                > 0)
        })
        .await
    }

    async fn revoke_feed_tokens_for_scope(
        &self,
        user: UserId,
        scope: &str,
    ) -> Result<u64, StoreError> {
        let scope = scope.to_owned();
        self.write(move |conn| {
            Ok(conn
                .prepare_cached("delete from feed_tokens where user_id = ?1 and scope = ?2")?
                .execute(params![user.0, scope])? as u64)
        })
        .await
    }

    async fn feed_token_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>, StoreError> {
        let hash = token_hash.to_owned();
        let token = self
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "select {FEED_TOKEN_COLUMNS} from feed_tokens where token_hash = ?1"
                ))?;
                let mut rows = stmt.query([hash])?;
                rows.next()?.map(feed_token_from_row).transpose()
            })
            .await?;
        let Some(mut token) = token else {
            return Ok(None);
        };
        if token
            .last_used_at
            .is_none_or(|used| now - used >= Duration::minutes(1))
        {
            let id = token.id;
            self.write(move |conn| {
                conn.prepare_cached("update feed_tokens set last_used_at = ?2 where id = ?1")?
                    .execute(params![id, time_text(now)])?;
                Ok(())
            })
            .await?;
            token.last_used_at = Some(parse_time(&time_text(now))?);
        }
        Ok(Some(token))
    }
}
