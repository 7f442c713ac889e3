//! Mutes, "not interested" and seen papers over HTTP, against the real server on the sample:
//! what a signed-in reader's day page hides and says, what search marks, the settings page's
//! undo, and the personal API.

use reqwest::header;

use crate::community::{Visitor, api_token};
use crate::harness::Server;

/// The sample's latest day, and papers on it.
const DAY: &str = "/papers/date/2026-08-21";
/// "EnvHarness: Awakening Static Worlds for Agent Learning": the only paper saying EnvHarness.
const ENVHARNESS: &str = "2608.19880";
const FACET: &str = "2608.18580";
const ANYONE: &str = "2608.20335";

fn card(id: &str) -> String {
    format!(r#"data-paper-id="{id}""#)
}

/// The id of the first mute listed on the settings page.
fn first_mute_id(settings: &str) -> String {
    let at = settings
        .find(r#"action="/account/mutes/"#)
        .unwrap_or_else(|| panic!("no mute listed: {settings}"));
    let rest = &settings[at + r#"action="/account/mutes/"#.len()..];
    rest[..rest.find('/').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_muted_keyword_hides_a_paper_from_the_day_page_until_shown_or_unmuted_and_search_marks_it()
 {
    let server = Server::start();
    let mut mia = Visitor::new(&server);
    assert_eq!(mia.sign_up("mia").await.status, 303);
    assert!(mia.get(DAY).await.body.contains(&card(ENVHARNESS)));

    // Forms need the session's token.
    let refused = mia
        .post(
            "/account/mutes",
            &[("kind", "keyword"), ("text", "EnvHarness")],
        )
        .await;
    assert_eq!(refused.status, 403);

    let csrf = mia.csrf("/account/mutes").await;
    let added = mia
        .post(
            "/account/mutes",
            &[("csrf", &csrf), ("kind", "keyword"), ("text", "envharness")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(added.headers[header::LOCATION], "/account/mutes");

    let day = mia.get(DAY).await;
    assert_eq!(day.status, 200);
    assert!(
        !day.body.contains(&card(ENVHARNESS)),
        "the muted paper is hidden"
    );
    assert!(day.body.contains(&card(FACET)), "the others stay");
    assert!(
        day.body
            .contains(r#"<span class="count">1 hidden</span> — <a href="/papers/date/2026-08-21?show_hidden=1">show</a>"#),
        "{}",
        day.body
    );
    assert_eq!(
        day.headers[header::CACHE_CONTROL],
        "private, no-store",
        "a reader's page is never kept or revalidated by a shared counter"
    );

    let shown = mia.get(&format!("{DAY}?show_hidden=1")).await;
    assert!(shown.body.contains(&card(ENVHARNESS)));
    assert!(
        shown
            .body
            .contains("Hidden for you: muted keyword \u{201C}envharness\u{201D}"),
        "{}",
        shown.body
    );

    // Anonymous visitors see the day as it is.
    let (_, anonymous) = server.get(DAY).await;
    assert!(anonymous.contains(&card(ENVHARNESS)) && !anonymous.contains("hidden</span>"));

    // Search marks the muted paper instead of dropping it.
    server.wait_for_index(false).await;
    let found = mia.get("/papers?q=EnvHarness&mode=keyword").await;
    assert!(found.body.contains(&card(ENVHARNESS)), "{}", found.body);
    assert!(found.body.contains("Hidden for you: muted keyword"));

    // Unmuting restores it.
    let settings = mia.get("/account/mutes").await;
    assert!(settings.body.contains("envharness"));
    let id = first_mute_id(&settings.body);
    let removed = mia
        .post(&format!("/account/mutes/{id}/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(removed.status, 303);
    let day = mia.get(DAY).await;
    assert!(day.body.contains(&card(ENVHARNESS)));
    assert!(!day.body.contains("1 hidden"));
}

#[tokio::test(flavor = "multi_thread")]
async fn not_interested_hides_a_paper_and_opened_papers_hide_with_hide_seen() {
    let server = Server::start();
    let mut leo = Visitor::new(&server);
    assert_eq!(leo.sign_up("leo").await.status, 303);
    let csrf = leo.csrf(DAY).await;

    let back = format!("{DAY}?sort=trending");
    let dismissed = leo
        .post(
            "/account/dismissed",
            &[("csrf", &csrf), ("paper", FACET), ("back", &back)],
        )
        .await;
    assert_eq!(dismissed.status, 303);
    assert_eq!(dismissed.headers[header::LOCATION], back.as_str());
    let day = leo.get(DAY).await;
    assert!(!day.body.contains(&card(FACET)));
    assert!(day.body.contains("1 hidden"));
    let shown = leo.get(&format!("{DAY}?show_hidden=1")).await;
    assert!(shown.body.contains("Hidden for you: not interested"));
    assert!(shown.body.contains("Undo “not interested”"));

    // Off-site "back" addresses are not followed.
    let elsewhere = leo
        .post(
            "/account/dismissed",
            &[
                ("csrf", &csrf),
                ("paper", FACET),
                ("back", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(elsewhere.headers[header::LOCATION], "/");

    // The settings page lists it with its undo.
    let settings = leo.get("/account/mutes").await;
    assert!(
        settings
            .body
            .contains(&format!(r#"href="/papers/{FACET}""#))
    );
    let undone = leo
        .post(
            "/account/dismissed/undo",
            &[
                ("csrf", &csrf),
                ("paper", FACET),
                ("back", "/account/mutes"),
            ],
        )
        .await;
    assert_eq!(undone.status, 303);
    assert!(leo.get(DAY).await.body.contains(&card(FACET)));

    // Opening a paper marks it seen; hide-seen hides it (and the dismissed one, seen too).
    assert_eq!(leo.get(&format!("/papers/{ANYONE}")).await.status, 200);
    let day = leo.get(DAY).await;
    assert!(
        day.body.contains(&card(ANYONE)),
        "seen papers stay unless asked"
    );
    assert!(
        day.body
            .contains(r#"href="/papers/date/2026-08-21?hide_seen=1">Hide seen papers"#)
    );
    let unseen = leo.get(&format!("{DAY}?hide_seen=1")).await;
    assert!(!unseen.body.contains(&card(ANYONE)));
    assert!(!unseen.body.contains(&card(FACET)));
    assert!(unseen.body.contains("2 hidden"), "{}", unseen.body);
    let marked = leo.get(&format!("{DAY}?hide_seen=1&show_hidden=1")).await;
    assert!(marked.body.contains("Hidden for you: seen (opened)"));

    // An unknown paper is a 404, a malformed one a 400.
    let missing = leo
        .post(
            "/account/dismissed",
            &[("csrf", &csrf), ("paper", "2608.99999")],
        )
        .await;
    assert_eq!(missing.status, 404);
    let malformed = leo
        .post("/account/dismissed", &[("csrf", &csrf), ("paper", "nope")])
        .await;
    assert_eq!(malformed.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn muted_text_is_escaped_and_mutes_are_bounded_and_kept_once() {
    let server = Server::start();
    let mut eve = Visitor::new(&server);
    assert_eq!(eve.sign_up("eve").await.status, 303);
    let csrf = eve.csrf("/account/mutes").await;
    let hostile = r#"<script>alert("x")</script>"#;
    for _ in 0..2 {
        let added = eve
            .post(
                "/account/mutes",
                &[("csrf", &csrf), ("kind", "keyword"), ("text", hostile)],
            )
            .await;
        assert_eq!(added.status, 303);
    }
    let settings = eve.get("/account/mutes").await.body;
    assert!(!settings.contains("<script>alert"), "{settings}");
    assert!(
        settings.contains("&#60;script&#62;") || settings.contains("&lt;script&gt;"),
        "{settings}"
    );
    assert_eq!(
        settings.matches("/remove").count(),
        1,
        "the same mute is kept once"
    );

    let long = "x".repeat(201);
    let refused = eve
        .post(
            "/account/mutes",
            &[("csrf", &csrf), ("kind", "keyword"), ("text", &long)],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("at most 200 characters"));

    // "Mute author" from the paper page goes back there.
    let paper = eve.get(&format!("/papers/{ENVHARNESS}")).await.body;
    assert!(paper.contains("Mute author"));
    let muted = eve
        .post(
            "/account/mutes",
            &[
                ("csrf", &csrf),
                ("kind", "author"),
                ("text", "Chengsong Huang"),
                ("back", &format!("/papers/{ENVHARNESS}")),
            ],
        )
        .await;
    assert_eq!(
        muted.headers[header::LOCATION],
        format!("/papers/{ENVHARNESS}").as_str()
    );
    let shown = eve.get(&format!("{DAY}?show_hidden=1")).await.body;
    assert!(shown.contains("Hidden for you: muted author \u{201C}Chengsong Huang\u{201D}"));
}

/// One API call with the token (when given): its status and JSON body (`null` when none).
async fn call(
    server: &Server,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().request(method, server.url(path));
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(body) = body {
        req = req
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_personal_api_lists_adds_and_removes_mutes_and_dismissals_with_a_token() {
    use reqwest::Method;
    use serde_json::json;
    let server = Server::start();
    let token = api_token(server.data_dir(), "ines");
    let me = Some(token.as_str());

    assert_eq!(
        call(&server, None, Method::GET, "/api/me/mutes", None)
            .await
            .0,
        401
    );
    let phrase = json!({"kind": "keyword", "text": "\"static worlds\""});
    let (status, mute) = call(
        &server,
        me,
        Method::POST,
        "/api/me/mutes",
        Some(phrase.clone()),
    )
    .await;
    assert_eq!(status, 201, "{mute}");
    assert_eq!(mute["kind"], "keyword");
    assert_eq!(mute["matchesNothing"], false);
    let (again, _) = call(&server, me, Method::POST, "/api/me/mutes", Some(phrase)).await;
    assert_eq!(again, 200, "idempotent");
    let planet = json!({"kind": "planet", "text": "x"});
    assert_eq!(
        call(&server, me, Method::POST, "/api/me/mutes", Some(planet))
            .await
            .0,
        400
    );

    let (_, listed) = call(&server, me, Method::GET, "/api/me/mutes", None).await;
    assert_eq!(listed["mutes"].as_array().unwrap().len(), 1);
    assert_eq!(listed["max"], 200);

    let facet = json!({"id": FACET});
    assert_eq!(
        call(&server, me, Method::POST, "/api/me/dismissed", Some(facet))
            .await
            .0,
        204
    );
    let (_, list) = call(&server, me, Method::GET, "/api/me/dismissed", None).await;
    assert_eq!(list[0]["id"], FACET);

    let one = format!("/api/me/mutes/{}", mute["id"].as_i64().unwrap());
    assert_eq!(call(&server, me, Method::DELETE, &one, None).await.0, 204);
    assert_eq!(call(&server, me, Method::DELETE, &one, None).await.0, 404);
    let undo = format!("/api/me/dismissed/{FACET}");
    assert_eq!(call(&server, me, Method::DELETE, &undo, None).await.0, 204);
    let (_, list) = call(&server, me, Method::GET, "/api/me/dismissed", None).await;
    assert_eq!(list, json!([]));

    let (_, doc) = call(&server, None, Method::GET, "/api/openapi.json", None).await;
    for path in [
        "/api/me/mutes",
        "/api/me/mutes/{mute_id}",
        "/api/me/dismissed",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}
