//! "For you" in the digest through the real binary, on SQLite and on PostgreSQL: a reader seeds
//! their recommender and chooses picks on `/for-you` (CSRF, a checked value, told how to
//! subscribe while they are not); `paperfeed digest run` mails the picks through a real SMTP
//! server on loopback, each with its reason, each paper once, nothing on a re-run, none while
//! paused, never a dismissed paper, and nothing marked mailed when the server refuses.

use std::ffi::OsString;
use std::process::Command;

use paperfeed_store::testing::TestDatabase;

use crate::community::Visitor;
use crate::digest::{Sink, readable, run_ok};
use crate::harness::Server;
use crate::recommendations::{SEEDS, protein_day};

/// The paper on another subject the reader marks "not interested".
const COOKING: &str = "2608.20021";

/// Runs the binary on the hub's store (`database`: PostgreSQL's URL, or the data directory's
/// SQLite file), sending mail to `sink`.
fn paperfeed(server: &Server, database: Option<&str>, sink: &Sink, args: &[&str]) -> Command {
    let mut cmd = crate::digest::paperfeed(server.data_dir(), sink, args);
    if let Some(url) = database {
        cmd.env("PAPERFEED_DATABASE_URL", url);
    }
    cmd
}

/// The picks in a mail's plain-text part: (title, reason).
fn picks_in(mail: &str) -> Vec<(String, String)> {
    let mail = readable(mail);
    let Some(section) = mail.split("Picked for you (").nth(1) else {
        return Vec::new();
    };
    let section = section.split("\n--").next().unwrap_or_default();
    let lines: Vec<&str> = section.lines().map(|l| l.trim_end_matches('\r')).collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let title = line.strip_prefix(" - ")?;
            let why = lines.get(i + 1)?.trim().strip_prefix("Why: ")?;
            Some((title.to_owned(), why.to_owned()))
        })
        .collect()
}

