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
    let at = time_text(listing_time(paper));
    let mut insert = tx.prepare_cached(
        "insert or ignore into paper_keys (kind, key, sort_at, paper_id, label)
         values (?1, ?2, ?3, ?4, ?5)",
    )?;
    for entry in index_entries(paper) {
        insert.execute(params![entry.kind.as_str(), entry.key, at, id, entry.label])?;
    }
    Ok(())
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
