//! Follows, the paper index (`paper_keys`) and private feed tokens on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;
use paperfeed_core::{
    ArxivId, FollowKind, FollowTarget, IndexKind, Paper, index_entries, listing_time,
};
use tokio_postgres::Row;

use super::PostgresStore;
use super::rows::{PAPER_COLUMNS, paper_from_row};
use super::sql::{corrupt, execute, limit_of, ms, query, query_one, query_opt};
use crate::follows::{check_key_count, indexed, merge_index_rows};
use crate::{
    AccountClaim, FeedToken, FeedTokenStore, Follow, FollowStore, IndexKey, IndexLabel,
    IndexedPaper, ListingCursor, Store, StoreError, UserId,
};

/// Rewrites the index rows of every paper of a batch, in the transaction that writes them: one
/// delete and one insert for the whole batch (two statements a paper, and their round trips,
/// were most of an arXiv snapshot's ingest).
pub(super) async fn index_papers<C: GenericClient>(
    tx: &C,
    papers: &[&Paper],
) -> Result<(), StoreError> {
    if papers.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    execute(
        tx,
        "delete from paper_keys where paper_id = any($1)",
        &[&ids],
    )
    .await?;
    let mut kinds: Vec<&str> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    let mut paper_ids: Vec<&str> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for paper in papers {
        let at = ms(listing_time(paper));
        for entry in index_entries(paper) {
            kinds.push(entry.kind.as_str());
            keys.push(entry.key);
            times.push(at);
            paper_ids.push(paper.id.as_str());
            labels.push(entry.label);
        }
    }
    if kinds.is_empty() {
        return Ok(());
    }
    execute(
        tx,
        "insert into paper_keys (kind, key, sort_at, paper_id, label)
         select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
         on conflict do nothing",
        &[&kinds, &keys, &times, &paper_ids, &labels],
    )
    .await?;
    Ok(())
}

/// Fills the index for every stored paper: run once, by the migration that made it.
pub(super) async fn backfill_index<C: GenericClient>(tx: &C) -> Result<u64, StoreError> {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let rows = query(
            tx,
            &format!(
                "select {PAPER_COLUMNS} from papers p where p.id > $1 order by p.id limit 500"
            ),
            &[&after],
        )
        .await?;
        let papers = rows
            .iter()
            .map(paper_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = papers.last() else {
            return Ok(count);
        };
        after = last.id.as_str().to_owned();
        index_papers(tx, &papers.iter().collect::<Vec<_>>()).await?;
        count += papers.len() as u64;
    }
}

fn claims_from(rows: &[Row]) -> Result<Vec<AccountClaim>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(AccountClaim {
                account: row.try_get(0)?,
                author: row.try_get(1)?,
            })
        })
        .collect()
}

#[async_trait]
impl FollowStore for PostgresStore {
    async fn follow(
        &self,
        user: UserId,
        target: &FollowTarget,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(execute(
            &client,
            "insert into follows (user_id, kind, key, created_at) values ($1, $2, $3, $4)
             on conflict do nothing",
            &[&user.0, &target.kind().as_str(), &target.key(), &ms(now)],
        )
        .await?
            > 0)
    }

