//! [`MailStore`] on PostgreSQL, mirroring `sqlite/mail.rs`. Several nodes may run the same
//! digest at once: jobs are claimed with `for update skip locked`, so each job goes to one
//! worker, and a claim holds only while its claimer is alive (its session-level advisory lock
//! shows in `pg_locks`) and its lease runs, and only for its claim token.

use crate::encoding::{claim_token, claimer_id};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::{ClientWrapper, GenericClient};
use paperfeed_core::{ArxivId, EmailAddress, Frequency};
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::sql::{execute, ms, query, query_opt};
use crate::mail::{
    ClaimerLock, DeliveryFailure, DigestClaimer, DigestCounts, DigestJob, LiveHolder, MailStore,
    NewSubscriber, Subscriber, SubscriberRow, SubscriberStatus,
};
use crate::{PostgresStore, SettleMatches, StoreError};

const SUBSCRIBER_COLUMNS: &str =
    "s.id, s.email, s.status, s.frequency, s.topics, s.papers_per_digest";

fn subscriber(row: &Row, at: usize) -> Result<Subscriber, StoreError> {
    let topics: Option<Json<Vec<String>>> = row.try_get(at + 4).ok();
    let papers: i64 = row.try_get(at + 5)?;
    SubscriberRow {
        id: row.try_get(at)?,
        email: row.try_get(at + 1)?,
        status: row.try_get(at + 2)?,
        frequency: row.try_get(at + 3)?,
        topics: topics.map(|t| t.0),
        papers_per_digest: u32::try_from(papers).unwrap_or(u32::MAX),
    }
    .into_subscriber()
}

async fn load_subscriber<C: GenericClient>(
    c: &C,
    email: &str,
) -> Result<Option<Subscriber>, StoreError> {
    query_opt(
        c,
        &format!("select {SUBSCRIBER_COLUMNS} from subscribers s where lower(s.email) = lower($1)"),
        &[&email],
    )
    .await?
    .map(|r| subscriber(&r, 0))
    .transpose()
}

async fn load_subscriber_by_id<C: GenericClient>(
    c: &C,
    id: i64,
) -> Result<Option<Subscriber>, StoreError> {
    query_opt(
        c,
        &format!("select {SUBSCRIBER_COLUMNS} from subscribers s where s.id = $1"),
        &[&id],
    )
    .await?
    .map(|r| subscriber(&r, 0))
    .transpose()
}

/// The claimers alive now, as a `with` query: the holders of session-level advisory locks in
/// this database. A lock's 64-bit key shows in `pg_locks` as two unsigned 32-bit halves;
/// claimer ids are below 2^62, so they add back up without sign trouble.
const LIVE_CLAIMERS: &str = "live as (
    select l.classid::bigint * 4294967296 + l.objid::bigint as id from pg_locks l
     where l.locktype = 'advisory' and l.objsubid = 1 and l.granted
       and l.database = (select oid from pg_database where datname = current_database()))";

/// A live claimer's lock: a connection of its own, taken out of the pool for the claimer's
/// life, whose session holds the advisory lock keyed by the claimer's id.
struct AdvisoryLock {
    client: ClientWrapper,
    id: i64,
}

#[async_trait]
impl ClaimerLock for AdvisoryLock {
    fn held(&self) -> bool {
        !self.client.is_closed()
    }

    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        // Closing the session would drop the lock too; unlocking first makes it immediate.
        self.client
            .execute("select pg_advisory_unlock($1)", &[&self.id])
            .await?;
        Ok(())
    }
}

