//! [`SavedSearchStore`] on SQLite: writes on the one writer connection, each a transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::rows::{parse_time, read_change_seq, time_text};
use crate::saved_searches::gather_topic;
use crate::{
    AttemptOutcome, ClaimedDelivery, DeliveryState, DigestTopic, NewSavedSearch, SaveOutcome,
    SavedSearch, SavedSearchId, SavedSearchStore, SearchMatch, StoreError, UserId, Webhook,
    WebhookDelivery,
};

const SEARCH_COLUMNS: &str = "s.id, s.user_id, s.name, s.query, s.mode, s.sort, s.created_seq,
    s.created_at, (select w.url from webhooks w where w.search_id = s.id), s.in_digest";

fn search_from_row(row: &Row<'_>) -> Result<SavedSearch, StoreError> {
    let created: String = row.get(7)?;
    Ok(SavedSearch {
        id: SavedSearchId(row.get(0)?),
        user: UserId(row.get(1)?),
        name: row.get(2)?,
        query: row.get(3)?,
        mode: row.get(4)?,
        sort: row.get(5)?,
        created_seq: row.get(6)?,
        created_at: parse_time(&created)?,
        webhook_url: row.get(8)?,
        in_digest: row.get(9)?,
    })
}

const DELIVERY_COLUMNS: &str = "d.id, d.hook_id, w.search_id, d.paper_id, d.state, d.attempts,
    d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.created_at";

fn delivery_from_row(row: &Row<'_>) -> Result<WebhookDelivery, StoreError> {
    let paper: String = row.get(3)?;
    let state: String = row.get(4)?;
    let next: String = row.get(6)?;
    let last: Option<String> = row.get(7)?;
    let created: String = row.get(10)?;
    Ok(WebhookDelivery {
        id: row.get(0)?,
        hook: row.get(1)?,
        search: SavedSearchId(row.get(2)?),
        paper: ArxivId::parse(&paper)
            .map_err(|e| StoreError::Corrupt(format!("webhook_deliveries.paper_id: {e}")))?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("webhook_deliveries.state {state:?}")))?,
        attempts: row.get(5)?,
        next_attempt_at: parse_time(&next)?,
        last_attempt_at: last.as_deref().map(parse_time).transpose()?,
        last_status: row.get(8)?,
        last_error: row.get(9)?,
        created_at: parse_time(&created)?,
    })
}

fn webhook_from_row(row: &Row<'_>, at: usize) -> Result<Webhook, StoreError> {
    let created: String = row.get(at + 4)?;
    Ok(Webhook {
        id: row.get(at)?,
        search: SavedSearchId(row.get(at + 1)?),
        url: row.get(at + 2)?,
        secret: row.get(at + 3)?,
        created_at: parse_time(&created)?,
    })
}

fn name_conflict(e: rusqlite::Error) -> StoreError {
    if e.to_string().contains("UNIQUE constraint failed") {
        StoreError::Conflict { field: "name" }
    } else {
        e.into()
    }
}

fn one_search(
    conn: &Connection,
    user: UserId,
    id: SavedSearchId,
) -> Result<Option<SavedSearch>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {SEARCH_COLUMNS} from saved_searches s where s.id = ?1 and s.user_id = ?2"
    ))?;
    let mut rows = stmt.query(params![id.0, user.0])?;
    rows.next()?.map(search_from_row).transpose()
}

