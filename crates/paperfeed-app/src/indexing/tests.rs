//! The indexer on a real SQLite store and keyword index in a temporary directory.

use paperfeed_core::{ArxivId, NewPaper};
use paperfeed_search::VectorIndex;
use paperfeed_store::{PaperVector, SqliteStore, WriteMode};

use super::*;

/// A store and a keyword index (no model) in one temporary directory.
struct Hub {
    dir: tempfile::TempDir,
    indexer: Indexer,
}

impl Hub {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap();
        let (keyword, _) = KeywordIndex::open_or_create(&dir.path().join("index")).unwrap();
        let engine = SearchEngine::new(keyword, Err("no model in tests".to_owned()), 1000);
        let indexer = Indexer {
            store: Arc::new(store),
            engine: Arc::new(engine),
            embed_batch: 16,
        };
        Self { dir, indexer }
    }

    fn index_dir(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    async fn add(&self, ids: &[&str]) {
        let papers = ids
            .iter()
            .map(|id| {
                NewPaper::new(
                    ArxivId::parse(id).unwrap(),
                    format!("Paper {id} on sparse attention"),
                    "An abstract.".to_owned(),
                    Vec::new(),
                )
            })
            .collect();
        self.indexer
            .store
            .upsert_papers(papers, WriteMode::Commit)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_catch_up_indexes_what_changed_since_the_watermark_and_reports_progress() {
    let hub = Hub::new();
    hub.add(&["2611.00001", "2611.00002"]).await;
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let count = |n: usize| {
        seen.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    };
    assert_eq!(hub.indexer.catch_up(&count).await.unwrap(), 2);
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
    let engine = &hub.indexer.engine;
    assert_eq!(engine.indexed_documents(), 2);
    assert_eq!(
        engine.watermark(),
        hub.indexer.store.change_seq().await.unwrap()
    );
    assert_eq!(
        hub.indexer.catch_up(&|_| {}).await.unwrap(),
        0,
        "nothing changed"
    );

    hub.add(&["2611.00002", "2611.00003"]).await;
    assert_eq!(
        hub.indexer.catch_up(&|_| {}).await.unwrap(),
        1,
        "only the new paper: the other one is unchanged"
    );
    assert_eq!(engine.indexed_documents(), 3);
}

#[tokio::test]
async fn without_a_model_no_vector_is_computed() {
    let hub = Hub::new();
    hub.add(&["2611.00001"]).await;
    assert_eq!(hub.indexer.embed_some().await.unwrap(), 0);
    assert_eq!(hub.indexer.embed_all(&|_| {}).await.unwrap(), 0);
    assert_eq!(hub.indexer.catch_up_vectors(&|_| {}).await.unwrap(), 0);
}

/// An engine over the vector index in `dir` (on disk) and a fresh keyword index.
fn engine_on_disk(dir: &Path) -> Arc<SearchEngine> {
    let (keyword, _) = KeywordIndex::open_or_create(&dir.join("keyword")).unwrap();
    let (vectors, _) = VectorIndex::open_or_create(&dir.join("vectors"), MODEL_NAME, 1000).unwrap();
    Arc::new(SearchEngine::with_vector_index(
        keyword,
        Err("no model in tests".to_owned()),
        vectors,
    ))
}

/// Stores a vector (pointing along `axis`) for each paper, as a node that computes them does.
async fn put_vectors(hub: &Hub, ids: &[&str], axis: usize) {
    let mut vectors = Vec::new();
    for id in ids {
        let id = ArxivId::parse(id).unwrap();
        let paper = hub.indexer.store.get_paper(&id).await.unwrap().unwrap();
        let mut vector = vec![0.1f32; 8];
        vector[axis] = 1.0;
        vectors.push(PaperVector {
            id,
            text_hash: paper.text_fingerprint(),
            vector,
        });
    }
    hub.indexer
        .store
        .put_embeddings(MODEL_NAME, vectors)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_vector_index_on_disk_is_kept_across_starts_and_reads_only_what_was_stored_since() {
    let hub = Hub::new();
    hub.add(&["2611.00001", "2611.00002", "2611.00003"]).await;
    put_vectors(&hub, &["2611.00001", "2611.00002"], 0).await;
    let dir = hub.dir.path().join("search");
    let first = Indexer {
        engine: engine_on_disk(&dir),
        ..hub.indexer.clone()
    };
    let progress = std::sync::atomic::AtomicUsize::new(0);
    let count = |n: usize| {
        progress.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    };
    assert_eq!(first.catch_up_vectors(&count).await.unwrap(), 2);
    assert_eq!(progress.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(first.catch_up_vectors(&|_| {}).await.unwrap(), 0);
    drop(first);

    // Restarted: the index is read from disk, and only the new vector is appended.
    put_vectors(&hub, &["2611.00003"], 1).await;
    let second = Indexer {
        engine: engine_on_disk(&dir),
        ..hub.indexer.clone()
    };
    assert_eq!(second.engine.progress().1, 2, "held from the last start");
    assert_eq!(second.catch_up_vectors(&|_| {}).await.unwrap(), 1);
    let engine = &second.engine;
    assert_eq!(engine.progress().1, 3);
    let near = engine.similar(&ArxivId::parse("2611.00001").unwrap(), 1);
    assert_eq!(near[0].id.as_str(), "2611.00002");

    // A recomputed vector replaces the paper's old one.
    put_vectors(&hub, &["2611.00001"], 1).await;
    assert_eq!(second.catch_up_vectors(&|_| {}).await.unwrap(), 1);
    assert_eq!(engine.progress().1, 3);
    let near = engine.similar(&ArxivId::parse("2611.00003").unwrap(), 1);
    assert_eq!(near[0].id.as_str(), "2611.00001");

    // A lost folder: recreated empty, then refilled from the store.
    std::fs::remove_dir_all(dir.join("vectors")).unwrap();
    assert!(engine.vectors_lost());
    second.follow_stored_vectors().await.unwrap();
    assert!(!engine.vectors_lost());
    assert_eq!(engine.progress().1, 3);
}

#[tokio::test]
async fn a_lost_index_folder_is_recreated_and_refilled_from_the_store() {
    let hub = Hub::new();
    hub.add(&["2611.00001", "2611.00002"]).await;
    hub.indexer.catch_up(&|_| {}).await.unwrap();
    let dir = hub.index_dir();
    assert!(!index_lost(&dir));
    hub.indexer.recreate_if_lost(&dir).await.unwrap();
    assert_eq!(
        hub.indexer.engine.indexed_documents(),
        2,
        "kept when present"
    );

    std::fs::remove_dir_all(&dir).unwrap();
    assert!(index_lost(&dir));
    hub.indexer.recreate_if_lost(&dir).await.unwrap();
    assert!(!index_lost(&dir));
    assert_eq!(hub.indexer.engine.watermark(), 0, "a fresh index");
    assert_eq!(hub.indexer.catch_up(&|_| {}).await.unwrap(), 2);
    assert_eq!(hub.indexer.engine.indexed_documents(), 2);
}

#[test]
fn a_failing_catch_up_waits_twice_as_long_each_time_up_to_a_minute() {
    let mut failing = None;
    let mut waits = Vec::new();
    for _ in 0..9 {
        let before = Instant::now();
        let next = Failing::after(failing.take());
        waits.push(next.next_try.duration_since(before).as_secs());
        failing = Some(next);
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(failing.map(|f| f.attempts), Some(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_loop_catches_up_and_stops_when_told() {
    let hub = Hub::new();
    hub.add(&["2611.00001", "2611.00002"]).await;
    let config = IndexingConfig {
        interval: Duration::from_millis(20),
        node: "test-node".to_owned(),
        lease: Duration::from_secs(60),
        index_dir: hub.index_dir(),
    };
    let stop = CancellationToken::new();
    let task = tokio::spawn(hub.indexer.clone().run(config, stop.clone()));
    let engine = Arc::clone(&hub.indexer.engine);
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.indexed_documents() < 2 {
        assert!(Instant::now() < deadline, "the loop did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    hub.add(&["2611.00003"]).await;
    while engine.indexed_documents() < 3 {
        assert!(
            Instant::now() < deadline,
            "the loop did not see the new paper"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(engine.problem(), None);
}

#[tokio::test]
async fn suggestions_are_loaded_for_a_reused_index_and_follow_catch_ups() {
    let hub = Hub::new();
    hub.add(&["2611.00001", "2611.00002"]).await;
    hub.indexer.catch_up(&|_| {}).await.unwrap();
    assert_eq!(hub.indexer.engine.suggest("sparse", 8).len(), 2);
    let Hub { dir, indexer } = hub;
    let store = Arc::clone(&indexer.store);
    // The first process ends (and lets go of the index's writer lock).
    drop(indexer);

    // A process that opens the index as it was: its suggestions start empty.
    let (keyword, outcome) = KeywordIndex::open_or_create(&dir.path().join("index")).unwrap();
    assert_eq!(outcome, paperfeed_search::OpenOutcome::Reused);
    let reopened = Indexer {
        store,
        engine: Arc::new(SearchEngine::new(
            keyword,
            Err("no model in tests".to_owned()),
            1000,
        )),
        embed_batch: 16,
    };
    assert!(reopened.engine.suggest("sparse", 8).is_empty());
    assert_eq!(reopened.load_suggestions().await.unwrap(), 2);
    assert_eq!(reopened.engine.suggest("sparse", 8).len(), 2);

    // Papers indexed later reach them through the catch-up, not a second load.
    reopened
        .store
        .upsert_papers(
            vec![NewPaper::new(
                ArxivId::parse("2611.00003").unwrap(),
                "Paper 2611.00003 on sparse attention".to_owned(),
                "An abstract.".to_owned(),
                Vec::new(),
            )],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    assert_eq!(reopened.catch_up(&|_| {}).await.unwrap(), 1);
    assert_eq!(reopened.engine.suggest("paper 2611", 8).len(), 3);
    assert_eq!(reopened.engine.suggestible_papers(), 3);
}
