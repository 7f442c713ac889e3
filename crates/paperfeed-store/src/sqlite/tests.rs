//! The contracts on SQLite, and opening a store again.

use paperfeed_core::{ArxivId, NewPaper};
use rusqlite::Connection;

use super::SqliteStore;
use crate::{Store, WriteMode};

#[tokio::test]
async fn the_store_contract_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap();
    crate::run_store_contract(&store).await;
}

#[tokio::test]
async fn the_mail_outbox_contract_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap();
    crate::run_mail_contract(&store).await;
}

#[tokio::test]
async fn the_digest_topics_contract_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap();
    crate::run_digest_topics_contract(&store).await;
}

#[tokio::test]
async fn the_paper_index_contract_holds_on_sqlite_and_a_big_batch_waits_for_one_sorted_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperfeed.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    crate::run_paper_index_contract(&store).await;

    // The deferral itself: a big batch leaves the index alone and marks it behind; a batch of
    // the daily feed's size is indexed as it is written.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperfeed.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    let papers = |from: u32, count: u32| -> Vec<NewPaper> {
        (from..from + count)
            .map(|i| {
                NewPaper::new(
                    ArxivId::parse(&format!("2502.{i:05}")).unwrap(),
                    "T".into(),
                    "A".into(),
                    vec![paperfeed_core::Author::named("Ada Lovelace")],
                )
            })
            .collect()
    };
    let rows = |path: &std::path::Path| -> (i64, i64) {
        let conn = Connection::open(path).unwrap();
        let keys = conn
            .query_row("select count(*) from paper_keys", [], |r| r.get(0))
            .unwrap();
        let pending = conn
            .query_row(
                "select value from store_counters where name = 'paper_index_pending_after'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (keys, pending)
    };
    store
        .upsert_papers(papers(10_000, 10), WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!(rows(&path), (10, -1), "a small batch is indexed at once");
    store
        .upsert_papers(
            papers(20_000, super::follows::DEFER_INDEX_FROM as u32),
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let (keys, pending) = rows(&path);
    assert_eq!(keys, 10, "a big batch waits");
    assert!(pending >= 0);
    assert_eq!(
        crate::FollowStore::catch_up_paper_index(&store)
            .await
            .unwrap(),
        super::follows::DEFER_INDEX_FROM as u64
    );
    assert_eq!(
        rows(&path),
        (10 + super::follows::DEFER_INDEX_FROM as i64, -1)
    );
}

#[tokio::test]
async fn reopening_an_existing_store_keeps_its_papers_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperfeed.sqlite3");
    {
        let store = SqliteStore::open(&path).unwrap();
        let p = NewPaper::new(
            ArxivId::parse("2309.11523").unwrap(),
            "T".into(),
            "A".into(),
            vec![],
        );
        store
            .upsert_papers(vec![p], WriteMode::Commit)
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.stats().await.unwrap().papers, 1);
}

#[tokio::test]
async fn a_store_from_a_newer_paperfeed_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperfeed.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "insert into schema_migrations (version, applied_at) values (999, 'x')",
        [],
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("upgrade paperfeed"), "{err}");
}

#[test]
fn a_cached_statement_is_not_planned_again_each_time_it_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paperfeed.sqlite3");
    drop(SqliteStore::open(&path).unwrap());
    let conn = super::open_connection(&path, true).unwrap();
    // What a reader's page reads: their session, mutes and saved papers among the page's.
    let reads = [
        (
            "select u.id, s.csrf_token from sessions s join users u on u.id = s.user_id
              where s.id_hash = ?1 and s.expires_at > ?2",
            2,
        ),
        (
            "select id, kind, text from mutes where user_id = ?1 order by id",
            1,
        ),
        (
            "select s.paper_id from json_each(?2) j
               join saved_papers s on s.user_id = ?1 and s.paper_id = j.value order by j.key",
            2,
        ),
    ];
    for (sql, params) in reads {
        for user in [1, 2, 1, 7] {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let mut rows = if params == 1 {
                stmt.query([user]).unwrap()
            } else {
                stmt.query(rusqlite::params![user, format!(r#"["x{user}"]"#)])
                    .unwrap()
            };
            assert!(rows.next().unwrap().is_none());
        }
        let stmt = conn.prepare_cached(sql).unwrap();
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "bound values never make a cached statement be parsed and planned again: {sql}"
        );
    }
}
