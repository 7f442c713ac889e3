//! `paperfeed subscriber add` and `paperfeed digest run`: the mail stage of the pipeline.
//!
//! A run queues one job per confirmed subscriber for the period (a unique key in the store),
//! then workers claim jobs one at a time under a lease, build that subscriber's digest, send
//! it and mark it sent together with the papers it carried. Killed at any point, a rerun
//! queues nothing new and sends only the jobs not marked sent.
//!
//! Each run registers with the store as a claimer holding a lock that dies with its process
//! (`MailStore::register_claimer`), and its claims record it. So a rerun right after a crash
//! takes over the dead run's claimed jobs at once and finishes the period; a run that ends
//! while another live run still holds jobs of the period says so and fails (`digest run` exits
//! non-zero); a claim's lease is only the fallback for a claimer whose death cannot be seen.
//!
//! Stopping (a signal to `serve` or to `digest run`): workers finish the message in hand and
//! claim no more, so a stopped run leaves no job claimed.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Frequency, Paper};
use paperfeed_mail::compose::{Digest, DigestItem, parse_address, shorten};
use paperfeed_mail::{LinkPurpose, LinkSigner, Mailer, SendError};
use paperfeed_store::{
    Database, DeliveryFailure, DigestClaimer, DigestJob, FeedEntry, LiveHolder, MailStore,
    NewSubscriber,
};
use paperfeed_web::{Metrics, SmtpFailure};
use tokio_util::sync::CancellationToken;

use crate::cli::{DigestRunArgs, SubscriberAddArgs, SubscriberImportArgs};
use crate::settings::Settings;

/// Characters of abstract shown per paper.
const SUMMARY_CHARS: usize = 320;
/// How long links in a digest stay valid.
const LINK_DAYS: i64 = 365;

