//! "For you" in the digest, end to end: a reader seeds the recommender and chooses picks in
//! their digest; digest runs mail them through the loopback SMTP sink — each with its reason,
//! each paper once, nothing on a re-run, none while paused or off, never a dismissed paper, and
//! nothing recorded when the mail server refuses the letter for now or for good.

use chrono::NaiveDate;
use paperfeed_core::{Author, Featuring, Frequency, NewPaper};
use paperfeed_search::{KeywordIndex, SearchEngine};
use paperfeed_store::{Store, User, WriteMode};

use super::tests::{Hub, day};
use super::*;
use crate::metrics::NoMetrics;
use crate::recommend::{add_seed, set_digest_picks, set_paused};
use crate::test_support::user;
use crate::visibility::dismiss;

const DIM: usize = 16;
const TOPICS: [(&str, &str); 2] = [
    (
        "Protein folding",
        "protein structure folding residues amino acid",
    ),
    (
        "Galaxy surveys",
        "galaxy redshift survey cosmology dark halo",
    ),
];
const PER_TOPIC: usize = 8;

fn id(topic: usize, n: usize) -> ArxivId {
    ArxivId::parse(&format!("2611.{:05}", 100 + topic * 100 + n)).unwrap()
}

/// A unit vector near topic `topic`'s axis, a little off towards `n`.
fn vector(topic: usize, n: usize) -> Vec<f32> {
    let mut v = [0.0f32; DIM];
    v[topic] = 1.0;
    v[2 + n % (DIM - 2)] = 0.5;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

fn new_paper(topic: usize, n: usize, featured: NaiveDate) -> NewPaper {
    let (title, words) = TOPICS[topic];
    let mut p = NewPaper::new(
        id(topic, n),
        format!("{title} study {n}"),
        format!("We study {words} in setting number {n}; {words}."),
        vec![Author::named("Ada Lovelace")],
    );
    p.featured = Some(Featuring {
        date: featured,
        submitter: None,
    });
    p.upvotes = Some(n as i64);
    p
}

fn store_of(hub: &Hub) -> &dyn Store {
    &*hub.store
}

/// A hub whose subscriber `name@example.org` (about a topic nothing featured has, so whatever
/// their mails carry are picks) is the reader `name`, who seeded the first protein paper and
/// chose `picks` picks per digest.
async fn reader_with_picks(name: &str, picks: &str) -> (Hub, User) {
    let address = format!("{name}@example.org");
    let mut hub = Hub::start(&[(&address, &["quantum"], 10)], Arc::new(NoMetrics)).await;
    let mut papers = Vec::new();
    let mut vectors = Vec::new();
    for topic in 0..TOPICS.len() {
        for n in 0..PER_TOPIC {
            papers.push(new_paper(
                topic,
                n,
                day() - chrono::Duration::days(n as i64),
            ));
            vectors.push((id(topic, n), vector(topic, n)));
        }
    }
    hub.store
        .upsert_papers(papers, WriteMode::Commit)
        .await
        .unwrap();
    let engine = Arc::new(SearchEngine::new(
        KeywordIndex::in_memory().unwrap(),
        Err("no model in tests".to_owned()),
        1000,
    ));
    engine.add_vectors(vectors);
    hub.recommender = Some(Arc::new(Recommender::new(engine)));
    let reader = user(store_of(&hub), name, false).await;
    add_seed(store_of(&hub), reader.id, &id(0, 0), Utc::now())
        .await
        .unwrap();
    set_digest_picks(store_of(&hub), reader.id, picks, Utc::now())
        .await
        .unwrap();
    (hub, reader)
}

async fn send(hub: &Hub, days_later: i64) -> RunReport {
    let period = DigestPeriod::new(Frequency::Daily, day() + chrono::Duration::days(days_later));
    hub.send(&period, RunMode::QueueAndSend, &CancellationToken::new())
        .await
}

/// The picks of a mail's plain-text part: (title, reason).
fn picks_in(mail: &str) -> Vec<(String, String)> {
    let Some(section) = mail.split("Picked for you (").nth(1) else {
        return Vec::new();
    };
    let section = section.split("\n--").next().unwrap_or_default();
    let lines: Vec<&str> = section.lines().map(|l| l.trim_end_matches('\r')).collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let title = line.strip_prefix(" - ")?;
            let why = lines.get(i + 1)?.trim().strip_prefix("Why: ")?;
            Some((title.to_owned(), why.to_owned()))
        })
        .collect()
}

fn mails(hub: &Hub) -> Vec<String> {
    hub.sink.received().iter().map(|m| m.decoded()).collect()
}

