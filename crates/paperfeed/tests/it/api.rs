//! The JSON API over HTTP from the real server with the bundled sample, checked against what
//! the store holds.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use paperfeed_core::{ArxivId, Period};
use paperfeed_store::{FeedOrder, FeedQuery, SqliteStore, Store};
use serde_json::Value;

use crate::harness::Server;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The store the server writes, opened beside it (SQLite allows readers alongside).
pub fn store_of(server: &Server) -> SqliteStore {
    SqliteStore::open(&server.data_dir().join("paperfeed.sqlite3")).unwrap()
}

pub async fn get_json(server: &Server, path: &str) -> (u16, Value) {
    let (status, body) = server.get(path).await;
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON ({e}): {body}"));
    (status, json)
}

fn ids(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["paper"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The store's feed query for a period given as a day, ISO week or month (`None`: all days).
pub fn feed(period: Option<&str>, order: FeedOrder, limit: usize) -> FeedQuery {
    let period = period.map(|p| {
        Period::parse_day(p)
            .or_else(|_| Period::parse_week(p))
            .or_else(|_| Period::parse_month(p))
            .unwrap()
    });
    FeedQuery {
        days: period.map(Period::bounds),
        submitter: None,
        order,
        offset: 0,
        limit,
    }
}

/// The ids of the store's answer to `q`, in order.
pub async fn stored_ids(store: &dyn Store, q: FeedQuery) -> Vec<String> {
    store
        .featured_page(q)
        .await
        .unwrap()
        .iter()
        .map(|e| e.paper.id.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_papers_lists_a_day_in_hf_shape_with_the_stored_votes_and_dates() {
    let server = Server::start();
    let store = store_of(&server);
    let (status, entries) = get_json(&server, "/api/daily_papers?date=2026-08-21").await;
    assert_eq!(status, 200);
    let stored = store
        .featured_between(day("2026-08-21"), day("2026-08-21"))
        .await
        .unwrap();
    assert_eq!(entries.as_array().unwrap().len(), stored.len());
    for (entry, want) in entries.as_array().unwrap().iter().zip(&stored) {
        let paper = &entry["paper"];
        assert_eq!(paper["id"], want.paper.id.as_str());
        assert_eq!(paper["title"], want.paper.title.as_str());
        assert_eq!(entry["title"], want.paper.title.as_str());
        assert_eq!(paper["summary"], want.paper.abstract_text.as_str());
        assert_eq!(paper["upvotes"], want.paper.upvotes);
        assert_eq!(entry["numComments"], want.paper.num_comments);
        assert_eq!(entry["publishedAt"], "2026-08-21T00:00:00.000Z");
        assert_eq!(
            paper["authors"].as_array().unwrap().len(),
            want.paper.authors.len()
        );
    }
    // The top entry, field for field as in HF's file for that day.
    let top = &entries[0];
    assert_eq!(top["paper"]["id"], "2608.19880");
    assert_eq!(top["paper"]["publishedAt"], "2026-08-20T00:00:00.000Z");
    assert_eq!(
        top["paper"]["submittedOnDailyAt"],
        "2026-08-21T00:00:00.000Z"
    );
    assert_eq!(
        top["paper"]["githubRepo"],
        "https://github.com/google-research/envharness"
    );
    assert_eq!(top["paper"]["githubStars"], 8);
    assert_eq!(top["paper"]["projectPage"], "https://envharness.com/");
    assert!(
        top["paper"]["ai_summary"]
            .as_str()
            .unwrap()
            .starts_with("EnvHarness and EnvRigger")
    );
    assert_eq!(top["paper"]["ai_keywords"][0], "LLM agents");
    let author = &top["paper"]["authors"][0];
    assert_eq!(author["name"], "Chengsong Huang");
    assert_eq!(author["hidden"], false);
    assert_eq!(author["_id"].as_str().unwrap().len(), 24);
    assert_eq!(top["submittedBy"]["name"], "taesiri");
    assert_eq!(top["paper"]["submittedOnDailyBy"]["user"], "taesiri");
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_papers_filters_by_week_month_and_submitter_and_pages_like_the_store() {
    let server = Server::start();
    let store = store_of(&server);
    let (_, entries) = get_json(&server, "/api/daily_papers?week=2026-W34&limit=100").await;
    assert_eq!(
        ids(&entries),
        stored_ids(&store, feed(Some("2026-W34"), FeedOrder::Newest, 100)).await
    );
    let (_, entries) = get_json(
        &server,
        "/api/daily_papers?month=2026-07&sort=trending&limit=100",
    )
    .await;
    // Trending: ranked by the documented score, computed here from what the API shows, as of
    // the hub's trending clock (the sample is an old archive: its newest day, not now).
    let newest = store.latest_featured_day().await.unwrap();
    let now = paperfeed_core::TrendingClock::new(newest, chrono::Utc::now()).as_of;
    let scores: Vec<f64> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let p = &e["paper"];
            let day: NaiveDate = e["publishedAt"].as_str().unwrap()[..10].parse().unwrap();
            paperfeed_core::trending_score(
                p["upvotes"].as_i64().unwrap(),
                e["numComments"].as_i64().unwrap_or(0),
                p["githubStars"].as_i64(),
                day,
                now,
            )
            .score
        })
        .collect();
    assert_eq!(scores.len(), 100);
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1] * 0.999),
        "trending: highest score first: {scores:?}"
    );

    // No period: the latest featured papers across days, newest day first, page by page.
    let latest = store.latest_featured_day().await.unwrap().unwrap();
    let (_, first) = get_json(&server, "/api/daily_papers?limit=10").await;
    assert_eq!(first[0]["publishedAt"], format!("{latest}T00:00:00.000Z"));
    let (_, second) = get_json(&server, "/api/daily_papers?limit=10&p=1").await;
    let (_, both) = get_json(&server, "/api/daily_papers?limit=20").await;
    assert_eq!([ids(&first), ids(&second)].concat(), ids(&both));

    let (_, mine) = get_json(&server, "/api/daily_papers?submitter=taesiri&limit=100").await;
    let mine = mine.as_array().unwrap();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|e| e["submittedBy"]["name"] == "taesiri"));
    let (_, nobody) = get_json(&server, "/api/daily_papers?submitter=no-such-user").await;
    assert_eq!(nobody, Value::Array(vec![]));
    let (status, empty_day) = get_json(&server, "/api/daily_papers?date=2026-08-20").await;
    assert_eq!((status, empty_day), (200, Value::Array(vec![])));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paper_its_listing_and_its_markdown_come_from_the_store() {
    let server = Server::start();
    let store = store_of(&server);
    let id = ArxivId::parse("2608.19880").unwrap();
    let paper = store.get_paper(&id).await.unwrap().unwrap();
    let (status, json) = get_json(&server, "/api/papers/2608.19880").await;
    assert_eq!(status, 200);
    assert_eq!(json["id"], "2608.19880");
    assert_eq!(json["title"], paper.title.as_str());
    assert_eq!(json["upvotes"], paper.upvotes);
    assert_eq!(json["numComments"], paper.num_comments);
    // An author hidden by request keeps their place but not their name.
    let (_, hidden) = get_json(&server, "/api/papers/2607.18227").await;
    assert_eq!(hidden["authors"][0]["hidden"], true);
    assert_eq!(hidden["authors"][0]["name"], "");
    assert!(!hidden.to_string().contains("Dingyun Zhang"));
    let (status, json) = get_json(&server, "/api/papers/arXiv:2608.19880v1").await;
    assert_eq!((status, json["id"].as_str()), (200, Some("2608.19880")));

    let (status, md) = server.get("/papers/2608.19880.md").await;
    assert_eq!(status, 200);
    assert!(md.starts_with(&format!("# {}\n", paper.title)), "{md}");
    assert!(md.contains("Chengsong Huang"));
    assert!(md.contains("https://arxiv.org/abs/2608.19880"));
    assert!(md.contains(&paper.abstract_text[..80]));
    // The paper page itself answers Markdown to those who ask for it, HTML to the rest, and
    // a cached HTML page never answers a Markdown request.
    let (_, html) = server.get("/papers/2608.19880").await;
    assert!(html.starts_with("<!DOCTYPE html>"));
    let negotiated = reqwest::Client::new()
        .get(server.url("/papers/2608.19880"))
        .header("accept", "text/markdown")
        .send()
        .await
        .unwrap();
    assert!(
        negotiated.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    assert_eq!(negotiated.text().await.unwrap(), md);
    let (status, _) = server.get("/papers/2601.99999.md").await;
    assert_eq!(status, 404);

    // The listing visits every stored paper once, following the Link header.
    let client = reqwest::Client::new();
    let mut next = Some(server.url("/api/papers?limit=40"));
    let mut seen = Vec::new();
    while let Some(url) = next.take() {
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        next = resp
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.strip_prefix('<'))
            .and_then(|l| l.split_once('>'))
            .map(|(u, _)| u.to_owned());
        let page: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        seen.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no paper twice");
    assert_eq!(seen.len() as u64, store.stats().await.unwrap().papers);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_get_one_json_error_shape_naming_the_parameter() {
    let server = Server::start();
    for (path, parameter, why) in [
        (
            "/api/daily_papers?date=2026-8-21",
            "date",
            "is not YYYY-MM-DD",
        ),
        ("/api/daily_papers?date=", "date", "is not YYYY-MM-DD"),
        ("/api/daily_papers?week=2026-W54", "week", "is not YYYY-Www"),
        ("/api/daily_papers?month=2026-13", "month", "is not YYYY-MM"),
        ("/api/daily_papers?limit=", "limit", "from 1 to 100"),
        ("/api/daily_papers?limit=%2B5", "limit", "from 1 to 100"),
        ("/api/daily_papers?limit=0", "limit", "from 1 to 100"),
        ("/api/daily_papers?limit=1000", "limit", "from 1 to 100"),
        ("/api/daily_papers?p=-1", "p", "whole number"),
        (
            "/api/daily_papers?sort=random",
            "sort",
            "publishedAt or trending",
        ),
        ("/api/daily_papers?limit=5&limit=6", "limit", "duplicate"),
        ("/api/papers?cursor=not-an-id", "cursor", "arXiv"),
        ("/api/papers?limit=101", "limit", "from 1 to 100"),
        ("/api/papers/search?q=x&limit=0", "limit", "from 1 to 100"),
        ("/api/papers/not-an-id", "id", "arXiv"),
        ("/api/papers/%202608.19880", "id", "arXiv"),
        (
            "/api/papers?cursor=2608.19880v2",
            "cursor",
            "without prefix or version",
        ),
    ] {
        let (status, json) = get_json(&server, path).await;
        assert_eq!(status, 400, "{path}: {json}");
        assert_eq!(json["parameter"], parameter, "{path}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains(why),
            "{path}: {json}"
        );
    }
    for path in [
        "/api/papers/2601.99999",
        "/api/no/such/route",
        "/api/papers/a/b",
    ] {
        let (status, json) = get_json(&server, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(json["error"].is_string(), "{path}: {json}");
    }
    // Periods of the documented shape that the calendar lacks: nothing there, not malformed.
    for (path, parameter) in [
        ("/api/daily_papers?date=2026-02-30", "date"),
        ("/api/daily_papers?week=2021-W53", "week"),
    ] {
        let (status, json) = get_json(&server, path).await;
        assert_eq!(
            (status, json["parameter"].as_str()),
            (404, Some(parameter)),
            "{path}: {json}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_document_allows_the_server_answers() {
    let server = Server::start();
    // `date`, `week` and `month` together select the days in all of them.
    let (_, day) = get_json(&server, "/api/daily_papers?date=2026-08-21").await;
    assert!(!day.as_array().unwrap().is_empty());
    for path in [
        "/api/daily_papers?date=2026-08-21&week=2026-W34",
        "/api/daily_papers?date=2026-08-21&week=2026-W34&month=2026-08",
    ] {
        let (status, json) = get_json(&server, path).await;
        assert_eq!((status, &json), (200, &day), "{path}");
    }
    let (status, json) = get_json(&server, "/api/daily_papers?date=2026-08-21&month=2026-07").await;
    assert_eq!(
        (status, json),
        (200, Value::Array(vec![])),
        "periods that do not overlap"
    );
    let (_, week) = get_json(&server, "/api/daily_papers?week=2026-W34&limit=100").await;
    let (_, both) = get_json(
        &server,
        "/api/daily_papers?week=2026-W34&month=2026-08&limit=100",
    )
    .await;
    assert_eq!(ids(&both), ids(&week), "week 34 of 2026 lies in August");
    // Any text is a search: what the filter syntax cannot read is searched as words.
    for q in ["%22unclosed", "published%3A2024-13", "sort%3Avotes%20x"] {
        let (status, json) = get_json(&server, &format!("/api/papers/search?q={q}")).await;
        assert_eq!(status, 200, "{q}: {json}");
    }
    // Ids in every form the pattern admits.
    for id in ["2608.19880", "2608.19880v3", "arXiv:2608.19880"] {
        let (status, json) = get_json(&server, &format!("/api/papers/{id}")).await;
        assert_eq!(
            (status, json["id"].as_str()),
            (200, Some("2608.19880")),
            "{id}"
        );
    }
    // The document states those patterns.
    let (_, doc) = get_json(&server, "/api/openapi.json").await;
    let pattern = |path: &str, method: &str, name: &str| -> String {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["schema"]["pattern"].as_str())
            .unwrap_or_else(|| panic!("{method} {path} {name} has no pattern"))
            .to_owned()
    };
    for name in ["date", "week", "month"] {
        assert!(pattern("/api/daily_papers", "get", name).starts_with("^[0-9]{4}-"));
    }
    for (path, method) in [
        ("/api/papers/{id}", "get"),
        ("/api/papers/{id}/upvote", "post"),
        ("/api/papers/{id}/upvote", "delete"),
        ("/papers/{id}.md", "get"),
    ] {
        assert!(pattern(path, method, "id").contains("[0-9]{5}"), "{path}");
    }
    assert!(pattern("/api/papers", "get", "cursor").contains("[0-9]{5}"));
    assert!(
        doc["components"]["schemas"]["SubmitJson"]["properties"]["arxivId"]["pattern"]
            .as_str()
            .unwrap()
            .contains("arxiv[.]org")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn undeclared_methods_get_405_with_the_methods_that_are() {
    let server = Server::start();
    let client = reqwest::Client::new();
    for (method, path, allowed) in [
        ("PUT", "/api/daily_papers", "GET,HEAD"),
        ("POST", "/api/papers/2608.19880", "GET,HEAD"),
        ("PATCH", "/api/papers/2608.19880/upvote", "POST,DELETE"),
        ("GET", "/api/papers/submit", "POST"),
        ("DELETE", "/api/openapi.json", "GET,HEAD"),
    ] {
        let resp = client
            .request(method.parse().unwrap(), server.url(path))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 405, "{method} {path}");
        let allow = resp.headers()["allow"].to_str().unwrap().replace(' ', "");
        let mut allow: Vec<&str> = allow.split(',').collect();
        allow.sort_unstable();
        let mut want: Vec<&str> = allowed.split(',').collect();
        want.sort_unstable();
        assert_eq!(allow, want, "{method} {path}");
        let json: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert!(json["error"].is_string(), "{method} {path}: {json}");
    }
    // A paper's Markdown shares its route with the paper pages' form posts, which answered
    // other methods with 415 (no form) instead of 405.
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let resp = client
            .request(method.parse().unwrap(), server.url("/papers/2608.19880.md"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            405,
            "{method} /papers/2608.19880.md"
        );
        assert_eq!(resp.headers()["allow"], "GET, HEAD", "{method}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_query_string_makes_any_api_route_fail_with_a_5xx() {
    let server = Server::start();
    let routes = [
        "/api/daily_papers",
        "/api/papers",
        "/api/papers/search",
        "/api/papers/2608.19880",
        "/api/openapi.json",
        "/papers/2608.19880.md",
    ];
    let values = [
        "",
        "%",
        "%zz",
        "%00",
        "%FF%FE",
        "-1",
        "0",
        "1e9",
        "18446744073709551616",
        "NaN",
        "2026-W00",
        "2026-W53",
        "9999-12-31",
        "0000-01-01",
        "+2026-01-01",
        "2026-8-1",
        "%22",
        "a%26b",
        "'%20or%201=1--",
        "%3Cscript%3E",
        "author%3A",
        "published%3A2024-13",
        "sort%3Avotes",
        "x%20x%20x",
        "%E2%80%AE",
        "%F0%9F%98%80",
        "[]",
        "{}",
    ];
    let names = [
        "date",
        "week",
        "month",
        "submitter",
        "sort",
        "p",
        "limit",
        "q",
        "cursor",
        "x",
    ];
    let client = reqwest::Client::new();
    let mut queries = vec![
        "&&&".to_owned(),
        "=".to_owned(),
        "==x".to_owned(),
        "date".to_owned(),
        "limit[]=1".to_owned(),
        "p=1&p=2".to_owned(),
        "q=".to_owned() + &"a".repeat(2000),
        "cursor=hep-th%2F9901001".to_owned(),
        "date=2026-08-21&week=2026-W34&month=2026-08".to_owned(),
    ];
    for name in names {
        for value in values {
            queries.push(format!("{name}={value}"));
        }
    }
    for route in routes {
        for q in &queries {
            let url = server.url(&format!("{route}?{q}"));
            let resp = client.get(&url).send().await.unwrap();
            let status = resp.status().as_u16();
            assert!(status < 500, "{url} answered {status}");
            if route.starts_with("/api/") && status >= 400 {
                let json: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
                assert!(json["error"].is_string(), "{url}: {json}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_api_route_with_its_parameters() {
    let server = Server::start();
    let (status, doc) = get_json(&server, "/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // The security scheme the community routes name is defined.
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"].as_str(),
        Some("bearer"),
        "{}",
        doc["components"]
    );
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let want: BTreeSet<&str> = [
        "/api/daily_papers",
        "/api/me",
        "/api/me/collections",
        "/api/me/collections/{collection}",
        "/api/me/collections/{collection}/import",
        "/api/me/collections/{collection}/papers/{paper}",
        "/api/me/data",
        "/api/me/dismissed",
        "/api/me/dismissed/{id}",
        "/api/me/following",
        "/api/me/follows",
        "/api/me/library",
        "/api/me/library/{paper}",
        "/api/me/mutes",
        "/api/me/mutes/{mute_id}",
        "/api/me/recommendations",
        "/api/me/searches",
        "/api/me/searches/{search_id}",
        "/api/me/searches/{search_id}/papers",
        "/api/papers",
        "/api/papers/search",
        "/api/papers/submit",
        "/api/papers/{id}",
        "/api/papers/{id}/upvote",
        "/api/suggest",
        "/papers/{id}.md",
    ]
    .into();
    assert_eq!(paths, want);
    let params = |path: &str| -> BTreeSet<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let names = |list: &[&str]| {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        params("/api/daily_papers"),
        names(&["date", "week", "month", "submitter", "sort", "p", "limit"])
    );
    assert_eq!(params("/api/papers"), names(&["cursor", "limit"]));
    assert_eq!(params("/api/papers/search"), names(&["q", "limit"]));
    assert_eq!(params("/api/papers/{id}"), names(&["id"]));
    assert_eq!(params("/api/me/recommendations"), names(&["limit"]));
    assert_eq!(params("/api/suggest"), names(&["q", "limit"]));
    assert_eq!(
        doc["paths"]["/api/me/recommendations"]["get"]["parameters"][0]["schema"]["pattern"],
        "^(?:[1-9][0-9]?|100)$"
    );
    // Every documented GET route answers (with an example id where it takes one); the
    // community routes only take POST/DELETE with a token and are tested in community.rs.
    // The personal routes (`/api/me`, `/api/me/…`) need a token and are tested in library.rs
    // and sign_in.rs.
    for path in want.iter().filter(|p| {
        doc["paths"][**p]["get"].is_object() && **p != "/api/me" && !p.starts_with("/api/me/")
    }) {
        let (status, _) = server.get(&path.replace("{id}", "2608.19880")).await;
        assert_eq!(status, 200, "{path}");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "DailyPaperJson",
        "PaperJson",
        "PaperDetailJson",
        "ErrorJson",
        "AuthorJson",
    ] {
        assert!(schemas.contains_key(name), "{name} is described");
    }
}

/// Sends a request head by hand on a fresh connection, then `chunks` of body (chunked
/// transfer when the head says so) until the server answers or the chunks run out; the status
/// line and the rest of the answer.
async fn raw_request(server: &Server, head: &str, chunk: &[u8], chunks: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = server
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let sender = {
        let chunk = chunk.to_vec();
        tokio::spawn(async move {
            for _ in 0..chunks {
                let sent = if chunked {
                    let framed = [
                        format!("{:x}\r\n", chunk.len()).into_bytes(),
                        chunk.clone(),
                        b"\r\n".to_vec(),
                    ]
                    .concat();
                    write.write_all(&framed).await
                } else {
                    write.write_all(&chunk).await
                };
                // The server answered and closed: the rest is not read.
                if sent.is_err() {
                    return;
                }
            }
            if chunked {
                let _ = write.write_all(b"0\r\n\r\n").await;
            }
            // Dropping the write half would half-close the connection, which the server reads
            // as the client gone: hold it until the answer is in (the task is aborted then).
            std::future::pending::<()>().await;
            drop(write);
        })
    };
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let read_answer = async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) => break,
                Err(e) => {
                    eprintln!("reading the answer: {e}");
                    break;
                }
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&answer);
                    // Head and a short body are in: enough to judge.
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(str::to_owned)
                            })
                            .and_then(|n| n.trim().parse::<usize>().ok());
                        if length.is_some_and(|n| body.len() >= n) {
                            break;
                        }
                    }
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read_answer)
        .await
        .expect("the server answers an oversized body within seconds");
    sender.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{head}: no status line in {text:?}"));
    (status, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_whether_declared_or_chunked() {
    let server = Server::start();
    let host = server
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mb = vec![b'a'; 1 << 20];
    for (path, content_type, api) in [
        ("/api/papers/submit", "application/json", true),
        ("/api/papers/2608.19880/upvote", "application/json", true),
        ("/login", "application/x-www-form-urlencoded", false),
        ("/submit", "application/x-www-form-urlencoded", false),
        (
            "/papers/2608.19880/comments",
            "application/x-www-form-urlencoded",
            false,
        ),
    ] {
        // 100 MB announced: refused before a byte of it is read.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer pf_whoever\r\n\
             Content-Type: {content_type}\r\nContent-Length: 104857600\r\n\r\n"
        );
        let (status, answer) = raw_request(&server, &head, &mb, 0).await;
        assert_eq!(status, 413, "declared, {path}: {answer}");
        assert_eq!(answer.contains("\"error\""), api, "{path}: {answer}");
        // Chunked, no length announced: refused once it grows past the limit.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer pf_whoever\r\n\
             Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let (status, answer) = raw_request(&server, &head, &mb, 100).await;
        assert_eq!(status, 413, "chunked, {path}: {answer}");
        assert_eq!(answer.contains("\"error\""), api, "{path}: {answer}");
    }
    // A body within the limit still reaches the handler: a small JSON body without a token.
    let (status, _) = raw_request(
        &server,
        &format!(
            "POST /api/papers/submit HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        ),
        br#"{"arxivId": "2608.19880"}"#,
        1,
    )
    .await;
    assert_eq!(status, 401);
    // The server is fine afterwards.
    assert_eq!(server.get("/api/daily_papers?limit=1").await.0, 200);
}