fn frequency_name(f: Frequency) -> &'static str {
    match f {
        Frequency::Daily => "daily",
        Frequency::Weekly => "weekly",
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Database>> {
    crate::database::open(settings).await
}

pub async fn add_subscriber(settings: &Settings, args: &SubscriberAddArgs) -> anyhow::Result<()> {
    let email = parse_address(&args.email).map_err(|e| anyhow::anyhow!(e))?;
    anyhow::ensure!(
        (1..=50).contains(&args.papers),
        "--papers must be between 1 and 50, not {}",
        args.papers
    );
    for topic in &args.topics {
        anyhow::ensure!(
            !topic.trim().is_empty() && topic.len() <= 200,
            "--topic must be 1 to 200 characters, not {:?}",
            topic
        );
        paperfeed_search::KeywordQuery::parse(topic)
            .map_err(|e| anyhow::anyhow!("--topic {topic:?} is not a search: {e}"))?;
    }
    anyhow::ensure!(args.topics.len() <= 20, "at most 20 topics");
    let store = open_store(settings).await?;
    let subscriber = store
        .upsert_subscriber(
            NewSubscriber {
                email,
                frequency: frequency_name(args.frequency).to_owned(),
                topics: args.topics.clone(),
                papers_per_digest: args.papers,
                confirmed: args.confirmed,
            },
            Utc::now(),
        )
        .await?;
    println!(
        "subscriber {} ({}, {}, {} topics)",
        subscriber.email,
        subscriber.status.as_str(),
        subscriber.frequency,
        subscriber.topics.len()
    );
    Ok(())
}

/// Imports a file of addresses. Returns false when any line was refused (after storing the rest).
pub async fn import_subscribers(
    settings: &Settings,
    args: &SubscriberImportArgs,
) -> anyhow::Result<bool> {
    anyhow::ensure!(
        (1..=50).contains(&args.papers),
        "--papers must be between 1 and 50, not {}",
        args.papers
    );
    let content = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let store = open_store(settings).await?;
    let (mut added, mut refused) = (0u64, 0u64);
    for (number, line) in (1..).zip(content.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_address(line) {
            Ok(email) => {
                store
                    .upsert_subscriber(
                        NewSubscriber {
                            email,
                            frequency: frequency_name(args.frequency).to_owned(),
                            topics: Vec::new(),
                            papers_per_digest: args.papers,
                            confirmed: args.confirmed,
                        },
                        Utc::now(),
                    )
                    .await?;
                added += 1;
            }
            Err(reason) => {
                eprintln!("{}:{number}: {reason}", args.file.display());
                refused += 1;
            }
        }
    }
    println!("imported {added} subscribers, refused {refused}");
    Ok(refused == 0)
}

/// The absolute base of links in mails: the public URL, else the bound address.
pub fn base_url(settings: &Settings) -> String {
    settings.serve.public_url.clone().map_or_else(
        || format!("http://{}", settings.serve.bind),
        |u| u.trim_end_matches('/').to_owned(),
    )
}

/// What `serve` needs for the subscription pages: signing key, outbox, and the SMTP mailer
/// when one is configured.
pub fn mail_links(
    settings: &Settings,
    store: Arc<dyn MailStore>,
) -> anyhow::Result<paperfeed_web::MailLinks> {
    let mailer = settings
        .mail
        .smtp_url
        .as_ref()
        .map(|url| Mailer::from_url(&url.0, Duration::from_secs(settings.mail.timeout_seconds)))
        .transpose()?;
    Ok(paperfeed_web::MailLinks {
        signer: LinkSigner::new(&signing_key(settings)?),
        store,
        mailer,
        from: settings.mail.from.clone(),
        base_url: base_url(settings),
        resend_after: chrono::Duration::minutes(
            i64::try_from(settings.mail.confirm_resend_minutes).unwrap_or(60),
        ),
    })
}

/// The hub's signing key: configured, else kept in the data directory (created once).
pub fn signing_key(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = &settings.mail.signing_key {
        anyhow::ensure!(
            key.0.len() >= 32,
            "mail.signing_key must be at least 32 characters"
        );
        return Ok(key.0.as_bytes().to_vec());
    }
    let path = settings.data_dir.join("mail-signing.key");
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim();
        anyhow::ensure!(
            key.len() >= 32,
            "{} is too short: delete it to make a new key",
            path.display()
        );
        return Ok(key.as_bytes().to_vec());
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(&settings.data_dir)?;
    write_private(&path, &key)?;
    Ok(key.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// The period a digest covers: its unique key and the featured days it draws from.
struct Period {
    key: String,
    label: String,
    frequency: Frequency,
    from: NaiveDate,
    to: NaiveDate,
}

impl Period {
    fn new(frequency: Frequency, date: NaiveDate) -> Self {
        match frequency {
            // Three days back, so Monday's digest covers the weekend's papers too.
            Frequency::Daily => Self {
                key: date.format("%Y-%m-%d").to_string(),
                label: date.format("%b %-d, %Y").to_string(),
                frequency,
                from: date - chrono::Duration::days(2),
                to: date,
            },
            Frequency::Weekly => {
                let week = date.iso_week();
                Self {
                    key: format!("{}-W{:02}", week.year(), week.week()),
                    label: format!("week {} of {}", week.week(), week.year()),
                    frequency,
                    from: date - chrono::Duration::days(6),
                    to: date,
                }
            }
        }
    }
}

/// Topics matched by the search engine: the period's candidate papers in a small in-memory
/// keyword index, so a topic means exactly what it means in the search box (stemmed words,
/// `"phrases"`, `author:`, `category:`), without touching the shared index `serve` writes.
struct TopicMatcher {
    index: paperfeed_search::KeywordIndex,
    cache: std::sync::Mutex<std::collections::HashMap<String, HashSet<ArxivId>>>,
}

impl TopicMatcher {
    fn new(candidates: &[FeedEntry]) -> anyhow::Result<Self> {
        let mut index = paperfeed_search::KeywordIndex::in_memory()?;
        let papers: Vec<Paper> = candidates.iter().map(|e| e.paper.clone()).collect();
        index.upsert(&papers)?;
        index.commit(0)?;
        Ok(Self {
            index,
            cache: std::sync::Mutex::default(),
        })
    }

    /// The candidates one topic matches (a topic that does not parse is taken as plain words).
    fn matching(&self, topic: &str) -> HashSet<ArxivId> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = cache.get(topic) {
            return found.clone();
        }
        let mut query = paperfeed_search::KeywordQuery::parse(topic)
            .unwrap_or_else(|_| paperfeed_search::KeywordQuery::text(topic.replace('"', " ")));
        query.limit = paperfeed_search::MAX_LIMIT;
        let mut found = HashSet::new();
        while let Ok(page) = self.index.search(&query) {
            let n = page.hits.len();
            found.extend(page.hits.into_iter().map(|h| h.id));
            if n < query.limit || query.offset + n >= paperfeed_search::MAX_OFFSET {
                break;
            }
            query.offset += n;
        }
        cache.insert(topic.to_owned(), found.clone());
        found
    }

    /// Whether `paper` matches any of `topics` (no topics: every paper).
    fn matches(&self, paper: &Paper, topics: &[String]) -> bool {
        topics.is_empty() || topics.iter().any(|t| self.matching(t).contains(&paper.id))
    }
}

/// The period's featured papers, each once (its latest featured day), by trending score as
/// of the end of the period's last day: the same ranking a rerun gets, whenever it runs. The
/// ranking is the hub's one rule (`paperfeed_core::trending`).
fn candidates(entries: Vec<FeedEntry>, to: NaiveDate) -> Vec<FeedEntry> {
    let as_of = (to + chrono::Duration::days(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    paperfeed_core::trending(entries, as_of)
}

struct Run {
    store: Arc<dyn Database>,
    /// This run as the store knows it: its claims are tied to its life.
    claimer: DigestClaimer,
    mailer: Mailer,
    signer: LinkSigner,
    base_url: String,
    from: String,
    period: Period,
    candidates: Vec<FeedEntry>,
    topics: TopicMatcher,
    lease: chrono::Duration,
    suspend_after: u32,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
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

impl Run {
    async fn digest_for(&self, job: &DigestJob) -> anyhow::Result<(Vec<ArxivId>, Option<Digest>)> {
        let subscriber = &job.subscriber;
        let matching: Vec<&FeedEntry> = self
            .candidates
            .iter()
            .filter(|e| self.topics.matches(&e.paper, &subscriber.topics))
            .collect();
        let ids: Vec<ArxivId> = matching.iter().map(|e| e.paper.id.clone()).collect();
        let mailed: HashSet<ArxivId> = self
            .store
            .mailed_papers(subscriber.id, &ids)
            .await?
            .into_iter()
            .collect();
        let chosen: Vec<&FeedEntry> = matching
            .into_iter()
            .filter(|e| !mailed.contains(&e.paper.id))
            .take(subscriber.papers_per_digest as usize)
            .collect();
        let papers: Vec<ArxivId> = chosen.iter().map(|e| e.paper.id.clone()).collect();
        if chosen.is_empty() {
            return Ok((papers, None));
        }
        let expires = Utc::now() + chrono::Duration::days(LINK_DAYS);
        let unsubscribe = self
            .signer
            .sign(subscriber.id, LinkPurpose::Unsubscribe, expires);
        let preferences = self
            .signer
            .sign(subscriber.id, LinkPurpose::Preferences, expires);
        let host = self
            .base_url
            .split("://")
            .nth(1)
            .unwrap_or("paperfeed.local")
            .split([':', '/'])
            .next()
            .unwrap_or("paperfeed.local")
            .to_owned();
        let digest = Digest {
            to: subscriber.email.clone(),
            from: self.from.clone(),
            frequency_label: match self.period.frequency {
                Frequency::Daily => "Daily".to_owned(),
                Frequency::Weekly => "Weekly".to_owned(),
            },
            period_label: self.period.label.clone(),
            items: chosen
                .iter()
                .map(|e| DigestItem {
                    title: e
                        .paper
                        .title
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                    link: format!("{}/papers/{}", self.base_url, e.paper.id),
                    authors_label: match e.paper.authors.len() {
                        1 => "1 author".to_owned(),
                        n => format!("{n} authors"),
                    },
                    summary: shorten(&e.paper.abstract_text, SUMMARY_CHARS),
                    upvotes: e.paper.upvotes,
                    featured_label: e.day.format("%b %-d, %Y").to_string(),
                })
                .collect(),
            unsubscribe_url: format!("{}/unsubscribe?t={unsubscribe}", self.base_url),
            preferences_url: format!("{}/subscription?t={preferences}", self.base_url),
            message_id: format!("<digest-{}-{}@{host}>", job.id, self.period.key),
        };
        Ok((papers, Some(digest)))
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
                .claim_digest(&self.claimer, &self.period.key, now, now + self.lease)
                .await?
            else {
                return Ok(tally);
            };
            let (papers, digest) = self.digest_for(&job).await?;
            let Some(digest) = digest else {
                // Nothing new for this subscriber: the period is done for them, no mail.
                self.store
                    .finish_digest(job.id, &job.claim_token, papers, Utc::now())
                    .await?;
                tally.empty += 1;
                continue;
            };
            let message = match digest.message() {
                Ok(m) => m,
                Err(e) => {
                    self.store
                        .fail_digest(
                            job.id,
                            &job.claim_token,
                            e.to_string(),
                            DeliveryFailure::Permanent,
                            self.suspend_after,
                        )
                        .await?;
                    tally.failed += 1;
                    continue;
                }
            };
            match self.mailer.send(message).await {
                Ok(()) => {
                    let n = papers.len();
                    self.store
                        .finish_digest(job.id, &job.claim_token, papers, Utc::now())
                        .await?;
                    tracing::debug!(
                        job = job.id,
                        subscriber.id = job.subscriber.id,
                        digest.papers = n,
                        "digest sent"
                    );
                    tally.sent += 1;
                }
                Err(SendError::Temporary(reason)) => {
                    self.metrics.record_smtp_failure(SmtpFailure::Temporary);
                    // Back off: 1, 2, 4 … minutes, at most an hour.
                    let minutes = 1i64 << job.attempts.min(6);
                    let retry_at = Utc::now() + chrono::Duration::minutes(minutes);
                    tracing::warn!(job = job.id, subscriber.id = job.subscriber.id, attempts = job.attempts, %reason, "digest delivery failed; will retry");
                    self.store
                        .fail_digest(
                            job.id,
                            &job.claim_token,
                            reason,
                            DeliveryFailure::Temporary { retry_at },
                            self.suspend_after,
                        )
                        .await?;
                    tally.retry_later += 1;
                }
                Err(SendError::Permanent(reason)) => {
                    self.metrics.record_smtp_failure(SmtpFailure::Permanent);
                    tracing::warn!(job = job.id, subscriber.id = job.subscriber.id, %reason, "digest refused by the mail server");
                    self.store
                        .fail_digest(
                            job.id,
                            &job.claim_token,
                            reason,
                            DeliveryFailure::Permanent,
                            self.suspend_after,
                        )
                        .await?;
                    tally.failed += 1;
                }
            }
        }
    }
}

pub async fn run(settings: &Settings, args: &DigestRunArgs) -> anyhow::Result<()> {
    // Ctrl-C: the messages being sent go out and are recorded, nothing more is claimed.
    let stop = crate::shutdown::on_signals()?;
    let store = open_store(settings).await?;
    let report = run_period(
        settings,
        &store,
        args,
        RunMode::QueueAndSend,
        &Arc::new(Metrics::new()),
        &stop,
    )
    .await?;
    println!("{}", report.summary);
    match report.held_elsewhere() {
        Some(held) => Err(anyhow::anyhow!(held)),
        None => Ok(()),
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
pub struct RunReport {
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

/// Who a claimer is, for the messages of other runs: what, process id and host.
fn claimer_label(what: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unnamed host".to_owned());
    format!("{what}, pid {} on {host}", std::process::id())
}

/// A claimer that died a moment ago can still look alive for the moment its store session
/// takes to close (PostgreSQL drops its locks when it notices): how long a run waits before
/// its last look.
const LAST_LOOK: Duration = Duration::from_secs(1);

/// One digest run, as `digest run` and the scheduler in `serve` do it; returns its report.
/// A dry run prints its listing itself and returns a one-line summary. SMTP failures are
/// counted in `metrics`; once `stop` is cancelled the workers end after the message in hand.
pub async fn run_period(
    settings: &Settings,
    store: &Arc<dyn Database>,
    args: &DigestRunArgs,
    mode: RunMode,
    metrics: &Arc<Metrics>,
    stop: &CancellationToken,
) -> anyhow::Result<RunReport> {
    let date = args.date.unwrap_or_else(|| Utc::now().date_naive());
    let period = Period::new(args.period, date);
    let entries = store.featured_between(period.from, period.to).await?;
    let candidates = candidates(entries, period.to);
    if args.dry_run {
        println!(
            "dry run: {} digest for {} ({} .. {}) would draw from {} papers; nothing queued or sent",
            frequency_name(args.period),
            period.key,
            period.from,
            period.to,
            candidates.len()
        );
        for e in candidates.iter().take(10) {
            println!(
                "  ▲ {:>4}  {}  {}",
                e.paper.upvotes, e.paper.id, e.paper.title
            );
        }
        return Ok(RunReport {
            summary: format!("dry run of {}: nothing queued or sent", period.key),
            period: period.key,
            sent: 0,
            held: Vec::new(),
        });
    }
    let smtp_url = settings.mail.smtp_url.as_ref().context(
        "no SMTP server configured: set PAPERFEED_SMTP_URL, --smtp-url or mail.smtp_url",
    )?;
    let mailer = Mailer::from_url(
        &smtp_url.0,
        Duration::from_secs(settings.mail.timeout_seconds),
    )?;
    let started = std::time::Instant::now();
    let queued = match mode {
        RunMode::QueueAndSend => {
            store
                .queue_digests(frequency_name(args.period), &period.key, Utc::now())
                .await?
        }
        RunMode::SendWaiting => 0,
    };
    let claimer = store
        .register_claimer(
            &claimer_label(match mode {
                RunMode::QueueAndSend => "digest run",
                RunMode::SendWaiting => "serve's digest sweep",
            }),
            Utc::now(),
        )
        .await?;
    let base_url = base_url(settings);
    let run = Arc::new(Run {
        store: Arc::clone(store),
        claimer,
        mailer,
        signer: LinkSigner::new(&signing_key(settings)?),
        base_url,
        from: settings.mail.from.clone(),
        period,
        topics: TopicMatcher::new(&candidates)?,
        candidates,
        lease: chrono::Duration::seconds(i64::try_from(settings.mail.lease_seconds).unwrap_or(300)),
        suspend_after: settings.mail.suspend_after,
        metrics: Arc::clone(metrics),
        stop: stop.clone(),
    });
    let mut tally = run_workers(&run, settings.mail.workers).await?;
    let mut held = store
        .live_holders(&run.claimer, &run.period.key, Utc::now())
        .await?;
    if !held.is_empty() && !stop.is_cancelled() {
        tokio::time::sleep(LAST_LOOK).await;
        tally.add(run_workers(&run, settings.mail.workers).await?);
        held = store
            .live_holders(&run.claimer, &run.period.key, Utc::now())
            .await?;
    }
    let counts = store.digest_counts(&run.period.key).await?;
    let secs = started.elapsed().as_secs_f64();
    let stopped = if stop.is_cancelled() {
        "stopped early (nothing left claimed; run again to send the rest): "
    } else {
        ""
    };
    let summary = format!(
        "{stopped}digest {}: queued {queued} new jobs; this run sent {} ({:.0} messages/s), {} had nothing new, \
         {} to retry later, {} failed; period total: {} sent, {} waiting, {} failed; in {secs:.1} s",
        run.period.key,
        tally.sent,
        tally.sent as f64 / secs.max(1e-9),
        tally.empty,
        tally.retry_later,
        tally.failed,
        counts.sent,
        counts.queued + counts.claimed,
        counts.failed,
    );
    let period = run.period.key.clone();
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

/// When the scheduler next runs: today at `hour` in the zone `offset`, or tomorrow when that
/// has passed.
pub fn next_run(
    now: chrono::DateTime<Utc>,
    hour: u32,
    offset: chrono::FixedOffset,
) -> chrono::DateTime<Utc> {
    let local = now.with_timezone(&offset);
    let at = |day: NaiveDate| {
        day.and_hms_opt(hour, 0, 0)
            .and_then(|t| t.and_local_timezone(offset).single())
            .map(|t| t.with_timezone(&Utc))
    };
    match at(local.date_naive()) {
        Some(t) if t > now => t,
        _ => at(local.date_naive() + chrono::Duration::days(1))
            .unwrap_or(now + chrono::Duration::days(1)),
    }
}

/// The digest scheduler inside `serve`: every day at the configured hour, the daily digest on
/// weekdays (like Hugging Face's) and the weekly one on Mondays, through the same code as
/// `digest run`. Of several nodes on one store, one runs each period: see [`run_scheduled`].
/// In between, at start and then every `mail.lease_seconds` (at least a minute), it sweeps the
/// current periods: it sends what earlier runs left unsent (a run killed part-way, deliveries
/// to retry), queueing nothing.
pub async fn schedule(
    settings: Settings,
    hour: u32,
    offset: chrono::FixedOffset,
    node: String,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let store = match open_store(&settings).await {
        Ok(store) => store,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "digest scheduler could not open the store");
            return;
        }
    };
    let sweep_every = chrono::Duration::seconds(
        i64::try_from(settings.mail.lease_seconds)
            .unwrap_or(300)
            .max(60),
    );
    let mut next = next_run(Utc::now(), hour, offset);
    tracing::info!(at = %next, "next digest run scheduled");
    let mut next_sweep = Utc::now();
    loop {
        let wake = next.min(next_sweep);
        tokio::select! {
            () = tokio::time::sleep((wake - Utc::now()).to_std().unwrap_or_default()) => {}
            () = stop.cancelled() => {
                tracing::info!("digest scheduler stopped");
                return;
            }
        }
        if Utc::now() < next {
            sweep(&settings, &store, offset, &metrics, &stop).await;
            next_sweep = Utc::now() + sweep_every;
            if stop.is_cancelled() {
                tracing::info!("digest scheduler stopped after the messages in hand");
                return;
            }
            continue;
        }
        let day = next.with_timezone(&offset).date_naive();
        let mut periods = Vec::new();
        if day.weekday().number_from_monday() <= 5 {
            periods.push(Frequency::Daily);
        }
        if day.weekday() == chrono::Weekday::Mon {
            periods.push(Frequency::Weekly);
        }
        for period in periods {
            let args = DigestRunArgs {
                period,
                date: Some(day),
                dry_run: false,
            };
            if let Err(e) = run_scheduled(&settings, &store, &args, &node, &metrics, &stop).await {
                tracing::error!(error = %format!("{e:#}"), "scheduled digest run failed");
            }
            if stop.is_cancelled() {
                tracing::info!("digest scheduler stopped after the messages in hand");
                return;
            }
        }
        next = next_run(Utc::now(), hour, offset);
        tracing::info!(at = %next, "next digest run scheduled");
    }
}

/// Sends what is waiting in the current periods (today's daily digest, this week's weekly
/// one, in the scheduler's zone): jobs a killed run left claimed, deliveries to retry, jobs a
/// run queued but never got to. Nothing is queued, so a period nobody ran stays unsent until
/// its run. Cheap when nothing waits: one count per period.
async fn sweep(
    settings: &Settings,
    store: &Arc<dyn Database>,
    offset: chrono::FixedOffset,
    metrics: &Arc<Metrics>,
    stop: &CancellationToken,
) {
    let day = Utc::now().with_timezone(&offset).date_naive();
    for frequency in [Frequency::Daily, Frequency::Weekly] {
        let key = Period::new(frequency, day).key;
        match store.digest_counts(&key).await {
            Ok(counts) if counts.queued + counts.claimed > 0 => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, period = %key, "digest sweep could not count jobs");
                continue;
            }
        }
        let args = DigestRunArgs {
            period: frequency,
            date: Some(day),
            dry_run: false,
        };
        match run_period(settings, store, &args, RunMode::SendWaiting, metrics, stop).await {
            Ok(report) if report.sent > 0 => {
                tracing::info!(summary = %report.summary, "sent digests earlier runs left unsent");
            }
            Ok(report) => tracing::debug!(summary = %report.summary, "digest sweep"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), period = %key, "digest sweep failed");
            }
        }
        if stop.is_cancelled() {
            return;
        }
    }
}

/// The digest periods current at `now` (the day in the scheduler's zone), for the metrics
/// of `serve`: `("daily", "2026-08-21")`, `("weekly", "2026-W34")`.
pub fn current_periods(
    settings: &Settings,
) -> impl Fn(chrono::DateTime<Utc>) -> Vec<(String, String)> + Send + Sync + 'static {
    let offset = crate::settings::parse_utc_offset(&settings.mail.schedule_utc_offset)
        .unwrap_or_else(|| chrono::Offset::fix(&Utc));
    move |now| {
        let day = now.with_timezone(&offset).date_naive();
        [Frequency::Daily, Frequency::Weekly]
            .into_iter()
            .map(|f| (frequency_name(f).to_owned(), Period::new(f, day).key))
            .collect()
    }
}

/// How long nodes that did not get a period's lease keep watching for its holder to die.
const TAKE_OVER_HOURS: i64 = 6;

/// The name of the store lease for one scheduled period: `digest:daily:2026-11-30`.
pub fn period_lease(frequency: Frequency, date: NaiveDate) -> String {
    format!(
        "digest:{}:{}",
        frequency_name(frequency),
        Period::new(frequency, date).key
    )
}

/// One scheduled period, run by the one node that takes the store lease
/// `digest:<frequency>:<period>`. The holder renews it while sending (every third of
/// `mail.lease_seconds`) and, once done, keeps it for a day so the others skip the period. A
/// holder that dies stops renewing: its lease runs out within `mail.lease_seconds`, and a node
/// still watching takes over: it queues nothing new and sends what is left, the dead holder's
/// claimed jobs too (a dead claimer's claims are free at once). Sending stays exactly-once
/// without the lease (jobs are unique per subscriber and period, claims tied to live
/// claimers); the lease keeps the other nodes from doing the same run's work at the same time.
async fn run_scheduled(
    settings: &Settings,
    store: &Arc<dyn Database>,
    args: &DigestRunArgs,
    node: &str,
    metrics: &Arc<Metrics>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let date = args.date.unwrap_or_else(|| Utc::now().date_naive());
    let name = period_lease(args.period, date);
    let key = Period::new(args.period, date).key;
    let lease =
        chrono::Duration::seconds(i64::try_from(settings.mail.lease_seconds).unwrap_or(300));
    let give_up = Utc::now() + chrono::Duration::hours(TAKE_OVER_HOURS);
    loop {
        let now = Utc::now();
        if store.try_lease(&name, node, now + lease, now).await? {
            break;
        }
        let counts = store.digest_counts(&key).await?;
        if counts.queued + counts.claimed == 0 && counts.sent + counts.failed > 0 {
            tracing::info!(lease = %name, "another node ran this digest");
            return Ok(());
        }
        if now > give_up {
            tracing::info!(lease = %name, "another node holds this digest run; not taking over");
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(lease.to_std().unwrap_or(Duration::from_secs(300))) => {}
            () = stop.cancelled() => return Ok(()),
        }
    }
    tracing::info!(lease = %name, "this node runs the digest");
    let renewer = {
        let (store, name, node) = (Arc::clone(store), name.clone(), node.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep((lease / 3).to_std().unwrap_or(Duration::from_secs(100))).await;
                let now = Utc::now();
                if let Err(e) = store.try_lease(&name, &node, now + lease, now).await {
                    tracing::warn!(lease = %name, error = %e, "renewing the digest lease failed");
                }
            }
        })
    };
    let mut result = run_period(settings, store, args, RunMode::QueueAndSend, metrics, stop).await;
    // Jobs another live run holds (a `digest run` started by hand): wait for it a few times
    // at most, then send what it left, rather than leave that to the sweeps.
    for _ in 0..3 {
        match &result {
            Ok(report) if !report.held.is_empty() && !stop.is_cancelled() => {}
            _ => break,
        }
        tokio::select! {
            () = tokio::time::sleep(lease.to_std().unwrap_or(Duration::from_secs(300))) => {}
            () = stop.cancelled() => break,
        }
        result = run_period(settings, store, args, RunMode::SendWaiting, metrics, stop).await;
    }
    renewer.abort();
    match result {
        // Stopped part-way: what is left is another node's (or the next start's) to send.
        Ok(report) if stop.is_cancelled() => {
            tracing::info!(summary = %report.summary, lease = %name, "digest run stopped; lease given up");
            store.release_lease(&name, node).await?;
            Ok(())
        }
        Ok(report) => {
            if let Some(held) = report.held_elsewhere() {
                tracing::info!(lease = %name, "{held}");
            }
            tracing::info!(summary = %report.summary, lease = %name, "scheduled digest run done");
            let now = Utc::now();
            store
                .try_lease(&name, node, now + chrono::Duration::days(1), now)
                .await?;
            Ok(())
        }
        Err(e) => {
            // Another node may try: a rerun sends only what is left.
            store.release_lease(&name, node).await?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_scheduled_period_has_one_lease_name_per_frequency_and_period() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(
            period_lease(Frequency::Daily, monday),
            "digest:daily:2026-11-30"
        );
        assert_eq!(
            period_lease(Frequency::Weekly, monday),
            "digest:weekly:2026-W49"
        );
        assert_eq!(
            period_lease(Frequency::Weekly, monday + chrono::Duration::days(3)),
            "digest:weekly:2026-W49",
            "one weekly run per ISO week, whichever day it is started"
        );
    }

    #[test]
    fn the_next_run_is_today_at_the_hour_in_the_zone_or_tomorrow() {
        let cet = chrono::FixedOffset::east_opt(3600).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 30, 0).unwrap(); // 06:30 in +01:00
        assert_eq!(
            next_run(now, 7, cet),
            Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap()
        );
        assert_eq!(
            next_run(now, 6, cet),
            Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap(),
            "06:00 has passed: tomorrow"
        );
    }
}
