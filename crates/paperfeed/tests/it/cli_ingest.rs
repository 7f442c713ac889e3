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

/// Runs `paperfeed ingest ARGS` on `data_dir` and returns its output and its peak resident
/// memory in KiB, read from /proc (VmHWM only grows, so the last reading before exit is the
/// peak).
fn ingest_measured(data_dir: &Path, args: &[&str]) -> (std::process::Output, u64) {
    let mut child = bin()
        .arg("--data-dir")
        .arg(data_dir)
        .arg("ingest")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    // Drain the pipes on threads so a chatty child never blocks on them.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).unwrap();
        v
    });
    let mut peak_kib = 0u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ingest ran for 5 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let output = std::process::Output {
        status,
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    };
    (output, peak_kib)
}

/// Writes `prefix`, then `filler` until the file has `bytes`, then `suffix`.
fn flood(path: &Path, prefix: &str, filler: &str, bytes: usize, suffix: &str) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(prefix.as_bytes()).unwrap();
    let mut written = prefix.len();
    while written < bytes {
        out.write_all(filler.as_bytes()).unwrap();
        written += filler.len();
    }
    out.write_all(suffix.as_bytes()).unwrap();
}

const GOOD_HF_ENTRY: &str = r#"{"paper":{"id":"2403.00001","title":"Good one","summary":"Kept."}}"#;

/// Lines of `stderr` that list a rejection of the file named `name`.
fn listed_rejections(stderr: &str, name: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with(&format!("rejected {}", name)) && !l.contains("… and"))
        .count()
}

#[test]
fn floods_of_bad_records_go_through_in_bounded_memory_and_good_records_among_them_are_kept() {
    // Before streaming and counting, 20 MB of `{}` entries peaked at 3 GB: every rejection and
    // its reason was kept until the end of the file.
    let input = tempfile::tempdir().unwrap();
    let dir = input.path();
    const SIZE: usize = 4 << 20;
    let hf = dir.join("2024-03-12.json");
    flood(
        &hf,
        &format!("[{GOOD_HF_ENTRY},"),
        "{},",
        SIZE,
        &format!("{GOOD_HF_ENTRY}]"),
    );
    let atom = dir.join("feed.xml");
    flood(
        &atom,
        r#"<feed xmlns="http://www.w3.org/2005/Atom">"#,
        "<entry/>",
        SIZE,
        r#"<entry><id>http://arxiv.org/abs/2403.00002v1</id><title>Atom good</title><summary>Kept.</summary></entry></feed>"#,
    );
    let oai = dir.join("oai.xml");
    flood(
        &oai,
        "<OAI-PMH><ListRecords>",
        "<record/>",
        SIZE,
        "<record><metadata><arXiv><id>2403.00003</id><title>OAI good</title><abstract>Kept.</abstract></arXiv></metadata></record></ListRecords></OAI-PMH>",
    );
    let kaggle = dir.join("snapshot.jsonl");
    flood(
        &kaggle,
        "{\"id\":\"2403.00004\",\"title\":\"Kaggle good\",\"abstract\":\"Kept.\"}\n",
        "{}\n",
        SIZE,
        "",
    );
    // One entry over the 16 MiB record limit, between two good ones: rejected, not held.
    let huge = dir.join("huge.json");
    let mut big = format!("[{GOOD_HF_ENTRY},{{\"paper\":{{\"summary\":\"");
    big.push_str(&"x".repeat(17 << 20));
    big.push_str(&format!(
        "\"}}}},{}]",
        GOOD_HF_ENTRY.replace("2403.00001", "2403.00005")
    ));
    std::fs::write(&huge, big).unwrap();

    let data = tempfile::tempdir().unwrap();
    let (out, peak_kib) = ingest_measured(data.path(), &[dir.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "rejections give a non-zero exit");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        peak_kib < 96 * 1024,
        "peak memory {peak_kib} KiB on floods of {SIZE} bytes (debug build)"
    );
    for name in ["2024-03-12.json", "feed.xml", "oai.xml", "snapshot.jsonl"] {
        assert_eq!(
            listed_rejections(&stderr, &dir.join(name).display().to_string()),
            20,
            "{name}: {stderr}"
        );
        let more = stderr
            .lines()
            .find(|l| l.contains(name) && l.contains("more rejected records not listed"));
        assert!(more.is_some(), "{name}: {stderr}");
    }
    // `{"paper":{"summary":"` + the x's + `"}}`.
    let huge_entry = 21 + (17 << 20) + 3;
    assert!(
        stderr.contains(&format!(
            "entry 1: the entry is {huge_entry} bytes long, over the 16 MiB limit; skipped (entry at line 1)"
        )),
        "{stderr}"
    );
    let conn = rusqlite::Connection::open(data.path().join("paperfeed.sqlite3")).unwrap();
    let mut ids: Vec<String> = conn
        .prepare("select id from papers order by id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "2403.00001",
            "2403.00002",
            "2403.00003",
            "2403.00004",
            "2403.00005"
        ],
        "every good record of every file went in"
    );
    assert!(stdout.contains("5 files: 5 new"), "{stdout}");
}

#[test]
fn a_device_or_a_fifo_is_refused_and_standard_input_is_read_when_asked_with_a_dash() {
    let data = tempfile::tempdir().unwrap();
    // Before, a forced format read /dev/zero until killed.
    let (out, _) = ingest_measured(data.path(), &["--format", "kaggle", "/dev/zero"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("/dev/zero: not a regular file (a character device)")
            && stderr.contains("standard input when the path is `-`"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (out, _) = ingest_measured(data.path(), &["--format", "hf", fifo.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not a regular file (a FIFO)"), "{stderr}");

    let mut child = bin()
        .arg("--data-dir")
        .arg(data.path())
        .args(["ingest", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("[{GOOD_HF_ENTRY}]").as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 file: 1 new"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(paper_count(data.path()), 1);
}

#[test]
fn an_invalid_utf8_byte_early_in_a_json_lines_file_rejects_only_its_line() {
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("snapshot.jsonl");
    let mut bytes = b"{\"id\":\"2403.00001\",\"title\":\"One\",\"abstract\":\"Kept.\"}\n".to_vec();
    bytes.extend_from_slice(
        b"{\"id\":\"2403.00002\",\"title\":\"Caf\xe9\",\"abstract\":\"Bad byte.\"}\n",
    );
    bytes
        .extend_from_slice(b"{\"id\":\"2403.00003\",\"title\":\"Three\",\"abstract\":\"Kept.\"}\n");
    std::fs::write(&file, bytes).unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = ingest(data.path(), &[file.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a rejection gives a non-zero exit");
    assert!(
        stderr.contains("line 2: the line is not valid UTF-8 (bad byte at column 32)"),
        "{stderr}"
    );
    assert!(!stderr.contains("binary"), "{stderr}");
    assert_eq!(paper_count(data.path()), 2);
    assert!(text(&out.stdout).contains("2 new, 0 updated, 0 unchanged, 1 rejected"));
}