    async fn unfollow(&self, user: UserId, target: &FollowTarget) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(execute(
            &client,
            "delete from follows where user_id = $1 and kind = $2 and key = $3",
            &[&user.0, &target.kind().as_str(), &target.key()],
        )
        .await?
            > 0)
    }

    async fn follows(&self, user: UserId) -> Result<Vec<Follow>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "select kind, key, created_at from follows where user_id = $1
              order by created_at desc, kind, key",
            &[&user.0],
        )
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let kind: String = row.try_get(0)?;
            let key: String = row.try_get(1)?;
            if let Some(target) =
                FollowKind::parse(&kind).and_then(|k| FollowTarget::parse(k, &key))
            {
                out.push(Follow {
                    target,
                    created_at: row.try_get(2)?,
                });
            }
        }
        Ok(out)
    }

    async fn is_following(&self, user: UserId, target: &FollowTarget) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(query_opt(
            &client,
            "select 1 from follows where user_id = $1 and kind = $2 and key = $3",
            &[&user.0, &target.kind().as_str(), &target.key()],
        )
        .await?
        .is_some())
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
        let kinds: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        let names: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        let per_key = limit_of(limit);
        let client = self.client().await?;
        // One round trip: per key, an index range scan of its newest rows (lateral, limited).
        let rows = match &before {
            None => {
                query(
                    &client,
                    "select k.paper_id, k.sort_at, (q.n - 1)::bigint
                       from unnest($1::text[], $2::text[]) with ordinality as q(kind, key, n)
                       cross join lateral (
                         select p.paper_id, p.sort_at from paper_keys p
                          where p.kind = q.kind and p.key = q.key
                          order by p.sort_at desc, p.paper_id desc limit $3) k",
                    &[&kinds, &names, &per_key],
                )
                .await?
            }
            Some(cursor) => {
                query(
                    &client,
                    "select k.paper_id, k.sort_at, (q.n - 1)::bigint
                       from unnest($1::text[], $2::text[]) with ordinality as q(kind, key, n)
                       cross join lateral (
                         select p.paper_id, p.sort_at from paper_keys p
                          where p.kind = q.kind and p.key = q.key
                            and (p.sort_at, p.paper_id) < ($4, $5)
                          order by p.sort_at desc, p.paper_id desc limit $3) k",
                    &[&kinds, &names, &per_key, &cursor.at, &cursor.id.as_str()],
                )
                .await?
            }
        };
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let n: i64 = row.try_get(2)?;
            let key = usize::try_from(n).map_err(|e| corrupt("paper_keys ordinality", &e))?;
            found.push((row.try_get::<_, String>(0)?, row.try_get(1)?, key));
        }
        let merged = merge_index_rows(found, limit);
        drop(client);
        let ids = merged
            .iter()
            .map(|(id, _, _)| ArxivId::parse(id).map_err(|e| corrupt("paper_keys.paper_id", &e)))
            .collect::<Result<Vec<_>, _>>()?;
        let papers = self.get_papers(&ids).await?;
        Ok(indexed(merged, papers, keys))
    }

    async fn index_labels(
        &self,
        kind: IndexKind,
        keys: &[String],
    ) -> Result<Vec<IndexLabel>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "select q.key, p.label, count(*)
               from unnest($2::text[]) with ordinality as q(key, n)
               join paper_keys p on p.kind = $1 and p.key = q.key
              group by q.n, q.key, p.label order by q.n, count(*) desc, p.label",
            &[&kind.as_str(), &keys],
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IndexLabel {
                    key: row.try_get(0)?,
                    label: row.try_get(1)?,
                    papers: row.try_get::<_, i64>(2)?.unsigned_abs(),
                })
            })
            .collect()
    }

    async fn claims_by_authors(&self, authors: &[String]) -> Result<Vec<AccountClaim>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "select distinct key, label from paper_keys
              where kind = 'account' and label = any($1) order by key, label",
            &[&authors],
        )
        .await?;
        claims_from(&rows)
    }

    async fn claims_by_accounts(
        &self,
        accounts: &[String],
    ) -> Result<Vec<AccountClaim>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            "select distinct key, label from paper_keys
              where kind = 'account' and key = any($1) order by key, label",
            &[&accounts],
        )
        .await?;
        claims_from(&rows)
    }
}

const FEED_TOKEN_COLUMNS: &str = "id, user_id, scope, created_at, last_used_at";

fn feed_token_from_row(row: &Row) -> Result<FeedToken, StoreError> {
    Ok(FeedToken {
        id: row.try_get(0)?,
        user: UserId(row.try_get(1)?),
        scope: row.try_get(2)?,
        created_at: row.try_get(3)?,
        last_used_at: row.try_get(4)?,
    })
}

#[async_trait]
impl FeedTokenStore for PostgresStore {
    async fn create_feed_token(
        &self,
        user: UserId,
        scope: String,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<FeedToken, StoreError> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            &format!(
                "insert into feed_tokens (user_id, scope, token_hash, created_at)
                 values ($1, $2, $3, $4) returning {FEED_TOKEN_COLUMNS}"
            ),
            &[&user.0, &scope, &token_hash, &ms(now)],
        )
        .await?;
        feed_token_from_row(&row)
    }

    async fn feed_tokens(&self, user: UserId) -> Result<Vec<FeedToken>, StoreError> {
        let client = self.client().await?;
        let rows = query(
            &client,
            &format!("select {FEED_TOKEN_COLUMNS} from feed_tokens where user_id = $1 order by id"),
            &[&user.0],
        )
        .await?;
        rows.iter().map(feed_token_from_row).collect()
    }

    async fn revoke_feed_token(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(execute(
            &client,
            "delete from feed_tokens where id = $1 and user_id = $2",
            &[&id, &user.0],
        )
        .await?
            > 0)
    }

    async fn revoke_feed_tokens_for_scope(
        &self,
        user: UserId,
        scope: &str,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        execute(
            &client,
            "delete from feed_tokens where user_id = $1 and scope = $2",
            &[&user.0, &scope],
        )
        .await
    }

    async fn feed_token_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>, StoreError> {
        let client = self.client().await?;
        let Some(row) = query_opt(
            &client,
            &format!("select {FEED_TOKEN_COLUMNS} from feed_tokens where token_hash = $1"),
            &[&token_hash],
        )
        .await?
        else {
            return Ok(None);
        };
        let mut token = feed_token_from_row(&row)?;
        let now = ms(now);
        if token
            .last_used_at
            .is_none_or(|used| now - used >= Duration::minutes(1))
        {
            execute(
                &client,
                "update feed_tokens set last_used_at = $2 where id = $1",
                &[&token.id, &now],
            )
            .await?;
            token.last_used_at = Some(now);
        }
        Ok(Some(token))
    }
}
