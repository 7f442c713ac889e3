//! The fetch against a Hub on loopback serving the real model files (the packaged copy of
//! `scripts/fetch-model`) at `/{repo}/resolve/{commit}/{path}`, with the Hub's redirect for
//! the file in Git LFS; and the failures: a cut-off download, other bytes, a wrong length, a
//! damaged blob, no Hub at all, offline.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};
use paperfeed_search::{HF_REPO, locate_model};
use reqwest::Url;

use super::download::redirect_refusal;
use super::hub_cache::{RepoCache, sha256_of_file};
use super::pin::{self, FILES, PinnedFile};

/// Whether the Hub keeps a file in Git LFS: its blob is then named by its SHA-256, and the Hub
/// answers for it with a redirect to its storage.
fn is_lfs(file: &PinnedFile) -> bool {
    file.etag == file.sha256
}
use super::{FetchConfig, FetchError, ensure, fetch};
use crate::settings::{HfHub, Settings};

/// The packaged model files, or `None` (loudly) outside CI when `scripts/fetch-model` has not
/// run.
fn packaged() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPERFEED_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/models/all-MiniLM-L6-v2")
        });
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the packaged model is required in CI (scripts/fetch-model)"
    );
    eprintln!(
        "SKIPPED: no model in {} (scripts/fetch-model)",
        dir.display()
    );
    None
}

/// Every pinned file's bytes, by path.
fn real_files(dir: &Path) -> HashMap<&'static str, Vec<u8>> {
    FILES
        .iter()
        .map(|f| (f.path, std::fs::read(dir.join(f.path)).unwrap()))
        .collect()
}

fn no_wait() -> FetchConfig {
    FetchConfig {
        backoff: Duration::ZERO,
        ..FetchConfig::default()
    }
}

/// How the loopback Hub answers for one file's bytes (after the redirect, for LFS).
type Serve = dyn Fn(&'static str, &[u8]) -> Reply + Send + Sync;

/// A Hub on loopback with the pinned commit's files: small files answered directly with their
/// ETag, `model.safetensors` by a redirect to `/storage/<sha256>`, as the Hub does. `serve`
/// decides each file's answer.
async fn hub(files: HashMap<&'static str, Vec<u8>>, serve: Arc<Serve>) -> ReplayServer {
    let files = Arc::new(files);
    let resolve = format!("/{HF_REPO}/resolve/{}/", pin::REVISION);
    let base: Arc<std::sync::OnceLock<String>> = Arc::default();
    let base_for_script = Arc::clone(&base);
    let server = ReplayServer::start(move |target| {
        let by_path = |path: &str| FILES.iter().find(|f| f.path == path);
        if let Some(path) = target.strip_prefix(&resolve) {
            let Some(file) = by_path(path) else {
                return Reply::status(404, "Entry not found")
                    .with_header("X-Error-Code", "EntryNotFound");
            };
            if is_lfs(file) {
                let to = format!(
                    "{}/storage/{}?signature=abc",
                    base_for_script.get().map_or("", String::as_str),
                    file.sha256
                );
                return Reply::status(302, format!("Found. Redirecting to {to}"))
                    .with_header("Location", &to)
                    .with_header("X-Repo-Commit", pin::REVISION)
                    .with_header("X-Linked-Etag", &format!("\"{}\"", file.etag))
                    .with_header("X-Linked-Size", &file.size.to_string());
            }
            return with_hub_headers(serve(file.path, &files[file.path]), file);
        }
        if let Some(sha) = target.strip_prefix("/storage/") {
            let sha = sha.split('?').next().unwrap_or_default();
            if let Some(file) = FILES.iter().find(|f| f.sha256 == sha) {
                return serve(file.path, &files[file.path]);
            }
        }
        Reply::status(404, "Repository not found")
    })
    .await
    .unwrap();
    base.set(server.base_url()).unwrap();
    server
}

fn with_hub_headers(reply: Reply, file: &PinnedFile) -> Reply {
    reply
        .with_header("ETag", &format!("\"{}\"", file.etag))
        .with_header("X-Repo-Commit", pin::REVISION)
}

fn as_is() -> Arc<Serve> {
    Arc::new(|_, bytes| Reply::ok(bytes.to_vec()))
}

/// Requests for one file's bytes (the resolve URL for small files, storage for LFS).
fn asked_for(server: &ReplayServer, file: &str) -> usize {
    let sha = FILES.iter().find(|f| f.path == file).unwrap().sha256;
    server
        .requests()
        .iter()
        .filter(|r| {
            let lfs = file == "model.safetensors";
            (lfs && r.starts_with(&format!("/storage/{sha}")))
                || (!lfs && r.ends_with(&format!("/{}/{file}", pin::REVISION)))
        })
        .count()
}

fn repo_dir(cache: &Path) -> PathBuf {
    cache.join("models--sentence-transformers--all-MiniLM-L6-v2")
}

/// The names in a folder, sorted; empty when it does not exist.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_pins_are_the_packaged_files() {
    let Some(dir) = packaged() else { return };
    for file in &FILES {
        let path = dir.join(file.path);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            file.size,
            "{}",
            file.path
        );
        assert_eq!(sha256_of_file(&path).unwrap(), file.sha256, "{}", file.path);
        // The blob's name is the Hub's ETag: the Git blob id for a file outside LFS.
        if !is_lfs(file)
            && let Ok(out) = std::process::Command::new("git")
                .arg("hash-object")
                .arg(&path)
                .output()
        {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                file.etag,
                "{}",
                file.path
            );
        }
    }
    // The Hub's LFS object id of the weights (what the Hub's page shows for the file).
    assert_eq!(
        FILES.iter().filter(|f| is_lfs(f)).count(),
        1,
        "only the weights are in LFS"
    );
    // Everything the encoder reads is fetched.
    for name in paperfeed_search::MODEL_FILES {
        assert!(FILES.iter().any(|f| f.path == name), "{name}");
    }
}

