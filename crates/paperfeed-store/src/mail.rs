//! The durable outbox of email digests: subscribers, one job per subscriber per period, and
//! the papers each subscriber has been mailed.
//!
//! A digest run queues jobs under a unique (subscriber, period) key, so running it twice, or
//! again after a crash, queues nothing new. Workers claim one job at a time with a lease and a
//! claim token; only the holder of the token can mark it sent. Marking sent and recording the
//! mailed papers is one transaction.
//!
//! Claims are tied to the liveness of the process that made them: each claiming process
//! registers as a [`DigestClaimer`] holding a lock that dies with it, and each claim records
//! its claimer. A job whose claimer's lock is free (the process was killed) is claimed again at
//! once; the lease is the fallback for a claimer whose liveness cannot be disproved (a node cut
//! off from the database whose session lingers).

#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    expect(
        dead_code,
        reason = "without a backend nothing reads rows or claims digests"
    )
)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, EmailAddress, Frequency};

use crate::{SettleMatches, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriberStatus {
    /// Signed up, confirmation link not yet opened: receives nothing but that link.
    Pending,
    Confirmed,
    Unsubscribed,
    /// Too many permanent delivery failures.
    Suspended,
}

impl SubscriberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Confirmed => "confirmed",
            SubscriberStatus::Unsubscribed => "unsubscribed",
            SubscriberStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => SubscriberStatus::Pending,
            "confirmed" => SubscriberStatus::Confirmed,
            "unsubscribed" => SubscriberStatus::Unsubscribed,
            "suspended" => SubscriberStatus::Suspended,
            _ => return None,
        })
    }
}

/// What an operator or the subscribe form says about a subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSubscriber {
    pub email: EmailAddress,
    pub frequency: Frequency,
    pub topics: Vec<String>,
    pub papers_per_digest: u32,
    /// Confirmed without the double opt-in (operators importing a list they own).
    pub confirmed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    pub email: EmailAddress,
    pub status: SubscriberStatus,
    pub frequency: Frequency,
    pub topics: Vec<String>,
    pub papers_per_digest: u32,
}

/// A subscriber as both backends read it, before its values are checked: an address or a
/// frequency that does not parse is a [`StoreError::Corrupt`] naming the row (never a panic).
/// An unknown status reads as suspended and unreadable topics as none, as they always have.
pub(crate) struct SubscriberRow {
    pub(crate) id: i64,
    pub(crate) email: String,
    pub(crate) status: String,
    pub(crate) frequency: String,
    pub(crate) topics: Option<Vec<String>>,
    pub(crate) papers_per_digest: u32,
}

impl SubscriberRow {
    pub(crate) fn into_subscriber(self) -> Result<Subscriber, StoreError> {
        let id = self.id;
        let corrupt = |what: String| StoreError::Corrupt(format!("subscribers row {id}: {what}"));
        Ok(Subscriber {
            id,
            email: EmailAddress::parse(&self.email).map_err(|e| corrupt(e.to_string()))?,
            status: SubscriberStatus::parse(&self.status).unwrap_or(SubscriberStatus::Suspended),
            frequency: self
                .frequency
                .parse()
                .map_err(|e| corrupt(format!("frequency {e}")))?,
            topics: self.topics.unwrap_or_default(),
            papers_per_digest: self.papers_per_digest,
        })
    }
}

/// A claimed digest job: send it, then [`MailStore::finish_digest`] or
/// [`MailStore::fail_digest`] with its `claim_token`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestJob {
    pub id: i64,
    pub period: String,
    pub attempts: u32,
    pub claim_token: String,
    pub subscriber: Subscriber,
}

/// A process that claims digest jobs, registered with [`MailStore::register_claimer`]. While
/// this value lives it holds a lock that the operating system or the database drops when the
/// process dies: on SQLite an exclusive lock on `<database>-claimers/<id>.lock`, on PostgreSQL a
/// session-level advisory lock (key: the id) on a connection of its own. Give it back with
/// [`MailStore::release_claimer`]; dropped without that, it counts as dead at once.
pub struct DigestClaimer {
    pub(crate) id: i64,
    pub(crate) lock: Box<dyn ClaimerLock>,
}

impl DigestClaimer {
    /// The id recorded on its claims (for logs).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Refuses to claim for a claimer whose lock is gone: others may be taking over its jobs.
    pub(crate) fn ensure_held(&self) -> Result<(), StoreError> {
        if self.lock.held() {
            Ok(())
        } else {
            Err(StoreError::unavailable(format!(
                "digest claimer {} lost its lock (its database session ended); it claims no more",
                self.id
            )))
        }
    }
}

impl std::fmt::Debug for DigestClaimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestClaimer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The backend's half of a [`DigestClaimer`]: the lock that says the claimer is alive.
#[async_trait]
pub(crate) trait ClaimerLock: Send + Sync + 'static {
    /// Whether the lock still holds: a PostgreSQL session can end under a live process, and
    /// then others may already be taking over its claims.
    fn held(&self) -> bool;
    /// Gives the lock up (and removes what it kept on disk).
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

/// Another claimer, still alive, that holds jobs of a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveHolder {
    /// As registered ("digest run, pid 1234 on host-a"), with when it started.
    pub claimer: String,
    pub jobs: u64,
}

/// Jobs of one period by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DigestCounts {
    pub queued: u64,
    pub claimed: u64,
    pub sent: u64,
    pub failed: u64,
}

