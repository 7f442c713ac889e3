//! The hub on PostgreSQL (`--database-url postgres://…`), and `paperfeed migrate` from SQLite
//! to PostgreSQL. Each test makes a fresh database on the server at
//! PAPERFEED_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and drops it
//! at the end; with no server, they say SKIPPED (and fail in CI).

use chrono::Utc;
use paperfeed_core::ArxivId;
use paperfeed_store::testing::TestDatabase;
use paperfeed_store::{
    MailStore, NewComment, PaperVector, PostgresStore, SqliteStore, Store, WriteMode,
};

use crate::harness::{Server, bin, fixture, ingest, ok, run_on, text};

/// The sample's top paper on its latest day, with 163 imported upvotes.
const PAPER: &str = "2608.19880";

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_on_postgres_serves_the_sample_counts_an_api_upvote_and_shows_a_cli_ingest() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    ok(run_on(
        db.url(),
        &[
            "user",
            "add",
            "bot",
            "--email",
            "bot@example.org",
            "--password-stdin",
        ],
        "a long enough password\n",
    ));
    let token = ok(run_on(db.url(), &["token", "create", "bot"], ""))
        .trim()
        .to_owned();
    let url = std::ffi::OsString::from(db.url());
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[("PAPERFEED_DATABASE_URL", &url)],
    );
    // The sample went into the empty database.
    let (status, html) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(html.contains(PAPER), "{html}");
    let store = PostgresStore::connect(db.url()).await.unwrap();
    let id = ArxivId::parse(PAPER).unwrap();
    assert_eq!(store.get_paper(&id).await.unwrap().unwrap().upvotes, 163);

    // An upvote through the API counts, once.
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let resp = http
            .post(server.url(&format!("/api/papers/{PAPER}/upvote")))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let json: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(json["upvotes"].as_i64(), Some(164), "{json}");
    }
    assert_eq!(store.get_paper(&id).await.unwrap().unwrap().upvotes, 164);
    let (_, json) = server.get(&format!("/api/papers/{PAPER}")).await;
    assert!(json.contains("\"upvotes\":164"), "{json}");

    // Papers ingested by another process on the same database show up on the running hub,
    // in its feed and (once its indexer caught up from the change watermark) in its search.
    let day = fixture("crates/paperfeed-ingest/tests/fixtures/2024-03-12.json");
    let out = ok(run_on(db.url(), &["ingest", day.to_str().unwrap()], ""));
    assert!(out.contains("9 new"), "{out}");
    let (status, json) = server.get("/api/daily_papers?date=2024-03-12").await;
    assert_eq!(status, 200);
    assert!(json.contains("2403.06634"), "{json}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, html) = server
            .get("/papers?q=Stealing+Part+of+a+Production+Language+Model&mode=keyword")
            .await;
        if html.contains("2403.06634") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the index never caught up with the ingest: {html}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_copies_a_sqlite_store_into_postgres_once_and_a_second_run_changes_nothing() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    // An SQLite store with papers, accounts, votes, comments, vectors, subscribers and digests.
    let data = tempfile::tempdir().unwrap();
    for day in ["2024-03-12.json", "2025-02-06.json"] {
        let file = fixture(&format!("crates/paperfeed-ingest/tests/fixtures/{day}"));
        assert!(
            ingest(data.path(), &[file.to_str().unwrap()])
                .status
                .success()
        );
    }
    let sqlite_url = format!(
        "sqlite://{}",
        data.path().join("paperfeed.sqlite3").display()
    );
    ok(run_on(
        &sqlite_url,
        &[
            "user",
            "add",
            "ada",
            "--email",
            "ada@example.org",
            "--password-stdin",
        ],
        "a long enough password\n",
    ));
    let token = ok(run_on(&sqlite_url, &["token", "create", "ada"], ""))
        .trim()
        .to_owned();
    for email in ["one@example.org", "two@example.org"] {
        ok(run_on(
            &sqlite_url,
            &[
                "subscriber",
                "add",
                email,
                "--confirmed",
                "--topic",
                "language",
            ],
            "",
        ));
    }
    let source = SqliteStore::open(&data.path().join("paperfeed.sqlite3")).unwrap();
    let ada = source.user_by_name("ada").await.unwrap().unwrap();
    let id = ArxivId::parse("2403.06634").unwrap();
    source.set_vote(ada.id, &id, true).await.unwrap().unwrap();
    let github = paperfeed_store::NewIdentity {
        provider: "github".into(),
        subject: "583231".into(),
        login: "ada-gh".into(),
        verified_email: Some("ada@example.org".into()),
        at: Utc::now(),
    };
    assert_eq!(
        paperfeed_store::IdentityStore::link_identity(&source, ada.id, &github)
            .await
            .unwrap(),
        paperfeed_store::LinkOutcome::Linked
    );
    source
        .add_comment(NewComment {
            paper: id.clone(),
            author: ada.id,
            body: "**nice** <b>".into(),
            created_at: Utc::now(),
        })
        .await
        .unwrap()
        .unwrap();
    let job = &source.embedding_backlog("model", 1).await.unwrap()[0];
    source
        .put_embeddings(
            "model",
            vec![PaperVector {
                id: job.id.clone(),
                text_hash: job.text_hash,
                vector: vec![0.5, -0.25],
            }],
        )
        .await
        .unwrap();
    source
        .queue_digests(paperfeed_core::Frequency::Daily, "2026-11-30", Utc::now())
        .await
        .unwrap();
    let claimer = source
        .register_claimer("migration test", Utc::now())
        .await
        .unwrap();
    let claimed = source
        .claim_digest(
            &claimer,
            "2026-11-30",
            Utc::now(),
            Utc::now() + chrono::Duration::minutes(5),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        source
            .finish_digest(
                claimed.id,
                &claimed.claim_token,
                vec![id.clone()],
                Utc::now()
            )
            .await
            .unwrap()
    );
    let source_stats = source.stats().await.unwrap();

    let migrate = |args: &[&str]| {
        let out = bin().args(args).output().unwrap();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let (success, out, err) = migrate(&["migrate", "--from", &sqlite_url, "--to", db.url()]);
    assert!(success, "{out}\n{err}");
    let papers = source_stats.papers;
    assert!(
        out.lines()
            .any(|l| l.starts_with("papers") && l.contains(&format!("{papers} new"))),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("votes") && l.contains("1 new")),
        "{out}"
    );
    let (success, again, err) = migrate(&["migrate", "--from", &sqlite_url, "--to", db.url()]);
    assert!(success, "{again}\n{err}");
    assert!(
        again.contains(": 0 new, 0 updated"),
        "a second run copies nothing: {again}"
    );

    // What the PostgreSQL store now answers is what the SQLite store answered.
    let target = PostgresStore::connect(db.url()).await.unwrap();
    let stats = target.stats().await.unwrap();
    assert_eq!(
        (stats.papers, stats.featured_days),
        (source_stats.papers, source_stats.featured_days)
    );
    assert!(
        stats.change_seq >= source_stats.change_seq,
        "the target's watermark is never behind the source's"
    );
    for paper in source.papers_page(None, 100).await.unwrap() {
        assert_eq!(target.get_paper(&paper.id).await.unwrap(), Some(paper));
    }
    assert_eq!(target.user_by_name("ada").await.unwrap(), Some(ada.clone()));
    assert_eq!(
        paperfeed_store::IdentityStore::identities(&source, ada.id)
            .await
            .unwrap(),
        paperfeed_store::IdentityStore::identities(&target, ada.id)
            .await
            .unwrap(),
        "linked identities travel with the account"
    );
    let hash = paperfeed_app::accounts::hash_secret(&token);
    assert_eq!(
        target.user_by_api_token(&hash).await.unwrap().map(|u| u.id),
        Some(ada.id)
    );
    assert!(target.has_voted(ada.id, &id).await.unwrap());
    assert_eq!(
        target.comments(&id).await.unwrap(),
        source.comments(&id).await.unwrap()
    );
    assert_eq!(
        target.embeddings("model").await.unwrap(),
        source.embeddings("model").await.unwrap()
    );
    for email in ["one@example.org", "two@example.org"] {
        let email = &paperfeed_core::EmailAddress::parse(email).unwrap();
        assert_eq!(
            target.subscriber_by_email(email).await.unwrap(),
            source.subscriber_by_email(email).await.unwrap()
        );
    }
    assert_eq!(
        target.digest_counts("2026-11-30").await.unwrap(),
        source.digest_counts("2026-11-30").await.unwrap()
    );
    assert_eq!(
        target
            .mailed_papers(
                claimed.subscriber.id,
                &[id.clone(), ArxivId::parse("2403.99999").unwrap()]
            )
            .await
            .unwrap(),
        std::slice::from_ref(&id)
    );
    // New rows get ids after the copied ones.
    let bob = target
        .create_user(paperfeed_store::NewUser {
            username: paperfeed_core::Username::parse("bob").unwrap(),
            email: paperfeed_core::EmailAddress::parse("bob@example.org").unwrap(),
            password_hash: "x".into(),
            is_admin: false,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    assert!(bob.id.0 > ada.id.0);
    // A change in the source after the first copy travels with the next run, alone.
    source
        .upsert_papers(
            vec![paperfeed_core::NewPaper::new(
                ArxivId::parse("2501.00001").unwrap(),
                "Late".into(),
                "Added after the first copy.".into(),
                vec![],
            )],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let (success, third, err) = migrate(&["migrate", "--from", &sqlite_url, "--to", db.url()]);
    assert!(success, "{third}\n{err}");
    assert!(
        third
            .lines()
            .any(|l| l.starts_with("papers") && l.contains("1 new, 0 updated")),
        "{third}"
    );
}

#[test]
fn migrate_refuses_a_missing_source_and_names_it() {
    let out = bin()
        .args([
            "migrate",
            "--from",
            "sqlite:///no/such/store.sqlite3",
            "--to",
            "postgres://u:hunter2@127.0.0.1:9/x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("/no/such/store.sqlite3"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_names_the_table_and_row_a_target_refuses_and_keeps_none_of_its_page() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let sqlite_url = format!(
        "sqlite://{}",
        data.path().join("paperfeed.sqlite3").display()
    );
    for name in ["ada", "bob"] {
        ok(run_on(
            &sqlite_url,
            &[
                "user",
                "add",
                name,
                "--email",
                &format!("{name}@example.org"),
                "--password-stdin",
            ],
            "a long enough password\n",
        ));
    }
    // The target already has another account named ada (under id 2, bob's id in the source):
    // copying the source's user 1 (ada) would give two accounts one name.
    let target = PostgresStore::connect(db.url()).await.unwrap();
    for name in ["carol", "ada"] {
        target
            .create_user(paperfeed_store::NewUser {
                username: paperfeed_core::Username::parse(name).unwrap(),
                email: paperfeed_core::EmailAddress::parse(&format!("{name}@other.org")).unwrap(),
                password_hash: "x".into(),
                is_admin: false,
                created_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    let out = bin()
        .args(["migrate", "--from", &sqlite_url, "--to", db.url()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("writing users into postgres://")
            && err.contains("users row id=1 was refused"),
        "{err}"
    );
    assert!(
        err.contains("duplicate key value violates unique constraint \"users_username_key\""),
        "{err}"
    );
    // The page with the refused row was rolled back whole.
    assert_eq!(
        target
            .user_by_name("carol")
            .await
            .unwrap()
            .unwrap()
            .email
            .as_str(),
        "carol@other.org"
    );
}
