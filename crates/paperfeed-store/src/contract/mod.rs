//! The storage contract as one test story, run against every backend (SQLite always,
//! PostgreSQL when a test database is configured), so the backends cannot drift apart.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]
mod accounts;
mod changes;
mod community;
mod digest_topics;
mod follows;
mod for_you_digest;
mod harvest;
mod identities;
mod leases;
mod library;
mod mail;
mod pages;
mod recommender;
mod saved_searches;
mod thumbnails;
mod vector_transfer;
mod visibility;

pub use digest_topics::run_digest_topics_contract;
pub use follows::run_paper_index_contract;
pub use mail::run_mail_contract;

use chrono::NaiveDate;
use paperfeed_core::{
    ArxivId, Author, Featuring, NewPaper, PaperVersion, Submitter, UpsertOutcome,
};

use crate::{Store, WriteMode};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn featured(id: &str, title: &str, on: &str, upvotes: i64) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).unwrap(),
        title.into(),
        "An abstract with & and < and $x<y$.".into(),
        vec![
            Author::named("Ada Lovelace"),
            Author {
                name: "Hidden Person".into(),
                user: Some("hidden".into()),
                hidden: true,
            },
        ],
    );
    p.featured = Some(Featuring {
        date: day(on),
        submitter: Some(Submitter {
            name: "akhaliq".into(),
            fullname: Some("AK".into()),
        }),
    });
    p.upvotes = Some(upvotes);
    p.num_comments = Some(2);
    p.ai_keywords = Some(vec!["transformers".into()]);
    p
}

