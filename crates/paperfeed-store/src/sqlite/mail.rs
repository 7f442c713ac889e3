//! [`MailStore`] on SQLite.

use std::path::Path;

use crate::encoding::{claim_token, claimer_id};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use paperfeed_core::{ArxivId, EmailAddress, Frequency};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::claimers::{FileLock, claimers_dir, forget, is_alive};
use crate::mail::{
    DeliveryFailure, DigestClaimer, DigestCounts, DigestJob, LiveHolder, MailStore, NewSubscriber,
    Subscriber, SubscriberRow, SubscriberStatus,
};
use crate::{SettleMatches, SqliteStore, StoreError};

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

const SUBSCRIBER_COLUMNS: &str =
    "s.id, s.email, s.status, s.frequency, s.topics, s.papers_per_digest";

fn subscriber(row: &Row<'_>, at: usize) -> Result<Subscriber, StoreError> {
    let topics: String = row.get(at + 4)?;
    SubscriberRow {
        id: row.get(at)?,
        email: row.get(at + 1)?,
        status: row.get(at + 2)?,
        frequency: row.get(at + 3)?,
        topics: serde_json::from_str(&topics).ok(),
        papers_per_digest: row.get(at + 5)?,
    }
    .into_subscriber()
}

fn load_subscriber(conn: &Connection, email: &str) -> Result<Option<Subscriber>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {SUBSCRIBER_COLUMNS} from subscribers s where s.email = ?1"
    ))?;
    let mut rows = stmt.query([email])?;
    rows.next()?.map(|r| subscriber(r, 0)).transpose()
}

fn load_subscriber_by_id(conn: &Connection, id: i64) -> Result<Option<Subscriber>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {SUBSCRIBER_COLUMNS} from subscribers s where s.id = ?1"
    ))?;
    let mut rows = stmt.query([id])?;
    rows.next()?.map(|r| subscriber(r, 0)).transpose()
}

/// The other claimers holding jobs of `period` under a lease still running, each with how
/// many jobs and whether it is alive (by its lock file). Claims made before claimers existed
/// (no claimer recorded) come as `None`, held by their lease alone.
fn holders(
    conn: &Connection,
    dir: &Path,
    me: i64,
    period: &str,
    now: &str,
) -> Result<Vec<(Option<i64>, u64, bool)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "select claimed_by, count(*) from digest_jobs
          where period = ?1 and state = 'claimed' and lease_until > ?2
            and (claimed_by is null or claimed_by <> ?3)
          group by claimed_by",
    )?;
    let rows = stmt
        .query_map(params![period, now, me], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .map(|(id, jobs)| {
            let alive = id.is_none_or(|id| is_alive(dir, id));
            (id, u64::try_from(jobs).unwrap_or(0), alive)
        })
        .collect())
}