/// Every paper on the hub: the ones above and the three the digest tests feature.
fn every_paper() -> Vec<ArxivId> {
    (0..TOPICS.len())
        .flat_map(|t| (0..PER_TOPIC).map(move |n| id(t, n)))
        .chain((1..=3).map(|n| ArxivId::parse(&format!("2611.{n:05}")).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picks_are_mailed_with_their_reason_once_and_a_rerun_sends_nothing() {
    let (hub, ada) = reader_with_picks("ada", "3").await;

    let first = send(&hub, 0).await;
    assert_eq!(first.sent, 1, "{}", first.summary);
    let mail = &mails(&hub)[0];
    assert!(
        mail.contains("Subject: Daily Papers: 3 papers picked for you"),
        "{mail}"
    );
    let picked = picks_in(mail);
    assert_eq!(picked.len(), 3, "as many as she chose: {mail}");
    assert!(
        picked
            .iter()
            .any(|(_, why)| why.starts_with("because you asked for papers like")),
        "each pick says why, in one line: {picked:?}"
    );
    assert!(
        !picked.iter().any(|(t, _)| t == "Protein folding study 0"),
        "never her own seed: {picked:?}"
    );
    assert!(
        mail.contains("https://papers.example.test/for-you"),
        "{mail}"
    );

    let again = send(&hub, 0).await;
    assert_eq!(again.sent, 0, "a re-run of the period: {}", again.summary);
    assert_eq!(hub.sink.received().len(), 1, "nothing twice");

    let next = send(&hub, 1).await;
    assert_eq!(next.sent, 1, "{}", next.summary);
    let later = picks_in(&mails(&hub)[1]);
    assert_eq!(later.len(), 3, "{later:?}");
    for (title, _) in &later {
        assert!(
            !picked.iter().any(|(t, _)| t == title),
            "{title} was mailed the day before: each paper once"
        );
    }

    // Recorded mailed with the digest, and seen (mailed) for the reader.
    let subscriber = hub
        .store
        .subscriber_by_email(&ada.email)
        .await
        .unwrap()
        .unwrap();
    let mailed = hub
        .store
        .mailed_papers(subscriber.id, &every_paper())
        .await
        .unwrap();
    assert_eq!(mailed.len(), 6, "{mailed:?}");
    let marks = hub
        .store
        .reader_marks(ada.id, &every_paper())
        .await
        .unwrap();
    assert_eq!(marks.seen.len(), 6, "{:?}", marks.seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_recommender_or_the_choice_off_mails_no_picks() {
    let (hub, ada) = reader_with_picks("ada", "5").await;
    set_paused(store_of(&hub), ada.id, true, Utc::now())
        .await
        .unwrap();
    let paused = send(&hub, 0).await;
    assert_eq!(
        paused.sent, 0,
        "paused: no section, no mail: {}",
        paused.summary
    );

    set_paused(store_of(&hub), ada.id, false, Utc::now())
        .await
        .unwrap();
    set_digest_picks(store_of(&hub), ada.id, "off", Utc::now())
        .await
        .unwrap();
    let off = send(&hub, 1).await;
    assert_eq!(off.sent, 0, "off: {}", off.summary);

    set_digest_picks(store_of(&hub), ada.id, "2", Utc::now())
        .await
        .unwrap();
    let on = send(&hub, 2).await;
    assert_eq!(on.sent, 1, "{}", on.summary);
    assert_eq!(picks_in(&mails(&hub)[0]).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dismissed_papers_are_never_mailed_as_picks() {
    let (hub, ada) = reader_with_picks("ada", "4").await;
    let dismissed: Vec<ArxivId> = (1..4).map(|n| id(0, n)).collect();
    for paper in &dismissed {
        dismiss(store_of(&hub), ada.id, paper, Utc::now())
            .await
            .unwrap();
    }
    for days in 0..3 {
        send(&hub, days).await;
    }
    let mails = mails(&hub);
    assert!(!mails.is_empty());
    for mail in &mails {
        for (title, _) in picks_in(mail) {
            for n in 1..4 {
                assert_ne!(
                    title,
                    format!("Protein folding study {n}"),
                    "dismissed: {mail}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delivery_marks_nothing_mailed() {
    let (hub, reader) = reader_with_picks("refused", "3").await;
    let report = send(&hub, 0).await;
    assert_eq!(report.sent, 0, "{}", report.summary);
    assert!(report.summary.contains("1 failed"), "{}", report.summary);
    let subscriber = hub
        .store
        .subscriber_by_email(&reader.email)
        .await
        .unwrap()
        .unwrap();
    assert!(
        hub.store
            .mailed_papers(subscriber.id, &every_paper())
            .await
            .unwrap()
            .is_empty(),
        "the mail never went out: nothing recorded mailed"
    );
    let marks = hub
        .store
        .reader_marks(reader.id, &every_paper())
        .await
        .unwrap();
    assert!(marks.seen.is_empty(), "nor seen: {:?}", marks.seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_failed_for_now_records_nothing_and_waits_to_be_built_again() {
    let (hub, ada) = reader_with_picks("ada", "3").await;
    hub.sink.set_busy(true);
    let report = send(&hub, 0).await;
    assert_eq!(report.sent, 0, "{}", report.summary);
    assert!(
        report.summary.contains("1 to retry later"),
        "{}",
        report.summary
    );
    let subscriber = hub
        .store
        .subscriber_by_email(&ada.email)
        .await
        .unwrap()
        .unwrap();
    assert!(
        hub.store
            .mailed_papers(subscriber.id, &every_paper())
            .await
            .unwrap()
            .is_empty()
    );
    let counts = hub.store.digest_counts(&report.period).await.unwrap();
    assert_eq!(
        (counts.sent, counts.queued + counts.claimed),
        (0, 1),
        "the job waits for its retry, which builds the letter again"
    );
}