/// Runs every promise of the [`Store`] trait against an empty store. Panics on the first broken one.
pub async fn run_store_contract(store: &dyn Store) {
    use UpsertOutcome::{New, Unchanged, Updated};

    let stats = store.stats().await.unwrap();
    assert_eq!(
        (stats.papers, stats.featured_days),
        (0, 0),
        "the store starts empty"
    );
    assert_eq!(store.latest_featured_day().await.unwrap(), None);

    // A dry run reports outcomes and keeps nothing.
    let dry = store
        .upsert_papers(
            vec![featured("2403.00001", "Dry", "2024-03-12", 1)],
            WriteMode::DryRun,
        )
        .await
        .unwrap();
    assert_eq!(dry, [New]);
    assert_eq!(
        store.stats().await.unwrap().papers,
        0,
        "a dry run writes nothing"
    );

    let batch = vec![
        featured("2403.00001", "<script>alert(1)</script>", "2024-03-12", 5),
        featured("2403.00002", "Most voted", "2024-03-12", 50),
        featured("2403.00003", "Next day", "2024-03-13", 1),
        featured("hep-th/9901001", "Old style", "2024-03-15", 0),
    ];
    assert_eq!(
        store
            .upsert_papers(batch.clone(), WriteMode::Commit)
            .await
            .unwrap(),
        [New, New, New, New]
    );
    let seq = store.stats().await.unwrap().change_seq;
    assert_eq!(
        store.upsert_papers(batch, WriteMode::Commit).await.unwrap(),
        [Unchanged, Unchanged, Unchanged, Unchanged],
        "re-ingesting the same records changes nothing"
    );
    assert_eq!(
        store.stats().await.unwrap().change_seq,
        seq,
        "no change, no new change_seq"
    );
    assert_eq!(store.change_seq().await.unwrap(), seq);

    // Everything round-trips, untrusted text verbatim.
    let p = store
        .get_paper(&ArxivId::parse("2403.00001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.title, "<script>alert(1)</script>");
    assert_eq!(p.abstract_text, "An abstract with & and < and $x<y$.");
    assert_eq!(p.authors.len(), 2);
    assert!(p.authors[1].hidden);
    assert_eq!(p.authors[1].user.as_deref(), Some("hidden"));
    assert_eq!(p.upvotes, 5);
    assert_eq!(p.num_comments, 2);
    assert_eq!(p.ai_keywords, ["transformers"]);
    assert_eq!(p.featured.len(), 1);
    assert_eq!(
        p.featured[0]
            .submitter
            .as_ref()
            .unwrap()
            .fullname
            .as_deref(),
        Some("AK")
    );
    assert!(
        store
            .get_paper(&ArxivId::parse("2403.99999").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // A second featured day is kept beside the first.
    assert_eq!(
        store
            .upsert_papers(
                vec![featured("2403.00001", "x", "2024-03-15", 7)],
                WriteMode::Commit
            )
            .await
            .unwrap(),
        [Updated]
    );
    assert!(store.stats().await.unwrap().change_seq > seq);
    assert!(
        store.change_seq().await.unwrap() > seq,
        "a change moves the watermark"
    );
    let p = store
        .get_paper(&ArxivId::parse("2403.00001").unwrap())
        .await
        .unwrap()
        .unwrap();
    let days: Vec<_> = p.featured.iter().map(|f| f.date).collect();
    assert_eq!(days, [day("2024-03-12"), day("2024-03-15")]);

    // A newer arXiv version updates the text.
    let mut v2 = NewPaper::new(
        ArxivId::parse("2403.00002").unwrap(),
        "Most voted, revised".into(),
        "Revised abstract.".into(),
        vec![Author::named("Ada Lovelace")],
    );
    v2.versions = vec![PaperVersion {
        number: 2,
        submitted_at: None,
    }];
    assert_eq!(
        store
            .upsert_papers(vec![v2], WriteMode::Commit)
            .await
            .unwrap(),
        [Updated]
    );
    let p = store
        .get_paper(&ArxivId::parse("2403.00002").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.title, "Most voted, revised");
    assert_eq!(p.latest_version(), Some(2));
    assert_eq!(
        p.featured.len(),
        1,
        "a new version does not re-feature a paper"
    );

    // Feed order: newest day first, then votes, then id.
    let feed = store
        .featured_between(day("2024-03-12"), day("2024-03-15"))
        .await
        .unwrap();
    let listed: Vec<_> = feed
        .iter()
        .map(|e| (e.day.to_string(), e.paper.id.to_string()))
        .collect();
    assert_eq!(
        listed,
        [
            ("2024-03-15".to_string(), "2403.00001".to_string()),
            ("2024-03-15".to_string(), "hep-th/9901001".to_string()),
            ("2024-03-13".to_string(), "2403.00003".to_string()),
            ("2024-03-12".to_string(), "2403.00002".to_string()),
            ("2024-03-12".to_string(), "2403.00001".to_string()),
        ]
    );
    assert!(
        store
            .featured_between(day("2024-03-14"), day("2024-03-14"))
            .await
            .unwrap()
            .is_empty()
    );

    // Navigation between featured days skips empty days.
    assert_eq!(
        store.featured_day_before(day("2024-03-15")).await.unwrap(),
        Some(day("2024-03-13"))
    );
    assert_eq!(
        store.featured_day_after(day("2024-03-13")).await.unwrap(),
        Some(day("2024-03-15"))
    );
    assert_eq!(
        store.featured_day_before(day("2024-03-12")).await.unwrap(),
        None
    );
    assert_eq!(
        store.featured_day_after(day("2024-03-15")).await.unwrap(),
        None
    );
    assert_eq!(
        store.latest_featured_day().await.unwrap(),
        Some(day("2024-03-15"))
    );
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.papers, stats.featured_days), (4, 3));

    check_batch_reads(store).await;
    changes::check_changes_and_embeddings(store).await;
    pages::check_feed_pages_and_paper_pages(store).await;
    community::check_community(store).await;
    accounts::check_accounts(store).await;
    harvest::harvest_positions_travel_with_their_batch(store).await;
    leases::leases_go_to_one_holder_at_a_time(store).await;
    library::check_library(store).await;
    visibility::check_visibility(store).await;
    saved_searches::saved_searches_match_once_and_deliver_once(store).await;
    follows::check_follows(store).await;
    recommender::check_recommender(store).await;
    for_you_digest::check_for_you_digest(store).await;
    identities::check_identities(store).await;
    vector_transfer::check_vector_transfer(store).await;
    thumbnails::check_thumbnails(store).await;
    vector_transfer::check_vectors_in_stored_order(store).await;
}

/// A batch read hands out the stored papers among the ids asked for, in the order asked, each
/// once, and each as a single read would.
async fn check_batch_reads(store: &dyn Store) {
    let ids = |list: &[&str]| -> Vec<ArxivId> {
        list.iter().map(|id| ArxivId::parse(id).unwrap()).collect()
    };
    assert!(store.get_papers(&[]).await.unwrap().is_empty());
    let asked = ids(&[
        "hep-th/9901001",
        "2403.99999",
        "2403.00002",
        "hep-th/9901001",
        "2403.00001",
    ]);
    let papers = store.get_papers(&asked).await.unwrap();
    let listed: Vec<String> = papers.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(
        listed,
        ["hep-th/9901001", "2403.00002", "2403.00001"],
        "the order asked, missing ids skipped, repeats once"
    );
    for paper in &papers {
        assert_eq!(
            Some(paper),
            store.get_paper(&paper.id).await.unwrap().as_ref(),
            "a batch read hands out what a single read does"
        );
    }
    assert!(
        store
            .get_papers(&ids(&["2403.99998", "2403.99999"]))
            .await
            .unwrap()
            .is_empty()
    );
}
