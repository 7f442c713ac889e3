//! Starting the real binary: a temp data dir, `serve` on 127.0.0.1:0, ingest runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperfeed"));
    // Keep tests independent of the developer's environment and any ./paperfeed.toml.
    for (key, _) in std::env::vars() {
        if key.starts_with("PAPERFEED_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "warn");
    // Nothing but loopback: paper submissions look unknown papers up on arXiv, so every test
    // server asks a closed local port unless a test points it at its replay server.
    cmd.env("PAPERFEED_SOURCES__ARXIV__BASE_URL", "http://127.0.0.1:9");
    cmd.env("PAPERFEED_SOURCES__ARXIV__RETRIES", "0");
    // Semantic search off unless a test asks for the model: embedding the sample in every
    // test server would only slow the suite down.
    cmd.env(
        "PAPERFEED_MODEL_DIR",
        "/nonexistent/paperfeed-test-no-model",
    );
    cmd
}

/// The embedding model fetched by scripts/fetch-model, when present. In CI it must be.
pub fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPERFEED_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/models/all-MiniLM-L6-v2"));
    if dir.join("model.safetensors").is_file() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the embedding model is required in CI (scripts/fetch-model)"
        );
        eprintln!(
            "SKIPPED: embedding model not found at {} (run scripts/fetch-model)",
            dir.display()
        );
        None
    }
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/data` beside the checkout (or `PAPERFEED_SHARED_DATA`), when present.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPERFEED_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/data"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: shared data not found at {}", dir.display());
        None
    }
}

pub fn fixture(rel: &str) -> PathBuf {
    workspace_root().join(rel)
}

pub fn ingest(data_dir: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--data-dir")
        .arg(data_dir)
        .arg("ingest")
        .args(args)
        .output()
        .expect("running paperfeed ingest")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `paperfeed serve`, killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    data_dir: tempfile::TempDir,
}

impl Server {
    /// Starts with the bundled sample loaded.
    pub fn start() -> Self {
        Self::start_with(&[], tempfile::tempdir().unwrap())
    }

    pub fn start_with(extra: &[&str], data_dir: tempfile::TempDir) -> Self {
        Self::start_with_env(extra, data_dir, &[])
    }

    pub fn start_with_env(
        extra: &[&str],
        data_dir: tempfile::TempDir,
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        Self::start_logged(extra, data_dir, envs, Stdio::inherit())
    }

    /// Like [`Server::start_with_env`], with the server's log (stderr) going to `log`.
    pub fn start_logged(
        extra: &[&str],
        data_dir: tempfile::TempDir,
        envs: &[(&str, &std::ffi::OsStr)],
        log: impl Into<Stdio>,
    ) -> Self {
        let mut cmd = bin();
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting paperfeed serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("paperfeed serve exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
        };
        Self {
            child,
            base,
            data_dir,
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until the search index has caught up with the store (and, with `vectors`, until
    /// every paper has its vector), reading the status page as a user would.
    pub async fn wait_for_index(&self, vectors: bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            let (_, html) = self.get("/status").await;
            let indexed = !html.contains("(catching up)") && !html.contains(" 0 papers indexed");
            let embedded = !vectors
                || (html.contains("on: ")
                    && !html.contains("still to compute")
                    && !html.contains("on: 0 vectors"));
            if indexed && embedded {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the index never caught up: {html}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let resp = client.get(self.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
