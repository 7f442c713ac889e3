//! The model from the Hugging Face Hub, through the real binary, against a Hub on loopback
//! that serves the real model files (the packaged copy of `scripts/fetch-model`) in the Hub's
//! layout, `/{repo}/resolve/{commit}/{path}`, with its headers (`ETag`, `X-Repo-Commit`, and
//! for the file in Git LFS a redirect to storage with `X-Linked-Etag` / `X-Linked-Size`):
//! `serve` fetches it on first need into `HF_HOME` and searches by meaning with it; Hugging
//! Face's own client finds the files there; a download cut short and other bytes are refused
//! with nothing in `snapshots/`; offline with an empty cache says what to do.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};

use crate::harness::{Server, bin, fixture, ingest, model_dir, text, workspace_root};

const REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The commit the binary pins.
const REVISION: &str = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";
const WEIGHTS: &str = "model.safetensors";
const WEIGHTS_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
/// Every file the binary fetches.
const FILES: [&str; 10] = [
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "vocab.txt",
    "tokenizer.json",
    WEIGHTS,
];

/// How the loopback Hub sends one file's bytes.
#[derive(Clone, Copy)]
enum Serving {
    Whole,
    /// The weights: a third, then the connection closes.
    CutWeights,
    /// The weights with one byte changed (same length).
    OtherWeights,
}

/// A Hub on loopback with the model's files at the pinned commit.
async fn hub(model: &Path, send: Serving) -> ReplayServer {
    let mut files: HashMap<&'static str, Vec<u8>> = FILES
        .iter()
        .map(|f| (*f, std::fs::read(model.join(f)).unwrap()))
        .collect();
    if let Serving::OtherWeights = send {
        files.get_mut(WEIGHTS).unwrap()[4096] ^= 0x20;
    }
    // A file's ETag on the Hub: its Git blob id, or for the weights (in LFS) their SHA-256.
    let etags: HashMap<&'static str, String> = FILES
        .iter()
        .map(|f| {
            let etag = if *f == WEIGHTS {
                WEIGHTS_SHA256.to_owned()
            } else {
                git_blob_id(&files[f])
            };
            (*f, etag)
        })
        .collect();
    let base: Arc<OnceLock<String>> = Arc::default();
    let base_in_script = Arc::clone(&base);
    let resolve = format!("/{REPO}/resolve/{REVISION}/");
    let server = ReplayServer::start(move |target| {
        if let Some(path) = target.strip_prefix(&resolve) {
            let Some((name, bytes)) = files.get_key_value(path) else {
                return Reply::status(404, "Entry not found")
                    .with_header("X-Error-Code", "EntryNotFound")
                    .with_header("X-Repo-Commit", REVISION);
            };
            if *name == WEIGHTS {
                // The Hub sends the weights' metadata and a redirect to its storage.
                let to = format!(
                    "{}/xet-bridge/{WEIGHTS_SHA256}?X-Amz-Signature=0",
                    base_in_script.get().unwrap()
                );
                return Reply::status(302, format!("Found. Redirecting to {to}"))
                    .with_header("Location", &to)
                    .with_header("X-Repo-Commit", REVISION)
                    .with_header("X-Linked-Etag", &format!("\"{WEIGHTS_SHA256}\""))
                    .with_header("X-Linked-Size", &bytes.len().to_string())
                    .with_header("ETag", "\"redirect\"");
            }
            return Reply::ok(bytes.clone())
                .with_header("ETag", &format!("\"{}\"", etags[name]))
                .with_header("X-Repo-Commit", REVISION)
                .with_header("Content-Type", "text/plain; charset=utf-8");
        }
        if target.starts_with(&format!("/xet-bridge/{WEIGHTS_SHA256}?")) {
            let bytes = files[WEIGHTS].clone();
            return match send {
                Serving::CutWeights => Reply::CutOff {
                    sent: bytes.len() / 3,
                    body: bytes,
                },
                Serving::Whole | Serving::OtherWeights => Reply::ok(bytes)
                    .with_header("ETag", &format!("\"{WEIGHTS_SHA256}\""))
                    .with_header("Content-Type", "application/octet-stream"),
            };
        }
        Reply::status(404, "Repository not found")
    })
    .await
    .unwrap();
    base.set(server.base_url()).unwrap();
    server
}

