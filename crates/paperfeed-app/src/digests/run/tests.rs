//! Digest runs against a real SQLite store in a temporary directory and the loopback SMTP sink,
//! which refuses `refused@…` for good.

use chrono::NaiveDate;
use paperfeed_core::{Featuring, Frequency, NewPaper};
use paperfeed_store::{NewSubscriber, SqliteStore, WriteMode};

use super::*;
use crate::metrics::NoMetrics;
use crate::smtp_sink::SmtpSink;
use crate::test_support::SmtpFailures;

const DAY: (i32, u32, u32) = (2026, 11, 30);

pub(super) fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(DAY.0, DAY.1, DAY.2).unwrap()
}

fn config(sink: &SmtpSink, recommender: Option<Arc<Recommender>>) -> DigestConfig {
    DigestConfig {
        smtp_url: sink.url(),
        smtp_timeout: Duration::from_secs(10),
        from: "paperfeed <digest@papers.example.test>".to_owned(),
        base_url: "https://papers.example.test".to_owned(),
        signing_key: vec![7; 32],
        workers: 2,
        lease: chrono::Duration::seconds(300),
        suspend_after: 3,
        host: "test-host".to_owned(),
        recommender,
    }
}

/// A store in a temporary directory, the SMTP server it sends to, and what counts failures.
pub(super) struct Hub {
    _dir: tempfile::TempDir,
    pub(super) store: Arc<dyn Database>,
    pub(super) sink: SmtpSink,
    metrics: Arc<dyn Metrics>,
    /// The recommender of "For you" sections (none unless a test gives one).
    pub(super) recommender: Option<Arc<Recommender>>,
}

impl Hub {
    pub(super) async fn start(
        subscribers: &[(&str, &[&str], u32)],
        metrics: Arc<dyn Metrics>,
    ) -> Self {
        let (_dir, store) = store_with(subscribers).await;
        let sink = SmtpSink::refusing("refused@");
        Self {
            _dir,
            store,
            sink,
            metrics,
            recommender: None,
        }
    }

    /// One run of `period`.
    pub(super) async fn send(
        &self,
        period: &DigestPeriod,
        mode: RunMode,
        stop: &CancellationToken,
    ) -> RunReport {
        let config = config(&self.sink, self.recommender.clone());
        run_period(&self.store, period, mode, &config, &self.metrics, stop)
            .await
            .unwrap()
    }
}

