//! The contract of saved searches: names per reader, the matcher's cursor and its pairs kept
//! once, digests marking matches mailed, webhooks with one delivery per (hook, paper), claims
//! and retries.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{Duration, TimeZone as _, Utc};
use paperfeed_core::ArxivId;

use crate::{
    AttemptOutcome, DeliveryState, NewSavedSearch, SaveOutcome, SavedSearch, SearchMatch, Store,
    UserId,
};

fn reader(name: &str) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: paperfeed_core::EmailAddress::parse(&format!("{name}@example.org")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: false,
        created_at: Utc::now(),
    }
}

fn search(user: UserId, name: &str, query: &str) -> NewSavedSearch {
    NewSavedSearch {
        user,
        name: name.to_owned(),
        query: query.to_owned(),
        mode: "keyword".to_owned(),
        sort: "newest".to_owned(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
    }
}

async fn save(store: &dyn Store, new: NewSavedSearch, max: usize) -> SavedSearch {
    match store.save_search(new, max).await.unwrap() {
        SaveOutcome::Saved(s) => s,
        other => panic!("not saved: {other:?}"),
    }
}

fn id(text: &str) -> ArxivId {
    ArxivId::parse(text).unwrap()
}

/// Saved searches are the reader's own, named uniquely (case-insensitively), bounded in
/// number; matches are recorded once, each new one queues one delivery for the search's hook,
/// and a delivery is claimed by one sender at a time, retried and logged.
pub(super) async fn saved_searches_match_once_and_deliver_once(store: &dyn Store) {
    let ada = store.create_user(reader("saver_ada")).await.unwrap();
    let bob = store.create_user(reader("saver_bob")).await.unwrap();
    let seq = store.change_seq().await.unwrap();

    let diffusion = save(
        store,
        search(ada.id, "Diffusion", "diffusion category:cs.LG"),
        2,
    )
    .await;
    assert_eq!(diffusion.user, ada.id);
    assert_eq!(diffusion.query, "diffusion category:cs.LG");
    assert_eq!(
        (diffusion.mode.as_str(), diffusion.sort.as_str()),
        ("keyword", "newest")
    );
    assert_eq!(
        diffusion.created_seq, seq,
        "saved at the store's change counter"
    );
    assert_eq!(diffusion.webhook_url, None);
    assert_eq!(
        store
            .save_search(search(ada.id, "DIFFUSION", "other"), 2)
            .await
            .unwrap(),
        SaveOutcome::NameTaken,
        "names are unique per reader, case-insensitively"
    );
    let robots = save(store, search(ada.id, "robots", "robot grasping"), 2).await;
    assert_eq!(
        store
            .save_search(search(ada.id, "third", "x"), 2)
            .await
            .unwrap(),
        SaveOutcome::TooMany,
        "the limit per reader holds"
    );
    let bobs = save(store, search(bob.id, "Diffusion", "diffusion"), 2).await;

    let names: Vec<String> = store
        .saved_searches(ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["Diffusion", "robots"], "by name, the reader's own");
    assert_eq!(
        store.saved_search(bob.id, diffusion.id).await.unwrap(),
        None,
        "another reader's search is not found"
    );
    assert!(
        !store
            .rename_saved_search(bob.id, diffusion.id, "mine".into())
            .await
            .unwrap(),
        "nor renamed by them"
    );
    assert!(matches!(
        store
            .rename_saved_search(ada.id, robots.id, "diffusion".into())
            .await,
        Err(crate::StoreError::Conflict { field: "name" })
    ));
    assert!(
        store
            .rename_saved_search(ada.id, robots.id, "Robots".into())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .saved_search(ada.id, robots.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Robots"
    );

    // A webhook on ada's diffusion search.
    let at = |minutes: i64| {
        Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap() + Duration::minutes(minutes)
    };
    assert_eq!(
        store
            .set_webhook(bob.id, diffusion.id, "http://x/".into(), "s".into(), at(0))
            .await
            .unwrap(),
        None,
        "only on one's own search"
    );
    let hook = store
        .set_webhook(
            ada.id,
            diffusion.id,
            "http://127.0.0.1:9/hook".into(),
            "secret-1".into(),
            at(0),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hook.search, diffusion.id);
    assert_eq!(
        store
            .saved_search(ada.id, diffusion.id)
            .await
            .unwrap()
            .unwrap()
            .webhook_url
            .as_deref(),
        Some("http://127.0.0.1:9/hook")
    );

    // The matcher records what it found, once, moving its cursor.
    let cursor = store.match_cursor().await.unwrap();
    let found = vec![
        SearchMatch {
            search: diffusion.id,
            paper: id("2403.00001"),
        },
        SearchMatch {
            search: bobs.id,
            paper: id("2403.00001"),
        },
    ];
    let fresh = store
        .record_matches(cursor, cursor + 5, found.clone(), at(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh, found);
    assert_eq!(store.match_cursor().await.unwrap(), cursor + 5);
    assert_eq!(
        store
            .record_matches(cursor, cursor + 5, found.clone(), at(1))
            .await
            .unwrap(),
        None,
        "a matcher whose cursor moved meanwhile writes nothing"
    );
    let again = store
        .record_matches(
            cursor + 5,
            cursor + 9,
            vec![
                found[0].clone(),
                SearchMatch {
                    search: diffusion.id,
                    paper: id("2403.00002"),
                },
            ],
            at(2),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again,
        [SearchMatch {
            search: diffusion.id,
            paper: id("2403.00002"),
        }],
        "a pair is new once"
    );

    // Digests: the reader's searches with unsettled matches, newest pass first (settling is
    // the digest's business: `digest_topics.rs`).
    let topics = store.digest_matches(ada.id, 10).await.unwrap();
    assert_eq!(topics.len(), 1, "robots matched nothing");
    assert_eq!(topics[0].search.id, diffusion.id);
    assert_eq!(
        topics[0]
            .papers
            .iter()
            .map(ArxivId::as_str)
            .collect::<Vec<_>>(),
        ["2403.00002", "2403.00001"]
    );
    assert_eq!(
        (topics[0].unsettled, topics[0].found_through),
        (2, cursor + 9)
    );
    assert_eq!(store.digest_matches(bob.id, 10).await.unwrap().len(), 1);

    // Deliveries: one per (hook, paper), claimed by one sender at a time.
    let claimed = store.claim_deliveries(at(2), at(4), 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "one per new match of the hooked search");
    assert!(claimed.iter().all(|c| c.delivery.attempts == 1));
    assert!(claimed.iter().all(|c| c.hook.secret == "secret-1"));
    assert!(claimed.iter().all(|c| c.search.id == diffusion.id));
    assert!(
        store
            .claim_deliveries(at(3), at(5), 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed ones wait for their lease"
    );
    let (first, second) = (&claimed[0].delivery, &claimed[1].delivery);
    store
        .finish_delivery(first.id, AttemptOutcome::Delivered { status: 204 }, at(3))
        .await
        .unwrap();
    store
        .finish_delivery(
            second.id,
            AttemptOutcome::Failed {
                status: Some(500),
                error: "server error".into(),
                retry_at: Some(at(10)),
            },
            at(3),
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_deliveries(at(9), at(11), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_deliveries(at(10), at(12), 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].delivery.id, second.id);
    assert_eq!(retried[0].delivery.attempts, 2);
    store
        .finish_delivery(
            second.id,
            AttemptOutcome::Failed {
                status: None,
                error: "connection refused".into(),
                retry_at: None,
            },
            at(11),
        )
        .await
        .unwrap();
    let log = store.webhook_deliveries(ada.id, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    let failed = log.iter().find(|d| d.id == second.id).unwrap();
    assert_eq!(failed.state, DeliveryState::Failed);
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.last_status, None);
    assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
    assert_eq!(failed.last_attempt_at, Some(at(11)));
    let delivered = log.iter().find(|d| d.id == first.id).unwrap();
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.last_status, Some(204));
    assert!(
        store
            .webhook_deliveries(bob.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_deliveries(at(60), at(61), 10)
            .await
            .unwrap()
            .is_empty(),
        "delivered and given-up deliveries are never sent again"
    );

    // Deleting a search removes its matches, hook and deliveries; others are untouched.
    assert!(!store.delete_webhook(bob.id, diffusion.id).await.unwrap());
    assert!(
        !store
            .delete_saved_search(bob.id, diffusion.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_saved_search(ada.id, diffusion.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .webhook_deliveries(ada.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.digest_matches(ada.id, 10).await.unwrap().is_empty());
    assert_eq!(store.saved_searches(ada.id).await.unwrap().len(), 1);
    let everyone = store.searches_to_match().await.unwrap();
    assert_eq!(
        everyone.iter().map(|s| s.id).collect::<Vec<_>>(),
        [robots.id, bobs.id]
    );
    // A match for a search deleted meanwhile is dropped.
    let cursor = store.match_cursor().await.unwrap();
    let fresh = store
        .record_matches(
            cursor,
            cursor + 1,
            vec![SearchMatch {
                search: diffusion.id,
                paper: id("2403.00003"),
            }],
            at(20),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(fresh.is_empty());
}
