//! The contract of follows, the paper index they read and private feed tokens.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use paperfeed_core::{ArxivId, Author, AuthorKey, FollowTarget, IndexKind, NewPaper, Organization};

use crate::{ListingCursor, Store, WriteMode};

fn user(name: &str) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: paperfeed_core::EmailAddress::parse(&format!("{name}@example.org")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: false,
        created_at: Utc::now(),
    }
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, day, 12, 0, 0).unwrap()
}

fn paper(id: &str, day: u32, authors: Vec<Author>, org: Option<&str>) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).unwrap(),
        format!("Paper {id}"),
        "An abstract.".into(),
        authors,
    );
    p.published_at = Some(at(day));
    p.categories = vec!["cs.CL".into()];
    p.organization = org.map(|name| Organization {
        name: name.into(),
        fullname: Some(format!("{name} Inc.")),
    });
    p
}

fn claimed(name: &str, account: &str) -> Author {
    Author {
        name: name.into(),
        user: Some(account.into()),
        hidden: false,
    }
}

fn key(name: &str) -> String {
    AuthorKey::from_name(name).unwrap().as_str().to_owned()
}

fn ids(papers: &[crate::IndexedPaper]) -> Vec<&str> {
    papers.iter().map(|p| p.paper.id.as_str()).collect()
}

