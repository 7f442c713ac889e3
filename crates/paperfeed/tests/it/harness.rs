//! Starting the real binary: a temp data dir, `serve` on 127.0.0.1:0, ingest runs.
//!
//! Every process started through [`bin`] also writes its stdout and stderr to files under
//! [`log_dir`], at debug level for paperfeed's own crates, and the secrets tests use are
//! listed there ([`register_secret`]): `scripts/check-logs` reads them all after the run and
//! fails on any address, password or token in a log line.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Debug for every paperfeed crate (the strongest test of what logs may hold), warnings for
/// the rest.
const TEST_LOG_FILTER: &str = "warn,paperfeed=debug,paperfeed_app=debug,paperfeed_web=debug,\
                               paperfeed_store=debug,\
                               paperfeed_ingest=debug,paperfeed_search=debug,paperfeed_mail=debug,\
                               tower_http=debug";

/// Where the logs of the processes tests start go: `PAPERFEED_TEST_LOG_DIR` (scripts/test
/// empties one per run), else `test-logs` in the target directory.
pub fn log_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("PAPERFEED_TEST_LOG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                // CARGO_BIN_EXE_paperfeed is <target>/<profile>/paperfeed.
                Path::new(env!("CARGO_BIN_EXE_paperfeed"))
                    .ancestors()
                    .nth(2)
                    .unwrap()
                    .join("test-logs")
            });
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// Notes a secret a test uses (a password, a token, a session id, a signed link) so that
/// `scripts/check-logs` fails if it shows in any log.
pub fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.is_empty() {
        return;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_dir().join("secrets.txt"))
        .unwrap();
    // One write per line: tests in parallel append whole lines.
    file.write_all(format!("{secret}\n").as_bytes()).unwrap();
}

/// A file name for the next process of this test: the test's name (libtest names the thread
/// after it), this test process and a counter.
fn next_log_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let thread = std::thread::current();
    let test: String = thread
        .name()
        .unwrap_or("it")
        .replace("::", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!(
        "{test}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn bin() -> Command {
    bin_logged().0
}

/// [`bin`] and the file its stderr (its log) is copied to.
pub fn bin_logged() -> (Command, PathBuf) {
    bin_logged_via(&[])
}

/// [`bin_logged`], the binary run by `wrapper` (a program and its arguments, such as
/// `strace -f -o FILE`) when one is given.
pub fn bin_logged_via(wrapper: &[&std::ffi::OsStr]) -> (Command, PathBuf) {
    // The binary's stdout and stderr go where the caller sends them and, through tee, to the
    // log files too (-p: a reader closing its pipe early does not stop the copy to the file).
    // `exec` makes the child's pid the binary's own, so kill and signals reach it.
    let name = next_log_name();
    let stderr_log = log_dir().join(format!("{name}.stderr.log"));
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(
            r#"out=$1 err=$2; shift 2
exec "$@" > >(exec tee -p -a "$out") 2> >(exec tee -p -a "$err" >&2)"#,
        )
        .arg("paperfeed-with-logs")
        .arg(log_dir().join(format!("{name}.stdout.log")))
        .arg(&stderr_log)
        .args(wrapper)
        .arg(env!("CARGO_BIN_EXE_paperfeed"));
    // Keep tests independent of the developer's environment and any ./paperfeed.toml.
    for (key, _) in std::env::vars() {
        if key.starts_with("PAPERFEED_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", TEST_LOG_FILTER);
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
    // Nor is the model fetched from the Hugging Face Hub, or taken from the developer's cache,
    // unless a test serves it (tests/it/model_hub.rs): offline, no cache, a closed port.
    for key in [
        "HF_HOME",
        "HUGGINGFACE_HUB_CACHE",
        "XDG_CACHE_HOME",
        "TRANSFORMERS_OFFLINE",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("HF_HUB_OFFLINE", "1");
    cmd.env("HF_HUB_CACHE", "/nonexistent/paperfeed-test-no-hf-cache");
    cmd.env("HF_ENDPOINT", "http://127.0.0.1:9");
    (cmd, stderr_log)
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
    /// What the server printed on stdout before its `listening on` line.
    pub announced: Vec<String>,
    stderr_log: PathBuf,
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

    /// Like [`Server::start_with_env`], with the server's log (stderr) going to `log` too.
    pub fn start_logged(
        extra: &[&str],
        data_dir: tempfile::TempDir,
        envs: &[(&str, &std::ffi::OsStr)],
        log: impl Into<Stdio>,
    ) -> Self {
        Self::start_via(&[], extra, data_dir, envs, log)
    }

    /// Like [`Server::start_logged`], `serve` run by `wrapper` ([`bin_logged_via`]).
    pub fn start_via(
        wrapper: &[&std::ffi::OsStr],
        extra: &[&str],
        data_dir: tempfile::TempDir,
        envs: &[(&str, &std::ffi::OsStr)],
        log: impl Into<Stdio>,
    ) -> Self {
        let (mut cmd, stderr_log) = bin_logged_via(wrapper);
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
        let mut announced = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("paperfeed serve exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
            announced.push(line);
        };
        Self {
            child,
            base,
            data_dir,
            announced,
            stderr_log,
        }
    }

    /// The server's log so far (its stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Waits until the log has a line containing every one of `needles`; returns that line.
    pub async fn wait_for_log_line(&self, needles: &[&str]) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self
                .log()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return line.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line with {needles:?} in:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` (`TERM`, `INT`) to the server process with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `limit` for the server to exit; its status, or `None` while it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
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

/// Runs the binary on the database at `url` with `args`, `stdin` on its standard input.
pub fn run_on(url: &str, args: &[&str], stdin: &str) -> Output {
    let data = tempfile::tempdir().unwrap();
    let mut child = bin()
        .arg("--data-dir")
        .arg(data.path())
        .args(["--database-url", url])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}
