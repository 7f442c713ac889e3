//! [`SavedSearchStore`] on PostgreSQL: each write one transaction; a reader's row in `users`
//! is locked while a search is saved, so the per-reader limit holds across nodes; deliveries
//! are claimed with `for update skip locked`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use paperfeed_core::ArxivId;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::PostgresStore;
use super::sql::{corrupt, execute, limit_of, ms, query, query_one, query_opt};
use crate::saved_searches::gather_topic;
use crate::{
    AttemptOutcome, ClaimedDelivery, DeliveryState, DigestTopic, NewSavedSearch, SaveOutcome,
    SavedSearch, SavedSearchId, SavedSearchStore, SearchMatch, StoreError, UserId, Webhook,
    WebhookDelivery,
};

const SEARCH_COLUMNS: &str = "s.id, s.user_id, s.name, s.query, s.mode, s.sort, s.created_seq,
    s.created_at, (select w.url from webhooks w where w.search_id = s.id), s.in_digest";

fn search_from_row(row: &Row) -> Result<SavedSearch, StoreError> {
    Ok(SavedSearch {
        id: SavedSearchId(row.try_get(0)?),
        user: UserId(row.try_get(1)?),
        name: row.try_get(2)?,
        query: row.try_get(3)?,
        mode: row.try_get(4)?,
        sort: row.try_get(5)?,
        created_seq: row.try_get(6)?,
        created_at: row.try_get(7)?,
        webhook_url: row.try_get(8)?,
        in_digest: row.try_get(9)?,
    })
}

const DELIVERY_COLUMNS: &str = "d.id, d.hook_id, w.search_id, d.paper_id, d.state, d.attempts,
    d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.created_at";

fn delivery_from_row(row: &Row) -> Result<WebhookDelivery, StoreError> {
    let paper: String = row.try_get(3)?;
    let state: String = row.try_get(4)?;
    Ok(WebhookDelivery {
        id: row.try_get(0)?,
        hook: row.try_get(1)?,
        search: SavedSearchId(row.try_get(2)?),
        paper: ArxivId::parse(&paper).map_err(|e| corrupt("webhook_deliveries.paper_id", &e))?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| corrupt("webhook_deliveries.state", &state))?,
        attempts: row.try_get(5)?,
        next_attempt_at: row.try_get(6)?,
        last_attempt_at: row.try_get(7)?,
        last_status: row.try_get(8)?,
        last_error: row.try_get(9)?,
        created_at: row.try_get(10)?,
    })
}

fn webhook_from_row(row: &Row, at: usize) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: row.try_get(at)?,
        search: SavedSearchId(row.try_get(at + 1)?),
        url: row.try_get(at + 2)?,
        secret: row.try_get(at + 3)?,
        created_at: row.try_get(at + 4)?,
    })
}

fn is_unique_violation(e: &StoreError) -> bool {
    let StoreError::Unavailable {
        source: Some(source),
        ..
    } = e
    else {
        return false;
    };
    source
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        == Some(&SqlState::UNIQUE_VIOLATION)
}

async fn one_search<C: GenericClient>(
    c: &C,
    user: UserId,
    id: SavedSearchId,
) -> Result<Option<SavedSearch>, StoreError> {
    query_opt(
        c,
        &format!(
            "select {SEARCH_COLUMNS} from saved_searches s where s.id = $1 and s.user_id = $2"
        ),
        &[&id.0, &user.0],
    )
    .await?
    .as_ref()
    .map(search_from_row)
    .transpose()
}

fn searches(rows: &[Row]) -> Result<Vec<SavedSearch>, StoreError> {
    rows.iter().map(search_from_row).collect()
}

