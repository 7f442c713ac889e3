//! `paperfeed vectors export|import`: a round trip between two real stores with the real
//! model, and every kind of bad file refused with its name and reason, nothing written.

use std::path::Path;
use std::process::Output;

use crate::harness::{bin, fixture, ingest, model_dir, text};

const DAY: &str = "sample/hf_daily_papers/2026-08-21.json";

fn run(data: &Path, model: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.arg("--data-dir").arg(data);
    if let Some(model) = model {
        cmd.env("PAPERFEED_MODEL_DIR", model);
    }
    cmd.args(args).output().expect("running paperfeed")
}

fn ok(out: Output) -> String {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    stdout
}

fn refused(out: Output) -> String {
    assert!(!out.status.success(), "{}", text(&out.stdout));
    text(&out.stderr)
}

fn stored_vectors(data: &Path) -> i64 {
    let conn = rusqlite::Connection::open(data.join("paperfeed.sqlite3")).unwrap();
    conn.query_row("select count(*) from paper_embeddings", [], |r| r.get(0))
        .unwrap()
}

fn paper_ids(data: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data.join("paperfeed.sqlite3")).unwrap();
    let mut stmt = conn.prepare("select id from papers order by id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn with_day(data: &Path) {
    let day = fixture(DAY);
    assert!(ingest(data, &[day.to_str().unwrap()]).status.success());
}

/// A .npy file with this header dict and these data bytes.
fn write_npy(path: &Path, dict: &str, data: &[u8]) {
    let mut text = dict.to_owned();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(text.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

fn f4(rows: usize) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, 384), }}")
}

