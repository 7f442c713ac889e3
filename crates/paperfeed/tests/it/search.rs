//! Search over HTTP and from the CLI, against the real server and binary.

use crate::harness::{Server, bin, fixture, ingest, model_dir, text};

#[tokio::test(flavor = "multi_thread")]
async fn the_search_page_finds_papers_by_keyword_with_highlights() {
    let server = Server::start();
    server.wait_for_index(false).await;
    let (status, html) = server.get("/papers?q=EnvHarness&mode=keyword").await;
    assert_eq!(status, 200);
    let first = html
        .find("data-paper-id=")
        .map(|i| &html[i..i + 30])
        .unwrap_or_default();
    assert!(first.contains("2608.19880"), "{first}");
    assert!(html.contains("<mark>"), "matched words are highlighted");
    assert!(html.contains("keyword search"));
    // The header box leads here, and semantic search says it is off.
    let (status, html) = server.get("/papers?q=agent+environments").await;
    assert_eq!(status, 200);
    assert!(html.contains("semantic search is off"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exact_id_or_title_ranks_that_paper_first() {
    let server = Server::start();
    server.wait_for_index(false).await;
    for q in [
        "2608.18580",
        "arXiv%3A2608.18580v1",
        "FACET%3A+Preserving+Source+Intent+and+Executable+State+in+Terminal+Task+Synthesis",
    ] {
        let (status, html) = server.get(&format!("/papers?q={q}&mode=keyword")).await;
        assert_eq!(status, 200, "{q}");
        let first = html
            .find("data-paper-id=\"")
            .map(|i| &html[i + 15..i + 25])
            .unwrap_or_default();
        assert_eq!(first, "2608.18580", "{q}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_searches_get_a_400_that_says_why() {
    let server = Server::start();
    for (q, why) in [
        ("/papers?q=%22unclosed", "never closed"),
        ("/papers?q=x&mode=psychic", "not a search mode"),
        ("/papers?q=x&sort=random", "not an order"),
        ("/papers?q=x&page=0", "page="),
        ("/papers?q=published%3A2024-13-45", "not a date"),
    ] {
        let (status, html) = server.get(q).await;
        assert_eq!(status, 400, "{q}");
        assert!(html.contains(why), "{q}: {html}");
    }
    let (status, html) = server
        .get("/papers?q=%3Cscript%3Ealert(1)%3C/script%3E")
        .await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script>alert"));
}

#[tokio::test(flavor = "multi_thread")]
async fn papers_ingested_while_serving_become_searchable() {
    let server = Server::start();
    server.wait_for_index(false).await;
    let (_, html) = server
        .get("/papers?q=Stealing+Part+of+a+Production+Language+Model&mode=keyword")
        .await;
    assert!(!html.contains("2403.06634"));
    let out = ingest(
        server.data_dir(),
        &[
            fixture("crates/paperfeed-ingest/tests/fixtures/2024-03-12.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    server.wait_for_index(false).await;
    let (_, html) = server
        .get("/papers?q=Stealing+Part+of+a+Production+Language+Model&mode=keyword")
        .await;
    assert!(html.contains("data-paper-id=\"2403.06634\""), "{html}");
}

#[test]
fn the_cli_searches_and_a_deleted_index_is_rebuilt() {
    let data = tempfile::tempdir().unwrap();
    let sample = fixture("sample/hf_daily_papers");
    assert!(
        ingest(data.path(), &[sample.to_str().unwrap()])
            .status
            .success()
    );
    let search = |extra: &[&str]| {
        let out = bin()
            .arg("--data-dir")
            .arg(data.path())
            .args(["search", "EnvHarness", "--mode", "keyword", "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json
    };
    let json = search(&[]);
    assert_eq!(json["results"][0]["id"], "2608.19880");
    std::fs::remove_dir_all(data.path().join("index")).unwrap();
    let out = bin()
        .arg("--data-dir")
        .arg(data.path())
        .arg("reindex")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("reindexed 442 papers"),
        "{}",
        text(&out.stdout)
    );
    // A corrupt index is rebuilt too, never a crash.
    std::fs::write(data.path().join("index/keyword/meta.json"), b"garbage").unwrap();
    assert_eq!(search(&["--limit", "3"])["results"][0]["id"], "2608.19880");
}

#[tokio::test(flavor = "multi_thread")]
async fn semantic_search_and_similar_papers_work_with_the_model() {
    let Some(model) = model_dir() else { return };
    // One real day keeps the embedding work small.
    let data = tempfile::tempdir().unwrap();
    let day = fixture("sample/hf_daily_papers/2026-08-21.json");
    assert!(
        ingest(data.path(), &[day.to_str().unwrap()])
            .status
            .success()
    );
    let server = Server::start_with_env(
        &["--no-sample"],
        data,
        &[("PAPERFEED_MODEL_DIR", model.as_os_str())],
    );
    server.wait_for_index(true).await;
    // Meaning without the words: no abstract says "robots that learn in simulated worlds".
    let (status, html) = server
        .get("/papers?q=teaching+software+agents+with+training+worlds+that+adapt&mode=semantic")
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("semantic search"), "{html}");
    assert!(
        html.contains("data-paper-id=\"2608.19880\""),
        "EnvHarness is about adaptive agent environments"
    );
    let (_, html) = server.get("/papers?q=agent+environments").await;
    assert!(html.contains("hybrid search"));
    let (_, html) = server.get("/papers/2608.19880").await;
    let start = html.find("Similar papers").unwrap();
    let similar = &html[start..start + html[start..].find("</section>").unwrap()];
    assert_eq!(
        similar.matches("<li><a href=\"/papers/").count(),
        5,
        "five similar papers: {similar}"
    );
    let (_, status) = server.get("/status").await;
    assert!(status.contains("17 vectors"), "{status}");
}
