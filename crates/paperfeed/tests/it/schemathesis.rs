//! The API against its own document: schemathesis (pinned, installed into target/tools/hf-venv
//! by scripts/ensure-test-deps) reads `/api/openapi.json` from the real server with the sample
//! and a user's API token, generates requests the document allows and ones it does not, and
//! runs every check it has. Any failure fails this test, with schemathesis's report printed.
//! Only the server on loopback is asked; arXiv is a replay server on loopback too.

use std::path::PathBuf;
use std::process::Command;

use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};

use crate::community::api_token;
use crate::harness::{Server, fixture, workspace_root};

/// Test cases per operation and phase: enough for every parameter's edge cases, few enough to
/// keep the run to a couple of minutes on one core.
const MAX_EXAMPLES: &str = "100";
/// A fixed seed, so a failure shows again on the next run. `PAPERFEED_TEST_SCHEMATHESIS_SEED`
/// picks another, to explore.
const SEED: &str = "14";

/// schemathesis's `st` from the venv, or `None` (with a loud SKIPPED) outside CI when missing.
fn schemathesis() -> Option<PathBuf> {
    let st = workspace_root().join("target/tools/hf-venv/bin/st");
    if st.is_file() {
        return Some(st);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "schemathesis is required in CI: scripts/ensure-test-deps installs it into {}",
        st.display()
    );
    eprintln!(
        "SKIPPED: schemathesis not found at {} (run scripts/ensure-test-deps)",
        st.display()
    );
    None
}

/// arXiv on loopback: every id asked for is a paper published today (from a recorded answer
/// with its id swapped), so submissions of papers the hub lacks go through.
async fn arxiv_knowing_every_paper() -> ReplayServer {
    let recorded = String::from_utf8(
        std::fs::read(fixture(
            "crates/paperfeed-ingest/tests/fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml",
        ))
        .unwrap(),
    )
    .unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let recorded = recorded
        .replace("2025-10-16", &today)
        .replace("2025-10-15", &today);
    ReplayServer::start(move |target| {
        let Some(ids) = target
            .strip_prefix("/api/query?id_list=")
            .map(|rest| rest.split('&').next().unwrap_or_default())
        else {
            return Reply::status(404, "not recorded");
        };
        let id = ids.replace("%2F", "/").replace("%2f", "/");
        Reply::ok(recorded.replace("2510.14968", &id))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_the_api_true_to_its_document() {
    let Some(st) = schemathesis() else { return };
    let arxiv = arxiv_knowing_every_paper().await;
    let arxiv_url = std::ffi::OsString::from(arxiv.base_url());
    let plenty = std::ffi::OsString::from("100000");
    let no_wait = std::ffi::OsString::from("0");
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[
            ("PAPERFEED_SOURCES__ARXIV__BASE_URL", &arxiv_url),
            ("PAPERFEED_SOURCES__ARXIV__POLITENESS_SECONDS", &no_wait),
            // Rate limits are tested elsewhere; here they would only turn most requests into
            // 429s and leave the rest of the contract untried.
            ("PAPERFEED_COMMUNITY__RATE_LIMITS__VOTE__BURST", &plenty),
            (
                "PAPERFEED_COMMUNITY__RATE_LIMITS__VOTE__PER_MINUTE",
                &plenty,
            ),
            ("PAPERFEED_COMMUNITY__RATE_LIMITS__SUBMIT__BURST", &plenty),
            (
                "PAPERFEED_COMMUNITY__RATE_LIMITS__SUBMIT__PER_MINUTE",
                &plenty,
            ),
        ],
    );
    let token = api_token(server.data_dir(), "fuzzer");

    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&st);
    // Straight to loopback: no proxy from the environment.
    for key in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(key);
    }
    cmd.current_dir(work.path())
        .env("NO_PROXY", "*")
        .args(["--no-color", "run"])
        .arg(server.url("/api/openapi.json"))
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed"])
        .arg(std::env::var("PAPERFEED_TEST_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_owned()))
        // One worker: with several threads, CPython 3.11's parser (which hypothesis uses to
        // describe its strategies) sometimes fails inside schemathesis ("AST constructor
        // recursion depth mismatch"), and one worker also makes the order of requests fixed.
        .args(["--workers", "1", "--request-timeout", "20"])
        .args(["--generation-database", "none"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"));
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("running schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "schemathesis ran {:.0} s:\n{report}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        !report.contains(&token),
        "schemathesis's report shows the token"
    );
    assert!(
        out.status.success(),
        "schemathesis found the API at odds with /api/openapi.json (report above)"
    );
    // It tested every operation the document has.
    let (_, doc) = crate::api::get_json(&server, "/api/openapi.json").await;
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(operations >= 8, "{doc}");
    for line in [
        format!("Selected: {operations}/{operations}"),
        format!("Tested: {operations}"),
    ] {
        assert!(report.contains(&line), "the report lacks {line:?}");
    }
}