#[async_trait]
impl SavedSearchStore for SqliteStore {
    async fn save_search(
        &self,
        new: NewSavedSearch,
        max: usize,
    ) -> Result<SaveOutcome, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let have: i64 = tx.query_row(
                "select count(*) from saved_searches where user_id = ?1",
                [new.user.0],
                |r| r.get(0),
            )?;
            if usize::try_from(have).unwrap_or(usize::MAX) >= max {
                return Ok(SaveOutcome::TooMany);
            }
            let seq = read_change_seq(&tx)?;
            let inserted = tx.execute(
                "insert into saved_searches (user_id, name, query, mode, sort, created_seq, created_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    new.user.0,
                    new.name,
                    new.query,
                    new.mode,
                    new.sort,
                    seq,
                    time_text(new.created_at)
                ],
            );
            match inserted.map_err(name_conflict) {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => return Ok(SaveOutcome::NameTaken),
                Err(e) => return Err(e),
            }
            let id = SavedSearchId(tx.last_insert_rowid());
            let saved = one_search(&tx, new.user, id)?
                .ok_or_else(|| StoreError::unavailable("the saved search vanished"))?;
            tx.commit()?;
            Ok(SaveOutcome::Saved(saved))
        })
        .await
    }

    async fn saved_searches(&self, user: UserId) -> Result<Vec<SavedSearch>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {SEARCH_COLUMNS} from saved_searches s where s.user_id = ?1
                  order by lower(s.name), s.id"
            ))?;
            let mut rows = stmt.query([user.0])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(search_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
    ) -> Result<Option<SavedSearch>, StoreError> {
        self.read(move |conn| one_search(conn, user, id)).await
    }

    async fn rename_saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
        name: String,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = conn
                .execute(
                    "update saved_searches set name = ?3 where id = ?1 and user_id = ?2",
                    params![id.0, user.0, name],
                )
                .map_err(name_conflict)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = conn.execute(
                "delete from saved_searches where id = ?1 and user_id = ?2",
                params![id.0, user.0],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn searches_to_match(&self) -> Result<Vec<SavedSearch>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {SEARCH_COLUMNS} from saved_searches s order by s.id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(search_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn match_cursor(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(conn.query_row(
                "select value from store_counters where name = 'saved_search_cursor'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn record_matches(
        &self,
        from: i64,
        to: i64,
        matches: Vec<SearchMatch>,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<SearchMatch>>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let moved = tx.execute(
                "update store_counters set value = ?2 where name = 'saved_search_cursor' and value = ?1",
                params![from, to],
            )?;
            if moved == 0 {
                return Ok(None);
            }
            let now = time_text(now);
            let mut fresh = Vec::new();
            {
                let mut insert = tx.prepare_cached(
                    "insert into saved_search_matches (search_id, paper_id, matched_at, found_through)
                     select ?1, ?2, ?3, ?4 where exists (select 1 from saved_searches where id = ?1)
                     on conflict do nothing",
                )?;
                let mut queue = tx.prepare_cached(
                    "insert into webhook_deliveries
                         (hook_id, paper_id, state, attempts, next_attempt_at, created_at)
                     select w.id, ?2, 'pending', 0, ?3, ?3 from webhooks w where w.search_id = ?1
                     on conflict do nothing",
                )?;
                for m in matches {
                    if insert.execute(params![m.search.0, m.paper.as_str(), now, to])? > 0 {
                        queue.execute(params![m.search.0, m.paper.as_str(), now])?;
                        fresh.push(m);
                    }
                }
            }
            tx.commit()?;
            Ok(Some(fresh))
        })
        .await
    }

    async fn set_search_in_digest(
        &self,
        user: UserId,
        id: SavedSearchId,
        in_digest: bool,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = conn.execute(
                "update saved_searches set in_digest = ?3 where id = ?1 and user_id = ?2",
                params![id.0, user.0, in_digest],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn digest_matches(
        &self,
        user: UserId,
        per_search: usize,
    ) -> Result<Vec<DigestTopic>, StoreError> {
        let per_search = i64::try_from(per_search.max(1)).unwrap_or(i64::MAX);
        self.read(move |conn| {
            // One statement, so the counts, the passes and the papers are of one instant.
            let mut stmt = conn.prepare_cached(&format!(
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
                                               where user_id = ?1 and in_digest)) m
                     on m.search_id = s.id
                  where m.n <= ?2
                  order by lower(s.name), s.id, m.n"
            ))?;
            let mut rows = stmt.query(params![user.0, per_search])?;
            let mut topics: Vec<DigestTopic> = Vec::new();
            while let Some(row) = rows.next()? {
                let search = search_from_row(row)?;
                let paper: String = row.get(10)?;
                let paper = ArxivId::parse(&paper).map_err(|e| {
                    StoreError::Corrupt(format!("saved_search_matches.paper_id: {e}"))
                })?;
                gather_topic(&mut topics, search, paper, row.get(11)?, row.get(12)?);
            }
            Ok(topics)
        })
        .await
    }

    async fn set_webhook(
        &self,
        user: UserId,
        search: SavedSearchId,
        url: String,
        secret: String,
        now: DateTime<Utc>,
    ) -> Result<Option<Webhook>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if one_search(&tx, user, search)?.is_none() {
                return Ok(None);
            }
            tx.execute(
                "insert into webhooks (search_id, url, secret, created_at) values (?1, ?2, ?3, ?4)
                 on conflict (search_id) do update set url = excluded.url, secret = excluded.secret",
                params![search.0, url, secret, time_text(now)],
            )?;
            let hook = tx
                .query_row(
                    "select id, search_id, url, secret, created_at from webhooks where search_id = ?1",
                    [search.0],
                    |row| Ok(webhook_from_row(row, 0)),
                )
                .optional()?
                .transpose()?;
            tx.commit()?;
            Ok(hook)
        })
        .await
    }

    async fn delete_webhook(
        &self,
        user: UserId,
        search: SavedSearchId,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = conn.execute(
                "delete from webhooks where search_id = ?1
                    and search_id in (select id from saved_searches where user_id = ?2)",
                params![search.0, user.0],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let ids: Vec<i64> = {
                let mut stmt = tx.prepare_cached(
                    "select id from webhook_deliveries
                      where state = 'pending' and next_attempt_at <= ?1
                      order by next_attempt_at, id limit ?2",
                )?;
                stmt.query_map(params![time_text(now), limit], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            let mut claimed = Vec::with_capacity(ids.len());
            for id in ids {
                tx.execute(
                    "update webhook_deliveries set attempts = attempts + 1, next_attempt_at = ?2
                      where id = ?1",
                    params![id, time_text(lease_until)],
                )?;
                let (delivery, hook, user) = tx.query_row(
                    &format!(
                        "select {DELIVERY_COLUMNS}, w.id, w.search_id, w.url, w.secret,
                                w.created_at, s.user_id
                           from webhook_deliveries d join webhooks w on w.id = d.hook_id
                           join saved_searches s on s.id = w.search_id
                          where d.id = ?1"
                    ),
                    [id],
                    |row| {
                        Ok((
                            delivery_from_row(row),
                            webhook_from_row(row, 11),
                            row.get::<_, i64>(16),
                        ))
                    },
                )?;
                let (delivery, hook) = (delivery?, hook?);
                let search = one_search(&tx, UserId(user?), hook.search)?
                    .ok_or_else(|| StoreError::unavailable("the search of a delivery vanished"))?;
                claimed.push(ClaimedDelivery {
                    delivery,
                    hook,
                    search,
                });
            }
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn finish_delivery(
        &self,
        id: i64,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let at = time_text(at);
            match outcome {
                AttemptOutcome::Delivered { status } => conn.execute(
                    "update webhook_deliveries set state = 'delivered', last_attempt_at = ?2,
                            last_status = ?3, last_error = null, next_attempt_at = ?2
                      where id = ?1",
                    params![id, at, status],
                )?,
                AttemptOutcome::Failed {
                    status,
                    error,
                    retry_at,
                } => {
                    let (state, next) = match retry_at {
                        Some(retry) => (DeliveryState::Pending, time_text(retry)),
                        None => (DeliveryState::Failed, at.clone()),
                    };
                    conn.execute(
                        "update webhook_deliveries set state = ?2, last_attempt_at = ?3,
                                last_status = ?4, last_error = ?5, next_attempt_at = ?6
                          where id = ?1",
                        params![id, state.as_str(), at, status, error, next],
                    )?
                }
            };
            Ok(())
        })
        .await
    }

    async fn webhook_deliveries(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {DELIVERY_COLUMNS} from webhook_deliveries d
                   join webhooks w on w.id = d.hook_id
                   join saved_searches s on s.id = w.search_id
                  where s.user_id = ?1
                  order by d.created_at desc, d.id desc limit ?2"
            ))?;
            let mut rows = stmt.query(params![user.0, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(delivery_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }
}
