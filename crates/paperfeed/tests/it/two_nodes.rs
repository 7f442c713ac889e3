//! Two nodes, one database (issue 8): two real `paperfeed serve` processes on different ports,
//! each with its own data directory (its own search index), on one fresh PostgreSQL database;
//! and digest runs started on both nodes at once against the real SMTP sink, one of them
//! killed with SIGKILL midway and its jobs taken over by the other at once. Skipped loudly without a PostgreSQL server (failed in CI).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paperfeed_store::testing::TestDatabase;

use crate::digest::Sink;
use crate::harness::{Server, fixture, ok, run_on};

/// The sample's top paper on its latest day, with 163 imported upvotes.
const PAPER: &str = "2608.19880";
/// One signing key for every node: a link signed by one must verify on the other.
const SIGNING_KEY: &str = "two-nodes-test-signing-key-0123456789abcdef";

/// A node: `serve` on 127.0.0.1:0 on the shared database, its data directory its own, its log
/// (paperfeed's own lines at info) in `log`.
fn node(url: &str, log: &Path, extra_env: &[(&str, &str)]) -> Server {
    let mut envs: Vec<(&str, OsString)> = vec![
        ("PAPERFEED_DATABASE_URL", url.into()),
        ("PAPERFEED_MAIL__SIGNING_KEY", SIGNING_KEY.into()),
        ("PAPERFEED_SEARCH__POLL_SECONDS", "1".into()),
        ("RUST_LOG", "warn,paperfeed=info".into()),
        // Many votes from one user in a moment: the per-user limit is not under test here.
        (
            "PAPERFEED_COMMUNITY__RATE_LIMITS__VOTE__BURST",
            "100000".into(),
        ),
        (
            "PAPERFEED_COMMUNITY__RATE_LIMITS__VOTE__PER_MINUTE",
            "100000".into(),
        ),
    ];
    envs.extend(extra_env.iter().map(|(k, v)| (*k, OsString::from(v))));
    let envs: Vec<(&str, &std::ffi::OsStr)> =
        envs.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    Server::start_logged(
        &[],
        tempfile::tempdir().unwrap(),
        &envs,
        std::fs::File::create(log).unwrap(),
    )
}

/// Node A (which loads the sample into the empty database), then node B.
fn two_nodes(url: &str, logs: &Path, extra_env: &[(&str, &str)]) -> (Server, Server) {
    let a = node(url, &logs.join("a.log"), extra_env);
    let b = node(url, &logs.join("b.log"), extra_env);
    assert_ne!(a.base, b.base, "two nodes, two ports");
    (a, b)
}

async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, value)
}

