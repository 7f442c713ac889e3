//! The storage contract as one test story, run against every backend (SQLite always,
//! PostgreSQL when a test database is configured), so the backends cannot drift apart.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

mod mail;

pub use mail::run_mail_contract;

use chrono::NaiveDate;
use paperfeed_core::{
    ArxivId, Author, Featuring, NewPaper, PaperVersion, Submitter, UpsertOutcome,
};

use crate::{HarvestPosition, Store, WriteMode};

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
    check_changes_and_embeddings(store).await;
    check_feed_pages_and_paper_pages(store).await;
    check_community(store).await;
    harvest_positions_travel_with_their_batch(store).await;
    leases_go_to_one_holder_at_a_time(store).await;
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

/// A lease is one holder's until it runs out or is released; its holder renews it.
async fn leases_go_to_one_holder_at_a_time(store: &dyn Store) {
    use chrono::{Duration, TimeZone, Utc};
    let at = |minutes: i64| {
        Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap() + Duration::minutes(minutes)
    };
    const JOB: &str = "digest-schedule";
    assert!(
        store.try_lease(JOB, "node-a", at(5), at(0)).await.unwrap(),
        "free: taken"
    );
    assert!(
        !store.try_lease(JOB, "node-b", at(6), at(1)).await.unwrap(),
        "held by another"
    );
    assert!(
        store.try_lease(JOB, "node-a", at(10), at(4)).await.unwrap(),
        "its holder renews"
    );
    assert!(
        !store.try_lease(JOB, "node-b", at(11), at(9)).await.unwrap(),
        "renewed: still held"
    );
    assert!(
        store
            .try_lease("another job", "node-b", at(11), at(9))
            .await
            .unwrap(),
        "leases are per name"
    );
    assert!(
        store
            .try_lease(JOB, "node-b", at(15), at(10))
            .await
            .unwrap(),
        "run out: free again"
    );
    assert!(
        !store.release_lease(JOB, "node-a").await.unwrap(),
        "only the holder releases"
    );
    assert!(store.release_lease(JOB, "node-b").await.unwrap());
    assert!(
        store
            .try_lease(JOB, "node-a", at(20), at(11))
            .await
            .unwrap(),
        "released: free"
    );
    // Many asking at once: exactly one gets it.
    let asks = (0..20).map(|i| {
        let holder = format!("node-{i}");
        async move {
            store
                .try_lease("race", &holder, at(30), at(0))
                .await
                .unwrap()
        }
    });
    let granted = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .filter(|g| *g)
        .count();
    assert_eq!(
        granted, 1,
        "one of many concurrent askers gets a free lease"
    );
}

fn entry_keys(entries: &[crate::FeedEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.day.to_string(), e.paper.id.to_string()))
        .collect()
}

fn keys(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(d, id)| ((*d).to_owned(), (*id).to_owned()))
        .collect()
}