#[async_trait]
pub trait MailStore: Send + Sync + 'static {
    /// Adds a subscriber, or updates the preferences of the one with that address. A
    /// `confirmed` request confirms; otherwise the status is kept (or `pending` when new).
    async fn upsert_subscriber(
        &self,
        subscriber: NewSubscriber,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, StoreError>;

    /// Someone asked to subscribe `email` (the double opt-in's first step). A new or
    /// unsubscribed address becomes pending; a pending one stays pending. Returns the subscriber
    /// and whether to mail a confirmation now: yes when none went out in the last
    /// `resend_after`; never for an address already confirmed (its owner just gets no mail, and
    /// the page answers the same, so nobody learns who is subscribed).
    async fn request_subscription(
        &self,
        email: &EmailAddress,
        frequency: Frequency,
        now: DateTime<Utc>,
        resend_after: chrono::Duration,
    ) -> Result<(Subscriber, bool), StoreError>;

    async fn subscriber_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Subscriber>, StoreError>;

    async fn subscriber(&self, id: i64) -> Result<Option<Subscriber>, StoreError>;

    /// Sets how often, about what and how much a subscriber is mailed.
    async fn update_preferences(
        &self,
        id: i64,
        frequency: Frequency,
        topics: Vec<String>,
        papers_per_digest: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn set_subscriber_status(
        &self,
        id: i64,
        status: SubscriberStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Queues one job for `period` per confirmed subscriber with this `frequency` that has
    /// none yet. Returns how many were queued now.
    async fn queue_digests(
        &self,
        frequency: Frequency,
        period: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Registers this process as a claimer of digest jobs (`label` says who, for messages)
    /// and takes its liveness lock. Also forgets claimers found dead.
    async fn register_claimer(
        &self,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<DigestClaimer, StoreError>;

    /// Unregisters a claimer and gives up its lock; jobs it still holds are free at once.
    async fn release_claimer(&self, claimer: DigestClaimer) -> Result<(), StoreError>;

    /// Claims for `claimer` the next job of `period` that is due: queued, or claimed by a
    /// claimer that is dead (its lock is free) or whose lease ran out. Jobs of subscribers no
    /// longer confirmed are skipped (and stay unsent). Fails when the claimer's own lock no
    /// longer holds.
    async fn claim_digest(
        &self,
        claimer: &DigestClaimer,
        period: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<DigestJob>, StoreError>;

    /// Of `candidates`, those already mailed to this subscriber.
    async fn mailed_papers(
        &self,
        subscriber_id: i64,
        candidates: &[ArxivId],
    ) -> Result<Vec<ArxivId>, StoreError>;

    /// Marks the job sent and records its papers, if `claim_token` still holds the claim.
    /// Returns false (and changes nothing) when it does not.
    async fn finish_digest(
        &self,
        job_id: i64,
        claim_token: &str,
        papers: Vec<ArxivId>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.finish_digest_with_matches(job_id, claim_token, papers, Vec::new(), now)
            .await
    }

    /// [`MailStore::finish_digest`], and in the same transaction settles the saved-search
    /// matches the digest accounted for (`settled`, marked mailed at `now`): a digest that is
    /// recorded sent has settled them, one that is not (its claim was lost, the process died
    /// first) has settled nothing, and they wait for the next digest.
    async fn finish_digest_with_matches(
        &self,
        job_id: i64,
        claim_token: &str,
        papers: Vec<ArxivId>,
        settled: Vec<SettleMatches>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records a failed attempt. Temporary: queued again at `retry_at`. Permanent: the job
    /// fails, and the subscriber is suspended after `suspend_after` permanent failures.
    async fn fail_digest(
        &self,
        job_id: i64,
        claim_token: &str,
        error: String,
        failure: DeliveryFailure,
        suspend_after: u32,
    ) -> Result<(), StoreError>;

    async fn digest_counts(&self, period: &str) -> Result<DigestCounts, StoreError>;

    /// The claimers other than `me` that are alive and hold jobs of `period` under a lease
    /// that has not run out: the work a run cannot finish itself.
    async fn live_holders(
        &self,
        me: &DigestClaimer,
        period: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<LiveHolder>, StoreError>;
}

/// How a delivery attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// 4xx, timeouts, connection trouble: try again at this time.
    Temporary { retry_at: DateTime<Utc> },
    /// 5xx: the address does not take mail.
    Permanent,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(email: &str, frequency: &str) -> SubscriberRow {
        SubscriberRow {
            id: 7,
            email: email.to_owned(),
            status: "confirmed".to_owned(),
            frequency: frequency.to_owned(),
            topics: None,
            papers_per_digest: 10,
        }
    }

    #[test]
    fn a_stored_subscriber_reads_back_typed() {
        let s = row("ada@example.test", "weekly").into_subscriber();
        let s = s.ok().filter(|s| s.frequency == Frequency::Weekly);
        assert_eq!(
            s.map(|s| s.email.as_str().to_owned()).as_deref(),
            Some("ada@example.test")
        );
    }

    #[test]
    fn a_stored_value_that_does_not_parse_is_corrupt_and_names_its_row() {
        for (email, frequency, what) in [
            ("not an address", "daily", "email"),
            ("ada@example.test", "hourly", "frequency"),
        ] {
            match row(email, frequency).into_subscriber() {
                Err(StoreError::Corrupt(text)) => {
                    assert!(
                        text.contains("subscribers row 7") && text.contains(what),
                        "{text}"
                    );
                }
                other => panic!("{email}/{frequency}: {other:?}"),
            }
        }
    }
}