/// Rows of unit vectors, each a different axis.
fn unit_rows(rows: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..384 {
            let x: f32 = if c == r % 384 { 1.0 } else { 0.0 };
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

#[test]
fn exported_vectors_import_into_another_store_after_the_encoder_check() {
    let Some(model) = model_dir() else { return };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    with_day(a.path());
    with_day(b.path());
    ok(run(a.path(), Some(model.as_path()), &["reindex"]));
    let n = paper_ids(a.path()).len();
    assert_eq!(stored_vectors(a.path()), i64::try_from(n).unwrap());

    let file = a.path().join("out.npy");
    let out = ok(run(
        a.path(),
        None,
        &["vectors", "export", file.to_str().unwrap()],
    ));
    assert!(out.contains(&format!("exported {n} vectors")), "{out}");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len(), 128 + n * 384 * 4);
    let ids = std::fs::read_to_string(a.path().join("out.ids")).unwrap();
    assert_eq!(ids.lines().collect::<Vec<_>>(), paper_ids(a.path()));

    // Rows out of order (the ids file shifted by one): refused, the failed papers named.
    let shifted = b.path().join("shifted.npy");
    let row = 384 * 4;
    let mut rotated = bytes[..128].to_vec();
    rotated.extend_from_slice(&bytes[128 + row..]);
    rotated.extend_from_slice(&bytes[128..128 + row]);
    std::fs::write(&shifted, rotated).unwrap();
    std::fs::copy(a.path().join("out.ids"), b.path().join("shifted.ids")).unwrap();
    let err = refused(run(
        b.path(),
        Some(model.as_path()),
        &["vectors", "import", shifted.to_str().unwrap()],
    ));
    assert!(
        err.contains("shifted.npy: refused, nothing imported"),
        "{err}"
    );
    let first = paper_ids(a.path())[0].clone();
    assert!(err.contains(&format!("{first} (row 0, cosine")), "{err}");
    assert_eq!(stored_vectors(b.path()), 0);

    // The real file, plus a row for a paper the other store lacks: checked, stored, reported.
    let extra = b.path().join("extra.npy");
    let mut rows = bytes[128..].to_vec();
    rows.extend_from_slice(&unit_rows(1));
    write_npy(&extra, &f4(n + 1), &rows);
    std::fs::write(b.path().join("extra.ids"), format!("{ids}2501.99999\n")).unwrap();
    let out = ok(run(
        b.path(),
        Some(model.as_path()),
        &["vectors", "import", extra.to_str().unwrap()],
    ));
    assert!(
        out.contains(&format!("checked {n} sampled papers against the encoder")),
        "{out}"
    );
    assert!(out.contains(&format!("imported {n} vectors")), "{out}");
    assert!(
        out.contains("skipped 1 ids the store has no paper for: 2501.99999"),
        "{out}"
    );

    // What went in comes out the same.
    let again = b.path().join("again.npy");
    ok(run(
        b.path(),
        None,
        &["vectors", "export", again.to_str().unwrap()],
    ));
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    assert_eq!(
        std::fs::read_to_string(b.path().join("again.ids")).unwrap(),
        ids
    );
}

#[test]
fn bad_vector_files_are_refused_with_the_file_and_reason_and_nothing_is_written() {
    let data = tempfile::tempdir().unwrap();
    with_day(data.path());
    let ids = paper_ids(data.path());
    let n = ids.len();
    let dir = data.path();
    let ids_text = ids.join("\n") + "\n";
    let import = |name: &str| {
        refused(run(
            dir,
            None,
            &[
                "vectors",
                "import",
                "--skip-check",
                dir.join(name).to_str().unwrap(),
            ],
        ))
    };
    let case = |name: &str, dict: &str, data: &[u8], ids: &str| {
        write_npy(&dir.join(format!("{name}.npy")), dict, data);
        std::fs::write(dir.join(format!("{name}.ids")), ids).unwrap();
        import(&format!("{name}.npy"))
    };

    let f8 = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, 384), }}");
    let err = case("double", &f8, &vec![0u8; n * 384 * 8], &ids_text);
    assert!(err.contains("double.npy: dtype \"<f8\""), "{err}");

    let narrow = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, 383), }}");
    let err = case("narrow", &narrow, &vec![0u8; n * 383 * 4], &ids_text);
    assert!(
        err.contains(&format!("narrow.npy: shape ({n}, 383)")),
        "{err}"
    );

    let mut short = unit_rows(n);
    short.truncate(short.len() - 100);
    let err = case("short", &f4(n), &short, &ids_text);
    assert!(err.contains("short.npy: truncated"), "{err}");

    let mut long = unit_rows(n);
    long.extend_from_slice(&[0, 0, 0, 0]);
    let err = case("long", &f4(n), &long, &ids_text);
    assert!(err.contains("long.npy: 4 bytes after the"), "{err}");

    let fewer = ids[1..].join("\n") + "\n";
    let err = case("fewer", &f4(n), &unit_rows(n), &fewer);
    assert!(
        err.contains(&format!("fewer.ids: {} ids for {n} vectors", n - 1)),
        "{err}"
    );

    let bad_id = ids_text.replacen(&ids[2], "not-an-id", 1);
    let err = case("badid", &f4(n), &unit_rows(n), &bad_id);
    assert!(err.contains("badid.ids: line 3"), "{err}");

    std::fs::write(dir.join("text.npy"), "id,vector\n").unwrap();
    let err = import("text.npy");
    assert!(err.contains("text.npy: not a .npy file"), "{err}");

    // A bad value in the last row, found only while writing: nothing is kept (the store's
    // contract covers batches already sent being rolled back).
    let mut nan = unit_rows(n);
    let at = (n - 1) * 384 * 4;
    nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let err = case("nan", &f4(n), &nan, &ids_text);
    assert!(
        err.contains(&format!("nan.npy: row {} (paper {})", n - 1, ids[n - 1])),
        "{err}"
    );
    assert!(err.contains("not a finite number"), "{err}");
    assert_eq!(stored_vectors(dir), 0, "nothing half-written");

    // Without the model, the check cannot run: refused, pointing to --skip-check.
    write_npy(&dir.join("fine.npy"), &f4(n), &unit_rows(n));
    std::fs::write(dir.join("fine.ids"), &ids_text).unwrap();
    let err = refused(run(
        dir,
        None,
        &["vectors", "import", dir.join("fine.npy").to_str().unwrap()],
    ));
    assert!(err.contains("--skip-check"), "{err}");
    assert_eq!(stored_vectors(dir), 0);

    // The same file with --skip-check goes in, loudly.
    let out = run(
        dir,
        None,
        &[
            "vectors",
            "import",
            "--skip-check",
            dir.join("fine.npy").to_str().unwrap(),
        ],
    );
    assert!(text(&out.stderr).contains("WARNING: --skip-check"));
    assert!(ok(out).contains(&format!("imported {n} vectors")));
    assert_eq!(stored_vectors(dir), i64::try_from(n).unwrap());
}

