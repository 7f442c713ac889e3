//! Author and organisation pages, follows, the Following feed with its reasons, private feed
//! addresses and the follows API, against the real server.

use reqwest::header;

use crate::community::{Visitor, api_token};
use crate::harness::{Server, ingest};

fn entry(
    id: &str,
    day: &str,
    authors: &[(&str, Option<&str>)],
    org: Option<(&str, &str)>,
) -> String {
    let authors: Vec<serde_json::Value> = authors
        .iter()
        .map(|(name, user)| match user {
            Some(u) => serde_json::json!({"_id": "x", "name": name, "hidden": false,
                                          "user": {"user": u, "fullname": name}}),
            None => serde_json::json!({"_id": "x", "name": name, "hidden": false}),
        })
        .collect();
    let mut paper = serde_json::json!({
        "id": id,
        "authors": authors,
        "publishedAt": format!("{day}T00:00:00.000Z"),
        "submittedOnDailyAt": format!("{day}T12:00:00.000Z"),
        "title": format!("Paper {id}"),
        "summary": "An abstract.",
        "upvotes": 1
    });
    if let Some((name, fullname)) = org {
        paper["organization"] = serde_json::json!({"_id": "o", "name": name, "fullname": fullname});
    }
    serde_json::json!({"paper": paper, "title": format!("Paper {id}"), "numComments": 0})
        .to_string()
}

/// A hub with three papers: Zoë Müller twice (spelled two ways), a hostile author name, and an
/// organisation with a hostile full name.
fn hub() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2024-01-03.json");
    let day = format!(
        "[{},{},{}]",
        entry(
            "2401.00011",
            "2024-01-01",
            &[
                ("Zoë Müller", Some("zoe")),
                ("<script>alert(1)</script>", None)
            ],
            Some(("acme", "Acme <Labs>")),
        ),
        entry(
            "2401.00012",
            "2024-01-03",
            &[("Muller, Zoe", None), ("Max Roe", None)],
            None
        ),
        entry(
            "2401.00013",
            "2024-01-02",
            &[("Max Roe", None)],
            Some(("acme", "Acme <Labs>"))
        ),
    );
    std::fs::write(&file, day).unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = ingest(data.path(), &[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        crate::harness::text(&out.stderr)
    );
    Server::start_with(&["--no-sample"], data)
}

