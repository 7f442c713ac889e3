//! One digest run: queue a job per confirmed subscriber of the period, register as one
//! claimer, let workers claim, compose and send jobs until none is due, and report.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use paperfeed_core::{ArxivId, DigestPeriod, FeedEntry, Paper};
use paperfeed_mail::{LinkSigner, Mailer, SendError};
use paperfeed_store::{
    Database, DeliveryFailure, DigestClaimer, DigestJob, LiveHolder, SeenReason, SettleMatches,
    UserId,
};
use tokio_util::sync::CancellationToken;

use super::letter::Letterhead;
use super::selection::{Selection, choose};
use super::{for_you, topics};
use crate::metrics::{Metrics, SmtpFailure};
use crate::recommend::{ForYouItem, Recommender};
use crate::visibility::{ReaderFilter, mark_seen_all};

/// How digests are sent: the mail server, the sender, the links, and how hard to try.
#[derive(Clone)]
pub struct DigestConfig {
    /// `smtp://host:port`, `smtp+starttls://user:pass@host:port` or `smtps://…`.
    pub smtp_url: String,
    /// For one delivery, connection to the server's last reply.
    pub smtp_timeout: Duration,
    /// The `From:` address.
    pub from: String,
    /// The absolute base of links in mails: `https://papers.example.org`.
    pub base_url: String,
    /// The key that signs the unsubscribe and preferences links (at least 32 bytes).
    pub signing_key: Vec<u8>,
    /// Jobs sent at once.
    pub workers: usize,
    /// How long a claim lasts before another run may take the job over (the fallback for a
    /// claimer whose death cannot be seen), and how long a scheduled run's lease lasts.
    pub lease: chrono::Duration,
    /// Permanent failures in a row after which a subscriber is suspended.
    pub suspend_after: u32,
    /// This machine's name, for the claimer labels other runs show.
    pub host: String,
    /// Whose picks fill the "For you" section of readers who chose one (`serve`'s own, or one
    /// `digest run` made); `None`: no digest carries that section.
    pub recommender: Option<Arc<Recommender>>,
}

impl std::fmt::Debug for DigestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestConfig")
            .field("smtp_url", &paperfeed_mail::mask_password(&self.smtp_url))
            .field("from", &self.from)
            .field("base_url", &self.base_url)
            .field("workers", &self.workers)
            .field("lease", &self.lease)
            .field("suspend_after", &self.suspend_after)
            .field("host", &self.host)
            .field("recommender", &self.recommender.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether a run queues the period's jobs first or only sends what is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// `digest run` and the scheduled run: queue a job per subscriber, then send.
    QueueAndSend,
    /// The scheduler's sweep: send what earlier runs left unsent, queue nothing.
    SendWaiting,
}

/// What one run did, and what it could not do because another live run holds it.
#[derive(Debug)]
pub struct RunReport {
    /// The period's key.
    pub period: String,
    pub summary: String,
    pub sent: u64,
    /// Live claimers other than this run still holding jobs of the period.
    pub held: Vec<LiveHolder>,
}

impl RunReport {
    /// Says who still holds jobs of the period, when another live run does.
    pub fn held_elsewhere(&self) -> Option<String> {
        if self.held.is_empty() {
            return None;
        }
        let jobs: u64 = self.held.iter().map(|h| h.jobs).sum();
        let who: Vec<String> = self
            .held
            .iter()
            .map(|h| format!("{} ({} jobs)", h.claimer, h.jobs))
            .collect();
        Some(format!(
            "{jobs} digests of {} are held by another digest run that is still alive: {}; it \
             sends them, and this run did not wait for it (run again after it ends to check)",
            self.period,
            who.join("; ")
        ))
    }
}

/// What a dry run shows: the period's candidates, best first; nothing queued or sent.
pub async fn preview(
    store: &Arc<dyn Database>,
    period: &DigestPeriod,
) -> anyhow::Result<Vec<FeedEntry>> {
    let (from, to) = period.days();
    let entries = store.featured_between(from, to).await?;
    Ok(super::selection::candidates(entries, to))
}

/// A claimer that died a moment ago can still look alive for the moment its store session
/// takes to close (PostgreSQL drops its locks when it notices): how long a run waits before
/// its last look.
const LAST_LOOK: Duration = Duration::from_secs(1);

