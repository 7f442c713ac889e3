//! The contract of saved searches as digest topics (see [`run_digest_topics_contract`]): a
//! reader's searches in the digest and their unsettled matches, read at one instant, and
//! settled by the transaction that records the digest sent — exactly those read, never one
//! found later, never by a digest whose claim was lost.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a contract check: a failed step is a failed check"
)]

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use paperfeed_core::{ArxivId, EmailAddress, Frequency};

use crate::mail::NewSubscriber;
use crate::{Database, DigestTopic, NewSavedSearch, SaveOutcome, SavedSearch, SearchMatch, UserId};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn id(text: &str) -> ArxivId {
    ArxivId::parse(text).unwrap()
}

fn reader(name: &str) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: EmailAddress::parse(&format!("{name}@example.org")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: false,
        created_at: at(0),
    }
}

async fn save(store: &dyn Database, user: UserId, name: &str, query: &str) -> SavedSearch {
    let new = NewSavedSearch {
        user,
        name: name.to_owned(),
        query: query.to_owned(),
        mode: "keyword".to_owned(),
        sort: "relevance".to_owned(),
        created_at: at(0),
    };
    match store.save_search(new, 50).await.unwrap() {
        SaveOutcome::Saved(s) => s,
        other => panic!("not saved: {other:?}"),
    }
}

fn found(search: &SavedSearch, papers: &[&str]) -> Vec<SearchMatch> {
    papers
        .iter()
        .map(|p| SearchMatch {
            search: search.id,
            paper: id(p),
        })
        .collect()
}

/// One matcher pass: from the cursor to `to`, recording `matches`.
async fn pass(store: &dyn Database, to: i64, matches: Vec<SearchMatch>) -> i64 {
    let from = store.match_cursor().await.unwrap();
    store
        .record_matches(from, from + to, matches, at(1))
        .await
        .unwrap()
        .expect("the cursor stood still");
    from + to
}

/// What `digest_matches` says, as (name, papers, unsettled) for easy comparison.
fn summary(topics: &[DigestTopic]) -> Vec<(String, Vec<String>, u64)> {
    topics
        .iter()
        .map(|t| {
            (
                t.search.name.clone(),
                t.papers.iter().map(ToString::to_string).collect(),
                t.unsettled,
            )
        })
        .collect()
}

fn row(name: &str, papers: &[&str], unsettled: u64) -> (String, Vec<String>, u64) {
    (
        name.to_owned(),
        papers.iter().map(|p| (*p).to_owned()).collect(),
        unsettled,
    )
}

/// A reader's searches are digest topics unless turned off; a digest reads each one's newest
/// unsettled matches with their count, and recording it sent settles exactly what it read.
pub async fn run_digest_topics_contract(store: &dyn Database) {
    let ada = store.create_user(reader("topic_ada")).await.unwrap();
    let bob = store.create_user(reader("topic_bob")).await.unwrap();
    let robots = save(store, ada.id, "Robots", "robot").await;
    let diffusion = save(store, ada.id, "diffusion", "diffusion").await;
    let bobs = save(store, bob.id, "diffusion", "diffusion").await;
    assert!(
        robots.in_digest,
        "a saved search is a digest topic at first"
    );

    // On and off, by its owner only.
    assert!(
        !store
            .set_search_in_digest(bob.id, robots.id, false)
            .await
            .unwrap(),
        "another reader's search is not theirs to change"
    );
    assert!(
        store
            .set_search_in_digest(ada.id, robots.id, false)
            .await
            .unwrap()
    );
    let listed = store
        .saved_search(ada.id, robots.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!listed.in_digest);
    assert!(
        store
            .saved_search(ada.id, diffusion.id)
            .await
            .unwrap()
            .unwrap()
            .in_digest,
        "the reader's other searches keep theirs"
    );

    // Nothing matched yet: no topic to mail.
    assert!(store.digest_matches(ada.id, 2).await.unwrap().is_empty());
    let first = pass(
        store,
        3,
        [
            found(&diffusion, &["2612.00001", "2612.00002", "2612.00003"]),
            found(&robots, &["2612.00001"]),
            found(&bobs, &["2612.00001"]),
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        summary(&store.digest_matches(ada.id, 2).await.unwrap()),
        [row("diffusion", &["2612.00003", "2612.00002"], 3)],
        "the searches in the digest only, at most as many papers as asked, all counted"
    );
    store
        .set_search_in_digest(ada.id, robots.id, true)
        .await
        .unwrap();
    let topics = store.digest_matches(ada.id, 2).await.unwrap();
    assert_eq!(
        summary(&topics),
        [
            row("diffusion", &["2612.00003", "2612.00002"], 3),
            row("Robots", &["2612.00001"], 1),
        ],
        "by name, case-insensitively; turned on again, its matches are there"
    );
    assert!(topics.iter().all(|t| t.found_through == first));
    assert_eq!(topics[0].search.id, diffusion.id);

    // A digest is queued for ada's address and claimed; meanwhile the matcher finds more.
    let subscriber = store
        .upsert_subscriber(
            NewSubscriber {
                email: ada.email.clone(),
                frequency: Frequency::Daily,
                topics: Vec::new(),
                papers_per_digest: 5,
                confirmed: true,
            },
            at(2),
        )
        .await
        .unwrap();
    store
        .queue_digests(Frequency::Daily, "2026-12-03", at(2))
        .await
        .unwrap();
    let claimer = store.register_claimer("topics", at(2)).await.unwrap();
    let job = store
        .claim_digest(&claimer, "2026-12-03", at(2), at(20))
        .await
        .unwrap()
        .expect("ada's job");
    assert_eq!(job.subscriber.id, subscriber.id);
    let second = pass(store, 4, found(&diffusion, &["2612.00004"])).await;
    let settle: Vec<_> = topics.iter().map(DigestTopic::settle).collect();

    // A finish whose claim does not hold settles nothing.
    assert!(
        !store
            .finish_digest_with_matches(job.id, "not-the-token", Vec::new(), settle.clone(), at(3))
            .await
            .unwrap()
    );
    assert_eq!(store.digest_matches(ada.id, 10).await.unwrap().len(), 2);

    // The digest recorded sent settles what it read, papers shown or not, and nothing else.
    let shown = vec![id("2612.00003"), id("2612.00002"), id("2612.00001")];
    assert!(
        store
            .finish_digest_with_matches(job.id, &job.claim_token, shown.clone(), settle, at(3))
            .await
            .unwrap()
    );
    let left = store.digest_matches(ada.id, 10).await.unwrap();
    assert_eq!(
        summary(&left),
        [row("diffusion", &["2612.00004"], 1)],
        "the match found after the digest read its topics waits for the next one"
    );
    assert_eq!(left[0].found_through, second);
    assert_eq!(
        store
            .mailed_papers(subscriber.id, &shown)
            .await
            .unwrap()
            .len(),
        3,
        "its papers are recorded mailed as always"
    );
    assert_eq!(
        summary(&store.digest_matches(bob.id, 10).await.unwrap()),
        [row("diffusion", &["2612.00001"], 1)],
        "another reader's matches are untouched"
    );
    // The same pair found again (the paper changed again) is not new: it stays settled.
    pass(store, 1, found(&diffusion, &["2612.00003"])).await;
    assert_eq!(
        summary(&store.digest_matches(ada.id, 10).await.unwrap()),
        [row("diffusion", &["2612.00004"], 1)]
    );
    store.release_claimer(claimer).await.unwrap();
}
