//! Saved searches over HTTP: save one from its results page, its webhook gets exactly one
//! signed POST per new matching paper after one indexer pass (a failing receiver retried with
//! backoff, the account page logging it), the API lists it and its matches, and the default
//! settings refuse webhook targets inside the hub's network.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::community::{Answer, Visitor, api_token};
use crate::harness::{Server, ingest, register_secret};

/// One request a receiver got: its headers (lowercased names) and body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A webhook receiver on loopback answering each request with the next of `statuses` (the
/// last one repeating), recording what it got.
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&got);
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head_end, length) = loop {
                let n = conn.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..at]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (at + 4, length);
                }
            };
            if head_end == 0 {
                continue;
            }
            while buf.len() < head_end + length {
                let n = conn.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
                .collect();
            let body = buf[head_end..(head_end + length).min(buf.len())].to_vec();
            let n = {
                let mut got = seen.lock().unwrap();
                got.push(Received { headers, body });
                got.len()
            };
            let status = statuses[(n - 1).min(statuses.len() - 1)];
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno");
            let _ = conn.write_all(answer.as_bytes()).await;
            let _ = conn.shutdown().await;
        }
    });
    (url, got)
}

/// A day file with one paper about zanzibarian sheep (a word no sample paper has).
const NEW_PAPER_DAY: &str = r#"[{
  "paper": {
    "id": "2611.00042",
    "authors": [{"_id": "x", "name": "Ada Lovelace", "hidden": false}],
    "publishedAt": "2026-11-01T00:00:00.000Z",
    "submittedOnDailyAt": "2026-11-02T00:00:00.000Z",
    "title": "Zanzibarian sheep herding with transformers",
    "summary": "We herd zanzibarian sheep.",
    "upvotes": 3
  },
  "publishedAt": "2026-11-01T20:00:00.000Z",
  "title": "Zanzibarian sheep herding with transformers",
  "numComments": 0
}]"#;

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in {text}"))
        + start.len();
    &text[at..at + text[at..].find(end).unwrap()]
}