async fn picks_by_mail(database: Option<&str>) {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(mail.path(), &["--reject-rcpt", "bounce"]) else {
        return;
    };
    let smtp = OsString::from(sink.url());
    let url = database.map(OsString::from);
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![("PAPERFEED_SMTP_URL", &smtp)];
    if let Some(url) = &url {
        env.push(("PAPERFEED_DATABASE_URL", url));
    }
    let server = Server::start_with_env(&["--no-sample"], tempfile::tempdir().unwrap(), &env);
    let day = tempfile::tempdir().unwrap();
    let file = day.path().join("2026-08-20.json");
    std::fs::write(&file, protein_day()).unwrap();
    run_ok(paperfeed(
        &server,
        database,
        &sink,
        &["ingest", file.to_str().unwrap()],
    ));

    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let csrf = ada.csrf("/for-you").await;
    for id in SEEDS {
        let seeded = ada
            .post(
                "/for-you/seeds",
                &[("csrf", &csrf), ("paper", id), ("action", "add")],
            )
            .await;
        assert_eq!(seeded.status, 303, "{}", seeded.body);
    }
    // "Not interested" in the cooking paper: it never comes by mail.
    let dismissed = ada
        .post(
            "/account/dismissed",
            &[("csrf", &csrf), ("paper", COOKING), ("back", "/for-you")],
        )
        .await;
    assert_eq!(dismissed.status, 303);

    // The choice: a form with the session's token and a checked value.
    let page = ada.get("/for-you").await;
    assert!(
        page.body.contains("no digest subscription")
            && page.body.contains(r#"<a href="/subscribe">"#),
        "without a subscription the page says how to get one: {}",
        page.body
    );
    for (token, picks, status) in [
        ("forged", "3", 403),
        (csrf.as_str(), "11", 400),
        (csrf.as_str(), "3", 303),
    ] {
        let answer = ada
            .post("/for-you/digest", &[("csrf", token), ("picks", picks)])
            .await;
        assert_eq!(answer.status, status, "{picks}: {}", answer.body);
        if status == 400 {
            assert!(
                answer.body.contains("digest_picks must be"),
                "{}",
                answer.body
            );
        }
    }
    run_ok(paperfeed(
        &server,
        database,
        &sink,
        &[
            "subscriber",
            "add",
            "ada@example.org",
            "--topic",
            "quantum",
            "--confirmed",
        ],
    ));
    let page = ada.get("/for-you").await;
    assert!(page.body.contains("It comes daily"), "{}", page.body);
    assert!(
        page.body.contains(r#"<option value="3" selected>"#),
        "{}",
        page.body
    );
    if database.is_none() {
        // The API shows the choice beside the other controls.
        let token = crate::community::run_cli(server.data_dir(), &["token", "create", "ada"], "")
            .trim()
            .to_owned();
        crate::harness::register_secret(&token);
        let answer = reqwest::Client::new()
            .get(server.url("/api/me/recommendations"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        assert_eq!(body["controls"]["digestPicks"], 3, "{body}");
    }

    let digest = |date: &str| {
        run_ok(paperfeed(
            &server,
            database,
            &sink,
            &["digest", "run", "--date", date],
        ))
    };
    // Paused: no section, and her topic matches nothing, so no mail.
    let paused = ada
        .post("/for-you/pause", &[("csrf", &csrf), ("paused", "true")])
        .await;
    assert_eq!(paused.status, 303);
    let out = digest("2026-08-24");
    assert!(out.contains("this run sent 0"), "paused: {out}");

    let resumed = ada
        .post("/for-you/pause", &[("csrf", &csrf), ("paused", "false")])
        .await;
    assert_eq!(resumed.status, 303);
    let out = digest("2026-08-25");
    assert!(out.contains("this run sent 1"), "{out}");
    let mails = sink.received()["ada@example.org"].clone();
    assert_eq!(mails.len(), 1);
    let first = picks_in(&mails[0]);
    assert!(
        !first.is_empty() && first.len() <= 3,
        "{}",
        readable(&mails[0])
    );
    assert!(
        first
            .iter()
            .any(|(_, why)| why.starts_with("because you asked for papers like")),
        "each pick says why: {first:?}"
    );
    assert!(
        readable(&mails[0]).contains("https://papers.example.test/for-you"),
        "with the page that changes or stops them"
    );

    let again = digest("2026-08-25");
    assert!(again.contains("this run sent 0"), "a re-run: {again}");
    digest("2026-08-26");
    let mails = sink.received()["ada@example.org"].clone();
    let mut titles: Vec<String> = mails
        .iter()
        .flat_map(|m| picks_in(m))
        .map(|(title, _)| title)
        .collect();
    assert!(
        !titles.iter().any(|t| t.starts_with("Cooking Recipes")),
        "the dismissed paper is never mailed: {titles:?}"
    );
    let all = titles.len();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), all, "each paper once: {titles:?}");

    // The mail server refuses bounce@…: nothing marked mailed, so her page still picks them.
    let mut bounce = Visitor::new(&server);
    assert_eq!(bounce.sign_up("bounce").await.status, 303);
    let bcsrf = bounce.csrf("/for-you").await;
    bounce
        .post(
            "/for-you/seeds",
            &[("csrf", &bcsrf), ("paper", SEEDS[0]), ("action", "add")],
        )
        .await;
    bounce
        .post("/for-you/digest", &[("csrf", &bcsrf), ("picks", "5")])
        .await;
    run_ok(paperfeed(
        &server,
        database,
        &sink,
        &[
            "subscriber",
            "add",
            "bounce@example.org",
            "--topic",
            "quantum",
            "--confirmed",
        ],
    ));
    // Under load the recommender may still be reading the hub: wait until it picks.
    let before = crate::recommendations::for_you(&mut bounce).await;
    let out = digest("2026-08-27");
    assert!(out.contains("1 failed"), "{out}");
    assert!(!sink.received().contains_key("bounce@example.org"));
    let after = crate::recommendations::for_you(&mut bounce).await;
    assert_eq!(
        crate::recommendations::card_ids(&after.body),
        crate::recommendations::card_ids(&before.body),
        "nothing was marked mailed (seen): the picks stay"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn for_you_picks_are_mailed_once_each_with_why_on_sqlite() {
    picks_by_mail(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn for_you_picks_are_mailed_once_each_with_why_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    picks_by_mail(Some(db.url())).await;
}

#[test]
fn picks_in_reads_the_plain_text_section() {
    let mail = "x\nPicked for you (from what you saved)\n\n - A title\n   Why: because you saved\n   \
                ▲ 1\n--\nlinks";
    assert_eq!(
        picks_in(mail),
        [("A title".to_owned(), "because you saved".to_owned())]
    );
}