/// A store with three papers featured on the digest's day and the given subscribers
/// (address, topics, papers per digest), all confirmed.
async fn store_with(
    subscribers: &[(&str, &[&str], u32)],
) -> (tempfile::TempDir, Arc<dyn Database>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Database> =
        Arc::new(SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap());
    let papers = [
        ("2611.00001", "Diffusion models for protein folding", 10),
        ("2611.00002", "Sparse attention for long contexts", 50),
        ("2611.00003", "Robot grasping with diffusion policies", 30),
    ]
    .map(|(id, title, upvotes)| {
        let mut paper = NewPaper::new(
            ArxivId::parse(id).unwrap(),
            title.to_owned(),
            "An abstract long enough to be shown.".to_owned(),
            Vec::new(),
        );
        paper.featured = Some(Featuring {
            date: day(),
            submitter: None,
        });
        paper.upvotes = Some(upvotes);
        paper
    });
    store
        .upsert_papers(papers.to_vec(), WriteMode::Commit)
        .await
        .unwrap();
    for (email, topics, papers_per_digest) in subscribers {
        store
            .upsert_subscriber(
                NewSubscriber {
                    email: paperfeed_core::EmailAddress::parse(email).unwrap(),
                    frequency: Frequency::Daily,
                    topics: topics.iter().map(|t| (*t).to_owned()).collect(),
                    papers_per_digest: *papers_per_digest,
                    confirmed: true,
                },
                Utc::now(),
            )
            .await
            .unwrap();
    }
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_mails_each_subscriber_once_and_a_rerun_sends_nothing_more() {
    let subscribers: [(&str, &[&str], u32); 3] = [
        ("ada@example.test", &[], 2),
        ("bob@example.test", &["diffusion"], 10),
        ("eve@example.test", &["quantum"], 10),
    ];
    let hub = Hub::start(&subscribers, Arc::new(NoMetrics)).await;
    let period = DigestPeriod::new(Frequency::Daily, day());
    let stop = CancellationToken::new();
    let report = hub.send(&period, RunMode::QueueAndSend, &stop).await;
    assert_eq!(report.period, "2026-11-30");
    assert_eq!(report.sent, 2, "{}", report.summary);
    assert!(report.held_elsewhere().is_none());
    assert!(
        report.summary.contains("queued 3 new jobs")
            && report.summary.contains("1 had nothing new"),
        "{}",
        report.summary
    );
    assert_eq!(
        hub.sink.recipients(),
        ["ada@example.test", "bob@example.test"]
    );
    let ada = hub.sink.message_to("ada@example.test");
    assert!(
        ada.contains("Sparse attention") && ada.contains("Robot grasping"),
        "{ada}"
    );
    assert!(
        !ada.contains("protein folding"),
        "two papers asked for: {ada}"
    );
    assert!(ada.contains("<digest-") && ada.contains("-2026-11-30@papers.example.test>"));
    let bob = hub.sink.message_to("bob@example.test");
    assert!(!bob.contains("Sparse attention"), "topics only: {bob}");

    let again = hub.send(&period, RunMode::QueueAndSend, &stop).await;
    assert_eq!(again.sent, 0, "{}", again.summary);
    assert!(
        again.summary.contains("queued 0 new jobs"),
        "{}",
        again.summary
    );
    assert_eq!(hub.sink.recipients().len(), 2, "exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_period_carries_only_papers_not_mailed_before() {
    let hub = Hub::start(&[("ada@example.test", &[], 2)], Arc::new(NoMetrics)).await;
    let stop = CancellationToken::new();
    let monday = DigestPeriod::new(Frequency::Daily, day());
    let tuesday = DigestPeriod::new(Frequency::Daily, day() + chrono::Duration::days(1));
    for period in [monday, tuesday] {
        hub.send(&period, RunMode::QueueAndSend, &stop).await;
    }
    let received = hub.sink.received();
    assert_eq!(received.len(), 2);
    assert!(
        received[1].data.contains("protein folding"),
        "{}",
        received[1].data
    );
    assert!(
        !received[1].data.contains("Sparse attention"),
        "{}",
        received[1].data
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_fails_for_good_and_is_counted() {
    let counted = Arc::new(SmtpFailures::default());
    let hub = Hub::start(&[("refused@example.test", &[], 2)], counted.clone()).await;
    let period = DigestPeriod::new(Frequency::Daily, day());
    let report = hub
        .send(&period, RunMode::QueueAndSend, &CancellationToken::new())
        .await;
    assert_eq!(report.sent, 0);
    assert!(
        report
            .summary
            .contains("1 failed; period total: 0 sent, 0 waiting, 1 failed"),
        "{}",
        report.summary
    );
    assert_eq!(counted.kinds(), [SmtpFailure::Permanent]);
    assert!(hub.sink.recipients().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_claims_nothing_and_a_sweep_queues_nothing() {
    let hub = Hub::start(&[("ada@example.test", &[], 2)], Arc::new(NoMetrics)).await;
    let period = DigestPeriod::new(Frequency::Daily, day());
    let stopped = CancellationToken::new();
    stopped.cancel();
    let report = hub.send(&period, RunMode::QueueAndSend, &stopped).await;
    assert!(
        report.summary.starts_with("stopped early"),
        "{}",
        report.summary
    );
    let counts = hub.store.digest_counts("2026-11-30").await.unwrap();
    assert_eq!((counts.queued, counts.claimed, counts.sent), (1, 0, 0));

    let other_day = DigestPeriod::new(Frequency::Daily, day() + chrono::Duration::days(1));
    let swept = hub
        .send(&other_day, RunMode::SendWaiting, &CancellationToken::new())
        .await;
    assert!(
        swept.summary.contains("queued 0 new jobs"),
        "{}",
        swept.summary
    );
    let swept = hub
        .send(&period, RunMode::SendWaiting, &CancellationToken::new())
        .await;
    assert_eq!(
        swept.sent, 1,
        "the sweep sends what was waiting: {}",
        swept.summary
    );
}

#[tokio::test]
async fn a_preview_lists_the_candidates_best_first() {
    let (_dir, store) = store_with(&[]).await;
    let period = DigestPeriod::new(Frequency::Weekly, day());
    let ids: Vec<String> = preview(&store, &period)
        .await
        .unwrap()
        .iter()
        .map(|e| e.paper.id.to_string())
        .collect();
    assert_eq!(ids, ["2611.00002", "2611.00003", "2611.00001"]);
}

#[test]
fn a_delivery_to_retry_waits_longer_after_each_attempt_up_to_an_hour_or_so() {
    let minutes: Vec<i64> = [0, 1, 2, 6, 20]
        .map(|a| retry_after(a).num_minutes())
        .to_vec();
    assert_eq!(minutes, [1, 2, 4, 64, 64]);
}