/// One digest run, as `digest run` and the scheduler in `serve` do it; returns its report.
/// SMTP failures are counted in `metrics`; once `stop` is cancelled the workers end after the
/// message in hand.
pub async fn run_period(
    store: &Arc<dyn Database>,
    period: &DigestPeriod,
    mode: RunMode,
    config: &DigestConfig,
    metrics: &Arc<dyn Metrics>,
    stop: &CancellationToken,
) -> anyhow::Result<RunReport> {
    let (from, to) = period.days();
    let entries = store.featured_between(from, to).await?;
    let selection = Selection::new(entries, period).context("indexing the period's papers")?;
    let mailer = Mailer::from_url(&config.smtp_url, config.smtp_timeout)?;
    let started = Instant::now();
    let key = period.key();
    let queued = match mode {
        RunMode::QueueAndSend => {
            store
                .queue_digests(period.frequency, &key, Utc::now())
                .await?
        }
        RunMode::SendWaiting => 0,
    };
    let what = match mode {
        RunMode::QueueAndSend => "digest run",
        RunMode::SendWaiting => "serve's digest sweep",
    };
    let recommender = picks_recommender(store, config.recommender.as_ref()).await?;
    let claimer = store
        .register_claimer(
            &format!("{what}, pid {} on {}", std::process::id(), config.host),
            Utc::now(),
        )
        .await?;
    let run = Arc::new(Run {
        store: Arc::clone(store),
        claimer,
        mailer,
        letterhead: Letterhead {
            signer: LinkSigner::new(&config.signing_key),
            base_url: config.base_url.clone(),
            from: config.from.clone(),
        },
        period: *period,
        key,
        selection,
        recommender,
        lease: config.lease,
        suspend_after: config.suspend_after,
        metrics: Arc::clone(metrics),
        stop: stop.clone(),
    });
    let mut tally = run_workers(&run, config.workers).await?;
    let mut held = store
        .live_holders(&run.claimer, &run.key, Utc::now())
        .await?;
    if !held.is_empty() && !stop.is_cancelled() {
        tokio::time::sleep(LAST_LOOK).await;
        tally.add(run_workers(&run, config.workers).await?);
        held = store
            .live_holders(&run.claimer, &run.key, Utc::now())
            .await?;
    }
    let counts = store.digest_counts(&run.key).await?;
    let secs = started.elapsed().as_secs_f64();
    let stopped = if stop.is_cancelled() {
        "stopped early (nothing left claimed; run again to send the rest): "
    } else {
        ""
    };
    let summary = format!(
        "{stopped}digest {}: queued {queued} new jobs; this run sent {} ({:.0} messages/s), {} had nothing new, \
         {} to retry later, {} failed; period total: {} sent, {} waiting, {} failed; in {secs:.1} s",
        run.key,
        tally.sent,
        tally.sent as f64 / secs.max(1e-9),
        tally.empty,
        tally.retry_later,
        tally.failed,
        counts.sent,
        counts.queued + counts.claimed,
        counts.failed,
    );
    let period = run.key.clone();
    // The workers are done with it: give the claimer back (were that to fail, its lock would
    // still go with the process).
    if let Ok(run) = Arc::try_unwrap(run) {
        store.release_claimer(run.claimer).await?;
    }
    Ok(RunReport {
        period,
        summary,
        sent: tally.sent,
        held,
    })
}

/// The recommender a run picks with: none when no reader chose a "For you" section; else
/// caught up with the store first, so this period's papers are among the candidates (and a
/// recommender made for this run has read the hub). A failed catch-up is logged: the run goes
/// on with what it has.
async fn picks_recommender(
    store: &Arc<dyn Database>,
    recommender: Option<&Arc<Recommender>>,
) -> anyhow::Result<Option<Arc<Recommender>>> {
    let Some(recommender) = recommender else {
        return Ok(None);
    };
    if store.count_for_you_digests().await? == 0 {
        return Ok(None);
    }
    if let Err(error) = recommender.catch_up(&**store).await {
        tracing::warn!(error = %error.detail(), "recommender catch-up before the digests failed");
    }
    Ok(Some(Arc::clone(recommender)))
}

struct Run {
    store: Arc<dyn Database>,
    /// This run as the store knows it: its claims are tied to its life.
    claimer: DigestClaimer,
    mailer: Mailer,
    letterhead: Letterhead,
    period: DigestPeriod,
    key: String,
    selection: Selection,
    /// `None` when no reader chose a "For you" section (or none can be made).
    recommender: Option<Arc<Recommender>>,
    lease: chrono::Duration,
    suspend_after: u32,
    metrics: Arc<dyn Metrics>,
    stop: CancellationToken,
}