/// Feed windows (span, submitter, order, offset) and the paper listing by cursor.
async fn check_feed_pages_and_paper_pages(store: &dyn Store) {
    use crate::{FeedOrder, FeedQuery};

    let mut other = featured("2403.00004", "Someone else's", "2024-03-13", 3);
    other.featured = Some(Featuring {
        date: day("2024-03-13"),
        submitter: Some(Submitter {
            name: "someone".into(),
            fullname: None,
        }),
    });
    store
        .upsert_papers(vec![other], WriteMode::Commit)
        .await
        .unwrap();
    let all = FeedQuery {
        days: None,
        submitter: None,
        order: FeedOrder::Newest,
        offset: 0,
        limit: 100,
    };
    let page = |q: FeedQuery| async move { entry_keys(&store.featured_page(q).await.unwrap()) };
    assert_eq!(
        page(all.clone()).await,
        keys(&[
            ("2024-03-15", "2403.00001"),
            ("2024-03-15", "hep-th/9901001"),
            ("2024-03-13", "2403.00004"),
            ("2024-03-13", "2403.00003"),
            ("2024-03-12", "2403.00002"),
            ("2024-03-12", "2403.00001"),
        ]),
        "newest day first, then votes, then id"
    );
    assert_eq!(
        page(FeedQuery {
            order: FeedOrder::MostUpvoted,
            ..all.clone()
        })
        .await,
        keys(&[
            ("2024-03-12", "2403.00002"),
            ("2024-03-15", "2403.00001"),
            ("2024-03-12", "2403.00001"),
            ("2024-03-13", "2403.00004"),
            ("2024-03-13", "2403.00003"),
            ("2024-03-15", "hep-th/9901001"),
        ]),
        "most votes first, then newest day"
    );
    assert_eq!(
        page(FeedQuery {
            offset: 2,
            limit: 2,
            ..all.clone()
        })
        .await,
        keys(&[("2024-03-13", "2403.00004"), ("2024-03-13", "2403.00003")])
    );
    assert_eq!(
        page(FeedQuery {
            submitter: Some("someone".into()),
            ..all.clone()
        })
        .await,
        keys(&[("2024-03-13", "2403.00004")])
    );
    assert_eq!(
        page(FeedQuery {
            days: Some((day("2024-03-13"), day("2024-03-15"))),
            submitter: Some("akhaliq".into()),
            ..all.clone()
        })
        .await,
        keys(&[
            ("2024-03-15", "2403.00001"),
            ("2024-03-15", "hep-th/9901001"),
            ("2024-03-13", "2403.00003"),
        ])
    );
    assert!(
        page(FeedQuery {
            days: Some((day("2024-03-14"), day("2024-03-14"))),
            ..all
        })
        .await
        .is_empty()
    );

    // Paging papers by id with the last id as the cursor visits each paper once, newest first.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let papers = store.papers_page(cursor.clone(), 2).await.unwrap();
        assert!(papers.len() <= 2);
        let Some(last) = papers.last() else { break };
        cursor = Some(last.id.clone());
        seen.extend(papers.iter().map(|p| p.id.to_string()));
    }
    assert_eq!(
        seen,
        [
            "hep-th/9901001",
            "2403.00004",
            "2403.00003",
            "2403.00002",
            "2403.00001"
        ]
    );
}

