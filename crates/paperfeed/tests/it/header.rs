//! What the page frame says to whom: the header per audience (anonymous readers share the
//! cached page, a signed-in reader sees their own name and links), the digest banner only
//! where subscribing works, validators that agree between `HEAD` and `GET`, the comments a
//! page counts but does not show, and trending on an archive whose newest day is old.

use reqwest::header;

use crate::community::Visitor;
use crate::harness::Server;

#[tokio::test(flavor = "multi_thread")]
async fn head_and_get_of_a_page_carry_the_same_etag() {
    let server = Server::start();
    server.wait_for_index(false).await;
    let client = reqwest::Client::new();
    let etag = |response: &reqwest::Response| response.headers()[header::ETAG].clone();
    for path in [
        "/",
        "/papers/date/2026-08-18",
        "/papers/week/2026-W34",
        "/papers/2608.19880",
        "/papers?q=agents",
        "/feed.xml",
        "/api/daily_papers",
    ] {
        // The index's progress (vectors still being computed) is part of every tag: a HEAD
        // counts when the GETs on either side of it agree.
        let mut compared = false;
        for _ in 0..100 {
            let before = client.get(server.url(path)).send().await.unwrap();
            assert_eq!(before.status(), 200, "{path}");
            let head = client.head(server.url(path)).send().await.unwrap();
            assert_eq!(head.status(), 200, "{path}");
            let after = client.get(server.url(path)).send().await.unwrap();
            if etag(&before) != etag(&after) {
                continue;
            }
            assert_eq!(etag(&head), etag(&before), "{path}: HEAD and GET differ");
            // A copy got by GET is current for HEAD.
            let revalidated = client
                .head(server.url(path))
                .header(header::IF_NONE_MATCH, etag(&before))
                .send()
                .await
                .unwrap();
            let settled = client.get(server.url(path)).send().await.unwrap();
            if etag(&settled) == etag(&before) {
                assert_eq!(revalidated.status(), 304, "{path}");
            }
            compared = true;
            break;
        }
        assert!(compared, "{path}: the state never stood still");
    }
}