/// What one job's digest carries and what recording it settles.
struct Contents {
    /// The reader the subscriber is, if any.
    reader: Option<UserId>,
    /// Every paper it shows: recorded mailed to the subscriber, marked seen for the reader.
    papers: Vec<ArxivId>,
    settle: Vec<SettleMatches>,
    /// How many of `papers` are "For you" picks.
    picks: usize,
    /// None when nothing is new for the subscriber.
    digest: Option<paperfeed_mail::compose::Digest>,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    empty: u64,
    retry_later: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.empty += other.empty;
        self.retry_later += other.retry_later;
        self.failed += other.failed;
    }
}

/// Runs `workers` workers on `run` until none finds a job due, and adds up what they did.
async fn run_workers(run: &Arc<Run>, workers: usize) -> anyhow::Result<Tally> {
    let handles: Vec<_> = (0..workers)
        .map(|_| tokio::spawn(Arc::clone(run).work()))
        .collect();
    let mut tally = Tally::default();
    for handle in handles {
        tally.add(handle.await.context("digest worker")??);
    }
    Ok(tally)
}

impl Run {
    /// What `job`'s digest carries: the period's papers for the subscriber's topics and, for a
    /// reader, their saved searches' new matches; the digest itself unless nothing is new.
    async fn digest_for(&self, job: &DigestJob) -> anyhow::Result<Contents> {
        let subscriber = &job.subscriber;
        let matching = self.selection.matching(&subscriber.topics);
        // A subscriber who is also a reader (the account with the confirmed address) gets
        // neither muted nor dismissed papers, and their saved searches' new matches.
        let reader = self.reader_of(job).await?;
        let topics = match reader {
            Some(reader) => {
                self.store
                    .digest_matches(reader, topics::READ_PER_SEARCH)
                    .await?
            }
            None => Vec::new(),
        };
        let mut topic_ids: Vec<ArxivId> = Vec::new();
        let mut seen: HashSet<&ArxivId> = HashSet::new();
        for id in topics.iter().flat_map(|t| &t.papers) {
            if seen.insert(id) {
                topic_ids.push(id.clone());
            }
        }
        let mut ids: Vec<ArxivId> = matching.iter().map(|e| e.paper.id.clone()).collect();
        ids.extend(
            topic_ids
                .iter()
                .filter(|id| !matching.iter().any(|e| &e.paper.id == *id))
                .cloned(),
        );
        let filter = match reader {
            Some(reader) => ReaderFilter::load(&*self.store, reader, &ids, false).await?,
            None => ReaderFilter::none(),
        };
        let matching = filter.split(matching, |e| &e.paper).shown;
        let mailed: HashSet<ArxivId> = self
            .store
            .mailed_papers(subscriber.id, &ids)
            .await?
            .into_iter()
            .collect();
        let chosen = choose(matching, &mailed, subscriber.papers_per_digest as usize);
        let mut taken = mailed;
        taken.extend(chosen.iter().map(|e| e.paper.id.clone()));
        let stored: HashMap<ArxivId, Paper> = if topic_ids.is_empty() {
            HashMap::new()
        } else {
            self.store
                .get_papers(&topic_ids)
                .await?
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect()
        };
        let searches = topics::sections(
            topics,
            &stored,
            |p| filter.why_hidden(p).is_none(),
            &mut taken,
        );
        let picks: Vec<ForYouItem> = match (&self.recommender, reader) {
            (Some(recommender), Some(reader)) => {
                for_you::picks(recommender, &*self.store, reader, subscriber.id, &mut taken).await?
            }
            _ => Vec::new(),
        };
        let mut papers: Vec<ArxivId> = chosen.iter().map(|e| e.paper.id.clone()).collect();
        papers.extend(searches.papers().cloned());
        papers.extend(picks.iter().map(|p| p.paper.id.clone()));
        let digest = (!chosen.is_empty() || !searches.sections.is_empty() || !picks.is_empty())
            .then(|| {
                self.letterhead.digest(
                    job,
                    &self.period,
                    &chosen,
                    &searches.sections,
                    &picks,
                    Utc::now(),
                )
            });
        Ok(Contents {
            reader,
            papers,
            settle: searches.settle,
            picks: picks.len(),
            digest,
        })
    }

    /// The reader a subscriber is: the account whose address is the subscriber's, which the
    /// subscriber confirmed (double opt-in) before any digest was queued.
    async fn reader_of(&self, job: &DigestJob) -> anyhow::Result<Option<UserId>> {
        Ok(self
            .store
            .user_id_by_email(job.subscriber.email.as_str())
            .await?)
    }