#[async_trait]
impl SavedSearchStore for PostgresStore {
    async fn save_search(
        &self,
        new: NewSavedSearch,
        max: usize,
    ) -> Result<SaveOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The reader's row lock orders concurrent saves of one reader, from any node.
        let user = query_opt(
            &tx,
            "select id from users where id = $1 for update",
            &[&new.user.0],
        )
        .await?;
        if user.is_none() {
            return Err(StoreError::unavailable("no such user"));
        }
        let have = query_one(
            &tx,
            "select count(*) from saved_searches where user_id = $1",
            &[&new.user.0],
        )
        .await?;
        let have: i64 = have.try_get(0)?;
        if have >= limit_of(max) {
            return Ok(SaveOutcome::TooMany);
        }
        let taken = query_opt(
            &tx,
            "select 1 from saved_searches where user_id = $1 and lower(name) = lower($2)",
            &[&new.user.0, &new.name],
        )
        .await?;
        if taken.is_some() {
            return Ok(SaveOutcome::NameTaken);
        }
        let row = query_one(
            &tx,
            "insert into saved_searches (user_id, name, query, mode, sort, created_seq, created_at)
             values ($1, $2, $3, $4, $5,
                     (select value from store_counters where name = 'change_seq'), $6)
             returning id",
            &[
                &new.user.0,
                &new.name,
                &new.query,
                &new.mode,
                &new.sort,
                &ms(new.created_at),
            ],
        )
        .await?;
        let id = SavedSearchId(row.try_get(0)?);
        let saved = one_search(&tx, new.user, id)
            .await?
            .ok_or_else(|| StoreError::unavailable("the saved search vanished"))?;
        tx.commit().await?;
        Ok(SaveOutcome::Saved(saved))
    }

    async fn saved_searches(&self, user: UserId) -> Result<Vec<SavedSearch>, StoreError> {
        let rows = query(
            &self.client().await?,
            &format!(
                "select {SEARCH_COLUMNS} from saved_searches s where s.user_id = $1
                  order by lower(s.name), s.id"
            ),
            &[&user.0],
        )
        .await?;
        searches(&rows)
    }

    async fn saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
    ) -> Result<Option<SavedSearch>, StoreError> {
        one_search(&self.client().await?, user, id).await
    }

    async fn rename_saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
        name: String,
    ) -> Result<bool, StoreError> {
        match execute(
            &self.client().await?,
            "update saved_searches set name = $3 where id = $1 and user_id = $2",
            &[&id.0, &user.0, &name],
        )
        .await
        {
            Ok(n) => Ok(n > 0),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict { field: "name" }),
            Err(e) => Err(e),
        }
    }

    async fn delete_saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
    ) -> Result<bool, StoreError> {
        let n = execute(
            &self.client().await?,
            "delete from saved_searches where id = $1 and user_id = $2",
            &[&id.0, &user.0],
        )
        .await?;
        Ok(n > 0)
    }

    async fn searches_to_match(&self) -> Result<Vec<SavedSearch>, StoreError> {
        let rows = query(
            &self.client().await?,
            &format!("select {SEARCH_COLUMNS} from saved_searches s order by s.id"),
            &[],
        )
        .await?;
        searches(&rows)
    }

    async fn match_cursor(&self) -> Result<i64, StoreError> {
        let row = query_one(
            &self.client().await?,
            "select value from store_counters where name = 'saved_search_cursor'",
            &[],
        )
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn record_matches(
        &self,
        from: i64,
        to: i64,
        matches: Vec<SearchMatch>,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<SearchMatch>>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The cursor row's lock orders matchers of several nodes: the second finds it moved.
        let moved = execute(
            &tx,
            "update store_counters set value = $2 where name = 'saved_search_cursor' and value = $1",
            &[&from, &to],
        )
        .await?;
        if moved == 0 {
            return Ok(None);
        }
        let now = ms(now);
        let mut fresh = Vec::new();
        for m in matches {
            let inserted = execute(
                &tx,
                "insert into saved_search_matches (search_id, paper_id, matched_at, found_through)
                 select $1, $2, $3, $4 where exists (select 1 from saved_searches where id = $1)
                 on conflict do nothing",
                &[&m.search.0, &m.paper.as_str(), &now, &to],
            )
            .await?;
            if inserted > 0 {
                execute(
                    &tx,
                    "insert into webhook_deliveries
                         (hook_id, paper_id, state, attempts, next_attempt_at, created_at)
                     select w.id, $2, 'pending', 0, $3, $3 from webhooks w where w.search_id = $1
                     on conflict do nothing",
                    &[&m.search.0, &m.paper.as_str(), &now],
                )
                .await?;
                fresh.push(m);
            }
        }
        tx.commit().await?;
        Ok(Some(fresh))
    }

    async fn set_search_in_digest(
        &self,
        user: UserId,
        id: SavedSearchId,
        in_digest: bool,
    ) -> Result<bool, StoreError> {
        let n = execute(
            &self.client().await?,
            "update saved_searches set in_digest = $3 where id = $1 and user_id = $2",
            &[&id.0, &user.0, &in_digest],
        )
        .await?;
        Ok(n > 0)
    }

    async fn digest_matches(
        &self,
        user: UserId,
        per_search: usize,
    ) -> Result<Vec<DigestTopic>, StoreError> {
        // One statement, so the counts, the passes and the papers are of one snapshot.
        let rows = query(
            &self.client().await?,
            &format!(
                "select {SEARCH_COLUMNS}, m.paper_id, m.unsettled, m.through
                   from saved_searches s
                   join (select search_id, paper_id,
                                count(*) over (partition by search_id) as unsettled,
                                max(found_through) over (partition by search_id) as through,
                                row_number() over (partition by search_id
                                    order by found_through desc, paper_id desc) as n
                           from saved_search_matches
                          where mailed_at is null
                            and search_id in (select id from saved_searches
                                               where user_id = $1 and in_digest)) m
                     on m.search_id = s.id
                  where m.n <= $2
                  order by lower(s.name), s.id, m.n"
            ),
            &[&user.0, &limit_of(per_search.max(1))],
        )
        .await?;
        let mut topics: Vec<DigestTopic> = Vec::new();
        for row in &rows {
            let search = search_from_row(row)?;
            let paper: String = row.try_get(10)?;
            let paper =
                ArxivId::parse(&paper).map_err(|e| corrupt("saved_search_matches.paper_id", &e))?;
            gather_topic(
                &mut topics,
                search,
                paper,
                row.try_get(11)?,
                row.try_get(12)?,
            );
        }
        Ok(topics)
    }

    async fn set_webhook(
        &self,
        user: UserId,
        search: SavedSearchId,
        url: String,
        secret: String,
        now: DateTime<Utc>,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if one_search(&tx, user, search).await?.is_none() {
            return Ok(None);
        }
        let row = query_one(
            &tx,
            "insert into webhooks (search_id, url, secret, created_at) values ($1, $2, $3, $4)
             on conflict (search_id) do update set url = excluded.url, secret = excluded.secret
             returning id, search_id, url, secret, created_at",
            &[&search.0, &url, &secret, &ms(now)],
        )
        .await?;
        let hook = webhook_from_row(&row, 0)?;
        tx.commit().await?;
        Ok(Some(hook))
    }

    async fn delete_webhook(
        &self,
        user: UserId,
        search: SavedSearchId,
    ) -> Result<bool, StoreError> {
        let n = execute(
            &self.client().await?,
            "delete from webhooks where search_id = $1
                and search_id in (select id from saved_searches where user_id = $2)",
            &[&search.0, &user.0],
        )
        .await?;
        Ok(n > 0)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rows = query(
            &tx,
            &format!(
                "with due as (
                     select id from webhook_deliveries
                      where state = 'pending' and next_attempt_at <= $1
                      order by next_attempt_at, id limit $3
                      for update skip locked)
                 update webhook_deliveries d set attempts = d.attempts + 1, next_attempt_at = $2
                   from due, webhooks w, saved_searches s
                  where d.id = due.id and w.id = d.hook_id and s.id = w.search_id
                 returning {DELIVERY_COLUMNS}, w.id, w.search_id, w.url, w.secret, w.created_at,
                           s.user_id"
            ),
            &[&ms(now), &ms(lease_until), &limit_of(limit)],
        )
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let delivery = delivery_from_row(row)?;
            let hook = webhook_from_row(row, 11)?;
            let user = UserId(row.try_get(16)?);
            let search = one_search(&tx, user, hook.search)
                .await?
                .ok_or_else(|| StoreError::unavailable("the search of a delivery vanished"))?;
            claimed.push(ClaimedDelivery {
                delivery,
                hook,
                search,
            });
        }
        tx.commit().await?;
        claimed.sort_by_key(|c| c.delivery.id);
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        id: i64,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = ms(at);
        let client = self.client().await?;
        match outcome {
            AttemptOutcome::Delivered { status } => {
                execute(
                    &client,
                    "update webhook_deliveries set state = 'delivered', last_attempt_at = $2,
                            last_status = $3, last_error = null, next_attempt_at = $2
                      where id = $1",
                    &[&id, &at, &status],
                )
                .await?
            }
            AttemptOutcome::Failed {
                status,
                error,
                retry_at,
            } => {
                let (state, next) = match retry_at {
                    Some(retry) => (DeliveryState::Pending, ms(retry)),
                    None => (DeliveryState::Failed, at),
                };
                execute(
                    &client,
                    "update webhook_deliveries set state = $2, last_attempt_at = $3,
                            last_status = $4, last_error = $5, next_attempt_at = $6
                      where id = $1",
                    &[&id, &state.as_str(), &at, &status, &error, &next],
                )
                .await?
            }
        };
        Ok(())
    }

    async fn webhook_deliveries(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows = query(
            &self.client().await?,
            &format!(
                "select {DELIVERY_COLUMNS} from webhook_deliveries d
                   join webhooks w on w.id = d.hook_id
                   join saved_searches s on s.id = w.search_id
                  where s.user_id = $1
                  order by d.created_at desc, d.id desc limit $2"
            ),
            &[&user.0, &limit_of(limit)],
        )
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }
}