/// Writes `rows` (each a 384-d vector pointing along its axis, turned by `turn`) for `ids` to
/// `name.npy` and `name.ids` in `dir`; returns the .npy path.
fn vector_file(dir: &Path, name: &str, ids: &[String], turn: usize) -> std::path::PathBuf {
    let mut data = Vec::new();
    for r in 0..ids.len() {
        for c in 0..384 {
            let x: f32 = if c == (r + turn) % 384 { 1.0 } else { 0.01 };
            data.extend_from_slice(&x.to_le_bytes());
        }
    }
    let npy = dir.join(format!("{name}.npy"));
    write_npy(&npy, &f4(ids.len()), &data);
    std::fs::write(dir.join(format!("{name}.ids")), ids.join("\n") + "\n").unwrap();
    npy
}

/// The vector index's commit record: rows committed and the store's vector counter reached.
fn index_meta(data: &Path) -> (u64, i64) {
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("index/vectors/meta.json")).expect("the index's meta.json"),
    )
    .unwrap();
    (
        meta["rows"].as_u64().unwrap(),
        meta["watermark"]["seq"].as_i64().unwrap(),
    )
}

/// The data files of the vector index (codes, rows, ids of its generation), with their lengths.
fn index_files(data: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(data.join("index/vectors"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bin"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_vector_index_persists_across_runs_and_each_run_appends_only_what_is_new() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    with_day(data.path());
    let ids = paper_ids(data.path());
    assert!(ids.len() >= 6, "the day has {} papers", ids.len());
    let import = |name: &str, ids: &[String], turn: usize| {
        let npy = vector_file(files.path(), name, ids, turn);
        ok(run(
            data.path(),
            None,
            &["vectors", "import", npy.to_str().unwrap(), "--skip-check"],
        ))
    };

    let out = import("first", &ids[..3], 0);
    assert!(out.contains("indexed 3 vectors"), "{out}");
    let (rows, first_seq) = index_meta(data.path());
    assert_eq!(rows, 3);

    // A later run finds the index on disk and appends the new vectors alone.
    let out = import("second", &ids[3..5], 3);
    assert!(out.contains("indexed 2 vectors"), "{out}");
    let (rows, seq) = index_meta(data.path());
    assert_eq!(rows, 5, "appended, not rebuilt");
    assert!(seq > first_seq);

    // A paper's new vector is appended too (its old row is dead until a compaction).
    let out = import("again", &ids[..1], 7);
    assert!(out.contains("indexed 1 vectors"), "{out}");
    assert_eq!(index_meta(data.path()).0, 6);

    // A process killed in the middle of an append leaves rows past the commit record, a
    // torn one last: the next run cuts them off and appends after the committed rows.
    for (name, _) in index_files(data.path()) {
        let path = data.path().join("index/vectors").join(&name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0xAB; 1000]);
        std::fs::write(&path, bytes).unwrap();
    }
    let out = import("after-crash", &ids[5..6], 9);
    assert!(out.contains("indexed 1 vectors"), "{out}");
    assert_eq!(index_meta(data.path()).0, 7);
    let lengths: Vec<u64> = index_files(data.path()).iter().map(|(_, l)| *l).collect();
    // codes (48 bytes a row), ids (32), rows (768 half floats' bytes), sorted by name.
    assert_eq!(
        lengths,
        [7 * 48, 7 * 32, 7 * 768],
        "{:?}",
        index_files(data.path())
    );

    // `reindex` rebuilds it from the store: one row per paper with a vector.
    ok(run(data.path(), None, &["reindex"]));
    assert_eq!(index_meta(data.path()).0, 6);
    assert_eq!(stored_vectors(data.path()), 6);
}
