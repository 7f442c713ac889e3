//! The storage contract and what several nodes on one database need, against a real
//! PostgreSQL server: a fresh database per test (see `crate::testing`).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, TimeZone as _, Utc};
use paperfeed_core::{ArxivId, NewPaper};

use super::PostgresStore;
use crate::testing::TestDatabase;
use crate::{MailStore, NewSubscriber, NewUser, Store, StoreError, WriteMode};

async fn fresh() -> Option<(TestDatabase, PostgresStore)> {
    let db = TestDatabase::create().await?;
    let store = PostgresStore::connect(db.url()).await.unwrap();
    Some((db, store))
}

fn paper(id: &str, title: &str) -> NewPaper {
    NewPaper::new(
        ArxivId::parse(id).unwrap(),
        title.into(),
        "A".into(),
        vec![],
    )
}

#[tokio::test]
async fn the_store_contract_holds_on_postgres() {
    let Some((_db, store)) = fresh().await else {
        return;
    };
    crate::run_store_contract(&store).await;
}

#[tokio::test]
async fn the_mail_outbox_contract_holds_on_postgres() {
    let Some((_db, store)) = fresh().await else {
        return;
    };
    crate::run_mail_contract(&store).await;
}

#[tokio::test]
async fn the_digest_topics_contract_holds_on_postgres() {
    let Some((_db, store)) = fresh().await else {
        return;
    };
    crate::run_digest_topics_contract(&store).await;
}

#[tokio::test]
async fn the_paper_index_contract_holds_on_postgres() {
    let Some((_db, store)) = fresh().await else {
        return;
    };
    crate::run_paper_index_contract(&store).await;
}

#[tokio::test]
async fn two_nodes_opening_a_new_database_at_once_migrate_it_once() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let opens = (0..4).map(|_| PostgresStore::connect(db.url()));
    for store in futures_util::future::join_all(opens).await {
        store.unwrap();
    }
    let store = PostgresStore::connect(db.url()).await.unwrap();
    assert_eq!(store.stats().await.unwrap().papers, 0);
}

