//! The page cache under writes: a vote refreshes the pages and API answers that show its
//! paper (new entity tag, new count) and leaves every other kept page and its tag as it was;
//! pages not keyed to papers (feeds, search) are revalidated as before.

use reqwest::header;

use crate::community::api_token;
use crate::harness::Server;

/// On the sample's latest day (2026-08-21), ISO week 34, August 2026.
const PAPER: &str = "2608.19880";
/// On 2026-07-02 only: another day, week and month.
const OTHER: &str = "2606.28322";

struct Seen {
    etag: header::HeaderValue,
    body: String,
}

async fn seen(client: &reqwest::Client, server: &Server, path: &str) -> Seen {
    let resp = client.get(server.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    let etag = resp.headers()[header::ETAG].clone();
    Seen {
        etag,
        body: resp.text().await.unwrap(),
    }
}

/// What `path` answers to a client holding `before`: its status, tag and body.
async fn revalidate(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    before: &Seen,
) -> (u16, header::HeaderValue, String) {
    let resp = client
        .get(server.url(path))
        .header(header::IF_NONE_MATCH, before.etag.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let etag = resp.headers()[header::ETAG].clone();
    (status, etag, resp.text().await.unwrap())
}

fn upvotes(json: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(json).unwrap()["upvotes"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vote_refreshes_the_pages_showing_its_paper_and_keeps_every_other_kept_page() {
    let server = Server::start();
    let token = api_token(server.data_dir(), "voter");
    let client = reqwest::Client::new();
    let touched = [
        "/".to_owned(),
        "/papers/date/2026-08-21".to_owned(),
        "/papers/week/2026-W34".to_owned(),
        "/papers/month/2026-08".to_owned(),
        "/papers/date/2026-08-21?sort=trending".to_owned(),
        format!("/papers/{PAPER}"),
        format!("/api/papers/{PAPER}"),
        "/api/daily_papers?date=2026-08-21".to_owned(),
        // Not kept by the page cache: validated from the store's state, as before.
        "/feed.xml".to_owned(),
        "/papers?q=model".to_owned(),
    ];
    let untouched = [
        "/papers/date/2026-07-02".to_owned(),
        "/papers/week/2026-W27".to_owned(),
        "/papers/month/2026-07".to_owned(),
        format!("/papers/{OTHER}"),
        format!("/api/papers/{OTHER}"),
        "/api/daily_papers?date=2026-07-02".to_owned(),
    ];
    let mut before = Vec::new();
    for path in touched.iter().chain(&untouched) {
        before.push(seen(&client, &server, path).await);
    }
    let count = upvotes(&before[6].body);

    let vote = client
        .post(server.url(&format!("/api/papers/{PAPER}/upvote")))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(vote.status(), 200);

    for (path, old) in touched.iter().zip(&before) {
        let (status, etag, body) = revalidate(&client, &server, path, old).await;
        assert_eq!(status, 200, "{path}: the vote changed it");
        assert_ne!(etag, old.etag, "{path}: a new tag");
        if !path.starts_with("/papers?") && path != "/feed.xml" {
            assert_ne!(body, old.body, "{path}: new content");
        }
    }
    let api = seen(&client, &server, &format!("/api/papers/{PAPER}")).await;
    assert_eq!(upvotes(&api.body), count + 1, "the new count");
    let page = seen(&client, &server, &format!("/papers/{PAPER}")).await;
    assert!(
        page.body.contains(&(count + 1).to_string()),
        "the paper page shows the new count"
    );

    for (path, old) in untouched.iter().zip(&before[touched.len()..]) {
        let (status, etag, _) = revalidate(&client, &server, path, old).await;
        assert_eq!(status, 304, "{path}: nothing it shows changed");
        assert_eq!(etag, old.etag, "{path}: the same tag");
        let again = seen(&client, &server, path).await;
        assert_eq!(again.etag, old.etag, "{path}");
        assert_eq!(again.body, old.body, "{path}");
    }

    // A withdrawal is a change too: the paper's pages move again, the others still do not.
    let withdraw = client
        .delete(server.url(&format!("/api/papers/{PAPER}/upvote")))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(withdraw.status(), 200);
    let api = seen(&client, &server, &format!("/api/papers/{PAPER}")).await;
    assert_eq!(upvotes(&api.body), count);
    assert_eq!(api.body, before[6].body, "back to what it was");
    let (status, _, _) = revalidate(&client, &server, &untouched[0], &before[touched.len()]).await;
    assert_eq!(status, 304);
}
