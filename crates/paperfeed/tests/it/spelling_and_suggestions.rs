//! "Did you mean" on the search page, the search API and the CLI, and suggestions while typing
//! (`/api/suggest`), against the real server and binary with the embedded sample.

use crate::harness::{Server, bin, fixture, ingest, text};

/// The page's spelling line, tags and all, its character references spelt by name.
fn spelling_line(html: &str) -> String {
    let Some(start) = html.find("<p class=\"spelling\">") else {
        return String::new();
    };
    let end = html[start..].find("</p>").map_or(html.len(), |e| start + e);
    html[start..end]
        .replace("&#38;", "&amp;")
        .replace("&#34;", "&quot;")
        .replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_search_shows_the_correction_and_offers_the_typed_query() {
    let server = Server::start();
    server.wait_for_index(false).await;

    // Nothing matches the typo: the correction's results, saying so.
    let (status, html) = server.get("/papers?q=enviroments&mode=keyword").await;
    assert_eq!(status, 200);
    let line = spelling_line(&html);
    assert!(
        line.contains("Showing results for <a href=\"/papers?q=environments&amp;mode=keyword\"><em>environments</em></a>"),
        "{line}"
    );
    assert!(
        line.contains("Search instead for <a href=\"/papers?q=enviroments&amp;mode=keyword&amp;verbatim=1\">enviroments</a>"),
        "{line}"
    );
    assert!(
        html.contains("data-paper-id=\"2608.19880\""),
        "EnvHarness is about environments"
    );
    assert!(html.contains("Results for “environments”"));

    // Searched exactly as typed: nothing, and the correction offered.
    let (status, html) = server
        .get("/papers?q=enviroments&mode=keyword&verbatim=1")
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("No paper matches this search."));
    assert!(
        spelling_line(&html).contains("Did you mean <a href=\"/papers?q=environments&amp;mode=keyword\"><em>environments</em></a>?"),
        "{}",
        spelling_line(&html)
    );

    // A known word with a misspelt one: results for what was typed, the correction offered,
    // the filter and the phrase kept as typed.
    let (_, html) = server
        .get("/papers?q=%22agent%22+enviroments+sort%3Anewest&mode=keyword")
        .await;
    let line = spelling_line(&html);
    assert!(
        line.starts_with("<p class=\"spelling\">Did you mean"),
        "{line}"
    );
    assert!(
        line.contains("&quot;agent&quot; <em>environments</em> sort:newest"),
        "{line}"
    );

    // Words the index knows and exact ids: nothing to say.
    for q in ["environments", "2608.19880", "EnvHarness"] {
        let (_, html) = server.get(&format!("/papers?q={q}&mode=keyword")).await;
        assert_eq!(spelling_line(&html), "", "{q}");
    }

    // What the correction shows is escaped like everything else.
    let (status, html) = server
        .get("/papers?q=enviroments+%3Cscript%3Ealert(1)%3C%2Fscript%3E&mode=keyword")
        .await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        spelling_line(&html)
            .contains("<em>environments</em> &lt;script&gt;alert(1)&lt;/script&gt;")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_api_keeps_its_answer_and_offers_the_correction_in_a_header() {
    let server = Server::start();
    server.wait_for_index(false).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(server.url("/api/papers/search?q=agent+enviroments"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["did-you-mean"], "agent%20environments");
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(
        body.as_array().is_some_and(|a| !a.is_empty()),
        "still HF's list: {body}"
    );

    // Nothing matches: the API still answers for what was asked.
    let resp = client
        .get(server.url("/api/papers/search?q=enviroments"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["did-you-mean"], "environments");
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body, serde_json::json!([]));

    let resp = client
        .get(server.url("/api/papers/search?q=agent+environments"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("did-you-mean").is_none());
}

#[test]
fn the_cli_searches_the_correction_when_nothing_matched() {
    let data = tempfile::tempdir().unwrap();
    let sample = fixture("sample/hf_daily_papers/2026-08-21.json");
    assert!(
        ingest(data.path(), &[sample.to_str().unwrap()])
            .status
            .success()
    );
    let search = |extra: &[&str]| {
        let out = bin()
            .arg("--data-dir")
            .arg(data.path())
            .args(["search", "enviroments", "--mode", "keyword", "--json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let json = search(&[]);
    assert_eq!(
        json["spelling"],
        serde_json::json!({"correction": "environments", "corrected": true})
    );
    assert!(json["total"].as_u64().unwrap() > 0);
    let json = search(&["--verbatim"]);
    assert_eq!(json["spelling"]["corrected"], false);
    assert_eq!(json["total"], 0);
}

async fn suggest(server: &Server, query: &str) -> (u16, serde_json::Value) {
    let (status, body) = server.get(&format!("/api/suggest?{query}")).await;
    (status, serde_json::from_str(&body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn suggestions_offer_titles_and_authors_as_one_types() {
    let server = Server::start();
    server.wait_for_index(false).await;

    let (status, json) = suggest(&server, "q=envharn").await;
    assert_eq!(status, 200);
    assert_eq!(json["query"], "envharn");
    assert_eq!(
        json["suggestions"][0],
        serde_json::json!({
            "kind": "title",
            "label": "EnvHarness: Awakening Static Worlds for Agent Learning",
            "url": "/papers/2608.19880",
            "id": "2608.19880",
        })
    );
    // From a later word of the title, and an author from either name.
    let (_, json) = suggest(&server, "q=awakening+static").await;
    assert_eq!(json["suggestions"][0]["id"], "2608.19880");
    let (_, json) = suggest(&server, "q=chengsong").await;
    let first = &json["suggestions"][0];
    assert_eq!(first["kind"], "author");
    assert_eq!(first["label"], "Chengsong Huang");
    assert_eq!(first["url"], "/authors/chengsong-huang");
    assert!(first["papers"].as_u64().unwrap() >= 1);
    let (_, json) = suggest(&server, "q=author%3Ahuang&limit=2").await;
    let kinds: Vec<&str> = json["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.is_empty() && kinds.len() <= 2 && kinds.iter().all(|k| *k == "author"));

    // Nothing typed, nothing suggested; bad parameters named.
    let (status, json) = suggest(&server, "q=").await;
    assert_eq!(
        (status, json["suggestions"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let long = "a".repeat(201);
    let (status, json) = suggest(&server, &format!("q={long}")).await;
    assert_eq!((status, json["parameter"].as_str()), (400, Some("q")));
    for limit in ["0", "11", "x"] {
        let (status, json) = suggest(&server, &format!("q=agent&limit={limit}")).await;
        assert_eq!(
            (status, json["parameter"].as_str()),
            (400, Some("limit")),
            "{limit}"
        );
    }
    // Untrusted text is JSON-escaped, never echoed raw.
    let (status, body) = server.get("/api/suggest?q=%3Cscript%3E%22").await;
    assert_eq!(status, 200);
    assert!(body.contains(r#""query":"<script>\"""#), "{body}");

    // The document describes it.
    let (_, doc) = server.get("/api/openapi.json").await;
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["paths"]["/api/suggest"]["get"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn suggestions_are_rate_limited_per_client() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        &[],
        data,
        &[
            (
                "PAPERFEED_COMMUNITY__RATE_LIMITS__SUGGEST__BURST",
                "3".as_ref(),
            ),
            (
                "PAPERFEED_COMMUNITY__RATE_LIMITS__SUGGEST__PER_MINUTE",
                "1".as_ref(),
            ),
        ],
    );
    for _ in 0..3 {
        assert_eq!(suggest(&server, "q=agent").await.0, 200);
    }
    let resp = reqwest::get(server.url("/api/suggest?q=agent"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
}