async fn upvotes_seen_by(node: &Server) -> i64 {
    let (status, body) = node.get(&format!("/api/papers/{PAPER}")).await;
    assert_eq!(status, 200, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    value["upvotes"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_upvotes_through_two_nodes_at_once_count_once_and_a_withdrawal_shows_on_both() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    ok(run_on(
        db.url(),
        &[
            "user",
            "add",
            "bot",
            "--email",
            "bot@example.org",
            "--password-stdin",
        ],
        "a long enough password\n",
    ));
    let token = ok(run_on(db.url(), &["token", "create", "bot"], ""))
        .trim()
        .to_owned();
    let logs = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(db.url(), logs.path(), &[]);
    assert_eq!(upvotes_seen_by(&a).await, 163);
    assert_eq!(upvotes_seen_by(&b).await, 163, "both nodes read one store");

    // The same user upvotes the same paper 40 times, half through each node, all at once.
    let http = reqwest::Client::new();
    let vote = |node: &Server, method: reqwest::Method| {
        http.request(method, node.url(&format!("/api/papers/{PAPER}/upvote")))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let votes: Vec<_> = (0..40)
        .map(|i| {
            let node = if i % 2 == 0 { &a } else { &b };
            tokio::spawn(vote(node, reqwest::Method::POST))
        })
        .collect();
    for vote in votes {
        let (status, value) = json(vote.await.unwrap().unwrap()).await;
        assert_eq!(status, 200, "{value}");
        assert_eq!(
            value["upvotes"].as_i64(),
            Some(164),
            "every answer counts the user once: {value}"
        );
    }
    assert_eq!(upvotes_seen_by(&a).await, 164);
    assert_eq!(upvotes_seen_by(&b).await, 164);
    let (_, html) = a.get(&format!("/papers/{PAPER}")).await;
    assert!(html.contains("164"), "node A's paper page: {html}");

    // Withdrawn through B: A (whose page cache held the paper at 164) shows 163 at once.
    let (status, value) = json(vote(&b, reqwest::Method::DELETE).await.unwrap()).await;
    assert_eq!(
        (status, value["upvotes"].as_i64()),
        (200, Some(163)),
        "{value}"
    );
    assert_eq!(upvotes_seen_by(&a).await, 163);
    assert_eq!(upvotes_seen_by(&b).await, 163);
    // And upvoted again through A, seen by B.
    let (status, _) = json(vote(&a, reqwest::Method::POST).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(upvotes_seen_by(&b).await, 164);
}

/// The lines a node logged after `from` bytes of its log.
fn log_since(path: &Path, from: usize) -> String {
    let log = std::fs::read_to_string(path).unwrap();
    log.get(from..).unwrap_or_default().to_owned()
}

/// `N papers indexed, up to store change W` from a node's status page.
async fn index_status(node: &Server) -> (u64, i64) {
    let (_, html) = node.get("/status").await;
    let line = html
        .split("<dt>Keyword index</dt><dd>")
        .nth(1)
        .and_then(|r| r.split("</dd>").next())
        .unwrap_or_else(|| panic!("no keyword index line on /status: {html}"));
    let number = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
    let (papers, rest) = line.split_once(" papers indexed").unwrap();
    let watermark = rest
        .split("up to store change ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    (
        number(papers).parse().unwrap(),
        number(watermark).parse().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_indexes_papers_ingested_elsewhere_from_its_watermark_without_a_rebuild() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(db.url(), logs.path(), &[]);
    a.wait_for_index(false).await;
    b.wait_for_index(false).await;
    let (indexed, watermark) = index_status(&b).await;
    assert!(indexed > 100, "node B indexed the sample: {indexed}");
    let b_log = logs.path().join("b.log");
    let mark = std::fs::read_to_string(&b_log).unwrap().len();

    // Nine papers arrive through another process (the CLI on the shared database).
    let day = fixture("crates/paperfeed-ingest/tests/fixtures/2024-03-12.json");
    let out = ok(run_on(db.url(), &["ingest", day.to_str().unwrap()], ""));
    assert!(out.contains("9 new"), "{out}");

    // Node B finds them within a few of its 1 s polls.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, html) = b
            .get("/papers?q=Stealing+Part+of+a+Production+Language+Model&mode=keyword")
            .await;
        if html.contains("2403.06634") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node B never indexed the ingest: {html}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.wait_for_index(false).await;
    let (after, new_watermark) = index_status(&b).await;
    assert_eq!(after, indexed + 9, "nine more papers in node B's index");
    assert!(new_watermark > watermark, "{new_watermark} > {watermark}");
    // Incremental: node B read just the nine changed papers since its watermark.
    let log = log_since(&b_log, mark);
    assert!(
        log.contains("search index caught up") && log.contains("papers=9"),
        "{log}"
    );
    assert!(!log.contains("rebuilt"), "{log}");
    // Node A too, on its own index.
    let (_, html) = a
        .get("/papers?q=Stealing+Part+of+a+Production+Language+Model&mode=keyword")
        .await;
    assert!(html.contains("2403.06634"), "{html}");

    // A vote through node A changes one paper: node B's next catch-up reads that one alone.
    let mark = std::fs::read_to_string(&b_log).unwrap().len();
    ok(run_on(
        db.url(),
        &[
            "user",
            "add",
            "ada",
            "--email",
            "ada@example.org",
            "--password-stdin",
        ],
        "a long enough password\n",
    ));
    let token = ok(run_on(db.url(), &["token", "create", "ada"], ""))
        .trim()
        .to_owned();
    let resp = reqwest::Client::new()
        .post(a.url("/api/papers/2403.06634/upvote"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log_since(&b_log, mark).contains("papers=1") {
        assert!(
            Instant::now() < deadline,
            "node B never caught up with the vote: {}",
            log_since(&b_log, mark)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Digest runs on two nodes at once against `sink`: `digest run` with each node's own data
/// directory and sender address (to tell who sent what), one database. The default lease
/// (5 minutes): only a dead run's lock going with it frees its jobs within the test.
fn digest_run(url: &str, sink: &Sink, data: &Path, from: &str) -> Command {
    let mut cmd = crate::digest::paperfeed(data, sink, &["digest", "run", "--date", "2026-08-21"]);
    cmd.env("PAPERFEED_DATABASE_URL", url)
        .env("PAPERFEED_MAIL__SIGNING_KEY", SIGNING_KEY)
        .env("PAPERFEED_MAIL__FROM", from);
    cmd
}

fn header<'m>(message: &'m str, name: &str) -> &'m str {
    message
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {message}"))
}

#[test]
fn a_digest_run_on_two_nodes_at_once_with_one_killed_mails_each_subscriber_one_digest() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(TestDatabase::create()) else {
        return;
    };
    let mail = tempfile::tempdir().unwrap();
    // Each message takes 0.1 s to be accepted: both runs are still sending when one is killed.
    let Some(sink) = Sink::start(mail.path(), &["--delay", "0.1"]) else {
        return;
    };
    let sample = fixture("sample/hf_daily_papers");
    ok(run_on(db.url(), &["ingest", sample.to_str().unwrap()], ""));
    let subscribers: Vec<String> = (0..200)
        .map(|i| format!("reader{i:03}@example.test"))
        .collect();
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), subscribers.join("\n")).unwrap();
    let out = ok(run_on(
        db.url(),
        &[
            "subscriber",
            "import",
            list.path().to_str().unwrap(),
            "--confirmed",
        ],
        "",
    ));
    assert!(out.contains("imported 200"), "{out}");

    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let from_a = "Daily Papers <digest@node-a.example.test>";
    let from_b = "Daily Papers <digest@node-b.example.test>";
    let spawn = |data: &Path, from: &str| {
        digest_run(db.url(), &sink, data, from)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut run_a = spawn(data_a.path(), from_a);
    let run_b = spawn(data_b.path(), from_b);
    let sent_by = |from: &str| {
        sink.received()
            .values()
            .flatten()
            .filter(|m| header(m, "From: ").contains(from.split('<').nth(1).unwrap()))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent_by(from_a) < 5 || sent_by(from_b) < 5 {
        assert!(Instant::now() < deadline, "the runs never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    run_a.kill().unwrap(); // SIGKILL: node A's session ends, and its advisory lock with it
    run_a.wait().unwrap();
    let a_sent = sent_by(from_a);
    assert!(a_sent < subscribers.len(), "killed midway: {a_sent} sent");

    // Node B goes on and takes over the jobs node A had claimed, without waiting for their
    // leases: it finishes the period, and exits 0.
    let out_b = ok(run_b.wait_with_output().unwrap());
    assert!(
        out_b.contains(&format!(
            "period total: {} sent, 0 waiting",
            subscribers.len()
        )),
        "{out_b}"
    );

    // Exactly one digest per subscriber. A message the server accepted in the instant before
    // the kill, before node A recorded it as sent, is sent again by node B: no sender can
    // know. It carries the same Message-ID (the job's), so the receiver sees one digest; at
    // most one such message per worker node A had in flight (mail.workers = 4).
    let received: BTreeMap<String, Vec<String>> = sink.received();
    let mut repeats = 0;
    for email in &subscribers {
        let copies = received.get(email).map(Vec::as_slice).unwrap_or_default();
        let ids: BTreeSet<&str> = copies.iter().map(|m| header(m, "Message-ID: ")).collect();
        assert_eq!(ids.len(), 1, "{email} gets exactly one digest: {ids:?}");
        repeats += copies.len() - 1;
    }
    assert!(
        repeats <= 4,
        "only messages in flight at the kill can repeat: {repeats}"
    );
    assert!(
        sent_by(from_b) >= subscribers.len() - a_sent,
        "node B sent the rest"
    );
}

#[test]
fn a_digest_run_while_another_node_runs_it_says_so_and_exits_non_zero() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(TestDatabase::create()) else {
        return;
    };
    let mail = tempfile::tempdir().unwrap();
    // Each message takes 10 s to be accepted: the first run holds all four jobs a while.
    let Some(sink) = Sink::start(mail.path(), &["--delay", "10"]) else {
        return;
    };
    let sample = fixture("sample/hf_daily_papers");
    ok(run_on(db.url(), &["ingest", sample.to_str().unwrap()], ""));
    let subscribers: Vec<String> = (0..4).map(|i| format!("patient{i}@example.test")).collect();
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), subscribers.join("\n")).unwrap();
    ok(run_on(
        db.url(),
        &[
            "subscriber",
            "import",
            list.path().to_str().unwrap(),
            "--confirmed",
        ],
        "",
    ));
    let store = runtime
        .block_on(paperfeed_store::PostgresStore::connect(db.url()))
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    crate::digest::a_second_run_while_the_first_is_alive_fails(
        || {
            digest_run(
                db.url(),
                &sink,
                data.path(),
                "Daily Papers <digest@node-a.example.test>",
            )
        },
        &store,
        &sink,
        &subscribers,
    );
}

/// `on: N vectors` from a node's status page, and whether the store has a backlog.
async fn vector_status(node: &Server) -> (u64, bool) {
    let (_, html) = node.get("/status").await;
    let line = html
        .split("<dt>Semantic search</dt><dd>")
        .nth(1)
        .and_then(|r| r.split("</dd>").next())
        .unwrap_or_else(|| panic!("no semantic search line on /status: {html}"));
    let vectors = line
        .strip_prefix("on: ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("semantic search is not on: {line}"));
    (vectors.parse().unwrap(), line.contains("still to compute"))
}

/// Waits until `node` holds a vector for each of `papers` papers.
async fn wait_for_vectors(node: &Server, papers: u64) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (vectors, backlog) = vector_status(node).await;
        if vectors == papers && !backlog {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never got all {papers} vectors: {vectors}",
            node.base
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_node_computes_the_vectors_and_the_other_reads_them_from_the_store() {
    let Some(model) = crate::harness::model_dir() else {
        return;
    };
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let model = model.to_str().unwrap().to_owned();
    let (a, b) = two_nodes(db.url(), logs.path(), &[("PAPERFEED_MODEL_DIR", &model)]);
    a.wait_for_index(false).await;
    b.wait_for_index(false).await;
    let (papers, _) = index_status(&a).await;
    wait_for_vectors(&a, papers).await;
    wait_for_vectors(&b, papers).await;

    // One node took the lease `embed` and computed; the other only read.
    let log = |name: &str| std::fs::read_to_string(logs.path().join(name)).unwrap();
    let (log_a, log_b) = (log("a.log"), log("b.log"));
    let computes = |log: &str| log.contains("this node computes missing vectors");
    assert!(
        computes(&log_a) != computes(&log_b),
        "exactly one node computes vectors:\n--- a\n{log_a}\n--- b\n{log_b}"
    );
    let (holder, reader, holder_log, reader_log) = if computes(&log_a) {
        (&a, &b, "a.log", "b.log")
    } else {
        (&b, &a, "b.log", "a.log")
    };
    let reader_text = log(reader_log);
    assert!(!reader_text.contains("computing vectors"), "{reader_text}");
    assert!(
        reader_text.contains("appended vectors stored by another node or an import"),
        "{reader_text}"
    );

    // New papers: the holder computes their vectors, the reader picks them up.
    let day = fixture("crates/paperfeed-ingest/tests/fixtures/2024-03-12.json");
    ok(run_on(db.url(), &["ingest", day.to_str().unwrap()], ""));
    wait_for_vectors(holder, papers + 9).await;
    wait_for_vectors(reader, papers + 9).await;
    assert!(
        !log(reader_log).contains("computing vectors"),
        "{}",
        log(reader_log)
    );
    assert!(log(holder_log).contains("computing vectors"));
    // Semantic search alone (no keyword ranking) on the reader finds a new paper: its vector
    // came from the store.
    let (_, html) = reader
        .get("/papers?q=stealing+part+of+a+production+language+model&mode=semantic")
        .await;
    assert!(html.contains("2403.06634"), "{html}");
}