#[tokio::test]
async fn a_fetch_lands_in_the_hub_cache_layout_and_a_second_one_asks_for_nothing() {
    let Some(dir) = packaged() else { return };
    let server = hub(real_files(&dir), as_is()).await;
    let cache = tempfile::tempdir().unwrap();
    let snapshot = fetch(&no_wait(), &server.base_url(), cache.path())
        .await
        .unwrap();

    let repo = repo_dir(cache.path());
    assert_eq!(snapshot, repo.join("snapshots").join(pin::REVISION));
    let mut etags: Vec<&str> = FILES.iter().map(|f| f.etag).collect();
    etags.sort_unstable();
    assert_eq!(
        names(&repo.join("blobs")),
        etags,
        "one blob per file, no leftovers"
    );
    assert_eq!(names(&repo), ["blobs", "snapshots"], "no refs for a commit");
    for file in &FILES {
        let link = snapshot.join(file.path);
        let ups = "../".repeat(file.path.matches('/').count() + 2);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            PathBuf::from(format!("{ups}blobs/{}", file.etag)),
            "a relative link, as huggingface_hub makes them"
        );
        assert_eq!(
            std::fs::read(&link).unwrap(),
            std::fs::read(dir.join(file.path)).unwrap()
        );
    }
    // The search finds it there, and loads it.
    let data = tempfile::tempdir().unwrap();
    assert_eq!(
        locate_model(None, data.path(), Some(cache.path())).unwrap(),
        snapshot
    );
    paperfeed_search::Embedder::load(&snapshot).unwrap();

    let before = server.requests().len();
    fetch(&no_wait(), &server.base_url(), cache.path())
        .await
        .unwrap();
    assert_eq!(
        server.requests().len(),
        before,
        "everything was in the cache"
    );
}

#[tokio::test]
async fn a_download_cut_short_is_refused_and_leaves_no_snapshot() {
    let Some(dir) = packaged() else { return };
    let cut: Arc<Serve> = Arc::new(|path, bytes| {
        if path == "model.safetensors" {
            Reply::CutOff {
                body: bytes.to_vec(),
                sent: bytes.len() / 3,
            }
        } else {
            Reply::ok(bytes.to_vec())
        }
    });
    let server = hub(real_files(&dir), cut).await;
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&no_wait(), &server.base_url(), cache.path())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Truncated {
                path: "model.safetensors",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("stopped after"), "{err}");
    assert_eq!(asked_for(&server, "model.safetensors"), 3, "three attempts");
    let repo = repo_dir(cache.path());
    assert!(!repo.join("snapshots").exists(), "no snapshot");
    let blobs = names(&repo.join("blobs"));
    assert_eq!(
        blobs.len(),
        FILES.len() - 1,
        "the small files are kept: {blobs:?}"
    );
    assert!(blobs.iter().all(|b| !b.contains("incomplete")), "{blobs:?}");
    let data = tempfile::tempdir().unwrap();
    assert!(locate_model(None, data.path(), Some(cache.path())).is_err());

    // Once the Hub answers whole, the next run fetches only what is missing.
    let fixed = hub(real_files(&dir), as_is()).await;
    fetch(&no_wait(), &fixed.base_url(), cache.path())
        .await
        .unwrap();
    assert_eq!(asked_for(&fixed, "model.safetensors"), 1);
    assert_eq!(asked_for(&fixed, "config.json"), 0);
    assert!(locate_model(None, data.path(), Some(cache.path())).is_ok());
}