#[tokio::test]
async fn a_database_from_a_newer_paperfeed_is_refused_with_a_reason() {
    let Some((db, store)) = fresh().await else {
        return;
    };
    let client = store.client().await.unwrap();
    client
        .batch_execute("insert into schema_migrations (version, applied_at) values (999, now())")
        .await
        .unwrap();
    let err = PostgresStore::connect(db.url()).await.unwrap_err();
    assert!(err.to_string().contains("upgrade paperfeed"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_an_open_error_naming_it_without_its_password() {
    // Port 9 (discard) on loopback: nothing listens there.
    let err = PostgresStore::connect("postgres://u:hunter2@127.0.0.1:9/x")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{text}");
    assert!(text.contains("postgres://u:***@127.0.0.1:9/x"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn many_workers_on_two_nodes_never_claim_the_same_digest_job_twice() {
    let Some((db, node_a)) = fresh().await else {
        return;
    };
    let node_b = PostgresStore::connect(db.url()).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap();
    for i in 0..60 {
        node_a
            .upsert_subscriber(
                NewSubscriber {
                    email: paperfeed_core::EmailAddress::parse(&format!("reader{i}@example.test"))
                        .unwrap(),
                    frequency: paperfeed_core::Frequency::Daily,
                    topics: vec![],
                    papers_per_digest: 5,
                    confirmed: true,
                },
                now,
            )
            .await
            .unwrap();
    }
    // Both nodes queue the same period: one job per subscriber.
    let (a, b) = tokio::join!(
        node_a.queue_digests(paperfeed_core::Frequency::Daily, "2026-11-30", now),
        node_b.queue_digests(paperfeed_core::Frequency::Daily, "2026-11-30", now)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 60);
    let nodes = [Arc::new(node_a), Arc::new(node_b)];
    let workers = (0..16).map(|w| {
        let store = Arc::clone(&nodes[w % 2]);
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            let claimer = store
                .register_claimer(&format!("worker {w}"), now)
                .await
                .unwrap();
            while let Some(job) = store
                .claim_digest(&claimer, "2026-11-30", now, now + Duration::minutes(5))
                .await
                .unwrap()
            {
                assert!(
                    store
                        .finish_digest(job.id, &job.claim_token, vec![], now)
                        .await
                        .unwrap()
                );
                claimed.push(job.subscriber.id);
            }
            store.release_claimer(claimer).await.unwrap();
            claimed
        })
    });
    let mut all = Vec::new();
    for worker in futures_util::future::join_all(workers).await {
        all.extend(worker.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 60, "every job claimed once: {all:?}");
    assert_eq!(distinct.len(), 60, "no job claimed twice");
    let counts = nodes[0].digest_counts("2026-11-30").await.unwrap();
    assert_eq!((counts.sent, counts.queued, counts.claimed), (60, 0, 0));
}

#[tokio::test]
async fn votes_by_one_user_through_two_nodes_at_once_count_once() {
    let Some((db, node_a)) = fresh().await else {
        return;
    };
    let node_b = PostgresStore::connect(db.url()).await.unwrap();
    let mut p = paper("2403.00001", "Voted on");
    p.upvotes = Some(7);
    node_a
        .upsert_papers(vec![p], WriteMode::Commit)
        .await
        .unwrap();
    let user = node_a
        .create_user(NewUser {
            username: paperfeed_core::Username::parse("ada").unwrap(),
            email: paperfeed_core::EmailAddress::parse("ada@example.org").unwrap(),
            password_hash: "x".into(),
            is_admin: false,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    let id = ArxivId::parse("2403.00001").unwrap();
    let votes = (0..40).map(|i| {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        node.set_vote(user.id, &id, true)
    });
    for outcome in futures_util::future::join_all(votes).await {
        assert!(outcome.unwrap().unwrap().voted);
    }
    assert_eq!(node_b.get_paper(&id).await.unwrap().unwrap().upvotes, 8);
    // And withdrawn at once through both: once.
    let (a, b) = tokio::join!(
        node_a.set_vote(user.id, &id, false),
        node_b.set_vote(user.id, &id, false)
    );
    assert_eq!(a.unwrap().unwrap().upvotes, 7);
    assert_eq!(b.unwrap().unwrap().upvotes, 7);
    assert_eq!(node_a.get_paper(&id).await.unwrap().unwrap().upvotes, 7);
}

#[tokio::test]
async fn the_change_watermark_never_skips_a_paper_under_concurrent_writers() {
    let Some((db, store)) = fresh().await else {
        return;
    };
    const WRITERS: usize = 6;
    const BATCHES: usize = 15;
    let writers = (0..WRITERS).map(|w| {
        let url = db.url().to_owned();
        tokio::spawn(async move {
            // Each writer is a node of its own.
            let node = PostgresStore::connect(&url).await.unwrap();
            for b in 0..BATCHES {
                let batch = (0..3)
                    .map(|k| paper(&format!("2501.{:05}", w * 1000 + b * 10 + k), "T"))
                    .collect();
                node.upsert_papers(batch, WriteMode::Commit).await.unwrap();
            }
        })
    });
    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        for w in futures_util::future::join_all(writers).await {
            w.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    // An indexer following the watermark while the writers run, as serve's does, until the
    // writers are done and it has read everything after its watermark.
    let reader = async {
        let mut watermark = 0;
        let mut seen = HashSet::new();
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let page = store.papers_changed_since(watermark, 7).await.unwrap();
            for changed in &page {
                assert!(changed.change_seq > watermark);
                seen.insert(changed.paper.id.to_string());
            }
            match page.last() {
                Some(last) => watermark = last.change_seq,
                None if finished => break,
                None => tokio::task::yield_now().await,
            }
        }
        seen
    };
    let ((), seen) = tokio::join!(writers, reader);
    let stored = store.stats().await.unwrap().papers as usize;
    assert_eq!(stored, WRITERS * BATCHES * 3);
    assert_eq!(
        seen.len(),
        stored,
        "the reader's watermark moved past {} papers committed behind it",
        stored - seen.len()
    );
}

#[tokio::test]
async fn two_nodes_ingesting_the_same_paper_at_once_both_merge() {
    let Some((db, node_a)) = fresh().await else {
        return;
    };
    let node_b = PostgresStore::connect(db.url()).await.unwrap();
    for round in 0..10 {
        let id = format!("2502.{round:05}");
        let mut from_a = paper(&id, "Title");
        from_a.categories = vec!["cs.CL".into()];
        let mut from_b = paper(&id, "Title");
        from_b.upvotes = Some(42);
        let (a, b) = tokio::join!(
            node_a.upsert_papers(vec![from_a], WriteMode::Commit),
            node_b.upsert_papers(vec![from_b], WriteMode::Commit)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a[0] == paperfeed_core::UpsertOutcome::New
                || b[0] == paperfeed_core::UpsertOutcome::New
        );
        let p = node_a
            .get_paper(&ArxivId::parse(&id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.categories, ["cs.CL"], "node a's record merged");
        assert_eq!(p.upvotes, 42, "node b's record merged");
    }
}

#[tokio::test]
async fn several_nodes_loading_the_same_files_at_once_all_succeed_with_one_copy_each() {
    let Some((db, store)) = fresh().await else {
        return;
    };
    let loads = (0..4).map(|node| {
        let url = db.url().to_owned();
        tokio::spawn(async move {
            let node_store = PostgresStore::connect(&url).await.unwrap();
            let mut new = 0;
            for b in 0..5 {
                // Each node walks the files in its own order, as restarts and retries would.
                let b = (b + node) % 5;
                let batch = (0..20)
                    .map(|k| {
                        let mut p = paper(&format!("2503.{:05}", b * 100 + k), "Loaded");
                        p.upvotes = Some(i64::from(node));
                        p
                    })
                    .collect();
                let outcomes = node_store
                    .upsert_papers(batch, WriteMode::Commit)
                    .await
                    .unwrap();
                new += outcomes
                    .iter()
                    .filter(|o| **o == paperfeed_core::UpsertOutcome::New)
                    .count();
            }
            new
        })
    });
    let mut new = 0;
    for load in futures_util::future::join_all(loads).await {
        new += load.unwrap();
    }
    assert_eq!(new, 100, "each paper is new to exactly one node");
    assert_eq!(store.stats().await.unwrap().papers, 100);
    // Every node's record was merged: the most upvotes any node said.
    let p = store
        .get_paper(&ArxivId::parse("2503.00001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.upvotes, 3);
}
