//! `paperfeed subscriber add|import` and `paperfeed digest run`: the commands of the mail
//! stage, the hub's signing key (kept in the data directory), and the typed digest
//! configuration the application layer's runs and scheduler take
//! ([`paperfeed_app::digests`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use paperfeed_app::digests::{DigestConfig, RunMode, ScheduleConfig};
use paperfeed_app::indexing::Indexer;
use paperfeed_app::metrics::{Metrics, NoMetrics};
use paperfeed_app::recommend::Recommender;
use paperfeed_app::subscriptions::{PAPERS_PER_DIGEST, subscriber_address};
use paperfeed_core::DigestPeriod;
use paperfeed_mail::{LinkSigner, Mailer};
use paperfeed_store::{Database, MailStore, NewSubscriber, Store};
use tokio_util::sync::CancellationToken;

use crate::cli::{DigestRunArgs, SubscriberAddArgs, SubscriberImportArgs};
use crate::settings::Settings;

async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Database>> {
    crate::database::open(settings).await
}

pub async fn add_subscriber(settings: &Settings, args: &SubscriberAddArgs) -> anyhow::Result<()> {
    let email = subscriber_address(&args.email).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        PAPERS_PER_DIGEST.contains(&args.papers),
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
                frequency: args.frequency,
                topics: args.topics.clone(),
                papers_per_digest: args.papers,
                confirmed: args.confirmed,
            },
            Utc::now(),
        )
        .await?;
    println!(
        "subscriber {} ({}, {}, {} topics)",
        subscriber.email.as_str(),
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
        PAPERS_PER_DIGEST.contains(&args.papers),
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
        match subscriber_address(line) {
            Ok(email) => {
                store
                    .upsert_subscriber(
                        NewSubscriber {
                            email,
                            frequency: args.frequency,
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
) -> anyhow::Result<paperfeed_app::subscriptions::MailLinks> {
    let mailer = settings
        .mail
        .smtp_url
        .as_ref()
        .map(|url| Mailer::from_url(&url.0, Duration::from_secs(settings.mail.timeout_seconds)))
        .transpose()?;
    Ok(paperfeed_app::subscriptions::MailLinks {
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

/// How digests are sent, as configured: the SMTP server (`digest run` needs one), the
/// signing key, the sender and the links.
pub fn digest_config(settings: &Settings) -> anyhow::Result<DigestConfig> {
    let smtp_url = settings.mail.smtp_url.as_ref().context(
        "no SMTP server configured: set PAPERFEED_SMTP_URL, --smtp-url or mail.smtp_url",
    )?;
    Ok(DigestConfig {
        smtp_url: smtp_url.0.clone(),
        smtp_timeout: Duration::from_secs(settings.mail.timeout_seconds),
        from: settings.mail.from.clone(),
        base_url: base_url(settings),
        signing_key: signing_key(settings)?,
        workers: settings.mail.workers,
        lease: chrono::Duration::seconds(i64::try_from(settings.mail.lease_seconds).unwrap_or(300)),
        suspend_after: settings.mail.suspend_after,
        host: host_name(),
        recommender: None,
    })
}

/// This machine's name, for the messages of other digest runs.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unnamed host".to_owned())
}

/// `paperfeed digest run`: one run of the period (a dry run lists what it would draw from).
/// Fails when another live run still holds jobs of the period.
pub async fn run(settings: &Settings, args: &DigestRunArgs) -> anyhow::Result<()> {
    // Ctrl-C: the messages being sent go out and are recorded, nothing more is claimed.
    let stop = crate::shutdown::on_signals()?;
    let store = open_store(settings).await?;
    let date = args.date.unwrap_or_else(|| Utc::now().date_naive());
    let period = DigestPeriod::new(args.period, date);
    if args.dry_run {
        let candidates = paperfeed_app::digests::preview(&store, &period).await?;
        let (from, to) = period.days();
        println!(
            "dry run: {} digest for {} ({from} .. {to}) would draw from {} papers; nothing queued or sent",
            period.frequency,
            period.key(),
            candidates.len()
        );
        for e in candidates.iter().take(10) {
            println!(
                "  ▲ {:>4}  {}  {}",
                e.paper.upvotes, e.paper.id, e.paper.title
            );
        }
        println!("dry run of {}: nothing queued or sent", period.key());
        return Ok(());
    }
    let mut config = digest_config(settings)?;
    config.recommender = picks_recommender(settings, &store).await?;
    let metrics: Arc<dyn Metrics> = Arc::new(NoMetrics);
    let report = paperfeed_app::digests::run_period(
        &store,
        &period,
        RunMode::QueueAndSend,
        &config,
        &metrics,
        &stop,
    )
    .await?;
    println!("{}", report.summary);
    match report.held_elsewhere() {
        Some(held) => Err(anyhow::anyhow!(held)),
        None => Ok(()),
    }
}

/// The recommender `digest run` picks "For you" sections with, when a reader chose one: made
/// here from the search index's folder and the stored vectors (the run reads the hub's papers
/// before it sends). `None` when no reader chose one, so a plain run opens no index.
async fn picks_recommender(
    settings: &Settings,
    store: &Arc<dyn Database>,
) -> anyhow::Result<Option<Arc<Recommender>>> {
    if store.count_for_you_digests().await? == 0 {
        return Ok(None);
    }
    let indexer = Indexer {
        store: Arc::clone(store) as Arc<dyn Store>,
        engine: Arc::new(crate::indexer::open_engine(settings).await?),
        embed_batch: settings.search.embed_batch,
    };
    indexer
        .catch_up_vectors(&|_| {})
        .await
        .context("reading the stored vectors for the For you picks")?;
    Ok(Some(Arc::new(Recommender::new(indexer.engine))))
}

/// The digest scheduler inside `serve` ([`paperfeed_app::digests::schedule`]) on a store of
/// its own, every day at `hour` in the zone `offset`; "For you" sections are picked by
/// `recommender`, the one serving `/for-you`.
pub async fn schedule(
    settings: Settings,
    hour: u32,
    offset: chrono::FixedOffset,
    node: String,
    recommender: Arc<Recommender>,
    metrics: Arc<dyn Metrics>,
    stop: CancellationToken,
) {
    let store = match open_store(&settings).await {
        Ok(store) => store,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "digest scheduler could not open the store");
            return;
        }
    };
    let digest = match digest_config(&settings) {
        Ok(config) => DigestConfig {
            recommender: Some(recommender),
            ..config
        },
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "digest scheduler is not configured");
            return;
        }
    };
    let config = ScheduleConfig {
        hour,
        offset,
        node,
        digest,
    };
    paperfeed_app::digests::schedule(store, config, metrics, stop).await;
}

/// The digest periods current at a moment in the scheduler's zone, for the metrics of `serve`.
pub fn current_periods(
    settings: &Settings,
) -> impl Fn(chrono::DateTime<Utc>) -> Vec<(String, String)> + Send + Sync + 'static {
    let offset = crate::settings::parse_utc_offset(&settings.mail.schedule_utc_offset)
        .unwrap_or_else(|| chrono::Offset::fix(&Utc));
    paperfeed_app::digests::current_periods(offset)
}