#[tokio::test]
async fn other_bytes_or_another_length_are_refused_at_once() {
    let Some(dir) = packaged() else { return };
    let mut files = real_files(&dir);
    // Same length, one byte changed: only the hash can tell.
    files.get_mut("tokenizer.json").unwrap()[1000] ^= 1;
    let server = hub(files, as_is()).await;
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&no_wait(), &server.base_url(), cache.path())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Mismatch {
                path: "tokenizer.json",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expected be50c362"), "{err}");
    assert_eq!(asked_for(&server, "tokenizer.json"), 1, "not tried again");
    let repo = repo_dir(cache.path());
    assert!(!repo.join("snapshots").exists());
    assert!(!repo.join("blobs").join(FILES[8].etag).exists());
    assert!(
        names(&repo.join("blobs"))
            .iter()
            .all(|b| !b.contains("incomplete"))
    );

    let mut files = real_files(&dir);
    files.get_mut("vocab.txt").unwrap().push(b'\n');
    let server = hub(files, as_is()).await;
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&no_wait(), &server.base_url(), cache.path())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::WrongSize {
                path: "vocab.txt",
                announced: 231_509,
                ..
            }
        ),
        "{err}"
    );
    assert!(!repo_dir(cache.path()).join("snapshots").exists());
}

#[tokio::test]
async fn a_damaged_blob_in_the_cache_is_fetched_again() {
    let Some(dir) = packaged() else { return };
    let server = hub(real_files(&dir), as_is()).await;
    let cache = tempfile::tempdir().unwrap();
    let repo = RepoCache::new(cache.path(), HF_REPO);
    let config = &FILES[0];
    std::fs::create_dir_all(repo.blob(config).parent().unwrap()).unwrap();
    std::fs::write(repo.blob(config), vec![b'x'; config.size as usize]).unwrap();
    let snapshot = fetch(&no_wait(), &server.base_url(), cache.path())
        .await
        .unwrap();
    assert_eq!(asked_for(&server, "config.json"), 1);
    assert_eq!(
        std::fs::read(snapshot.join("config.json")).unwrap(),
        std::fs::read(dir.join("config.json")).unwrap()
    );
}

#[tokio::test]
async fn a_hub_that_does_not_answer_is_named_after_the_attempts() {
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&no_wait(), "http://127.0.0.1:9", cache.path())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "http://127.0.0.1:9/sentence-transformers/all-MiniLM-L6-v2/resolve/{}/config.json:",
            pin::REVISION
        )),
        "{err}"
    );
    assert!(!repo_dir(cache.path()).join("snapshots").exists());

    let err = fetch(&no_wait(), "ftp://mirror", cache.path())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Endpoint { .. }), "{err}");
}

#[test]
fn redirects_stop_after_five_and_never_step_down_to_plain_http() {
    let url = |s: &str| Url::parse(s).unwrap();
    let hub = url("https://huggingface.co/x/resolve/c/model.safetensors");
    let storage = url("https://cas-bridge.xethub.hf.co/blob?sig=1");
    assert_eq!(redirect_refusal(std::slice::from_ref(&hub), &storage), None);
    assert_eq!(
        redirect_refusal(
            std::slice::from_ref(&hub),
            &url("http://cas-bridge.xethub.hf.co/blob")
        ),
        Some("redirected from https to plain http")
    );
    let local = url("http://127.0.0.1:8080/x/resolve/c/model.safetensors");
    assert_eq!(
        redirect_refusal(
            std::slice::from_ref(&local),
            &url("http://127.0.0.1:8080/storage/1")
        ),
        None,
        "a plain-http mirror may redirect within plain http"
    );
    let six: Vec<Url> = std::iter::repeat_n(local, 6).collect();
    assert_eq!(redirect_refusal(&six, &storage), Some("too many redirects"));
}

#[tokio::test]
async fn offline_with_an_empty_cache_says_what_to_do_and_asks_nothing() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    let hub = HfHub {
        cache: Some(cache.path().to_path_buf()),
        endpoint: "http://127.0.0.1:9".to_owned(),
        offline: true,
    };
    let why = ensure(&settings, &hub).await.unwrap_err();
    let packaged = format!(
        "scripts/fetch-model {}",
        data.path().join("models/all-MiniLM-L6-v2").display()
    );
    for part in [
        "HF_HUB_OFFLINE is set",
        "unset HF_HUB_OFFLINE and run `paperfeed model fetch`",
        packaged.as_str(),
    ] {
        assert!(why.contains(part), "{part:?} in {why}");
    }
    assert_eq!(names(cache.path()), Vec::<String>::new(), "nothing written");
}

#[tokio::test]
async fn on_first_need_the_model_is_fetched_then_found() {
    let Some(dir) = packaged() else { return };
    let server = hub(real_files(&dir), as_is()).await;
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    let hub = HfHub {
        cache: Some(cache.path().to_path_buf()),
        endpoint: server.base_url(),
        offline: false,
    };
    let snapshot = ensure(&settings, &hub).await.unwrap();
    assert_eq!(
        snapshot,
        repo_dir(cache.path()).join("snapshots").join(pin::REVISION)
    );
    let asked = server.requests().len();
    // Found from now on, offline too.
    let offline = HfHub {
        offline: true,
        ..hub
    };
    assert_eq!(ensure(&settings, &offline).await.unwrap(), snapshot);
    assert_eq!(server.requests().len(), asked);
}