/// `git hash-object`: the Hub's ETag for a file outside LFS.
fn git_blob_id(bytes: &[u8]) -> String {
    let mut child = Command::new("git")
        .args(["hash-object", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git, for the Hub's ETags");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), bytes).unwrap();
    text(&child.wait_with_output().unwrap().stdout)
        .trim()
        .to_owned()
}

/// What a process needs to fetch from `hub` into `hf_home`, online.
fn hub_env<'a>(hub: &'a str, hf_home: &'a Path, cache: &'a Path) -> Vec<(&'a str, &'a OsStr)> {
    vec![
        ("HF_ENDPOINT", OsStr::new(hub)),
        ("HF_HOME", hf_home.as_os_str()),
        ("HF_HUB_CACHE", cache.as_os_str()),
        ("HF_HUB_OFFLINE", OsStr::new("0")),
    ]
}

/// `paperfeed model fetch` with `env`, run off the async runtime the loopback Hub is on.
async fn model_fetch(data_dir: &Path, env: &[(&str, &OsStr)]) -> Output {
    let mut cmd = bin();
    cmd.arg("--data-dir").arg(data_dir).args(["model", "fetch"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn snapshots(cache: &Path) -> PathBuf {
    cache.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots")
}

fn blob_names(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("models--sentence-transformers--all-MiniLM-L6-v2/blobs"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// Hugging Face's client (target/tools/hf-venv), when installed.
fn hf_python() -> Option<PathBuf> {
    let python = workspace_root().join("target/tools/hf-venv/bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "huggingface_hub is required in CI (scripts/ensure-test-deps)"
    );
    eprintln!("SKIPPED: huggingface_hub not installed (scripts/ensure-test-deps)");
    None
}

/// Asks `huggingface_hub`, offline, for each file at the commit and for its view of the cache.
const HF_CACHE_SCRIPT: &str = r#"
import json, sys
from huggingface_hub import hf_hub_download, scan_cache_dir
repo, revision, files = sys.argv[1], sys.argv[2], sys.argv[3:]
paths = {f: hf_hub_download(repo, f, revision=revision) for f in files}
info = scan_cache_dir()
print(json.dumps({
    "paths": paths,
    "warnings": [str(w) for w in info.warnings],
    "repos": [
        {"id": r.repo_id, "size": r.size_on_disk,
         "revisions": [{"commit": v.commit_hash, "files": len(v.files)} for v in r.revisions]}
        for r in info.repos
    ],
}))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn serve_fetches_the_model_on_first_need_and_searches_by_meaning_with_it() {
    let Some(model) = model_dir() else { return };
    let hub = hub(&model, Serving::Whole).await;
    let hf_home = tempfile::tempdir().unwrap();
    let cache = hf_home.path().join("hub");
    let base = hub.base_url();
    let env = hub_env(&base, hf_home.path(), &cache);

    let data = tempfile::tempdir().unwrap();
    let day = fixture("sample/hf_daily_papers/2026-08-21.json");
    assert!(
        ingest(data.path(), &[day.to_str().unwrap()])
            .status
            .success()
    );
    let data_dir = data.path().to_path_buf();
    let server = Server::start_with_env(&["--no-sample"], data, &env);
    server.wait_for_index(true).await;
    let (status, html) = server
        .get("/papers?q=teaching+software+agents+with+training+worlds+that+adapt&mode=semantic")
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("data-paper-id=\"2608.19880\""), "{html}");
    let (_, status) = server.get("/status").await;
    assert!(status.contains("17 vectors"), "{status}");
    // Not a terminal: plain log lines, one per file and per quarter of the weights.
    let log = server.log();
    assert!(
        log.contains("fetching it from the Hugging Face Hub"),
        "{log}"
    );
    assert_eq!(log.matches("model file fetched and checked").count(), 10);
    assert!(log.contains("75% of "), "{log}");
    drop(server);

    // The standard layout: blobs under the Hub's ETags, the snapshot's files linked to them.
    let snapshot = snapshots(&cache).join(REVISION);
    assert_eq!(
        std::fs::read_link(snapshot.join(WEIGHTS)).unwrap(),
        PathBuf::from(format!("../../blobs/{WEIGHTS_SHA256}"))
    );
    assert_eq!(blob_names(&cache).len(), FILES.len());
    let asked = hub.requests().len();
    assert_eq!(asked, FILES.len() + 1, "each file once, and the redirect");

    // Ahead of time, `model fetch` finds it and asks the Hub nothing.
    let out = model_fetch(&data_dir, &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("model ready: {}", snapshot.display())
    );
    assert_eq!(hub.requests().len(), asked);

    // Hugging Face's own client, offline, finds every file where it would have put it.
    let Some(python) = hf_python() else { return };
    let out = Command::new(python)
        .arg("-c")
        .arg(HF_CACHE_SCRIPT)
        .args([REPO, REVISION])
        .args(FILES)
        .env_remove("HF_HOME")
        .env("HF_HUB_CACHE", &cache)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for file in FILES {
        assert_eq!(
            seen["paths"][file].as_str().map(PathBuf::from),
            Some(snapshot.join(file)),
            "{seen}"
        );
    }
    assert_eq!(seen["warnings"], serde_json::json!([]), "{seen}");
    let total: u64 = FILES
        .iter()
        .map(|f| std::fs::metadata(model.join(f)).unwrap().len())
        .sum();
    assert_eq!(
        seen["repos"],
        serde_json::json!([{
            "id": REPO,
            "size": total,
            "revisions": [{"commit": REVISION, "files": FILES.len()}],
        }]),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn model_fetch_refuses_a_cut_off_download_and_other_bytes_keeping_no_snapshot() {
    let Some(model) = model_dir() else { return };
    for (send, says) in [
        (Serving::CutWeights, "of 90868376 bytes"),
        (Serving::OtherWeights, "is not the pinned file (SHA-256 "),
    ] {
        let hub = hub(&model, send).await;
        let hf_home = tempfile::tempdir().unwrap();
        let cache = hf_home.path().join("hub");
        let base = hub.base_url();
        let data = tempfile::tempdir().unwrap();
        let out = model_fetch(data.path(), &hub_env(&base, hf_home.path(), &cache)).await;
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        for part in [says, "model.safetensors", "nothing of that file was kept"] {
            assert!(stderr.contains(part), "{part:?} in {stderr}");
        }
        assert!(
            !stderr.contains("X-Amz-Signature"),
            "a storage link's signature stays out of messages: {stderr}"
        );
        assert!(!snapshots(&cache).exists(), "no snapshot");
        let blobs = blob_names(&cache);
        assert_eq!(blobs.len(), FILES.len() - 1, "{blobs:?}");
        assert!(
            !blobs
                .iter()
                .any(|b| b.starts_with(WEIGHTS_SHA256) || b.contains("incomplete")),
            "{blobs:?}"
        );
        let weights_asked = hub
            .requests()
            .iter()
            .filter(|r| r.starts_with("/xet-bridge/"))
            .count();
        let attempts = match send {
            Serving::CutWeights => 3,
            _ => 1,
        };
        assert_eq!(weights_asked, attempts, "a wrong hash is not asked again");
    }
}

#[test]
fn offline_with_an_empty_cache_model_fetch_says_what_to_do() {
    // The harness's defaults: HF_HUB_OFFLINE=1 and a cache that does not exist.
    let data = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("--data-dir")
        .arg(data.path())
        .args(["model", "fetch"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    for part in [
        "model all-MiniLM-L6-v2 not found; looked in:",
        "HF_HUB_OFFLINE is set, so it is not fetched from the Hugging Face Hub",
        "unset HF_HUB_OFFLINE and run `paperfeed model fetch`",
        "scripts/fetch-model",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
    assert!(text(&out.stdout).is_empty());
}
