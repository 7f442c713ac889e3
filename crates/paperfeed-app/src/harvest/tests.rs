//! Harvests from the replay server answering with the recorded OAI-PMH and Hugging Face pages,
//! into a real SQLite store in a temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};
use paperfeed_store::SqliteStore;

use super::*;

const PAGE_1: &str = "ListRecords_arXiv_set-cs_2016-03-09_page001.xml";
const PAGE_2: &str = "ListRecords_arXiv_set-cs_2016-03-09_page002.xml";
const PAGE_LAST: &str = "ListRecords_arXiv_set-cs_2016-03-09_page103.xml";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../paperfeed-ingest/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("paperfeed.sqlite3")).unwrap();
    (dir, Arc::new(store))
}

/// A source on the replay server: no politeness gap and no retries (the fetcher's own tests
/// check those).
fn source(kind: SourceKind, base_url: String) -> SourceConfig {
    SourceConfig {
        kind,
        base_url,
        http: HttpConfig {
            politeness_gap: Duration::ZERO,
            retries: 0,
            ..HttpConfig::default()
        },
        query: None,
        set: Some("cs".to_owned()),
        page_size: 100,
        max_results: 1000,
        days: 1,
    }
}

/// Answers the three recorded pages of a `set=cs` harvest; the second is truncated while
/// `break_second` is set.
async fn oai_server(break_second: Arc<AtomicBool>) -> ReplayServer {
    let (p1, p2, last) = (fixture(PAGE_1), fixture(PAGE_2), fixture(PAGE_LAST));
    ReplayServer::start(move |target| {
        if target.contains("resumptionToken=1122234%7C1001") {
            if break_second.load(Ordering::SeqCst) {
                Reply::ok(p2[..p2.len() / 3].to_vec())
            } else {
                Reply::ok(p2.clone())
            }
        } else if target.contains("resumptionToken=1122234%7C2001") {
            Reply::ok(last.clone())
        } else if target.contains("set=cs") {
            Reply::ok(p1.clone())
        } else {
            Reply::status(400, "unexpected request")
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_page_keeps_the_pages_before_it_and_the_next_run_resumes_at_its_token() {
    let broken = Arc::new(AtomicBool::new(true));
    let server = oai_server(Arc::clone(&broken)).await;
    let (_dir, store) = store();
    let oai = source(SourceKind::Oai, format!("{}/oai2", server.base_url()));
    let request = HarvestRequest::default();

    let first = harvest(Arc::clone(&store), &oai, &request, WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!((first.pages, first.new), (1, 1000));
    let failure = first.failure.as_deref().unwrap_or_default();
    assert!(
        failure.contains("resumptionToken=1122234%7C1001"),
        "{failure}"
    );
    assert!(!first.is_clean());
    let key = format!("oai {}/oai2 set=cs", server.base_url());
    let position = store.harvest_position(&key).await.unwrap().unwrap();
    let cursor: OaiCursor = serde_json::from_str(position.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(
        cursor.token, "1122234|1001",
        "the position after the stored page"
    );

    broken.store(false, Ordering::SeqCst);
    let second = harvest(Arc::clone(&store), &oai, &request, WriteMode::Commit)
        .await
        .unwrap();
    assert!(second.is_clean(), "{second:?}");
    assert_eq!(
        second.to_string(),
        "2 pages: 1538 new, 0 updated, 0 unchanged, 0 rejected"
    );
    let requests = server.requests();
    assert_eq!(
        requests[2], "/oai2?verb=ListRecords&resumptionToken=1122234%7C1001",
        "the rerun starts from the stored token: {requests:?}"
    );
    assert_eq!(requests.len(), 4);
    let done = store.harvest_position(&key).await.unwrap().unwrap();
    assert_eq!(done.cursor, None, "a finished harvest keeps no token");
    assert_eq!(done.last_day, Some(Utc::now().date_naive()));
    assert_eq!(store.stats().await.unwrap().papers, 2538);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_stores_nothing_and_a_limit_over_the_page_size_fails_naming_the_setting() {
    let server = oai_server(Arc::default()).await;
    let (_dir, store) = store();
    let mut oai = source(SourceKind::Oai, format!("{}/oai2", server.base_url()));
    let request = HarvestRequest::default();
    let dry = harvest(Arc::clone(&store), &oai, &request, WriteMode::DryRun)
        .await
        .unwrap();
    assert_eq!((dry.pages, dry.new), (3, 2538));
    assert_eq!(store.stats().await.unwrap().papers, 0);

    oai.http.max_body_bytes = 1_000_000;
    let refused = harvest(Arc::clone(&store), &oai, &request, WriteMode::Commit)
        .await
        .unwrap();
    let failure = refused.failure.unwrap_or_default();
    assert!(
        failure.ends_with("(the limit is sources.oai.max_response_bytes)"),
        "{failure}"
    );
    assert_eq!(refused.pages, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hf_harvest_mirrors_each_day_and_reads_the_last_day_again_next_time() {
    let day = fixture("2024-03-12.json");
    let server = ReplayServer::start(move |target| {
        if target.contains("2024-03-12") {
            Reply::ok(day.clone())
        } else {
            Reply::status(404, "not recorded")
        }
    })
    .await
    .unwrap();
    let (_dir, store) = store();
    let hf = source(SourceKind::Hf, server.base_url());
    let date = NaiveDate::from_ymd_opt(2024, 3, 12).unwrap();
    let request = HarvestRequest {
        from: Some(date),
        until: Some(date),
        ..HarvestRequest::default()
    };
    let first = harvest(Arc::clone(&store), &hf, &request, WriteMode::Commit)
        .await
        .unwrap();
    assert!(first.is_clean(), "{first:?}");
    assert_eq!(first.pages, 1);
    assert!(first.new > 0);
    let position = store
        .harvest_position(&format!("hf {}", server.base_url()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(position.last_day, Some(date));

    // No --from: the run starts at the last day mirrored.
    let again = HarvestRequest {
        until: Some(date),
        ..HarvestRequest::default()
    };
    let second = harvest(Arc::clone(&store), &hf, &again, WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!((second.pages, second.new), (1, 0));
    assert_eq!(second.unchanged, first.new);
}

#[tokio::test]
async fn an_arxiv_listing_needs_a_query() {
    let (_dir, store) = store();
    let arxiv = source(SourceKind::Arxiv, "http://127.0.0.1:9".to_owned());
    let err = harvest(store, &arxiv, &HarvestRequest::default(), WriteMode::Commit)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no arXiv query"), "{err}");
}

#[test]
fn each_source_has_its_own_poll_lease() {
    let leases: Vec<String> = SourceKind::ALL.into_iter().map(poll_lease).collect();
    assert_eq!(leases, ["poll:arxiv", "poll:oai", "poll:hf"]);
}
