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
