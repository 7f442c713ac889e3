//! `paperfeed ingest --source …` against a loopback server replaying real recorded answers:
//! a harvest killed mid-way resumes from the last stored page, a failing page keeps what was
//! stored, a new arXiv version updates a paper without making it new or featuring it again.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};

use crate::harness::{bin, fixture, text};

const FIXTURES: &str = "crates/paperfeed-ingest/tests/fixtures";
const PAGE_1: &str = "ListRecords_arXiv_set-cs_2016-03-09_page001.xml";
const PAGE_2: &str = "ListRecords_arXiv_set-cs_2016-03-09_page002.xml";
const PAGE_LAST: &str = "ListRecords_arXiv_set-cs_2016-03-09_page103.xml";
/// Records in the three pages together, each once.
const HARVEST_RECORDS: i64 = 2538;

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(FIXTURES).join(name)).unwrap()
}

/// `paperfeed ingest --source …` with no politeness gap and no retries (the fetcher's own
/// tests check those), on `data_dir`.
fn source_command(data_dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = bin();
    for source in ["ARXIV", "OAI", "HF"] {
        cmd.env(
            format!("PAPERFEED_SOURCES__{source}__POLITENESS_SECONDS"),
            "0",
        )
        .env(format!("PAPERFEED_SOURCES__{source}__RETRIES"), "0");
    }
    cmd.arg("--data-dir").arg(data_dir).arg("ingest").args(args);
    cmd
}

