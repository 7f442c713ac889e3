//! `paperfeed ingest` on real files and on every kind of bad input.

use std::io::Write as _;
use std::path::Path;

use crate::harness::{bin, fixture, ingest, shared_data, text};

const SAMPLE: &str = "sample/hf_daily_papers";

fn paper_count(data_dir: &Path) -> i64 {
    try_paper_count(data_dir).unwrap()
}

fn try_paper_count(data_dir: &Path) -> rusqlite::Result<i64> {
    let conn = rusqlite::Connection::open(data_dir.join("paperfeed.sqlite3"))?;
    conn.query_row("select count(*) from papers", [], |r| r.get(0))
}

#[test]
fn ingesting_the_sample_twice_changes_nothing_the_second_time() {
    let data = tempfile::tempdir().unwrap();
    let sample = fixture(SAMPLE);
    let first = ingest(data.path(), &[sample.to_str().unwrap()]);
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}{}", text(&first.stderr));
    assert!(
        stdout.contains("20 files: 442 new, 1 updated, 0 unchanged, 0 rejected"),
        "{stdout}"
    );
    assert_eq!(paper_count(data.path()), 442);

    let second = ingest(data.path(), &[sample.to_str().unwrap()]);
    let stdout = text(&second.stdout);
    assert!(second.status.success());
    assert!(
        stdout.contains("0 new, 0 updated, 443 unchanged, 0 rejected"),
        "{stdout}"
    );
}

#[test]
fn a_dry_run_reports_and_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let sample = fixture(SAMPLE);
    let out = ingest(data.path(), &["--dry-run", sample.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("dry run, nothing written"));
    assert!(text(&out.stdout).contains("442 new"));
    assert_eq!(paper_count(data.path()), 0);
}

#[test]
fn every_file_of_the_shared_data_goes_in_without_a_rejection() {
    let Some(shared) = shared_data() else { return };
    let data = tempfile::tempdir().unwrap();
    let out = ingest(data.path(), &[shared.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains(" 0 rejected"), "{stdout}");
    // A paper featured on two days keeps both.
    let conn = rusqlite::Connection::open(data.path().join("paperfeed.sqlite3")).unwrap();
    let twice: i64 = conn
        .query_row(
            "select count(*) from (select paper_id from featurings group by paper_id having count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(twice >= 2, "papers featured on two days: {twice}");
}

struct BadFile {
    name: &'static str,
    content: &'static [u8],
    expect: &'static str,
}

const BAD_FILES: &[BadFile] = &[
    BadFile { name: "empty.json", content: b"", expect: "empty" },
    BadFile { name: "garbage.bin", content: b"\x00\x01\x02\xff\xfe binary \x00", expect: "binary" },
    BadFile { name: "notes.txt", content: b"hello world\n", expect: "Kaggle arXiv snapshot JSON Lines" },
    BadFile {
        name: "2024-03-12.json",
        content: br#"[{"paper":{"id":"2403.00001","authors":[],"publishedAt":"2024-03-11T00:00:00.000Z","title":"Good one","summary":"Kept.","upvotes":1},"publishedAt":"2024-03-12T00:00:00.000Z","title":"Good one","numComments":0},
{"paper":{"id":"not-an-id","authors":[],"publishedAt":"2024-03-11T00:00:00.000Z","title":"Bad id","summary":"x","upvotes":1},"publishedAt":"2024-03-12T00:00:00.000Z","title":"Bad id","numComments":0},
{"paper":{"id":"2403.00003","authors":[],"publishedAt":"2024-03-11T00:00:00.000Z","title":"Wrong type","summary":"x","upvotes":"many"},"publishedAt":"2024-03-12T00:00:00.000Z","title":"Wrong type","numComments":0},
{"paper":{"id":"2403.00004","authors":[],"publishedAt":"2024-03-11T00:00:00.000Z","title":"Also good","summary":"Kept too.","upvotes":2},"publishedAt":"2024-03-12T00:00:00.000Z","title":"Also good","numComments":0},
{"paper":{"id":"2403.00005","authors":[],"publishedAt":"2024-03-11T00:00:00"#,
        expect: "entry 1",
    },
];

#[test]
fn bad_input_is_reported_by_file_and_entry_and_the_good_records_still_go_in() {
    let input = tempfile::tempdir().unwrap();
    for bad in BAD_FILES {
        std::fs::write(input.path().join(bad.name), bad.content).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let out = ingest(data.path(), &[input.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "rejections give a non-zero exit");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for bad in BAD_FILES {
        let mentions_file = stderr
            .lines()
            .any(|l| l.contains(bad.name) && l.contains(bad.expect));
        assert!(mentions_file, "{}: {stderr}", bad.name);
    }
    assert!(stderr.contains("paper.id"), "{stderr}");
    assert!(stderr.contains("upvotes"), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    assert_eq!(paper_count(data.path()), 2, "the two good records went in");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2 new") && stdout.contains("2 rejected"),
        "{stdout}"
    );
}

#[test]
fn a_missing_path_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let out = ingest(data.path(), &["/no/such/file.json"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("/no/such/file.json"));
}

/// Writes `lines` Kaggle records by rewriting the ids of the real lines.
fn synthetic_kaggle(path: &Path, lines: usize) {
    let real = std::fs::read_to_string(fixture(
        "crates/paperfeed-ingest/tests/fixtures/arxiv-metadata-oai-snapshot.lines0001-0040.jsonl",
    ))
    .unwrap();
    let real: Vec<&str> = real.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..lines {
        let line = real[i % real.len()];
        let id_start = line.find("\"id\":\"").unwrap() + 6;
        let id_end = id_start + line[id_start..].find('"').unwrap();
        // 2001.00000 onwards: unique five-digit new-style ids.
        let month = 1 + (i / 100_000) % 12;
        let id = format!("20{month:02}.{:05}", i % 100_000);
        writeln!(out, "{}{}{}", &line[..id_start], id, &line[id_end..]).unwrap();
    }
}

#[test]
fn an_ingest_killed_mid_way_leaves_a_consistent_store_and_a_rerun_completes_it() {
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("snapshot.jsonl");
    synthetic_kaggle(&file, 60_000);
    let data = tempfile::tempdir().unwrap();
    let mut child = bin()
        .arg("--data-dir")
        .arg(data.path())
        .args(["ingest", "--batch-size", "500"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 once some batches have landed.
    let store = data.path().join("paperfeed.sqlite3");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if store.exists() && try_paper_count(data.path()).unwrap_or(0) > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no batch landed");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let conn = rusqlite::Connection::open(&store).unwrap();
    let check: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let partial = paper_count(data.path());
    assert!(
        partial > 0 && partial % 500 == 0 || partial == 60_000,
        "whole batches only: {partial}"
    );
    drop(conn);

    let out = ingest(data.path(), &[file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(paper_count(data.path()), 60_000);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("{} new", 60_000 - partial)),
        "{stdout}"
    );
}