/// The watermark feed for derived data, and stored vectors that follow the paper's text.
async fn check_changes_and_embeddings(store: &dyn Store) {
    let all = store.papers_changed_since(0, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(
        all.windows(2).all(|w| w[0].change_seq <= w[1].change_seq),
        "change order"
    );
    let newest = all.last().unwrap().change_seq;
    assert!(
        store
            .papers_changed_since(newest, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The first batch wrote three papers in one change: a page never splits a change.
    let paged = store.papers_changed_since(0, 1).await.unwrap();
    let first_seq = paged[0].change_seq;
    assert!(paged.iter().all(|c| c.change_seq == first_seq));
    let whole = all.iter().filter(|c| c.change_seq == first_seq).count();
    assert_eq!(paged.len(), whole, "a page ends with a whole change");
    let rest = store.papers_changed_since(first_seq, 1).await.unwrap();
    assert!(rest.iter().all(|c| c.change_seq > first_seq));

    const MODEL: &str = "test-model";
    assert_eq!(store.count_embedding_backlog(MODEL).await.unwrap(), 4);
    let jobs = store.embedding_backlog(MODEL, 2).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let first = store.get_paper(&jobs[0].id).await.unwrap().unwrap();
    assert_eq!(jobs[0].text, first.embedding_text());
    assert_eq!(jobs[0].text_hash, first.text_fingerprint());
    let vectors = jobs
        .iter()
        .map(|j| crate::PaperVector {
            id: j.id.clone(),
            text_hash: j.text_hash,
            vector: vec![0.25, -1.5, 3.0],
        })
        .collect();
    store.put_embeddings(MODEL, vectors).await.unwrap();
    assert_eq!(store.count_embedding_backlog(MODEL).await.unwrap(), 2);
    assert_eq!(
        store.count_embedding_backlog("other-model").await.unwrap(),
        4
    );
    let stored = store.embeddings(MODEL).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].vector, [0.25, -1.5, 3.0]);
    // By id: only the asked-for papers that have a vector, none for unknown ids.
    let asked = [
        jobs[1].id.clone(),
        ArxivId::parse("2101.99999").unwrap(),
        all.iter()
            .map(|c| c.paper.id.clone())
            .find(|id| *id != jobs[0].id && *id != jobs[1].id)
            .unwrap(),
    ];
    let some = store.embeddings_of(MODEL, &asked).await.unwrap();
    assert_eq!(
        some.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
        [jobs[1].id.clone()]
    );
    assert_eq!(some[0].text_hash, jobs[1].text_hash);
    assert!(store.embeddings_of(MODEL, &[]).await.unwrap().is_empty());

    // A vector for text that is no longer current is refused, and a text change makes the
    // paper's vector stale.
    store
        .put_embeddings(
            MODEL,
            vec![crate::PaperVector {
                id: jobs[0].id.clone(),
                text_hash: jobs[0].text_hash ^ 1,
                vector: vec![9.0],
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        store.embeddings(MODEL).await.unwrap()[0].vector,
        [0.25, -1.5, 3.0]
    );
    let mut v3 = NewPaper::new(
        jobs[0].id.clone(),
        "Retitled".into(),
        "New text.".into(),
        vec![],
    );
    v3.versions = vec![PaperVersion {
        number: 9,
        submitted_at: None,
    }];
    store
        .upsert_papers(vec![v3], WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!(
        store.embeddings(MODEL).await.unwrap().len(),
        1,
        "the stale vector is not served"
    );
    assert_eq!(store.count_embedding_backlog(MODEL).await.unwrap(), 3);
    let changed = store.papers_changed_since(newest, 100).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].paper.title, "Retitled");
}

fn user(name: &str, admin: bool) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: paperfeed_core::EmailAddress::parse(&format!("{name}@example.org")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: admin,
        created_at: chrono::Utc::now(),
    }
}

/// Accounts, sessions, tokens, votes, comments and submissions.
async fn check_community(store: &dyn Store) {
    use crate::{NewComment, NewSession, StoreError};
    use chrono::{Duration, Utc};

    // Accounts: names and emails are unique without regard to case.
    let ada = store.create_user(user("ada", false)).await.unwrap();
    let bob = store.create_user(user("bob", false)).await.unwrap();
    let mod_ = store.create_user(user("moderator", true)).await.unwrap();
    assert!(mod_.is_admin && !ada.is_admin);
    let mut twin = user("ADA", false);
    twin.email = paperfeed_core::EmailAddress::parse("other@example.org").unwrap();
    assert!(matches!(
        store.create_user(twin).await,
        Err(StoreError::Conflict { field: "username" })
    ));
    let mut same_mail = user("ada2", false);
    same_mail.email = paperfeed_core::EmailAddress::parse("ADA@example.org").unwrap();
    assert!(matches!(
        store.create_user(same_mail).await,
        Err(StoreError::Conflict { field: "email" })
    ));
    assert_eq!(store.user_by_name("Ada").await.unwrap().unwrap().id, ada.id);
    assert!(store.user_by_name("nobody").await.unwrap().is_none());

    // Sessions: found by hash until they expire; a password change ends the others.
    let now = Utc::now();
    for id in ["s1", "s2"] {
        store
            .create_session(NewSession {
                id_hash: id.into(),
                user: ada.id,
                csrf_token: format!("csrf-{id}"),
                created_at: now,
                expires_at: now + Duration::days(1),
            })
            .await
            .unwrap();
    }
    let s = store.session("s1", now).await.unwrap().unwrap();
    assert_eq!((s.user.id, s.csrf_token.as_str()), (ada.id, "csrf-s1"));
    assert!(
        store
            .session("s1", now + Duration::days(2))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    store
        .set_password_hash(ada.id, "$argon2id$new".into(), Some("s1".into()))
        .await
        .unwrap();
    assert!(store.session("s1", now).await.unwrap().is_some());
    assert!(
        store.session("s2", now).await.unwrap().is_none(),
        "other sessions end"
    );
    assert_eq!(
        store
            .user_by_name("ada")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    store.delete_session("s1").await.unwrap();
    assert!(store.session("s1", now).await.unwrap().is_none());

    // API tokens: found by hash, listed, revoked only by their owner.
    let token = store
        .create_api_token(bob.id, "script".into(), "hash-b".into())
        .await
        .unwrap();
    assert_eq!(
        store.user_by_api_token("hash-b").await.unwrap().unwrap().id,
        bob.id
    );
    assert_eq!(store.api_tokens(bob.id).await.unwrap().len(), 1);
    assert!(!store.revoke_api_token(ada.id, token.id).await.unwrap());
    assert!(store.revoke_api_token(bob.id, token.id).await.unwrap());
    assert!(store.user_by_api_token("hash-b").await.unwrap().is_none());

    // Votes: imported + local; one per user however often and however concurrently cast.
    let id = ArxivId::parse("2403.00003").unwrap();
    let imported = store.get_paper(&id).await.unwrap().unwrap().upvotes;
    let seq = store.change_seq().await.unwrap();
    let votes = (0..100).map(|_| store.set_vote(ada.id, &id, true));
    for outcome in futures_util::future::join_all(votes).await {
        assert!(outcome.unwrap().unwrap().voted);
    }
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().upvotes,
        imported + 1,
        "100 concurrent votes by one user count once"
    );
    assert!(
        store.change_seq().await.unwrap() > seq,
        "a vote moves change_seq"
    );
    assert!(store.has_voted(ada.id, &id).await.unwrap());
    let outcome = store.set_vote(bob.id, &id, true).await.unwrap().unwrap();
    assert_eq!(outcome.upvotes, imported + 2);
    let outcome = store.set_vote(bob.id, &id, false).await.unwrap().unwrap();
    assert_eq!((outcome.upvotes, outcome.voted), (imported + 1, false));
    let again = store.set_vote(bob.id, &id, false).await.unwrap().unwrap();
    assert_eq!(
        again.upvotes,
        imported + 1,
        "withdrawing twice withdraws once"
    );
    assert!(
        store
            .set_vote(ada.id, &ArxivId::parse("2403.99999").unwrap(), true)
            .await
            .unwrap()
            .is_none()
    );
    // Re-ingesting the paper with new imported counts keeps the local votes on top.
    let refreshed = featured("2403.00003", "Next day", "2024-03-13", 10);
    store
        .upsert_papers(vec![refreshed], WriteMode::Commit)
        .await
        .unwrap();
    let p = store.get_paper(&id).await.unwrap().unwrap();
    assert_eq!(p.upvotes, 11, "10 imported + 1 local");
    let base = p.num_comments;

    // Comments: counted while visible; only the author edits or deletes; admins hide.
    let new = |author, body: &str| NewComment {
        paper: id.clone(),
        author,
        body: body.into(),
        created_at: Utc::now(),
    };
    let c1 = store
        .add_comment(new(ada.id, "**first**"))
        .await
        .unwrap()
        .unwrap();
    let c2 = store
        .add_comment(new(bob.id, "<script>x</script>"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c2.body, "<script>x</script>", "stored verbatim");
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().num_comments,
        base + 2
    );
    assert!(
        !store
            .edit_comment(c1.id, bob.id, "hijacked".into())
            .await
            .unwrap()
    );
    assert!(!store.delete_comment(c1.id, bob.id).await.unwrap());
    assert!(
        store
            .edit_comment(c1.id, ada.id, "edited".into())
            .await
            .unwrap()
    );
    assert_eq!(store.comment(c1.id).await.unwrap().unwrap().body, "edited");
    assert!(store.set_comment_hidden(c2.id, true).await.unwrap());
    assert!(
        !store.set_comment_hidden(c2.id, true).await.unwrap(),
        "already hidden"
    );
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().num_comments,
        base + 1
    );
    let listed = store.comments(&id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[1].hidden);
    assert_eq!(listed[0].author.as_str(), "ada");
    assert!(store.delete_comment(c1.id, ada.id).await.unwrap());
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().num_comments,
        base
    );
    assert!(
        store
            .add_comment(NewComment {
                paper: ArxivId::parse("2403.99999").unwrap(),
                ..new(ada.id, "x")
            })
            .await
            .unwrap()
            .is_none()
    );

    // Submissions feature a stored paper on a day, once.
    let on = Featuring {
        date: day("2024-03-20"),
        submitter: Some(Submitter {
            name: "bob".into(),
            fullname: None,
        }),
    };
    assert!(store.feature_paper(&id, on.clone()).await.unwrap());
    assert!(!store.feature_paper(&id, on.clone()).await.unwrap());
    let p = store.get_paper(&id).await.unwrap().unwrap();
    assert!(p.featured.iter().any(|f| f.date == day("2024-03-20")));
    assert!(
        !store
            .feature_paper(&ArxivId::parse("2403.99999").unwrap(), on)
            .await
            .unwrap()
    );
}

