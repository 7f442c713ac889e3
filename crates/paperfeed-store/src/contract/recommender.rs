//! The contract of the recommender's controls and seeds, and of the one read of a reader's
//! paper signals.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{Duration, TimeZone, Utc};
use paperfeed_core::ArxivId;

use super::featured;
use crate::{PaperSignal, RecommenderSettings, SeedAdded, SeenReason, Store, UserId, WriteMode};

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

pub(super) fn reader(name: &str) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: paperfeed_core::EmailAddress::parse(&format!("{name}@example.com")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: false,
        created_at: Utc::now(),
    }
}

fn papers_of(signals: &[PaperSignal]) -> Vec<&str> {
    signals.iter().map(|s| s.paper.as_str()).collect()
}

/// Controls are per reader and replaced whole; seeds are unique, bounded, newest first and go
/// with a reset; the signal read gathers every kind of paper signal newest first, bounded,
/// for one reader only; none of it moves the change counter.
pub(super) async fn check_recommender(store: &dyn Store) {
    let ana = store.create_user(reader("recommend-ana")).await.unwrap();
    let ben = store.create_user(reader("recommend-ben")).await.unwrap();
    let (p1, p2, p3, p4) = (
        id("2406.20001"),
        id("2406.20002"),
        id("2406.20003"),
        id("2406.20004"),
    );
    store
        .upsert_papers(
            vec![
                featured(p1.as_str(), "Seeded one", "2024-06-10", 3),
                featured(p2.as_str(), "Seeded two", "2024-06-10", 2),
                featured(p3.as_str(), "Voted and saved", "2024-06-11", 1),
                featured(p4.as_str(), "Dismissed and opened", "2024-06-11", 0),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let seq_before = store.change_seq().await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 9, 30, 0).unwrap();

    // Controls: none until set, then read back exactly; per reader.
    assert_eq!(store.recommender_settings(ana.id).await.unwrap(), None);
    let mut settings = RecommenderSettings {
        paused: true,
        social_weight: 35,
        recency_days: 14,
        exploration: 10,
        reset_at: None,
        updated_at: t0,
    };
    assert!(
        store
            .set_recommender_settings(ana.id, &settings)
            .await
            .unwrap()
    );
    assert_eq!(
        store.recommender_settings(ana.id).await.unwrap(),
        Some(settings.clone())
    );
    settings.paused = false;
    settings.social_weight = 0;
    settings.updated_at = t0 + Duration::minutes(1);
    store
        .set_recommender_settings(ana.id, &settings)
        .await
        .unwrap();
    assert_eq!(
        store.recommender_settings(ana.id).await.unwrap(),
        Some(settings.clone()),
        "a second write replaces the first"
    );
    assert_eq!(store.recommender_settings(ben.id).await.unwrap(), None);
    assert!(
        !store
            .set_recommender_settings(UserId(ben.id.0 + 1000), &settings)
            .await
            .unwrap(),
        "no such user"
    );

    // Seeds: added once, only of stored papers, at most `max`, newest first, removable.
    assert_eq!(
        store.add_seed(ana.id, &p1, t0, 2).await.unwrap(),
        SeedAdded::Added
    );
    assert_eq!(
        store
            .add_seed(ana.id, &p1, t0 + Duration::hours(1), 2)
            .await
            .unwrap(),
        SeedAdded::AlreadyThere
    );
    assert_eq!(
        store
            .add_seed(ana.id, &id("2406.29999"), t0, 2)
            .await
            .unwrap(),
        SeedAdded::NoSuchPaper
    );
    assert_eq!(
        store
            .add_seed(ana.id, &p2, t0 + Duration::minutes(5), 2)
            .await
            .unwrap(),
        SeedAdded::Added
    );
    assert_eq!(
        store.add_seed(ana.id, &p3, t0, 2).await.unwrap(),
        SeedAdded::Full
    );
    assert_eq!(
        store.add_seed(ben.id, &p3, t0, 2).await.unwrap(),
        SeedAdded::Added,
        "the limit is per reader"
    );
    let seeds = store.seeds(ana.id).await.unwrap();
    assert_eq!(
        seeds.iter().map(|s| s.paper.as_str()).collect::<Vec<_>>(),
        [p2.as_str(), p1.as_str()]
    );
    assert_eq!(seeds[1].added_at, t0, "the first time is kept");
    assert_eq!(
        store.change_seq().await.unwrap(),
        seq_before,
        "controls and seeds move no change counter: no shared page shows them"
    );

    // Every other paper signal, as the features that own them write them.
    store.set_vote(ana.id, &p3, true).await.unwrap();
    store
        .save_paper(ana.id, &p3, t0 + Duration::minutes(10))
        .await
        .unwrap();
    let list = store
        .create_collection(ana.id, "Reading <group>", t0)
        .await
        .unwrap();
    store
        .add_to_collection(
            ana.id,
            list.id,
            &[p1.clone(), p3.clone()],
            t0 + Duration::minutes(20),
        )
        .await
        .unwrap();
    store
        .dismiss_paper(ana.id, &p4, t0 + Duration::minutes(30))
        .await
        .unwrap();
    store
        .mark_seen(
            ana.id,
            std::slice::from_ref(&p4),
            SeenReason::Opened,
            t0 + Duration::minutes(40),
        )
        .await
        .unwrap();
    store
        .mark_seen(
            ana.id,
            std::slice::from_ref(&p2),
            SeenReason::Mailed,
            t0 + Duration::minutes(50),
        )
        .await
        .unwrap();
    store
        .mark_seen(
            ana.id,
            std::slice::from_ref(&p1),
            SeenReason::Opened,
            t0 + Duration::minutes(60),
        )
        .await
        .unwrap();

    let signals = store.reader_signals(ana.id, 100).await.unwrap();
    assert_eq!(signals.settings, Some(settings.clone()));
    assert_eq!(papers_of(&signals.seeds), [p2.as_str(), p1.as_str()]);
    assert_eq!(papers_of(&signals.upvotes), [p3.as_str()]);
    assert_eq!(papers_of(&signals.saved), [p3.as_str()]);
    assert_eq!(signals.saved[0].at, t0 + Duration::minutes(10));
    assert_eq!(
        signals
            .collected
            .iter()
            .map(|c| (c.paper.as_str(), c.collection, c.collection_name.as_str()))
            .collect::<Vec<_>>(),
        [
            (p1.as_str(), list.id, "Reading <group>"),
            (p3.as_str(), list.id, "Reading <group>")
        ]
    );
    assert_eq!(papers_of(&signals.dismissed), [p4.as_str()]);
    assert_eq!(
        papers_of(&signals.opened),
        [p1.as_str(), p4.as_str()],
        "opened papers only (a mailed one is not a signal), newest first seen first"
    );
    assert_eq!(
        signals.opened[1].at,
        t0 + Duration::minutes(30),
        "when it was first seen (dismissed, before it was opened)"
    );

    // Bounded per kind: the newest `limit` of each.
    let one = store.reader_signals(ana.id, 1).await.unwrap();
    assert_eq!(papers_of(&one.seeds), [p2.as_str()]);
    assert_eq!(papers_of(&one.opened), [p1.as_str()]);
    assert_eq!(one.collected.len(), 1);

    // Another reader sees only theirs.
    let bens = store.reader_signals(ben.id, 100).await.unwrap();
    assert_eq!(bens.settings, None);
    assert_eq!(papers_of(&bens.seeds), [p3.as_str()]);
    assert!(bens.upvotes.is_empty() && bens.saved.is_empty() && bens.collected.is_empty());
    assert!(bens.dismissed.is_empty() && bens.opened.is_empty());

    // Removing a seed; a reset forgets the seeds and writes the controls, in one go.
    let seq_before = store.change_seq().await.unwrap();
    assert!(store.remove_seed(ana.id, &p2).await.unwrap());
    assert!(!store.remove_seed(ana.id, &p2).await.unwrap());
    settings.reset_at = Some(t0 + Duration::hours(2));
    settings.updated_at = t0 + Duration::hours(2);
    assert!(store.reset_recommender(ana.id, &settings).await.unwrap());
    assert!(store.seeds(ana.id).await.unwrap().is_empty());
    assert_eq!(
        store.recommender_settings(ana.id).await.unwrap(),
        Some(settings.clone())
    );
    assert_eq!(
        store.seeds(ben.id).await.unwrap().len(),
        1,
        "another reader's seeds stay"
    );
    assert!(
        !store
            .reset_recommender(UserId(ben.id.0 + 1000), &settings)
            .await
            .unwrap()
    );
    let after = store.reader_signals(ana.id, 100).await.unwrap();
    assert_eq!(
        papers_of(&after.saved),
        [p3.as_str()],
        "a reset keeps the library: the reset point says which signals count"
    );

    assert_eq!(store.change_seq().await.unwrap(), seq_before);

    // A seed goes with its account.
    store.delete_user(ben.id).await.unwrap();
    assert!(store.seeds(ben.id).await.unwrap().is_empty());
    assert_eq!(store.recommender_settings(ben.id).await.unwrap(), None);
}