/// Follows, the index and feed tokens.
pub(super) async fn check_follows(store: &dyn Store) {
    store
        .upsert_papers(
            vec![
                paper(
                    "2501.10001",
                    1,
                    vec![Author::named("Zoë Müller")],
                    Some("acme"),
                ),
                paper(
                    "2501.10002",
                    3,
                    vec![claimed("Zoe Muller", "zoe"), Author::named("Max Roe")],
                    None,
                ),
                paper(
                    "2501.10003",
                    2,
                    vec![claimed("Z. Müller", "zoe")],
                    Some("acme"),
                ),
                paper("2501.10004", 2, vec![Author::named("Max Roe")], None),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();

    // The index: newest first, each paper once with the keys it matched.
    let zoe = (IndexKind::Author, key("Zoe Muller"));
    let max = (IndexKind::Author, key("Max Roe"));
    let page = store
        .indexed_papers(&[zoe.clone(), max.clone()], None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page), ["2501.10002", "2501.10004", "2501.10001"]);
    assert_eq!(page[0].matched, [zoe.clone(), max.clone()]);
    assert_eq!(page[0].at, at(3));
    assert_eq!(page[1].matched, std::slice::from_ref(&max));
    // Paging with a cursor continues strictly after it.
    let first = store
        .indexed_papers(&[zoe.clone(), max.clone()], None, 1)
        .await
        .unwrap();
    let cursor = ListingCursor {
        at: first[0].at,
        id: first[0].paper.id.clone(),
    };
    let rest = store
        .indexed_papers(&[zoe.clone(), max.clone()], Some(cursor), 10)
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["2501.10004", "2501.10001"]);
    let org = store
        .indexed_papers(&[(IndexKind::Organization, "acme".into())], None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&org), ["2501.10003", "2501.10001"]);

    // Labels say how a key is written; claims link names through accounts.
    let labels = store
        .index_labels(IndexKind::Author, &[key("Zoe Muller")])
        .await
        .unwrap();
    let labels: Vec<(&str, u64)> = labels
        .iter()
        .map(|l| (l.label.as_str(), l.papers))
        .collect();
    assert_eq!(labels, [("Zoe Muller", 1), ("Zoë Müller", 1)]);
    let claims = store.claims_by_authors(&[key("Zoe Muller")]).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].account, "zoe");
    let by_account = store.claims_by_accounts(&["zoe".into()]).await.unwrap();
    let authors: Vec<&str> = by_account.iter().map(|c| c.author.as_str()).collect();
    assert_eq!(authors, [key("Z. Müller"), key("Zoe Muller")]);

    // A later record rewrites the paper's rows: a changed author list moves it.
    store
        .upsert_papers(
            vec![{
                let mut p = paper("2501.10004", 2, vec![Author::named("Ann Lee")], None);
                p.versions = vec![paperfeed_core::PaperVersion {
                    number: 2,
                    submitted_at: None,
                }];
                p
            }],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let max_now = store
        .indexed_papers(std::slice::from_ref(&max), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&max_now), ["2501.10002"]);

    // Follows: idempotent, listed newest first, per reader, and gone with the reader.
    let reader = store.create_user(user("follower")).await.unwrap();
    let other = store.create_user(user("bystander")).await.unwrap();
    let author = FollowTarget::Author(AuthorKey::from_name("Zoe Muller").unwrap());
    let org_target = FollowTarget::Organization("acme".into());
    let now = Utc::now();
    assert!(store.follow(reader.id, &author, now).await.unwrap());
    assert!(!store.follow(reader.id, &author, now).await.unwrap());
    assert!(
        store
            .follow(reader.id, &org_target, now + Duration::seconds(1))
            .await
            .unwrap()
    );
    let follows = store.follows(reader.id).await.unwrap();
    let targets: Vec<&FollowTarget> = follows.iter().map(|f| &f.target).collect();
    assert_eq!(targets, [&org_target, &author]);
    assert!(store.is_following(reader.id, &author).await.unwrap());
    assert!(!store.is_following(other.id, &author).await.unwrap());
    assert!(store.follows(other.id).await.unwrap().is_empty());
    assert!(store.unfollow(reader.id, &org_target).await.unwrap());
    assert!(!store.unfollow(reader.id, &org_target).await.unwrap());
    assert_eq!(store.follows(reader.id).await.unwrap().len(), 1);

    // Feed tokens: stored by hash, found by hash, use noted, revoked per reader.
    let token = store
        .create_feed_token(reader.id, "following".into(), "hash-1".into(), now)
        .await
        .unwrap();
    store
        .create_feed_token(reader.id, "search:7".into(), "hash-2".into(), now)
        .await
        .unwrap();
    assert_eq!(token.scope, "following");
    assert_eq!(token.last_used_at, None);
    let listed = store.feed_tokens(reader.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], token);
    let found = store
        .feed_token_by_hash("hash-1", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.user), (token.id, reader.id));
    let used = found.last_used_at.unwrap();
    assert!((used - now).num_milliseconds().abs() <= 1);
    assert!(
        store
            .feed_token_by_hash("nope", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.revoke_feed_token(other.id, token.id).await.unwrap());
    assert!(store.revoke_feed_token(reader.id, token.id).await.unwrap());
    assert!(
        store
            .feed_token_by_hash("hash-1", now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .revoke_feed_tokens_for_scope(reader.id, "search:7")
            .await
            .unwrap(),
        1
    );
    assert!(store.feed_tokens(reader.id).await.unwrap().is_empty());
}

/// Papers of one batch, every one by `author` and a co-author of its own; ids `2502.1NNNN`.
fn bulk(count: u32, author: &str) -> Vec<NewPaper> {
    (0..count)
        .map(|i| {
            let co = format!("Coauthor Number{i}");
            paper(
                &format!("2502.{:05}", 10_000 + i),
                1 + i % 28,
                vec![Author::named(author), Author::named(&co)],
                None,
            )
        })
        .collect()
}

/// The paper index and big batches (an arXiv snapshot's ingest): whether a backend writes a big
/// batch's index rows with its papers or leaves them for one sorted pass, once
/// `catch_up_paper_index` ran every paper is listed under its authors exactly as a paper written
/// alone is, a changed author list moves the paper, and a second catch-up has nothing to do.
pub async fn run_paper_index_contract(store: &dyn Store) {
    let batch = bulk(300, "Bulk Author");
    store.upsert_papers(batch, WriteMode::Commit).await.unwrap();
    // A small batch after it, while the big one may still wait for its index rows.
    store
        .upsert_papers(
            vec![paper(
                "2502.20001",
                5,
                vec![Author::named("Bulk Author")],
                None,
            )],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    store.catch_up_paper_index().await.unwrap();
    let author = (IndexKind::Author, key("Bulk Author"));
    let listed = store
        .indexed_papers(std::slice::from_ref(&author), None, 500)
        .await
        .unwrap();
    assert_eq!(listed.len(), 301, "every paper of both batches is listed");
    assert_eq!(
        listed
            .iter()
            .filter(|p| p.paper.id.as_str() == "2502.20001")
            .count(),
        1
    );
    let co = (IndexKind::Author, key("Coauthor Number7"));
    assert_eq!(
        ids(&store
            .indexed_papers(std::slice::from_ref(&co), None, 10)
            .await
            .unwrap()),
        ["2502.10007"]
    );
    let category = (IndexKind::Category, "cs.CL".to_owned());
    assert_eq!(
        store
            .indexed_papers(std::slice::from_ref(&category), None, 500)
            .await
            .unwrap()
            .len(),
        301
    );
    assert_eq!(
        store.catch_up_paper_index().await.unwrap(),
        0,
        "nothing is left for a second catch-up"
    );

    // The same batch again with a new first author: the papers move to them.
    store
        .upsert_papers(bulk(300, "Other Author"), WriteMode::Commit)
        .await
        .unwrap();
    store.catch_up_paper_index().await.unwrap();
    let other = (IndexKind::Author, key("Other Author"));
    assert_eq!(
        store
            .indexed_papers(std::slice::from_ref(&other), None, 500)
            .await
            .unwrap()
            .len(),
        300
    );
    assert_eq!(
        ids(&store
            .indexed_papers(std::slice::from_ref(&author), None, 500)
            .await
            .unwrap()),
        ["2502.20001"],
        "the rewritten papers left their former author"
    );
}