/// A harvest position is written in the transaction of its batch: both or neither.
async fn harvest_positions_travel_with_their_batch(store: &dyn Store) {
    use UpsertOutcome::{New, Unchanged, Updated};
    const SOURCE: &str = "oai http://127.0.0.1/oai set=cs";
    assert_eq!(store.harvest_position(SOURCE).await.unwrap(), None);
    let at = |cursor: &str| HarvestPosition {
        cursor: Some(cursor.into()),
        last_day: None,
    };
    let page = vec![
        featured("1603.00001", "Harvested", "2016-03-09", 0),
        featured("1603.00002", "Harvested too", "2016-03-09", 0),
    ];
    let dry = store
        .upsert_harvest_batch(SOURCE, page.clone(), at("tok|1001"), WriteMode::DryRun)
        .await
        .unwrap();
    assert_eq!(dry, [New, New]);
    assert_eq!(
        store.harvest_position(SOURCE).await.unwrap(),
        None,
        "a dry run keeps no position"
    );
    assert!(
        store
            .get_paper(&ArxivId::parse("1603.00001").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let outcomes = store
        .upsert_harvest_batch(SOURCE, page.clone(), at("tok|1001"), WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!(outcomes, [New, New]);
    assert_eq!(
        store.harvest_position(SOURCE).await.unwrap(),
        Some(at("tok|1001"))
    );
    assert_eq!(
        store.harvest_position("another source").await.unwrap(),
        None,
        "positions are kept per source"
    );
    // Replaying a page after a crash repeats nothing.
    let outcomes = store
        .upsert_harvest_batch(SOURCE, page, at("tok|1001"), WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!(outcomes, [Unchanged, Unchanged]);
    // The last (even empty) page clears the cursor and records the day covered.
    let done = HarvestPosition {
        cursor: None,
        last_day: Some(day("2016-03-09")),
    };
    let mut v2 = featured("1603.00001", "Harvested, revised", "2016-03-09", 0);
    v2.versions = vec![PaperVersion {
        number: 2,
        submitted_at: None,
    }];
    assert_eq!(
        store
            .upsert_harvest_batch(SOURCE, vec![v2], done.clone(), WriteMode::Commit)
            .await
            .unwrap(),
        [Updated]
    );
    assert_eq!(store.harvest_position(SOURCE).await.unwrap(), Some(done));
    assert_eq!(
        store
            .upsert_harvest_batch(SOURCE, vec![], at("again"), WriteMode::Commit)
            .await
            .unwrap(),
        []
    );
    assert_eq!(
        store.harvest_position(SOURCE).await.unwrap(),
        Some(at("again"))
    );
}