async fn run(data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = source_command(data_dir, args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn count(data_dir: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(data_dir.join("paperfeed.sqlite3")).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Answers a three-page `set=cs` harvest from the real pages; `stall_last` makes the request
/// for the last page hang, `break_second` makes the second page truncated XML.
fn harvest_script(
    stall_last: Arc<AtomicBool>,
    break_second: Arc<AtomicBool>,
) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    let (p1, p2, last) = (
        read_fixture(PAGE_1),
        read_fixture(PAGE_2),
        read_fixture(PAGE_LAST),
    );
    move |target| {
        if target.contains("resumptionToken=1122234%7C1001") {
            if break_second.load(Ordering::SeqCst) {
                Reply::ok(p2[..p2.len() / 3].to_vec())
            } else {
                Reply::ok(p2.clone())
            }
        } else if target.contains("resumptionToken=1122234%7C2001") {
            if stall_last.load(Ordering::SeqCst) {
                Reply::Slow(Duration::from_secs(3600), Box::new(Reply::ok(last.clone())))
            } else {
                Reply::ok(last.clone())
            }
        } else if target.contains("set=cs") {
            Reply::ok(p1.clone())
        } else {
            Reply::status(400, "unexpected request")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oai_harvest_killed_mid_way_resumes_from_the_last_stored_token() {
    let stall = Arc::new(AtomicBool::new(true));
    let server = ReplayServer::start(harvest_script(Arc::clone(&stall), Arc::default()))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let base = format!("{}/oai2", server.base_url());
    let args = ["--source", "oai", "--base-url", &base, "--set", "cs"];
    let mut child = source_command(data.path(), &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The request for the last page is made only after the second page was stored.
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.requests().len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", server.requests());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(count(data.path(), "select count(*) from papers"), 2000);

    stall.store(false, Ordering::SeqCst);
    let out = run(data.path(), &args).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("1 page: 538 new, 0 updated, 0 unchanged, 0 rejected"),
        "{stdout}"
    );
    let requests = server.requests();
    assert_eq!(
        requests[3], "/oai2?verb=ListRecords&resumptionToken=1122234%7C2001",
        "the rerun starts from the last stored token: {requests:?}"
    );
    assert_eq!(requests.len(), 4);
    assert_eq!(
        count(data.path(), "select count(*) from papers"),
        HARVEST_RECORDS
    );
    assert_eq!(
        count(
            data.path(),
            "select count(*) from harvest_positions where cursor is null and last_day is not null"
        ),
        1,
        "a finished harvest keeps no token, and the day it reached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_page_keeps_the_pages_before_it_and_a_rerun_completes_the_harvest() {
    let broken = Arc::new(AtomicBool::new(true));
    let server = ReplayServer::start(harvest_script(Arc::default(), Arc::clone(&broken)))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let base = format!("{}/oai2", server.base_url());
    let args = ["--source", "oai", "--base-url", &base, "--set", "cs"];
    let out = run(data.path(), &args).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("resumptionToken=1122234%7C1001") && stderr.contains("line "),
        "the error names the page and the damage: {stderr}"
    );
    assert!(
        text(&out.stdout).contains("1 page: 1000 new"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(count(data.path(), "select count(*) from papers"), 1000);

    broken.store(false, Ordering::SeqCst);
    let out = run(data.path(), &args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 pages: 1538 new, 0 updated"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        count(data.path(), "select count(*) from papers"),
        HARVEST_RECORDS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_configured_size_limit_stops_the_harvest_with_a_clear_error() {
    let server = ReplayServer::start(harvest_script(Arc::default(), Arc::default()))
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let base = format!("{}/oai2", server.base_url());
    let args = ["--source", "oai", "--base-url", &base, "--set", "cs"];
    // The first page is 1.8 MB; allow 1 MB.
    let mut cmd = source_command(data.path(), &args);
    cmd.env("PAPERFEED_SOURCES__OAI__MAX_RESPONSE_BYTES", "1000000");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "the answer is larger than the 1000000 bytes allowed for one response; refused \
             (the limit is sources.oai.max_response_bytes)"
        ),
        "{stderr}"
    );
    assert_eq!(count(data.path(), "select count(*) from papers"), 0);
    assert_eq!(server.requests().len(), 1, "not fetched again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_arxiv_version_updates_a_paper_without_making_it_new_or_featuring_it_again() {
    // 2403.06634 is on the HF feed of 2024-03-12; arXiv then has a v2 of it.
    let atom = String::from_utf8(read_fixture(
        "query_cat-cs.RO_AND_neural_max2_2025-10-17.xml",
    ))
    .unwrap()
    .replace("2510.14968v1", "2403.06634v2");
    let day = read_fixture("2024-03-12.json");
    let server = ReplayServer::start(move |target| {
        if target.starts_with("/api/daily_papers?date=2024-03-12") {
            Reply::ok(day.clone())
        } else if target.starts_with("/api/query?id_list=2403.06634") {
            Reply::ok(atom.clone())
        } else {
            Reply::status(404, "not recorded")
        }
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let base = server.base_url();
    let hf = [
        "--source",
        "hf",
        "--base-url",
        &base,
        "--from",
        "2024-03-12",
        "--until",
        "2024-03-12",
    ];
    let out = run(data.path(), &hf).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 page: 9 new"),
        "{}",
        text(&out.stdout)
    );

    let lookup = [
        "--source",
        "arxiv",
        "--base-url",
        &base,
        "--id",
        "2403.06634",
    ];
    let out = run(data.path(), &lookup).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 new, 1 updated"),
        "{}",
        text(&out.stdout)
    );
    let conn = rusqlite::Connection::open(data.path().join("paperfeed.sqlite3")).unwrap();
    let versions: String = conn
        .query_row(
            "select versions from papers where id = '2403.06634'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(versions.contains("\"number\":2"), "{versions}");
    assert_eq!(
        count(
            data.path(),
            "select count(*) from featurings where paper_id = '2403.06634'"
        ),
        1,
        "still featured once, on its HF day"
    );
    // Mirroring the same day again repeats nothing.
    let out = run(data.path(), &hf).await;
    assert!(
        text(&out.stdout).contains("0 new, 0 updated, 9 unchanged"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_source_flag_without_a_source_is_refused_and_files_stay_the_default() {
    let data = tempfile::tempdir().unwrap();
    let out = source_command(data.path(), &["--set", "cs"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--source"),
        "{}",
        text(&out.stderr)
    );
    let out = source_command(data.path(), &["--source", "ftp"])
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains("arxiv"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_polls_a_source_enabled_in_the_config_with_the_same_harvest() {
    let day = read_fixture("2024-03-12.json");
    let server = ReplayServer::start(move |target| {
        if target.starts_with("/api/daily_papers?date=") {
            Reply::ok(day.clone())
        } else {
            Reply::status(404, "not recorded")
        }
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("paperfeed.toml");
    std::fs::write(
        &config,
        format!(
            "[sources.hf]\nbase_url = \"{}\"\npoll = true\ndays = 2\npoliteness_seconds = 0\n",
            server.base_url()
        ),
    )
    .unwrap();
    let hub = tokio::task::spawn_blocking(move || {
        let config = config.into_os_string();
        crate::harness::Server::start_with_env(
            &["--no-sample"],
            data,
            &[("PAPERFEED_CONFIG", config.as_os_str())],
        )
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = rusqlite::Connection::open(hub.data_dir().join("paperfeed.sqlite3"))
            .and_then(|c| c.query_row("select count(*) from papers", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        if stored == 9 && server.requests().len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{stored} {:?}",
            server.requests()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // What the poll brought in is counted per source and outcome.
    let ingested = |metrics: &crate::ops::Exposition, outcome| {
        metrics.value(
            "paperfeed_ingest_records_total",
            &[("source", "hf"), ("outcome", outcome)],
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, metrics) = crate::ops::scrape(&hub.url("/metrics")).await;
        if metrics
            .find("paperfeed_ingest_records_total", &[("source", "hf")])
            .len()
            == 4
        {
            assert_eq!(ingested(&metrics, "new"), 9.0);
            assert_eq!(ingested(&metrics, "rejected"), 0.0);
            break;
        }
        assert!(Instant::now() < deadline, "the poll was never counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = hub.get("/").await;
    assert_eq!(status, 200);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "two days, polled once: {requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("/api/daily_papers?date="))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_on_one_store_poll_a_source_once_per_interval_between_them() {
    let day = read_fixture("2024-03-12.json");
    let server = ReplayServer::start(move |target| {
        if target.starts_with("/api/daily_papers?date=") {
            Reply::ok(day.clone())
        } else {
            Reply::status(404, "not recorded")
        }
    })
    .await
    .unwrap();
    let shared = tempfile::tempdir().unwrap();
    let store = std::ffi::OsString::from(format!(
        "sqlite://{}",
        shared.path().join("paperfeed.sqlite3").display()
    ));
    let config = shared.path().join("paperfeed.toml");
    std::fs::write(
        &config,
        format!(
            "[sources.hf]\nbase_url = \"{}\"\npoll = true\ndays = 2\npoliteness_seconds = 0\n",
            server.base_url()
        ),
    )
    .unwrap();
    let config = config.into_os_string();
    let start = |config: std::ffi::OsString, store: std::ffi::OsString| {
        tokio::task::spawn_blocking(move || {
            crate::harness::Server::start_with_env(
                &["--no-sample"],
                tempfile::tempdir().unwrap(),
                &[
                    ("PAPERFEED_CONFIG", config.as_os_str()),
                    ("PAPERFEED_DATABASE_URL", store.as_os_str()),
                ],
            )
        })
    };
    // One after the other: a new SQLite file is created and migrated by one process at a time.
    let _a = start(config.clone(), store.clone()).await.unwrap();
    let _b = start(config, store).await.unwrap();
    // Both poll at start-up; the first holds the source's lease for the interval (an hour).
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.requests().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", server.requests());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        2,
        "two days, polled by one hub: {requests:?}"
    );
}
