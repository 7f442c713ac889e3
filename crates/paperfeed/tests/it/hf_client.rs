//! Hugging Face's own client, unchanged, against our API: `huggingface_hub` (pinned, installed
//! into target/tools/hf-venv by scripts/ensure-test-deps) with `HF_ENDPOINT` pointing at the
//! real server, through its Python API and its `hf` CLI. Answers are compared with the store.

use std::path::PathBuf;
use std::process::Command;

use paperfeed_core::ArxivId;
use paperfeed_store::{FeedOrder, Store};
use serde_json::Value;

use crate::api::{feed, get_json, store_of, stored_ids};
use crate::harness::{Server, workspace_root};

/// The paper ids of an `/api/daily_papers` answer, in order.
async fn api_ids(server: &Server, path: &str) -> Vec<String> {
    let (status, entries) = get_json(server, path).await;
    assert_eq!(status, 200, "{path}");
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["paper"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The venv's bin directory, or `None` (with a loud SKIPPED) outside CI when it is missing.
fn hf_venv() -> Option<PathBuf> {
    let bin = workspace_root().join("target/tools/hf-venv/bin");
    if bin.join("hf").is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "huggingface_hub is required in CI: scripts/ensure-test-deps installs it into {}",
        bin.display()
    );
    eprintln!(
        "SKIPPED: huggingface_hub not found in {} (run scripts/ensure-test-deps)",
        bin.display()
    );
    None
}

/// A command from the venv with HF's client aimed at `server`: no token, no telemetry, online.
fn hf_command(
    bin: &std::path::Path,
    program: &str,
    server: &Server,
    home: &std::path::Path,
) -> Command {
    let mut cmd = Command::new(bin.join(program));
    for (key, _) in std::env::vars() {
        if key.starts_with("HF_") || key.starts_with("HUGGING_FACE") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HF_ENDPOINT", &server.base)
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HOME", home)
        .env("NO_COLOR", "1");
    cmd
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running huggingface_hub");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Calls of the Python API, each answer reduced to plain JSON.
const CLIENT_SCRIPT: &str = r#"
import json
from huggingface_hub import HfApi

api = HfApi()

def brief(p):
    return {
        "id": p.id,
        "title": p.title,
        "upvotes": p.upvotes or 0,
        "published_at": p.published_at.date().isoformat() if p.published_at else None,
        "submitted_at": p.submitted_at.date().isoformat() if p.submitted_at else None,
        "submitter": p.submitted_by.username if p.submitted_by else None,
        "authors": [a.name for a in p.authors or []],
    }

def daily(**kw):
    return [brief(p) for p in api.list_daily_papers(**kw)]

info = api.paper_info("2608.19880")
print(json.dumps({
    "date": daily(date="2026-08-21"),
    "week": daily(week="2026-W34", limit=100),
    "month": daily(month="2026-07", sort="trending", limit=100),
    "submitter": daily(submitter="taesiri", limit=100),
    "limit": daily(limit=3, p=1),
    "search": [brief(p) for p in api.list_papers(query="EnvHarness", limit=5)],
    "latest": [brief(p) for p in api.list_papers(limit=4)],
    "info": dict(brief(info), summary=info.summary, comments=info.comments,
                 github_repo=info.github_repo, ai_keywords=info.ai_keywords),
    "read": api.read_paper("2608.19880"),
}))
"#;

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn huggingface_hub_lists_reads_and_searches_our_papers_unchanged() {
    let Some(bin) = hf_venv() else { return };
    let server = Server::start();
    server.wait_for_index(false).await;
    let store = store_of(&server);
    let home = tempfile::tempdir().unwrap();
    let out = run(hf_command(&bin, "python", &server, home.path()).args(["-c", CLIENT_SCRIPT]));
    let got: Value = serde_json::from_str(&out).unwrap();

    // list_daily_papers: date, week, month with sort, submitter, limit and page.
    let day = store
        .featured_page(feed(Some("2026-08-21"), FeedOrder::Newest, 100))
        .await
        .unwrap();
    assert_eq!(got["date"].as_array().unwrap().len(), day.len());
    for (p, want) in got["date"].as_array().unwrap().iter().zip(&day) {
        assert_eq!(p["id"], want.paper.id.as_str());
        assert_eq!(p["title"], want.paper.title.as_str());
        assert_eq!(p["upvotes"], want.paper.upvotes);
        assert_eq!(p["submitted_at"], "2026-08-21", "the featured day");
        let arxiv_day = want.paper.published_at.map(|d| d.date_naive().to_string());
        assert_eq!(
            p["published_at"].as_str(),
            arxiv_day.as_deref(),
            "the arXiv day"
        );
        assert_eq!(
            p["authors"].as_array().unwrap().len(),
            want.paper.authors.len()
        );
    }
    let week = stored_ids(&store, feed(Some("2026-W34"), FeedOrder::Newest, 100)).await;
    assert_eq!(ids(&got["week"]), week);
    // Trending is the API's own ranking (paperfeed_core::trending_score, checked in api.rs):
    // the client must hand back exactly that order.
    let (_, month) = get_json(
        &server,
        "/api/daily_papers?month=2026-07&sort=trending&limit=100",
    )
    .await;
    let month: Vec<String> = month
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["paper"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(month.len(), 100);
    assert_eq!(ids(&got["month"]), month);
    let mut by_taesiri = feed(None, FeedOrder::Newest, 100);
    by_taesiri.submitter = Some("taesiri".into());
    assert_eq!(ids(&got["submitter"]), stored_ids(&store, by_taesiri).await);
    assert!(
        got["submitter"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["submitter"] == "taesiri")
    );
    let mut second_page = feed(None, FeedOrder::Newest, 3);
    second_page.offset = 3;
    assert_eq!(ids(&got["limit"]), stored_ids(&store, second_page).await);

    // list_papers (search) finds the paper by name; without a query, the latest featured.
    assert_eq!(ids(&got["search"])[0], "2608.19880");
    assert_eq!(
        ids(&got["latest"]),
        stored_ids(&store, feed(None, FeedOrder::Newest, 4)).await
    );

    // paper_info and read_paper.
    let id = ArxivId::parse("2608.19880").unwrap();
    let paper = store.get_paper(&id).await.unwrap().unwrap();
    let info = &got["info"];
    assert_eq!(info["title"], paper.title.as_str());
    assert_eq!(info["summary"], paper.abstract_text.as_str());
    assert_eq!(info["upvotes"], paper.upvotes);
    assert_eq!(info["comments"], paper.num_comments);
    assert_eq!(info["github_repo"], paper.github_repo.as_deref().unwrap());
    assert_eq!(info["ai_keywords"][0], paper.ai_keywords[0].as_str());
    assert_eq!(info["submitted_at"], "2026-08-21");
    let read = got["read"].as_str().unwrap();
    assert!(read.starts_with(&format!("# {}", paper.title)), "{read}");

    // The `hf papers` CLI.
    let hf = |args: &[&str]| run(hf_command(&bin, "hf", &server, home.path()).args(args));
    let ls: Value = serde_json::from_str(&hf(&[
        "papers",
        "ls",
        "--date",
        "2026-08-21",
        "--format",
        "json",
    ]))
    .unwrap();
    let listed: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = day.iter().map(|e| e.paper.id.as_str()).collect();
    assert_eq!(listed, want);
    assert_eq!(ls[0]["upvotes"], day[0].paper.upvotes);
    let week_ls: Value = serde_json::from_str(&hf(&[
        "papers", "ls", "--week", "2026-W34", "--sort", "trending", "--limit", "5", "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        ids(&week_ls),
        api_ids(
            &server,
            "/api/daily_papers?week=2026-W34&sort=trending&limit=5"
        )
        .await
    );
    let found: Value =
        serde_json::from_str(&hf(&["papers", "search", "EnvHarness", "--format", "json"])).unwrap();
    assert_eq!(ids(&found)[0], "2608.19880");
    let info: Value =
        serde_json::from_str(&hf(&["papers", "info", "2608.19880", "--format", "json"])).unwrap();
    assert_eq!(info["id"], "2608.19880");
    assert_eq!(info["title"], paper.title.as_str());
    assert_eq!(info["upvotes"], paper.upvotes);
    let md = hf(&["papers", "read", "2608.19880"]);
    assert!(md.contains(&paper.title), "{md}");
    let missing = hf_command(&bin, "hf", &server, home.path())
        .args(["papers", "info", "2601.99999"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_passes_an_openapi_3_1_validator() {
    let Some(bin) = hf_venv() else { return };
    let server = Server::start();
    let (_, doc) = get_json(&server, "/api/openapi.json").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = Command::new(bin.join("openapi-spec-validator"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