/// The header's account links of a page.
fn account_nav(body: &str) -> &str {
    let at = body
        .find(r#"<nav class="account-links""#)
        .unwrap_or_else(|| panic!("no account links: {body}"));
    let rest = &body[at..];
    &rest[..rest.find("</nav>").unwrap()]
}

/// The first `href="{prefix}…"` of a page, whole.
fn first_href(body: &str, prefix: &str) -> String {
    let needle = format!(r#"href="{prefix}"#);
    let at = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no link to {prefix}…"));
    let rest = &body[at + r#"href=""#.len()..];
    rest[..rest.find('"').unwrap()].replace("&#x2f;", "/")
}

fn assert_anonymous(path: &str, body: &str) {
    assert!(
        !body.contains("<!--paperfeed:"),
        "{path}: a marker was left"
    );
    let nav = account_nav(body);
    assert!(
        nav.contains(">Log in</a>") && nav.contains(">Sign up</a>"),
        "{path}: {nav}"
    );
    assert!(!nav.contains("Log out"), "{path}: {nav}");
}

fn assert_signed_in(path: &str, body: &str, name: &str, others: &[&str]) {
    assert!(
        !body.contains("<!--paperfeed:"),
        "{path}: a marker was left"
    );
    let nav = account_nav(body);
    assert!(
        nav.contains(&format!(
            r#"class="reader-name" href="/account" title="Your account">{name}</a>"#
        )),
        "{path}: {nav}"
    );
    for link in ["/library", "/for-you", "/following"] {
        assert!(
            nav.contains(&format!(r#"href="{link}""#)),
            "{path}: {link} in {nav}"
        );
    }
    assert!(
        nav.contains(r#"<form class="inline logout" method="post" action="/logout"><input type="hidden" name="csrf" value=""#),
        "{path}: log out is a POST form with its CSRF token: {nav}"
    );
    assert!(
        !nav.contains("Log in") && !nav.contains("Sign up"),
        "{path}: {nav}"
    );
    for other in others {
        assert!(
            !body.contains(&format!(">{other}<")),
            "{path}: {other} leaked to {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_header_names_the_signed_in_reader_and_a_shared_cached_page_names_nobody() {
    let server = Server::start();
    let mut anonymous = Visitor::new(&server);
    let week = anonymous.get("/papers/week/2026-W34").await.body;
    let author = first_href(&week, "/authors/");
    let org = first_href(&week, "/orgs/");
    let mut pages = vec![
        "/".to_owned(),
        "/?sort=trending".into(),
        "/papers/date/2026-08-18".into(),
        "/papers/week/2026-W34".into(),
        "/papers/month/2026-08".into(),
        "/papers/2608.19880".into(),
        "/papers?q=agents".into(),
        "/papers/2608.99999".into(),
        "/papers/date/2026-02-30".into(),
        "/no/such/page".into(),
        "/status".into(),
        "/subscribe".into(),
        author,
        org,
    ];
    for path in &pages {
        let page = anonymous.get(path).await;
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_anonymous(path, &page.body);
    }
    // The log-in link leads back to the page.
    let day = anonymous.get("/papers/date/2026-08-18").await.body;
    assert!(
        account_nav(&day).contains(r#"href="/login?next=%2Fpapers%2Fdate%2F2026-08-18""#),
        "{}",
        account_nav(&day)
    );

    let mut alice = Visitor::new(&server);
    assert_eq!(alice.sign_up("alice").await.status, 303);
    let mut bob = Visitor::new(&server);
    assert_eq!(bob.sign_up("bob").await.status, 303);
    pages.extend(
        [
            "/account",
            "/account/password",
            "/account/mutes",
            "/account/searches",
            "/library",
            "/for-you",
            "/following",
            "/submit",
        ]
        .map(str::to_owned),
    );
    for path in &pages {
        let a = alice.get(path).await;
        assert_signed_in(path, &a.body, "alice", &["bob"]);
        let b = bob.get(path).await;
        assert_signed_in(path, &b.body, "bob", &["alice"]);
        // The shared copy, served again after both readers: still nobody's.
        if !path.starts_with("/account")
            && !["/library", "/for-you", "/following", "/submit"].contains(&path.as_str())
        {
            let again = anonymous.get(path).await;
            assert_anonymous(path, &again.body);
            for name in ["alice", "bob"] {
                assert!(
                    !again.body.contains(&format!(">{name}<")),
                    "{path}: {name} leaked"
                );
            }
        }
    }

    // Log out is the header's form: afterwards the same visitor is anonymous again.
    let home = alice.get("/").await.body;
    let nav = account_nav(&home);
    let at = nav.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    let csrf = nav[at..][..nav[at..].find('"').unwrap()].to_owned();
    let out = alice.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_anonymous("/ after log out", &alice.get("/").await.body);
    // Bob's session is untouched.
    assert_signed_in("/", &bob.get("/").await.body, "bob", &["alice"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_digest_banner_shows_only_where_subscribing_works_otherwise_the_feeds() {
    let server = Server::start();
    let home = server.get("/").await.1;
    assert!(
        !home.contains("Get trending papers in your email inbox"),
        "no SMTP: no Subscribe"
    );
    assert!(!home.contains(r#"href="/subscribe""#));
    assert!(
        home.contains(r#"<a class="button" href="/feed.xml">RSS</a>"#),
        "{home}"
    );
    assert!(home.contains(r#"<a class="button" href="/feed.atom">Atom</a>"#));
    drop(server);

    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = crate::digest::Sink::start(mail.path(), &[]) else {
        return;
    };
    let smtp = std::ffi::OsString::from(sink.url());
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[("PAPERFEED_SMTP_URL", &smtp)],
    );
    let home = server.get("/").await.1;
    assert!(
        home.contains("Get trending papers in your email inbox!"),
        "{home}"
    );
    assert!(home.contains(r#"<a class="button" href="/subscribe">Subscribe</a>"#));
    let (status, subscribe) = server.get("/subscribe").await;
    assert_eq!(status, 200);
    assert!(
        subscribe.contains(r#"action="/subscribe""#),
        "the banner leads to a form"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_archive_trends_as_of_its_newest_day_and_says_so() {
    // The sample's newest featured day is in August 2026, weeks before the tests run.
    let server = Server::start();
    let (_, home) = server.get("/?sort=trending").await;
    assert!(home.contains(r#"class="note trending-note""#), "{home}");
    assert!(home.contains("newest featured day is August"), "{home}");
    let (_, votes) = server.get("/").await;
    assert!(
        !votes.contains("trending-note"),
        "only the trending order says so"
    );
    // The paper page counts hours to that moment, not to now: at most three days and a bit.
    let (_, paper) = server.get("/papers/2608.19880").await;
    assert!(paper.contains(r#"class="muted trending-note""#), "{paper}");
    let score: f64 = {
        let at =
            paper.find(r#"class="trending-score">"#).unwrap() + r#"class="trending-score">"#.len();
        paper[at..][..paper[at..].find('<').unwrap()]
            .parse()
            .unwrap()
    };
    assert!(score > 0.01, "the score is not ≈0: {score}");
    // One order for every surface: the latest day's trending page lists its papers in the
    // API's trending order.
    let card_ids = |body: &str| -> Vec<String> {
        body.split(r#"data-paper-id=""#)
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect()
    };
    let day = first_href(&votes, "/papers/date/");
    let date = day.trim_start_matches("/papers/date/");
    let (_, api) = server
        .get(&format!(
            "/api/daily_papers?date={date}&sort=trending&limit=100"
        ))
        .await;
    let api: serde_json::Value = serde_json::from_str(&api).unwrap();
    let api_ids: Vec<String> = api
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["paper"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(api_ids.len() > 2);
    assert_eq!(card_ids(&home), api_ids, "the home page is the latest day");
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_counted_by_the_source_feed_link_to_their_discussion_on_hugging_face() {
    let server = Server::start();
    let mut page = None;
    // A sample paper whose feed record counts comments.
    let (_, day) = server.get("/papers/date/2026-08-18").await;
    for card in day.split(r#"<li class="card""#).skip(1) {
        if card.contains("<span class=\"visually-hidden\"> comment")
            && !card.contains("</svg>0<span class=\"visually-hidden\"> comments")
        {
            let id = first_href(card, "/papers/2");
            page = Some(id);
            break;
        }
    }
    let Some(path) = page else {
        panic!("no sample paper with comments on 2026-08-18: {day}");
    };
    let (_, paper) = server.get(&path).await;
    let id = path.trim_start_matches("/papers/");
    assert!(
        paper.contains(&format!(r#"<a href="https://huggingface.co/papers/{id}#community">read the discussion on Hugging Face</a>"#)),
        "{paper}"
    );
    assert!(paper.contains("came with the Hugging Face daily papers feed"));
}

/// The vote pill's box beside the PDF button's, and how the pill is drawn.
async fn pill_and_pdf(client: &fantoccini::Client) -> serde_json::Value {
    client
        .execute(
            "const pill = document.querySelector('.facts .votes-pill');
             const pdf = document.querySelector('.facts a.button');
             const p = pill.getBoundingClientRect(), b = pdf.getBoundingClientRect();
             const s = getComputedStyle(pill), t = getComputedStyle(pdf);
             return {pill_top: p.top, pill_height: p.height, pdf_top: b.top, pdf_height: b.height,
                     decoration: s.textDecorationLine, color: s.color, pdf_color: t.color,
                     background: s.backgroundColor, pdf_background: t.backgroundColor,
                     border: s.borderTopStyle, tag: pill.tagName};",
            vec![],
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vote_pill_is_a_button_in_line_with_pdf_and_arxiv_light_dark_desktop_and_phone() {
    let Some(browser) = crate::browser::browser().await else {
        return;
    };
    let client = &browser.client;
    let server = Server::start();
    crate::harness::register_secret(crate::community::PASSWORD);
    for signed_in in [false, true] {
        if signed_in {
            client.goto(&server.url("/signup")).await.unwrap();
            crate::browser::fill_and_submit(
                client,
                &[
                    ("f-username", "pill_reader"),
                    ("f-email", "pill@example.test"),
                    ("f-password", crate::community::PASSWORD),
                ],
            )
            .await;
            crate::browser::wait_for_path(client, |p| p != "/signup").await;
        }
        for dark in [false, true] {
            for width in [1280, 390] {
                crate::browser::emulate(client, dark, width, 1200).await;
                client
                    .goto(&server.url("/papers/2608.19880"))
                    .await
                    .unwrap();
                let box_ = pill_and_pdf(client).await;
                let case = format!("signed in {signed_in}, dark {dark}, {width} px: {box_}");
                let num = |k: &str| box_[k].as_f64().unwrap();
                assert!((num("pill_top") - num("pdf_top")).abs() <= 1.0, "{case}");
                assert!(
                    (num("pill_height") - num("pdf_height")).abs() <= 1.0,
                    "{case}"
                );
                assert_eq!(box_["decoration"], "none", "{case}");
                assert_eq!(box_["color"], box_["pdf_color"], "{case}");
                assert_eq!(box_["background"], box_["pdf_background"], "{case}");
                assert_eq!(box_["border"], "solid", "{case}");
                assert_eq!(
                    box_["tag"],
                    if signed_in { "BUTTON" } else { "A" },
                    "{case}"
                );
                let name = format!(
                    "screenshot-paper-{}-{}-{}.png",
                    if signed_in { "reader" } else { "anonymous" },
                    if dark { "dark" } else { "light" },
                    if width < 600 { "390" } else { "desktop" }
                );
                crate::browser::save_screenshot(client, &name).await;
            }
        }
    }
}