/// `GET path` on the API with the bearer `token`: the answer's body as JSON.
async fn api_get(server: &Server, token: &str, path: &str) -> serde_json::Value {
    let body = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// Ada, signed up on `server`, saving the search "Sheep" (`zanzibarian`, keyword) from its
/// results page: her visitor, the form's CSRF token, the save's answer and the search's id.
async fn ada_saving_sheep(server: &Server) -> (Visitor, String, Answer, String) {
    let mut ada = Visitor::new(server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let csrf = ada.csrf("/papers?q=zanzibarian&mode=keyword").await;
    let saved = ada
        .post(
            "/account/searches",
            &[
                ("csrf", &csrf),
                ("name", "Sheep"),
                ("q", "zanzibarian"),
                ("mode", "keyword"),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let id = between(&saved.body, r#"<li id="search-"#, "\"").to_owned();
    (ada, csrf, saved, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_search_webhook_gets_one_signed_post_per_new_match_retried_with_backoff() {
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[
            ("PAPERFEED_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true".as_ref()),
            ("PAPERFEED_WEBHOOKS__FIRST_RETRY_SECONDS", "1".as_ref()),
            ("PAPERFEED_WEBHOOKS__POLL_SECONDS", "1".as_ref()),
        ],
    );
    server.wait_for_index(false).await;

    // Save the search from its results page.
    let (mut ada, csrf, saved, id) = ada_saving_sheep(&server).await;
    let results = ada.get("/papers?q=zanzibarian&mode=keyword").await;
    assert!(
        results.body.contains("Save this search"),
        "{}",
        results.body
    );
    assert!(saved.body.contains("Saved “Sheep”"));
    assert_eq!(
        ada.post(
            "/account/searches",
            &[("csrf", "forged"), ("name", "x"), ("q", "x")]
        )
        .await
        .status,
        403,
        "the form needs the session's CSRF token"
    );

    // Its webhook: a receiver that fails once, then accepts.
    let (url, got) = receiver(vec![500, 204]).await;
    let set = ada
        .post(
            &format!("/account/searches/{id}/webhook"),
            &[("csrf", &csrf), ("url", &url)],
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let secret = between(&set.body, r#"<code id="webhook-secret">"#, "<").to_owned();
    register_secret(&secret);

    // A new matching paper comes in; after the indexer's pass the receiver gets it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2026-11-02.json");
    std::fs::write(&file, NEW_PAPER_DAY).unwrap();
    let out = ingest(server.data_dir(), &[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while got.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the receiver got {:?}",
            got.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // No further attempt once delivered.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let requests = got.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one failure, one delivery: {requests:?}");
    for request in &requests {
        let timestamp = request.header("x-paperfeed-timestamp");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(&request.body);
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            request.header("x-paperfeed-signature"),
            format!("sha256={expected}")
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["search"]["name"], "Sheep");
        assert_eq!(body["papers"][0]["id"], "2611.00042");
        assert_eq!(
            body["papers"][0]["title"],
            "Zanzibarian sheep herding with transformers"
        );
    }
    assert_eq!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key"),
        "a retry is the same delivery"
    );
    assert!(!requests[0].header("idempotency-key").is_empty());

    // The account page logs it: delivered on the second attempt, after an HTTP 500.
    let page = ada.get("/account/searches").await;
    let row = between(&page.body, "<td>Sheep</td>", "</tr>");
    assert!(row.contains("2611.00042"), "{row}");
    assert!(row.contains("<td>delivered</td><td>2</td>"), "{row}");
    assert!(row.contains("<td>204</td>"), "{row}");

    // Its private feed lists the paper; revoking the address kills it.
    let made = ada
        .post(
            &format!("/account/searches/{id}/feed-token"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let rss = between(&made.body, r#"<code id="feed-rss">"#, "<").to_owned();
    let path = &rss[rss.find("/searches/").unwrap()..];
    register_secret(&path[path.find("token=").unwrap() + 6..]);
    let feed = ada.get(path).await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert!(feed.body.contains("2611.00042"), "{}", feed.body);
    assert!(
        !feed.body.contains("token="),
        "the address stays out of the document"
    );
    let forged = ada
        .get(&format!("/searches/{id}/feed.xml?token=pff_forged"))
        .await;
    assert_eq!(forged.status, 404);
    let revoke = between(
        &made.body,
        r#"action="/account/searches/feed-tokens/"#,
        "\"",
    )
    .to_owned();
    let revoked = ada
        .post(
            &format!("/account/searches/feed-tokens/{revoke}"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(ada.get(path).await.status, 404, "a revoked address is dead");

    // The API: a script's saved search lists the same paper.
    let token = api_token(server.data_dir(), "bot");
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(server.url("/api/me/searches"))
        .bearer_auth(&token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(r#"{"name": "Sheep", "q": "zanzibarian"}"#)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let api_id = created["id"].as_i64().unwrap();
    let papers = api_get(
        &server,
        &token,
        &format!("/api/me/searches/{api_id}/papers"),
    )
    .await;
    assert_eq!(papers[0]["id"], "2611.00042", "{papers}");
    let listed = api_get(&server, &token, "/api/me/searches").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "only the caller's own");
    let gone = http
        .delete(server.url(&format!("/api/me/searches/{api_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
}

#[tokio::test(flavor = "multi_thread")]
async fn by_default_webhooks_to_loopback_private_and_link_local_addresses_are_refused() {
    let server = Server::start_with(&["--no-sample"], tempfile::tempdir().unwrap());
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let csrf = ada.csrf("/papers?q=sheep").await;
    let saved = ada
        .post(
            "/account/searches",
            &[("csrf", &csrf), ("name", "Sheep"), ("q", "sheep")],
        )
        .await;
    let id = between(&saved.body, r#"<li id="search-"#, "\"").to_owned();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://[::1]:9/hook",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let refused = ada
            .post(
                &format!("/account/searches/{id}/webhook"),
                &[("csrf", &csrf), ("url", url)],
            )
            .await;
        assert_eq!(refused.status, 400, "{url}");
        assert!(
            refused.body.contains("internal address"),
            "{url}: {}",
            refused.body
        );
    }
    let page = ada.get("/account/searches").await;
    assert!(!page.body.contains("Webhook: <code>"), "no hook was set");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_search_in_the_readers_digest_mails_each_new_match_once() {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = crate::digest::Sink::start(mail.path(), &[]) else {
        return;
    };
    let smtp = std::ffi::OsString::from(sink.url());
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[
            ("PAPERFEED_SMTP_URL", &smtp),
            ("PAPERFEED_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true".as_ref()),
            ("PAPERFEED_WEBHOOKS__POLL_SECONDS", "1".as_ref()),
        ],
    );
    server.wait_for_index(false).await;
    let (mut ada, csrf, saved, id) = ada_saving_sheep(&server).await;
    let status = between(
        &saved.body,
        r#"<div class="notice" id="digest-status">"#,
        "</div>",
    );
    assert!(
        status.contains("no digest subscription") && status.contains(r#"<a href="/subscribe">"#),
        "without a subscription the page says how to get one: {status}"
    );
    assert!(saved.body.contains("In my digest: yes"), "on at first");

    // Out and in again, by form (CSRF, checked value) and by the API.
    let path = format!("/account/searches/{id}/digest");
    for (token, value, status) in [
        ("forged", "false", 403),
        (csrf.as_str(), "maybe", 400),
        (csrf.as_str(), "false", 303),
    ] {
        let answer = ada
            .post(&path, &[("csrf", token), ("in_digest", value)])
            .await;
        assert_eq!(answer.status, status, "{value}: {}", answer.body);
    }
    let page = ada.get("/account/searches").await;
    assert!(page.body.contains("In my digest: no"), "{}", page.body);
    assert!(page.body.contains("Include in my digest"));
    let token = crate::community::run_cli(server.data_dir(), &["token", "create", "ada"], "")
        .trim()
        .to_owned();
    register_secret(&token);
    let http = reqwest::Client::new();
    let listed = api_get(&server, &token, "/api/me/searches").await;
    assert_eq!(listed[0]["inDigest"], false, "{listed}");
    let changed = http
        .patch(server.url(&format!("/api/me/searches/{id}")))
        .bearer_auth(&token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(r#"{"inDigest": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed: serde_json::Value =
        serde_json::from_slice(&changed.bytes().await.unwrap()).unwrap();
    assert_eq!(changed["inDigest"], true, "{changed}");
    assert_eq!(changed["name"], "Sheep");

    // Subscribed (the operator confirms the account's address), the page says so.
    crate::digest::run_ok(crate::digest::paperfeed(
        server.data_dir(),
        &sink,
        &["subscriber", "add", "ada@example.org", "--confirmed"],
    ));
    let page = ada.get("/account/searches").await;
    assert!(
        between(&page.body, r#"id="digest-status">"#, "</div>").contains("daily digest"),
        "{}",
        page.body
    );

    // A matching paper arrives; once the matcher has recorded it (its webhook fires from the
    // same record), the next digest carries it under the search's name.
    let (url, hooked) = receiver(vec![204]).await;
    let set = ada
        .post(
            &format!("/account/searches/{id}/webhook"),
            &[("csrf", &csrf), ("url", &url)],
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    register_secret(between(&set.body, r#"<code id="webhook-secret">"#, "<"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2026-11-02.json");
    std::fs::write(&file, NEW_PAPER_DAY).unwrap();
    assert!(
        ingest(server.data_dir(), &[file.to_str().unwrap()])
            .status
            .success()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while hooked.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the matcher never ran"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let digest = |date: &str| {
        crate::digest::run_ok(crate::digest::paperfeed(
            server.data_dir(),
            &sink,
            &["digest", "run", "--date", date],
        ))
    };
    // Nothing featured that day: whatever ada gets comes from her saved search.
    let out = digest("2026-11-05");
    assert!(out.contains("this run sent 1"), "{out}");
    let mails = sink.received()["ada@example.org"].clone();
    assert_eq!(mails.len(), 1);
    let mail = crate::digest::readable(&mails[0]);
    let section = between(&mail, "From your saved searches", "--");
    assert!(section.contains("Sheep"), "under the search's name: {mail}");
    assert!(
        section.contains("Zanzibarian sheep herding with transformers"),
        "{mail}"
    );
    assert!(
        section.contains("https://papers.example.test/papers/2611.00042"),
        "{mail}"
    );

    // The same period again, and the next one: nothing more.
    let again = digest("2026-11-05");
    assert!(again.contains("this run sent 0"), "{again}");
    let next = digest("2026-11-06");
    assert!(next.contains("this run sent 0"), "{next}");
    assert_eq!(sink.received()["ada@example.org"].len(), 1, "mailed once");
}