fn order<'a>(body: &str, ids: &[&'a str]) -> Vec<&'a str> {
    let mut found: Vec<(usize, &str)> = ids
        .iter()
        .filter_map(|id| {
            body.find(&format!(r#"data-paper-id="{id}""#))
                .map(|at| (at, *id))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, id)| id).collect()
}

const IDS: [&str; 3] = ["2401.00011", "2401.00012", "2401.00013"];

#[tokio::test(flavor = "multi_thread")]
async fn author_and_organisation_pages_list_papers_newest_first_with_merged_names_escaped() {
    let server = hub();
    let mut anyone = Visitor::new(&server);
    let author = anyone.get("/authors/zoe-muller").await;
    assert_eq!(author.status, 200, "{}", author.body);
    assert_eq!(order(&author.body, &IDS), ["2401.00012", "2401.00011"]);
    assert!(author.body.contains("Muller, Zoe"), "{}", author.body);
    assert!(author.body.contains("same normalised name"));
    // A variant spelling of the address goes to the one canonical address.
    let variant = anyone.get("/authors/Zoe-Muller").await;
    assert_eq!(variant.status, 303);
    assert_eq!(variant.headers[header::LOCATION], "/authors/zoe-muller");
    // Cards and paper pages link authors to their pages; hostile names stay text.
    let paper = anyone.get("/papers/2401.00011").await;
    assert!(paper.body.contains(r#"href="/authors/zoe-muller""#));
    assert!(!paper.body.contains("<script>alert(1)"));
    let hostile = anyone.get("/authors/script-alert-1-script").await;
    assert_eq!(hostile.status, 200);
    assert!(hostile.body.contains("alert(1)"), "shown, as text");
    assert!(!hostile.body.contains("<script>alert(1)"));
    let org = anyone.get("/orgs/acme").await;
    assert_eq!(org.status, 200, "{}", org.body);
    assert_eq!(order(&org.body, &IDS), ["2401.00013", "2401.00011"]);
    assert!(org.body.contains("Acme &") && !org.body.contains("Acme <Labs>"));
    assert!(
        paper.body.contains(r#"href="/orgs/acme""#),
        "the badge links the org page"
    );
    assert_eq!(anyone.get("/authors/nobody-at-all").await.status, 404);
    assert_eq!(anyone.get("/orgs/%3Cb%3E").await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn following_merges_follows_once_each_with_reasons_and_a_private_feed_stops_on_revoke() {
    let server = hub();
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let csrf = ada.csrf("/account").await;
    // No CSRF token, no follow.
    let forged = ada
        .post(
            "/follows",
            &[
                ("kind", "author"),
                ("key", "zoe muller"),
                ("action", "follow"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    for (kind, key) in [("author", "zoe-muller"), ("organization", "acme")] {
        let done = ada
            .post(
                "/follows",
                &[
                    ("csrf", &csrf),
                    ("kind", kind),
                    ("key", key),
                    ("action", "follow"),
                    ("back", "/following"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
    let page = ada.get("/following").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        order(&page.body, &IDS),
        ["2401.00012", "2401.00013", "2401.00011"],
        "newest first"
    );
    assert_eq!(
        page.body.matches(r#"data-paper-id="2401.00011""#).count(),
        1,
        "no duplicates"
    );
    assert!(page.body.contains("author you follow: Muller, Zoe"));
    assert!(page.body.contains("author you follow: Zoë Müller"));
    assert!(page.body.contains("organisation you follow: Acme &"));
    assert!(!page.body.contains("Acme <Labs>"));
    let author = ada.get("/authors/zoe-muller").await;
    assert!(author.body.contains("Following · unfollow"));

    // A private feed address: works without a session, listed on the account page, revocable.
    let made = ada
        .post("/following/feed-address", &[("csrf", &csrf)])
        .await;
    assert_eq!(made.status, 200);
    let token = crate::community::feed_token_in(&made.body);
    let mut reader = Visitor::new(&server);
    let feed = reader
        .get(&format!("/following/feed.xml?token={token}"))
        .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert!(feed.body.contains("<rss") && feed.body.contains("author you follow: Zoë Müller"));
    assert_eq!(feed.body.matches("<item>").count(), 3);
    assert!(
        !feed.body.contains("token="),
        "the secret stays out of the document: a feed passed on does not carry it"
    );
    assert_eq!(feed.headers[header::CACHE_CONTROL], "private, no-store");
    let atom = reader
        .get(&format!("/following/feed.atom?token={token}"))
        .await;
    assert!(atom.body.contains("<feed"));
    let account = ada.get("/account").await;
    assert!(account.body.contains("Following feed"));
    let at = account.body.find("/account/feed-tokens/").unwrap() + "/account/feed-tokens/".len();
    let id: String = account.body[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let revoked = ada
        .post(
            &format!("/account/feed-tokens/{id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let gone = reader
        .get(&format!("/following/feed.xml?token={token}"))
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        reader
            .get("/following/feed.xml?token=pff_nope")
            .await
            .status,
        404
    );
    // Logged out, the Following page asks to log in.
    assert_eq!(reader.get("/following").await.status, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_follows_api_follows_lists_feeds_and_unfollows_with_a_bearer_token() {
    let server = hub();
    let token = api_token(server.data_dir(), "bot");
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {token}");
    let url = |path: &str| server.url(path);
    let unauthorised = http.get(url("/api/me/follows")).send().await.unwrap();
    assert_eq!(unauthorised.status(), 401);
    let bad = http
        .post(url("/api/me/follows?kind=organization&key=%3Cb%3E"))
        .header(header::AUTHORIZATION, &bearer)
        .send()
        .await
        .unwrap();
    // A key that names nothing of its kind is nothing to follow: 404, as the document says.
    assert_eq!(bad.status(), 404);
    let bad: serde_json::Value = serde_json::from_str(&bad.text().await.unwrap()).unwrap();
    assert!(
        bad["error"].as_str().unwrap().contains("to follow"),
        "{bad}"
    );
    let followed = http
        .post(url("/api/me/follows?kind=organization&key=acme"))
        .header(header::AUTHORIZATION, &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 200);
    let list: String = http
        .get(url("/api/me/follows"))
        .header(header::AUTHORIZATION, &bearer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["kind"], "organization");
    assert_eq!(list[0]["key"], "acme");
    let feed: String = http
        .get(url("/api/me/following?limit=1"))
        .header(header::AUTHORIZATION, &bearer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let feed: serde_json::Value = serde_json::from_str(&feed).unwrap();
    assert_eq!(feed["items"][0]["id"], "2401.00013");
    assert_eq!(
        feed["items"][0]["reasons"][0],
        "organisation you follow: Acme <Labs>"
    );
    let next = feed["next"].as_str().unwrap();
    let rest: String = http
        .get(url(&format!("/api/me/following?before={next}")))
        .header(header::AUTHORIZATION, &bearer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rest: serde_json::Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(rest["items"][0]["id"], "2401.00011");
    assert!(rest.get("next").is_none());
    let deleted = http
        .delete(url("/api/me/follows?kind=organization&key=acme"))
        .header(header::AUTHORIZATION, &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let doc: String = http
        .get(url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["paths"]["/api/me/follows"]["post"].is_object());
    assert!(doc["paths"]["/api/me/following"]["get"].is_object());
}

/// The text between the first `start` in `text` and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in {text}"))
        + start.len();
    &text[at..at + text[at..].find(end).unwrap()]
}

/// The server keeps saved searches' matches and papers' text between loads of the Following
/// page: none of it may outlive what it was made from.
#[tokio::test(flavor = "multi_thread")]
async fn following_shows_a_new_match_after_one_indexer_pass_and_renames_and_mutes_at_once() {
    let server = hub();
    server.wait_for_index(false).await;
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let csrf = ada.csrf("/account").await;
    let saved = ada
        .post(
            "/account/searches",
            &[
                ("csrf", &csrf),
                ("name", "Sheep"),
                ("q", "zanzibarian"),
                ("mode", "keyword"),
                ("sort", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let id = between(&saved.body, r#"<li id="search-"#, "\"").to_owned();
    let before = ada.get("/following").await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert!(!before.body.contains("2611.00042"));

    // A matching paper comes in: it is on the page once the indexer has taken it in.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2026-11-02.json");
    let mut paper: serde_json::Value = serde_json::from_str(&entry(
        "2611.00042",
        "2026-11-01",
        &[("Ada Lovelace", None)],
        None,
    ))
    .unwrap();
    paper["paper"]["title"] = "Zanzibarian sheep herding".into();
    paper["title"] = "Zanzibarian sheep herding".into();
    std::fs::write(&file, format!("[{paper}]")).unwrap();
    let out = ingest(server.data_dir(), &[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        crate::harness::text(&out.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let page = loop {
        let page = ada.get("/following").await;
        if page.body.contains(r#"data-paper-id="2611.00042""#) {
            break page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never listed: {}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(page.body.contains("matches your search: Sheep"));

    // A renamed search gives its new name at once.
    let renamed = ada
        .post(
            &format!("/account/searches/{id}/rename"),
            &[("csrf", &csrf), ("name", "Goats")],
        )
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    let page = ada.get("/following").await;
    assert!(page.body.contains("matches your search: Goats"));
    assert!(!page.body.contains("matches your search: Sheep"));

    // A mute hides the paper on the next load; its undo shows it on the next one.
    let muted = ada
        .post(
            "/account/mutes",
            &[("csrf", &csrf), ("kind", "keyword"), ("text", "sheep")],
        )
        .await;
    assert_eq!(muted.status, 303, "{}", muted.body);
    let page = ada.get("/following").await;
    assert!(!page.body.contains(r#"data-paper-id="2611.00042""#));
    assert!(page.body.contains("1 hidden"), "{}", page.body);
    let settings = ada.get("/account/mutes").await;
    let mute = between(&settings.body, r#"action="/account/mutes/"#, "/");
    let removed = ada
        .post(&format!("/account/mutes/{mute}/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(removed.status, 303);
    let page = ada.get("/following").await;
    assert!(page.body.contains(r#"data-paper-id="2611.00042""#));
    assert!(!page.body.contains("1 hidden"));
}
