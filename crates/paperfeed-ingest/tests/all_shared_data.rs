//! Every file of the project's real data set (`shared/data`) is recognised and parses without a
//! single rejected record or fatal error.
//!
//! The folder is found through `PAPERFEED_SHARED_DATA`, else at `<workspace>/../shared/data`;
//! without it the test says so loudly and passes, so the crate still tests on its own.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use paperfeed_ingest::{
    Format, KaggleLines, Parsed, detect_format, parse_arxiv_atom, parse_hf_daily, parse_oai_pmh,
};

fn shared_data() -> PathBuf {
    match std::env::var_os("PAPERFEED_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// The format each known folder holds; files elsewhere are taken as detected.
fn expected_format(folder: &str) -> Option<Format> {
    match folder {
        "hf_daily_papers" => Some(Format::HfDailyPapers),
        "kaggle_arxiv_metadata" => Some(Format::KaggleJsonl),
        "arxiv_api" => Some(Format::ArxivAtom),
        "arxiv_oai_pmh" => Some(Format::OaiPmh),
        _ => None,
    }
}

fn data_files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let folders = std::fs::read_dir(root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    for folder in folders {
        let folder = folder.expect("folder entry").path();
        if !folder.is_dir() {
            continue; // SOURCES.md and the like describe the data, they are not data
        }
        let name = folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        for file in std::fs::read_dir(&folder).expect("folder") {
            let path = file.expect("file entry").path();
            if path.is_file() {
                files.push((name.clone(), path));
            }
        }
    }
    files.sort();
    files
}

/// Every problem in `parsed`, named with the file.
fn problems(path: &Path, parsed: &Parsed) -> Vec<String> {
    let mut out: Vec<String> = parsed
        .records
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| format!("{}: {e}", path.display()))
        .collect();
    if let Some(fatal) = &parsed.fatal {
        out.push(format!("{}: fatal: {fatal}", path.display()));
    }
    out
}

#[test]
fn every_shared_data_file_is_detected_and_parses_cleanly() {
    let root = shared_data();
    if !root.is_dir() {
        eprintln!(
            "\n*** skipped: ../shared/data not found (looked at {}; set PAPERFEED_SHARED_DATA) ***\n",
            root.display()
        );
        return;
    }
    let files = data_files(&root);
    assert!(!files.is_empty(), "no data files under {}", root.display());

    let mut problems_found = Vec::new();
    let mut records: BTreeMap<Format, usize> = BTreeMap::new();
    for (folder, path) in &files {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let head = &bytes[..bytes.len().min(64 * 1024)];
        let format = match detect_format(head) {
            Ok(format) => format,
            Err(e) => {
                problems_found.push(format!("{}: not detected: {e}", path.display()));
                continue;
            }
        };
        if let Some(expected) = expected_format(folder)
            && format != expected
        {
            problems_found.push(format!(
                "{}: detected as {format}, expected {expected}",
                path.display()
            ));
            continue;
        }
        let parsed = match format {
            Format::HfDailyPapers => {
                let feed_date = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse::<NaiveDate>().ok());
                let parsed = parse_hf_daily(&bytes, feed_date);
                // In this data set every featured day is the day the file answered.
                for paper in parsed.records.iter().flatten() {
                    let day = paper.featured.as_ref().map(|f| f.date);
                    if feed_date.is_some() && day != feed_date {
                        problems_found.push(format!(
                            "{}: {} featured on {day:?}",
                            path.display(),
                            paper.id
                        ));
                    }
                }
                parsed
            }
            Format::KaggleJsonl => {
                let file = File::open(path).expect("open");
                Parsed {
                    records: KaggleLines::new(BufReader::new(file))
                        .map(|(_, r)| r)
                        .collect(),
                    rejected_not_kept: 0,
                    fatal: None,
                }
            }
            Format::ArxivAtom => parse_arxiv_atom(&bytes).parsed,
            Format::OaiPmh => parse_oai_pmh(&bytes).parsed,
        };
        if parsed.records.is_empty() {
            problems_found.push(format!("{}: no records", path.display()));
        }
        *records.entry(format).or_default() += parsed.records.len();
        problems_found.extend(problems(path, &parsed));
    }

    eprintln!(
        "parsed {} files from {}: {records:?}",
        files.len(),
        root.display()
    );
    assert!(
        problems_found.is_empty(),
        "{} problems:\n{}",
        problems_found.len(),
        problems_found.join("\n")
    );
}

/// How fast OAI-PMH pages parse, for comparing changes by hand; prints, asserts nothing timed.
/// Reports the best of many passes, which shrugs off a busy machine better than a total. Run
/// with `cargo test --release -p paperfeed-ingest --test all_shared_data -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn oai_pmh_parse_rate() {
    let folder = shared_data().join("arxiv_oai_pmh");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        eprintln!("skipped: {} not found", folder.display());
        return;
    };
    let pages: Vec<Vec<u8>> = entries
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let mut records = 0;
    let mut passes: Vec<f64> = (0..40)
        .map(|_| {
            let started = std::time::Instant::now();
            records = pages
                .iter()
                .map(|page| parse_oai_pmh(page).parsed.records.len())
                .sum::<usize>();
            started.elapsed().as_secs_f64()
        })
        .collect();
    passes.sort_by(f64::total_cmp);
    for (label, seconds) in [("best", passes[0]), ("median", passes[passes.len() / 2])] {
        eprintln!(
            "OAI-PMH {label} of {} passes: {records} records in {:.1} ms: {:.0} records/s, {:.1} MB/s",
            passes.len(),
            seconds * 1e3,
            records as f64 / seconds,
            bytes as f64 / seconds / 1e6
        );
    }
}