#[async_trait]
impl MailStore for SqliteStore {
    async fn upsert_subscriber(
        &self,
        new: NewSubscriber,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let topics = serde_json::to_string(&new.topics)
                .map_err(|e| StoreError::Corrupt(format!("topics: {e}")))?;
            let initial = if new.confirmed {
                SubscriberStatus::Confirmed
            } else {
                SubscriberStatus::Pending
            };
            tx.execute(
                "insert into subscribers (email, status, frequency, topics, papers_per_digest,
                     created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 on conflict (email) do update set
                     frequency = excluded.frequency, topics = excluded.topics,
                     papers_per_digest = excluded.papers_per_digest,
                     status = case when ?7 then 'confirmed' else subscribers.status end,
                     updated_at = excluded.updated_at",
                params![
                    new.email.as_str(),
                    initial.as_str(),
                    new.frequency.as_str(),
                    topics,
                    new.papers_per_digest,
                    time(now),
                    new.confirmed
                ],
            )?;
            let stored = load_subscriber(&tx, new.email.as_str())?
                .ok_or_else(|| StoreError::Corrupt("a subscriber vanished on insert".into()))?;
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    async fn request_subscription(
        &self,
        email: &EmailAddress,
        frequency: Frequency,
        now: DateTime<Utc>,
        resend_after: chrono::Duration,
    ) -> Result<(Subscriber, bool), StoreError> {
        let (email, frequency) = (email.as_str().to_owned(), frequency.as_str());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "insert into subscribers (email, status, frequency, topics, papers_per_digest,
                     created_at, updated_at)
                 values (?1, 'pending', ?2, '[]', 10, ?3, ?3)
                 on conflict (email) do update set
                     status = case when subscribers.status = 'unsubscribed' then 'pending'
                                   else subscribers.status end,
                     updated_at = excluded.updated_at",
                params![email, frequency, time(now)],
            )?;
            let due = time(now - resend_after);
            let send = tx.execute(
                "update subscribers set confirm_sent_at = ?2
                  where email = ?1 and status = 'pending'
                    and (confirm_sent_at is null or confirm_sent_at <= ?3)",
                params![email, time(now), due],
            )? > 0;
            let stored = load_subscriber(&tx, &email)?
                .ok_or_else(|| StoreError::Corrupt("a subscriber vanished on insert".into()))?;
            tx.commit()?;
            Ok((stored, send))
        })
        .await
    }

    async fn subscriber_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Subscriber>, StoreError> {
        let email = email.as_str().to_owned();
        self.read(move |conn| load_subscriber(conn, &email)).await
    }

    async fn subscriber(&self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        self.read(move |conn| load_subscriber_by_id(conn, id)).await
    }

    async fn update_preferences(
        &self,
        id: i64,
        frequency: Frequency,
        topics: Vec<String>,
        papers_per_digest: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let frequency = frequency.as_str();
        let topics = serde_json::to_string(&topics)
            .map_err(|e| StoreError::Corrupt(format!("topics: {e}")))?;
        self.write(move |conn| {
            conn.execute(
                "update subscribers set frequency = ?2, topics = ?3, papers_per_digest = ?4,
                     updated_at = ?5
                  where id = ?1",
                params![id, frequency, topics, papers_per_digest, time(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_subscriber_status(
        &self,
        id: i64,
        status: SubscriberStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "update subscribers set status = ?2, updated_at = ?3 where id = ?1",
                params![id, status.as_str(), time(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn queue_digests(
        &self,
        frequency: Frequency,
        period: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (frequency, period) = (frequency.as_str(), period.to_owned());
        self.write(move |conn| {
            let queued = conn.execute(
                "insert or ignore into digest_jobs (subscriber_id, period, state, next_attempt_at)
                 select id, ?2, 'queued', ?3 from subscribers
                  where status = 'confirmed' and frequency = ?1",
                params![frequency, period, time(now)],
            )?;
            Ok(queued as u64)
        })
        .await
    }

    async fn register_claimer(
        &self,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<DigestClaimer, StoreError> {
        let label = label.to_owned();
        let dir = claimers_dir(self.path());
        let id = claimer_id()?;
        self.write(move |conn| {
            let lock = FileLock::acquire(&dir, id)?;
            let tx = conn.transaction()?;
            tx.execute(
                "insert into digest_claimers (id, label, started_at) values (?1, ?2, ?3)",
                params![id, label, time(now)],
            )?;
            // Forget the claimers that died without releasing (their claims are free anyway).
            let others = tx
                .prepare("select id from digest_claimers where id <> ?1")?
                .query_map([id], |r| r.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            for other in others.into_iter().filter(|&o| !is_alive(&dir, o)) {
                tx.execute("delete from digest_claimers where id = ?1", [other])?;
                forget(&dir, other);
            }
            tx.commit()?;
            Ok(DigestClaimer {
                id,
                lock: Box::new(lock),
            })
        })
        .await
    }

    async fn release_claimer(&self, claimer: DigestClaimer) -> Result<(), StoreError> {
        let id = claimer.id;
        self.write(move |conn| {
            conn.execute("delete from digest_claimers where id = ?1", [id])?;
            Ok(())
        })
        .await?;
        claimer.lock.release().await
    }

    async fn claim_digest(
        &self,
        claimer: &DigestClaimer,
        period: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<DigestJob>, StoreError> {
        claimer.ensure_held()?;
        let period = period.to_owned();
        let token = claim_token()?;
        let (me, dir) = (claimer.id, claimers_dir(self.path()));
        self.write(move |conn| {
            // Immediate: the claimers tested below are the ones whose jobs this claims.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = time(now);
            let dead: Vec<i64> = holders(&tx, &dir, me, &period, &now)?
                .into_iter()
                .filter_map(|(id, _, alive)| id.filter(|_| !alive))
                .collect();
            let dead = serde_json::to_string(&dead)
                .map_err(|e| StoreError::Corrupt(format!("claimer ids: {e}")))?;
            let claimed = tx
                .prepare_cached(
                    "update digest_jobs set state = 'claimed', lease_until = ?3, claim_token = ?4,
                         claimed_by = ?5, attempts = attempts + 1
                      where id = (
                         select j.id from digest_jobs j join subscribers s on s.id = j.subscriber_id
                          where j.period = ?1 and s.status = 'confirmed'
                            and ((j.state = 'queued' and j.next_attempt_at <= ?2)
                              or (j.state = 'claimed' and (j.lease_until <= ?2
                                  or j.claimed_by in (select value from json_each(?6)))))
                          order by j.id limit 1)
                   returning id, period, attempts, subscriber_id",
                )?
                .query_row(
                    params![period, now, time(lease_until), token, me, dead],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, u32>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )
                .optional()?;
            let Some((id, period, attempts, subscriber_id)) = claimed else {
                return Ok(None);
            };
            let subscriber = load_subscriber_by_id(&tx, subscriber_id)?
                .ok_or_else(|| StoreError::Corrupt("a claimed job's subscriber vanished".into()))?;
            tx.commit()?;
            Ok(Some(DigestJob {
                id,
                period,
                attempts,
                claim_token: token,
                subscriber,
            }))
        })
        .await
    }

    async fn mailed_papers(
        &self,
        subscriber_id: i64,
        candidates: &[ArxivId],
    ) -> Result<Vec<ArxivId>, StoreError> {
        let candidates = candidates.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select 1 from mailed_papers where subscriber_id = ?1 and paper_id = ?2",
            )?;
            let mut mailed = Vec::new();
            for id in candidates {
                if stmt.exists(params![subscriber_id, id.as_str()])? {
                    mailed.push(id);
                }
            }
            Ok(mailed)
        })
        .await
    }

    async fn finish_digest_with_matches(
        &self,
        job_id: i64,
        claim_token: &str,
        papers: Vec<ArxivId>,
        settled: Vec<SettleMatches>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let token = claim_token.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let subscriber: Option<i64> = tx
                .query_row(
                    "update digest_jobs set state = 'sent', sent_at = ?3, lease_until = null,
                         last_error = null
                      where id = ?1 and claim_token = ?2 and state = 'claimed'
                  returning subscriber_id",
                    params![job_id, token, time(now)],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(subscriber) = subscriber else {
                return Ok(false);
            };
            {
                let mut stmt = tx.prepare_cached(
                    "insert or ignore into mailed_papers (subscriber_id, paper_id, job_id)
                     values (?1, ?2, ?3)",
                )?;
                for paper in &papers {
                    stmt.execute(params![subscriber, paper.as_str(), job_id])?;
                }
                let mut settle = tx.prepare_cached(
                    "update saved_search_matches set mailed_at = ?3
                      where search_id = ?1 and found_through <= ?2 and mailed_at is null",
                )?;
                for s in &settled {
                    settle.execute(params![s.search.0, s.found_through, time(now)])?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn fail_digest(
        &self,
        job_id: i64,
        claim_token: &str,
        error: String,
        failure: DeliveryFailure,
        suspend_after: u32,
    ) -> Result<(), StoreError> {
        let token = claim_token.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            match failure {
                DeliveryFailure::Temporary { retry_at } => {
                    tx.execute(
                        "update digest_jobs set state = 'queued', next_attempt_at = ?3,
                             lease_until = null, last_error = ?4
                          where id = ?1 and claim_token = ?2 and state = 'claimed'",
                        params![job_id, token, time(retry_at), error],
                    )?;
                }
                DeliveryFailure::Permanent => {
                    let failed = tx.execute(
                        "update digest_jobs set state = 'failed', lease_until = null,
                             last_error = ?3
                          where id = ?1 and claim_token = ?2 and state = 'claimed'",
                        params![job_id, token, error],
                    )?;
                    if failed > 0 {
                        tx.execute(
                            "update subscribers
                                set permanent_failures = permanent_failures + 1,
                                    status = case when permanent_failures + 1 >= ?2
                                                  then 'suspended' else status end
                              where id = (select subscriber_id from digest_jobs where id = ?1)",
                            params![job_id, suspend_after],
                        )?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn digest_counts(&self, period: &str) -> Result<DigestCounts, StoreError> {
        let period = period.to_owned();
        self.read(move |conn| {
            let mut counts = DigestCounts::default();
            let mut stmt = conn.prepare_cached(
                "select state, count(*) from digest_jobs where period = ?1 group by state",
            )?;
            let mut rows = stmt.query([period])?;
            while let Some(row) = rows.next()? {
                let n = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                match row.get::<_, String>(0)?.as_str() {
                    "queued" => counts.queued = n,
                    "claimed" => counts.claimed = n,
                    "sent" => counts.sent = n,
                    _ => counts.failed += n,
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn live_holders(
        &self,
        me: &DigestClaimer,
        period: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<LiveHolder>, StoreError> {
        let (me, period) = (me.id, period.to_owned());
        let dir = claimers_dir(self.path());
        self.read(move |conn| {
            let mut live = Vec::new();
            for (id, jobs, alive) in holders(conn, &dir, me, &period, &time(now))? {
                if !alive {
                    continue;
                }
                let who: Option<(String, String)> = match id {
                    Some(id) => conn
                        .query_row(
                            "select label, started_at from digest_claimers where id = ?1",
                            [id],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?,
                    None => None,
                };
                live.push(LiveHolder {
                    claimer: who.map_or_else(
                        || "a claimer of unknown identity, until its lease runs out".to_owned(),
                        |(label, started)| format!("{label}, started {started}"),
                    ),
                    jobs,
                });
            }
            Ok(live)
        })
        .await
    }
}
