use async_trait::async_trait;
use chrono::Utc;
use paperfeed_core::{ArxivId, NewPaper, ReadingState};
use paperfeed_store::{LibraryStore, Store, WriteMode};

use super::import::{ImportConfig, ImportOutcome, ImportRequest, import_into_collection};
use super::*;
use crate::metrics::NoMetrics;
use crate::submit::{LookupError, PaperLookup};
use crate::test_support::{paper, sqlite_store, user};

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

/// arXiv as the tests need it: knows one paper, fails for one id, knows nothing else.
struct Arxiv;

#[async_trait]
impl PaperLookup for Arxiv {
    async fn lookup(&self, wanted: &ArxivId) -> Result<Option<NewPaper>, LookupError> {
        match wanted.as_str() {
            "2501.00042" => Ok(Some(paper("2501.00042", "From arXiv", "Fetched."))),
            "2501.00500" => Err("arXiv answered 503".into()),
            _ => Ok(None),
        }
    }
}

#[tokio::test]
async fn saving_notes_and_states_are_the_readers_own_and_bounded() {
    let (_dir, store) = sqlite_store().await;
    store
        .upsert_papers(vec![paper("2501.00001", "One", "A.")], WriteMode::Commit)
        .await
        .unwrap();
    let ada = user(&store, "ada", false).await;
    let now = Utc::now();
    assert!(
        save_paper(&store, &ada, &id("2501.00001"), now)
            .await
            .unwrap()
    );
    assert!(
        !save_paper(&store, &ada, &id("2501.00001"), now)
            .await
            .unwrap()
    );
    assert!(matches!(
        save_paper(&store, &ada, &id("2501.09999"), now).await,
        Err(LibraryError::NoSuchPaper(_))
    ));
    let long = "x".repeat(paperfeed_core::Note::MAX_CHARS + 1);
    let err = update_saved_paper(&store, &ada, &id("2501.00001"), None, Some(&long), now)
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("note"));
    update_saved_paper(
        &store,
        &ada,
        &id("2501.00001"),
        Some(ReadingState::Read),
        Some("Good **paper**\r\n"),
        now,
    )
    .await
    .unwrap();
    let saved = store
        .saved_paper(ada.id, &id("2501.00001"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (saved.state, saved.note.as_str()),
        (ReadingState::Read, "Good **paper**")
    );
}

#[tokio::test]
async fn a_private_collection_is_no_such_collection_to_anyone_but_its_owner() {
    let (_dir, store) = sqlite_store().await;
    let ada = user(&store, "ada", false).await;
    let bob = user(&store, "bob", false).await;
    let now = Utc::now();
    assert_eq!(
        create_collection(&store, &ada, "  ", now)
            .await
            .unwrap_err()
            .field(),
        Some("name")
    );
    let c = create_collection(&store, &ada, "Reading group", now)
        .await
        .unwrap();
    assert!(visible_collection(&store, Some(ada.id), c.id).await.is_ok());
    for viewer in [None, Some(bob.id)] {
        assert!(matches!(
            visible_collection(&store, viewer, c.id).await,
            Err(LibraryError::NoSuchCollection)
        ));
    }
    assert!(matches!(
        change_collection(&store, &bob, c.id, None, Some(true), now).await,
        Err(LibraryError::NoSuchCollection)
    ));
    change_collection(&store, &ada, c.id, None, Some(true), now)
        .await
        .unwrap();
    assert!(visible_collection(&store, None, c.id).await.unwrap().public);
}

#[tokio::test]
async fn an_import_reports_every_entry_and_fetches_what_the_hub_lacks() {
    let (_dir, store) = sqlite_store().await;
    store
        .upsert_papers(
            vec![
                paper("2501.00001", "One", "A."),
                paper("2501.00002", "Two", "B."),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let ada = user(&store, "ada", false).await;
    let now = Utc::now();
    let c = create_collection(&store, &ada, "Imported", now)
        .await
        .unwrap();
    add_to_collection(&store, &ada, c.id, &id("2501.00002"), now)
        .await
        .unwrap();
    let upload = "2501.00001\nhttps://arxiv.org/abs/2501.00002v2\n2501.00042\n2501.00001\nnonsense\n\
                  2501.00404\n2501.00500\n2501.00600\n";
    let report = import_into_collection(ImportRequest {
        store: &store,
        lookup: Some(&Arxiv),
        metrics: &NoMetrics,
        config: ImportConfig {
            max_entries: 100,
            max_lookups: 3,
        },
        user: &ada,
        collection: c.id,
        upload: upload.as_bytes(),
        now,
    })
    .await
    .unwrap();
    let outcomes: Vec<_> = report
        .lines
        .iter()
        .map(|l| (l.label.as_str(), l.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("line 1", ImportOutcome::Added),
            ("line 2", ImportOutcome::AlreadyThere),
            ("line 3", ImportOutcome::AddedFromArxiv),
            ("line 4", ImportOutcome::Repeated),
            (
                "line 5",
                ImportOutcome::Unreadable("\"nonsense\" is not an arXiv id or URL".into())
            ),
            (
                "line 6",
                ImportOutcome::NotFound("arXiv has no paper 2501.00404".into())
            ),
            (
                "line 7",
                ImportOutcome::NotFound("arXiv could not be asked; try again later".into())
            ),
            ("line 8", ImportOutcome::NotLookedUp),
        ]
    );
    assert!(store.get_paper(&id("2501.00042")).await.unwrap().is_some());
    assert_eq!(store.collection_papers(c.id).await.unwrap().len(), 3);

    // Someone else's collection is refused, as if it did not exist.
    let bob = user(&store, "bob", false).await;
    let refused = import_into_collection(ImportRequest {
        store: &store,
        lookup: None,
        metrics: &NoMetrics,
        config: ImportConfig::default(),
        user: &bob,
        collection: c.id,
        upload: b"2501.00001",
        now,
    })
    .await;
    assert!(matches!(refused, Err(LibraryError::NoSuchCollection)));
}