    /// Marks a sent digest's papers seen (mailed) for the reader the subscriber is. After the
    /// job is finished, and a failure only logged: the mail went out, and a job retried for a
    /// seen mark would send it twice.
    async fn mark_mailed(&self, job: &DigestJob, reader: Option<UserId>, papers: &[ArxivId]) {
        let Some(reader) = reader else {
            return;
        };
        if let Err(e) = mark_seen_all(&*self.store, reader, papers, SeenReason::Mailed).await {
            tracing::warn!(
                job = job.id,
                subscriber.id = job.subscriber.id,
                error = format!("{:#}", anyhow::Error::from(e)),
                "seen marks (mailed) not kept"
            );
        }
    }

    /// Records `job` sent (or done with nothing to send) with what it carried, settling the
    /// saved-search matches it accounted for in the same transaction.
    async fn finish(&self, job: &DigestJob, contents: &Contents) -> anyhow::Result<()> {
        self.store
            .finish_digest_with_matches(
                job.id,
                &job.claim_token,
                contents.papers.clone(),
                contents.settle.clone(),
                Utc::now(),
            )
            .await?;
        Ok(())
    }

    /// Claims and sends jobs until none is due, or until told to stop (between jobs: a job
    /// claimed is always sent or failed, never left claimed).
    async fn work(self: Arc<Self>) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        loop {
            if self.stop.is_cancelled() {
                return Ok(tally);
            }
            let now = Utc::now();
            let Some(job) = self
                .store
                .claim_digest(&self.claimer, &self.key, now, now + self.lease)
                .await?
            else {
                return Ok(tally);
            };
            let contents = self.digest_for(&job).await?;
            let Some(digest) = &contents.digest else {
                // Nothing new for this subscriber: the period is done for them, no mail (what
                // their searches found was all left out, and is settled).
                self.finish(&job, &contents).await?;
                tally.empty += 1;
                continue;
            };
            let message = match digest.message() {
                Ok(m) => m,
                Err(e) => {
                    self.fail(&job, e.to_string(), DeliveryFailure::Permanent)
                        .await?;
                    tally.failed += 1;
                    continue;
                }
            };
            // Sent and not yet recorded, a digest is sent again by whoever takes the job over
            // (the outbox's rule; same Message-ID): its matches stay unsettled until then.
            match self.mailer.send(message).await {
                Ok(()) => {
                    self.finish(&job, &contents).await?;
                    self.mark_mailed(&job, contents.reader, &contents.papers)
                        .await;
                    tracing::debug!(
                        job = job.id,
                        subscriber.id = job.subscriber.id,
                        digest.papers = contents.papers.len(),
                        digest.searches = contents.settle.len(),
                        digest.picks = contents.picks,
                        "digest sent"
                    );
                    tally.sent += 1;
                }
                Err(SendError::Temporary(reason)) => {
                    self.metrics.record_smtp_failure(SmtpFailure::Temporary);
                    let retry_at = Utc::now() + retry_after(job.attempts);
                    tracing::warn!(job = job.id, subscriber.id = job.subscriber.id, attempts = job.attempts, %reason, "digest delivery failed; will retry");
                    self.fail(&job, reason, DeliveryFailure::Temporary { retry_at })
                        .await?;
                    tally.retry_later += 1;
                }
                Err(SendError::Permanent(reason)) => {
                    self.metrics.record_smtp_failure(SmtpFailure::Permanent);
                    tracing::warn!(job = job.id, subscriber.id = job.subscriber.id, %reason, "digest refused by the mail server");
                    self.fail(&job, reason, DeliveryFailure::Permanent).await?;
                    tally.failed += 1;
                }
            }
        }
    }

    async fn fail(
        &self,
        job: &DigestJob,
        reason: String,
        failure: DeliveryFailure,
    ) -> anyhow::Result<()> {
        self.store
            .fail_digest(
                job.id,
                &job.claim_token,
                reason,
                failure,
                self.suspend_after,
            )
            .await?;
        Ok(())
    }
}

/// How long a delivery that failed for now waits: 1, 2, 4 … minutes after each attempt, at
/// most an hour.
fn retry_after(attempts: u32) -> chrono::Duration {
    chrono::Duration::minutes(1i64 << attempts.min(6))
}

#[cfg(test)]
mod for_you_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod topic_tests;