#[async_trait]
impl MailStore for PostgresStore {
    async fn upsert_subscriber(
        &self,
        new: NewSubscriber,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let initial = if new.confirmed {
            SubscriberStatus::Confirmed
        } else {
            SubscriberStatus::Pending
        };
        execute(
            &tx,
            "insert into subscribers (email, status, frequency, topics, papers_per_digest,
                 created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6)
             on conflict ((lower(email))) do update set
                 frequency = excluded.frequency, topics = excluded.topics,
                 papers_per_digest = excluded.papers_per_digest,
                 status = case when $7 then 'confirmed' else subscribers.status end,
                 updated_at = excluded.updated_at",
            &[
                &new.email.as_str(),
                &initial.as_str(),
                &new.frequency.as_str(),
                &Json(&new.topics),
                &i64::from(new.papers_per_digest),
                &ms(now),
                &new.confirmed,
            ],
        )
        .await?;
        let stored = load_subscriber(&tx, new.email.as_str())
            .await?
            .ok_or_else(|| StoreError::Corrupt("a subscriber vanished on insert".into()))?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn request_subscription(
        &self,
        email: &EmailAddress,
        frequency: Frequency,
        now: DateTime<Utc>,
        resend_after: chrono::Duration,
    ) -> Result<(Subscriber, bool), StoreError> {
        let (email, frequency) = (email.as_str(), frequency.as_str());
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        execute(
            &tx,
            "insert into subscribers (email, status, frequency, topics, papers_per_digest,
                 created_at, updated_at)
             values ($1, 'pending', $2, '[]'::jsonb, 10, $3, $3)
             on conflict ((lower(email))) do update set
                 status = case when subscribers.status = 'unsubscribed' then 'pending'
                               else subscribers.status end,
                 updated_at = excluded.updated_at",
            &[&email, &frequency, &ms(now)],
        )
        .await?;
        let send = execute(
            &tx,
            "update subscribers set confirm_sent_at = $2
              where lower(email) = lower($1) and status = 'pending'
                and (confirm_sent_at is null or confirm_sent_at <= $3)",
            &[&email, &ms(now), &ms(now - resend_after)],
        )
        .await?
            > 0;
        let stored = load_subscriber(&tx, email)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a subscriber vanished on insert".into()))?;
        tx.commit().await?;
        Ok((stored, send))
    }

    async fn subscriber_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Subscriber>, StoreError> {
        load_subscriber(&self.client().await?, email.as_str()).await
    }

    async fn subscriber(&self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        load_subscriber_by_id(&self.client().await?, id).await
    }

    async fn update_preferences(
        &self,
        id: i64,
        frequency: Frequency,
        topics: Vec<String>,
        papers_per_digest: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        execute(
            &self.client().await?,
            "update subscribers set frequency = $2, topics = $3, papers_per_digest = $4,
                 updated_at = $5
              where id = $1",
            &[
                &id,
                &frequency.as_str(),
                &Json(&topics),
                &i64::from(papers_per_digest),
                &ms(now),
            ],
        )
        .await?;
        Ok(())
    }

    async fn set_subscriber_status(
        &self,
        id: i64,
        status: SubscriberStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        execute(
            &self.client().await?,
            "update subscribers set status = $2, updated_at = $3 where id = $1",
            &[&id, &status.as_str(), &ms(now)],
        )
        .await?;
        Ok(())
    }

    async fn queue_digests(
        &self,
        frequency: Frequency,
        period: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let frequency = frequency.as_str();
        // The unique (subscriber_id, period) key makes this a no-op for jobs already queued,
        // also when two nodes queue the same period at once.
        execute(
            &self.client().await?,
            "insert into digest_jobs (subscriber_id, period, state, next_attempt_at)
             select id, $2, 'queued', $3 from subscribers
              where status = 'confirmed' and frequency = $1
             on conflict (subscriber_id, period) do nothing",
            &[&frequency, &period, &ms(now)],
        )
        .await
    }

    async fn register_claimer(
        &self,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<DigestClaimer, StoreError> {
        let id = claimer_id()?;
        let client = deadpool_postgres::Object::take(self.client().await?);
        // The server ends a session whose node stopped answering within about two minutes
        // (instead of the OS default of hours), and with it the lock.
        client
            .batch_execute(
                "set tcp_keepalives_idle = 60; set tcp_keepalives_interval = 10;
                 set tcp_keepalives_count = 6",
            )
            .await?;
        let locked: bool = client
            .query_one("select pg_try_advisory_lock($1)", &[&id])
            .await?
            .try_get(0)?;
        if !locked {
            return Err(StoreError::unavailable(format!(
                "digest claimer id {id} is taken; try again"
            )));
        }
        let pooled = self.client().await?;
        execute(
            &pooled,
            "insert into digest_claimers (id, label, started_at) values ($1, $2, $3)",
            &[&id, &label, &ms(now)],
        )
        .await?;
        // Forget the claimers that died without releasing (their claims are free anyway).
        execute(
            &pooled,
            &format!(
                "with {LIVE_CLAIMERS}
                 delete from digest_claimers where id <> $1 and id not in (select id from live)"
            ),
            &[&id],
        )
        .await?;
        Ok(DigestClaimer {
            id,
            lock: Box::new(AdvisoryLock { client, id }),
        })
    }

    async fn release_claimer(&self, claimer: DigestClaimer) -> Result<(), StoreError> {
        execute(
            &self.client().await?,
            "delete from digest_claimers where id = $1",
            &[&claimer.id],
        )
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
        let token = claim_token()?;
        // `skip locked`: a job another worker (on any node) is claiming right now is passed
        // over instead of waited for; a job it has claimed is no longer due while its claimer
        // lives and its lease runs. One statement, so the claim and the job it returns are
        // the same.
        let row = query_opt(
            &self.client().await?,
            &format!(
                "with {LIVE_CLAIMERS},
                 next as (
                     select j.id from digest_jobs j join subscribers s on s.id = j.subscriber_id
                      where j.period = $1 and s.status = 'confirmed'
                        and ((j.state = 'queued' and j.next_attempt_at <= $2)
                          or (j.state = 'claimed' and (j.lease_until <= $2
                              or (j.claimed_by <> $5
                                  and j.claimed_by not in (select id from live)))))
                      order by j.id limit 1
                      for update of j skip locked),
                 claimed as (
                     update digest_jobs d set state = 'claimed', lease_until = $3,
                            claim_token = $4, claimed_by = $5, attempts = d.attempts + 1
                       from next where d.id = next.id
                     returning d.id, d.period, d.attempts, d.subscriber_id)
                 select c.id, c.period, c.attempts, {SUBSCRIBER_COLUMNS}
                   from claimed c join subscribers s on s.id = c.subscriber_id"
            ),
            &[&period, &ms(now), &ms(lease_until), &token, &claimer.id],
        )
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let attempts: i64 = row.try_get(2)?;
        Ok(Some(DigestJob {
            id: row.try_get(0)?,
            period: row.try_get(1)?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            claim_token: token,
            subscriber: subscriber(&row, 3)?,
        }))
    }

    async fn mailed_papers(
        &self,
        subscriber_id: i64,
        candidates: &[ArxivId],
    ) -> Result<Vec<ArxivId>, StoreError> {
        let ids: Vec<&str> = candidates.iter().map(ArxivId::as_str).collect();
        let mailed: Vec<String> = query(
            &self.client().await?,
            "select paper_id from mailed_papers where subscriber_id = $1 and paper_id = any($2)",
            &[&subscriber_id, &ids],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        // In the candidates' order, as SQLite answers.
        Ok(candidates
            .iter()
            .filter(|c| mailed.iter().any(|m| m == c.as_str()))
            .cloned()
            .collect())
    }

    async fn finish_digest_with_matches(
        &self,
        job_id: i64,
        claim_token: &str,
        papers: Vec<ArxivId>,
        settled: Vec<SettleMatches>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = query_opt(
            &tx,
            "update digest_jobs set state = 'sent', sent_at = $3, lease_until = null,
                 last_error = null
              where id = $1 and claim_token = $2 and state = 'claimed'
            returning subscriber_id",
            &[&job_id, &claim_token, &ms(now)],
        )
        .await?
        else {
            return Ok(false);
        };
        let subscriber: i64 = row.try_get(0)?;
        for paper in &papers {
            execute(
                &tx,
                "insert into mailed_papers (subscriber_id, paper_id, job_id) values ($1, $2, $3)
                 on conflict do nothing",
                &[&subscriber, &paper.as_str(), &job_id],
            )
            .await?;
        }
        for s in &settled {
            execute(
                &tx,
                "update saved_search_matches set mailed_at = $3
                  where search_id = $1 and found_through <= $2 and mailed_at is null",
                &[&s.search.0, &s.found_through, &ms(now)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn fail_digest(
        &self,
        job_id: i64,
        claim_token: &str,
        error: String,
        failure: DeliveryFailure,
        suspend_after: u32,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        match failure {
            DeliveryFailure::Temporary { retry_at } => {
                execute(
                    &tx,
                    "update digest_jobs set state = 'queued', next_attempt_at = $3,
                         lease_until = null, last_error = $4
                      where id = $1 and claim_token = $2 and state = 'claimed'",
                    &[&job_id, &claim_token, &ms(retry_at), &error],
                )
                .await?;
            }
            DeliveryFailure::Permanent => {
                let failed = execute(
                    &tx,
                    "update digest_jobs set state = 'failed', lease_until = null,
                         last_error = $3
                      where id = $1 and claim_token = $2 and state = 'claimed'",
                    &[&job_id, &claim_token, &error],
                )
                .await?;
                if failed > 0 {
                    execute(
                        &tx,
                        "update subscribers
                            set permanent_failures = permanent_failures + 1,
                                status = case when permanent_failures + 1 >= $2
                                              then 'suspended' else status end
                          where id = (select subscriber_id from digest_jobs where id = $1)",
                        &[&job_id, &i64::from(suspend_after)],
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn digest_counts(&self, period: &str) -> Result<DigestCounts, StoreError> {
        let rows = query(
            &self.client().await?,
            "select state, count(*) from digest_jobs where period = $1 group by state",
            &[&period],
        )
        .await?;
        let mut counts = DigestCounts::default();
        for row in &rows {
            let n = u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0);
            match row.try_get::<_, String>(0)?.as_str() {
                "queued" => counts.queued = n,
                "claimed" => counts.claimed = n,
                "sent" => counts.sent = n,
                _ => counts.failed += n,
            }
        }
        Ok(counts)
    }

    async fn live_holders(
        &self,
        me: &DigestClaimer,
        period: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<LiveHolder>, StoreError> {
        let rows = query(
            &self.client().await?,
            &format!(
                "with {LIVE_CLAIMERS}
                 select c.label, c.started_at, count(*) from digest_jobs j
                   left join digest_claimers c on c.id = j.claimed_by
                  where j.period = $1 and j.state = 'claimed' and j.lease_until > $2
                    and (j.claimed_by is null
                      or (j.claimed_by <> $3 and j.claimed_by in (select id from live)))
                  group by j.claimed_by, c.label, c.started_at"
            ),
            &[&period, &ms(now), &me.id],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let label: Option<String> = row.try_get(0)?;
                let started: Option<DateTime<Utc>> = row.try_get(1)?;
                let jobs: i64 = row.try_get(2)?;
                Ok(LiveHolder {
                    claimer: match (label, started) {
                        (Some(label), Some(started)) => format!(
                            "{label}, started {}",
                            started.to_rfc3339_opts(SecondsFormat::Millis, true)
                        ),
                        _ => "a claimer of unknown identity, until its lease runs out".to_owned(),
                    },
                    jobs: u64::try_from(jobs).unwrap_or(0),
                })
            })
            .collect()
    }
}
