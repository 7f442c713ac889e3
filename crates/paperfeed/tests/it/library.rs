//! A reader's library over HTTP, as a browser and a script use it: saving, notes, reading
//! states, collections (private unless made public, with feeds and exports), importing a
//! reference list, and the `/api/me/…` routes. Exports are read back by the real parsers of
//! `citations.rs`; feeds by feed-rs.

use reqwest::header;
use serde_json::Value;

use crate::citations::{COUNT_EXPORTS, read_with, venv_python};
use crate::community::{PAPER, Visitor};
use crate::harness::{Server, fixture};

/// The id of a collection page's address (`/collections/12-name` → 12).
fn collection_id(location: &str) -> i64 {
    let tail = location.trim_start_matches("/collections/");
    tail[..tail
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(tail.len())]
        .parse()
        .unwrap()
}

fn location(answer: &crate::community::Answer) -> String {
    answer.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The eprints (sorted) that bibtexparser, rispy and the CSL-JSON reader find in a
/// collection's three exports, read by the logged-in `visitor`.
async fn exported_ids(visitor: &mut Visitor, href: &str) -> Option<Value> {
    let python = venv_python()?;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for suffix in ["bib", "ris", "csl.json"] {
        let answer = visitor.get(&format!("{href}.{suffix}")).await;
        assert_eq!(answer.status, 200, "{href}.{suffix}: {}", answer.body);
        let path = dir.path().join(format!("export.{suffix}"));
        std::fs::write(&path, answer.body).unwrap();
        files.push(path);
    }
    Some(read_with(&python, COUNT_EXPORTS, &files))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_saves_notes_and_files_papers_and_a_private_collection_is_not_found_by_others() {
    let server = Server::start();
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let csrf = ada.csrf("/collections").await;
    let paper_page = format!("/papers/{PAPER}");

    // Save from the paper page: one POST, back to the page, which then says Saved.
    let page = ada.get(&paper_page).await;
    assert!(page.body.contains(">Save</button>"), "{}", page.body);
    let form = [
        ("csrf", csrf.as_str()),
        ("paper", PAPER),
        ("action", "save"),
        ("next", paper_page.as_str()),
    ];
    assert_eq!(
        ada.post("/library/save", &form[1..]).await.status,
        403,
        "no CSRF token, no save"
    );
    let saved = ada.post("/library/save", &form).await;
    assert_eq!((saved.status, location(&saved)), (303, paper_page.clone()));
    assert!(ada.get(&paper_page).await.body.contains("Saved ✓"));
    // Cards of the daily feed carry the toggle too.
    let feed = ada.get("/").await;
    assert!(
        feed.body.contains(r#"action="/library/save""#),
        "{}",
        feed.body
    );

    // A private note: Markdown rendered, markup typed into it escaped.
    let note = "Read **section 3** <script>alert(1)</script>";
    let updated = ada
        .post(
            "/library/update",
            &[("csrf", &csrf), ("paper", PAPER), ("note", note)],
        )
        .await;
    assert_eq!(updated.status, 303);
    let library = ada.get("/library").await;
    assert_eq!(library.status, 200);
    assert!(
        library.body.contains("<strong>section 3</strong>"),
        "{}",
        library.body
    );
    assert!(
        !library.body.contains("<script>alert(1)"),
        "{}",
        library.body
    );
    let too_long = "x".repeat(20_001);
    assert_eq!(
        ada.post(
            "/library/update",
            &[("csrf", &csrf), ("paper", PAPER), ("note", &too_long)],
        )
        .await
        .status,
        400
    );

    // Reading state: the filters follow it.
    ada.post(
        "/library/update",
        &[("csrf", &csrf), ("paper", PAPER), ("state", "read")],
    )
    .await;
    assert!(ada.get("/library?state=read").await.body.contains(PAPER));
    assert!(!ada.get("/library?state=to_read").await.body.contains(PAPER));

    // Another reader sees none of it.
    let mut bob = Visitor::new(&server);
    assert_eq!(bob.sign_up("bob").await.status, 303);
    assert!(!bob.get("/library").await.body.contains(PAPER));
    assert!(!bob.get(&paper_page).await.body.contains("Saved ✓"));

    // A collection: private, so "not found" for everyone else, feeds and exports included.
    let created = ada
        .post(
            "/collections",
            &[("csrf", &csrf), ("name", "Reading <group>")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let href = location(&created);
    assert!(href.ends_with("-reading-group"), "{href}");
    let id = collection_id(&href);
    let added = ada
        .post(
            "/collections/add",
            &[
                ("csrf", &csrf),
                ("collection", &id.to_string()),
                ("paper", PAPER),
                ("next", &paper_page),
            ],
        )
        .await;
    assert_eq!(added.status, 303);
    let own = ada.get(&href).await;
    assert_eq!(own.status, 200);
    assert!(
        own.body.contains("Reading &#60;group&#62;"),
        "escaped: {}",
        own.body
    );
    assert!(own.body.contains(PAPER));
    let mut anon = Visitor::new(&server);
    for path in [
        href.clone(),
        format!("/collections/{id}"),
        format!("{href}/feed.xml"),
        format!("{href}.bib"),
    ] {
        assert_eq!(anon.get(&path).await.status, 404, "{path}");
        assert_eq!(bob.get(&path).await.status, 404, "{path}");
    }
    let missing = anon.get("/collections/999999").await;
    assert_eq!(missing.status, 404, "the same answer as a private one");
    // Bob cannot change it either.
    let bob_csrf = bob.csrf("/collections").await;
    assert_eq!(
        bob.post(
            &format!("{href}/visibility"),
            &[("csrf", &bob_csrf), ("public", "true")]
        )
        .await
        .status,
        404
    );

    // Public: readable by anyone at its address, with feeds that parse.
    let published = ada
        .post(
            &format!("{href}/visibility"),
            &[("csrf", &csrf), ("public", "true")],
        )
        .await;
    assert_eq!(published.status, 303);
    let public = anon.get(&href).await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains(PAPER) && !public.body.contains("Make private"));
    let renamed = anon.get(&format!("/collections/{id}-old-name")).await;
    assert_eq!((renamed.status, location(&renamed)), (308, href.clone()));
    for suffix in ["feed.xml", "feed.atom"] {
        let answer = anon.get(&format!("{href}/{suffix}")).await;
        assert_eq!(answer.status, 200);
        let feed = feed_rs::parser::parse(answer.body.as_bytes()).unwrap();
        assert_eq!(feed.entries.len(), 1, "{suffix}");
        assert!(feed.entries[0].links[0].href.ends_with(&paper_page));
    }
    if let Some(read) = exported_ids(&mut anon, &href).await {
        for format in ["bib", "ris", "csl"] {
            assert_eq!(read[format], serde_json::json!([PAPER]), "{format}: {read}");
        }
    }

    // Unsaving removes the paper (and its note) from the library, not from collections.
    ada.post(
        "/library/save",
        &[("csrf", &csrf), ("paper", PAPER), ("action", "unsave")],
    )
    .await;
    assert!(!ada.get("/library").await.body.contains(PAPER));
    assert!(ada.get(&href).await.body.contains(PAPER));
    let deleted = ada
        .post(&format!("{href}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (deleted.status, location(&deleted)),
        (303, "/collections".into())
    );
    assert_eq!(anon.get(&href).await.status, 404);
}

/// An arXiv API answer for `2511.00042` (a recorded answer, its id replaced) and an empty one.
async fn arxiv_replay() -> paperfeed_ingest::fetch::replay::ReplayServer {
    use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};
    let atom = fixture(
        "crates/paperfeed-ingest/tests/fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml",
    );
    let atom = String::from_utf8(std::fs::read(&atom).unwrap())
        .unwrap()
        .replace("2510.14968v1", "2511.00042v1");
    let empty = r#"<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>arXiv Query</title><opensearch:totalResults>0</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex><opensearch:itemsPerPage>1</opensearch:itemsPerPage></feed>"#;
    ReplayServer::start(move |target| {
        if target.starts_with("/api/query?id_list=2511.00042") {
            Reply::ok(atom.clone())
        } else if target.starts_with("/api/query?id_list=") {
            Reply::ok(empty)
        } else {
            Reply::status(404, "not recorded")
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_read_ids_bibtex_and_ris_fetch_missing_papers_and_round_trip_our_own_exports() {
    let arxiv = arxiv_replay().await;
    let arxiv_url = std::ffi::OsString::from(arxiv.base_url());
    let no_wait = std::ffi::OsString::from("0");
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[
            ("PAPERFEED_SOURCES__ARXIV__BASE_URL", &arxiv_url),
            ("PAPERFEED_SOURCES__ARXIV__POLITENESS_SECONDS", &no_wait),
        ],
    );
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let csrf = ada.csrf("/collections").await;
    let creator = ada.clone();
    let create = |name: &'static str| {
        let mut ada = creator.clone();
        let csrf = csrf.clone();
        async move {
            let created = ada
                .post("/collections", &[("csrf", &csrf), ("name", name)])
                .await;
            location(&created)
        }
    };
    let first = create("First").await;

    // A list of ids and URLs: a paper on the hub, one fetched from arXiv, one arXiv does not
    // have, a line that is no id, and a repeat.
    let list = format!(
        "# reading list\n{PAPER}\nhttps://arxiv.org/abs/2511.00042v1\n2511.99999\nnot an id\narXiv:{PAPER}\n"
    );
    let report = ada
        .post(
            &format!("{first}/import"),
            &[("csrf", &csrf), ("text", &list)],
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    for expected in [
        "2 added, 1 already there, 2 not added",
        "added (fetched from arXiv)",
        "arXiv has no paper 2511.99999",
        "line 5",
        "is not an arXiv id or URL",
        "repeated",
    ] {
        assert!(
            report.body.contains(expected),
            "{expected}: {}",
            report.body
        );
    }
    assert_eq!(
        server.get("/papers/2511.00042").await.0,
        200,
        "stored on the hub"
    );

    // Our BibTeX and RIS exports, imported into new collections, give the same papers.
    let exported = ada.get(&format!("{first}.bib")).await.body;
    let ris = ada.get(&format!("{first}.ris")).await.body;
    for (name, upload, format) in [
        ("From BibTeX", exported, "BibTeX"),
        ("From RIS", ris, "RIS"),
    ] {
        let again = create(name).await;
        let report = ada
            .post(
                &format!("{again}/import"),
                &[("csrf", &csrf), ("text", &upload)],
            )
            .await;
        assert!(
            report.body.contains(&format!(
                "Read as {format}: 2 added, 0 already there, 0 not added"
            )),
            "{}",
            report.body
        );
        if let (Some(a), Some(b)) = (
            exported_ids(&mut ada, &first).await,
            exported_ids(&mut ada, &again).await,
        ) {
            assert_eq!(a, b);
            assert_eq!(a["bib"], serde_json::json!(["2511.00042", PAPER]));
        }
    }

    // Someone else's collection takes no import.
    let mut bob = Visitor::new(&server);
    bob.sign_up("bob").await;
    let bob_csrf = bob.csrf("/collections").await;
    let refused = bob
        .post(
            &format!("{first}/import"),
            &[("csrf", &bob_csrf), ("text", PAPER)],
        )
        .await;
    assert_eq!(refused.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_keep_a_library_and_collections_through_the_api_with_a_token() {
    let server = Server::start();
    let mut ada = Visitor::new(&server);
    ada.sign_up("ada").await;
    let csrf = ada.csrf("/account").await;
    let page = ada
        .post("/account/tokens", &[("csrf", &csrf), ("name", "script")])
        .await;
    let page = if page.status == 303 {
        ada.get(&location(&page)).await.body
    } else {
        page.body
    };
    let at = page.find(r#"<code id="new-token">"#).expect("a new token") + 21;
    let token = page[at..at + page[at..].find('<').unwrap()].to_owned();
    crate::harness::register_secret(&token);

    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<&str>, auth: bool| {
        let mut req = http.request(method, server.url(path));
        if auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(b) = body {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(b.to_owned());
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method as M;
    assert_eq!(call(M::GET, "/api/me/library", None, false).await.0, 401);
    let (status, saved) = call(
        M::POST,
        &format!("/api/me/library/{PAPER}"),
        Some(r#"{"state": "read", "note": "<b>mine</b>"}"#),
        true,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (saved["state"].as_str(), saved["note"].as_str()),
        (Some("read"), Some("<b>mine</b>"))
    );
    let (_, list) = call(M::GET, "/api/me/library?state=read", None, true).await;
    assert_eq!(list[0]["id"], PAPER);
    let (status, bad) = call(M::GET, "/api/me/library?state=later", None, true).await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(
        call(M::POST, "/api/me/library/2611.99999", None, true)
            .await
            .0,
        404
    );

    let (status, created) = call(
        M::POST,
        "/api/me/collections",
        Some(r#"{"name": "Via API"}"#),
        true,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["public"], false);
    let id = created["id"].as_i64().unwrap();
    let (status, member) = call(
        M::POST,
        &format!("/api/me/collections/{id}/papers/{PAPER}"),
        None,
        true,
    )
    .await;
    assert_eq!(
        (status, member["changed"].as_bool()),
        (200, Some(true)),
        "{member}"
    );
    let (_, detail) = call(M::GET, &format!("/api/me/collections/{id}"), None, true).await;
    assert_eq!(detail["items"][0]["id"], PAPER, "{detail}");
    assert_eq!(detail["name"], "Via API");
    let (status, _) = call(M::GET, &format!("/api/me/collections/{id}"), None, false).await;
    assert_eq!(status, 401);
    assert_eq!(
        server.get(created["url"].as_str().unwrap()).await.0,
        404,
        "private to anonymous readers"
    );
    let (status, changed) = call(
        M::PATCH,
        &format!("/api/me/collections/{id}"),
        Some(r#"{"public": true}"#),
        true,
    )
    .await;
    assert_eq!((status, changed["public"].as_bool()), (200, Some(true)));
    assert_eq!(server.get(changed["url"].as_str().unwrap()).await.0, 200);
    let (_, all) = call(M::GET, "/api/me/collections", None, true).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(
        call(M::DELETE, &format!("/api/me/collections/{id}"), None, true)
            .await
            .0,
        204
    );
    assert_eq!(
        call(M::GET, &format!("/api/me/collections/{id}"), None, true)
            .await
            .0,
        404
    );
    let (_, unsaved) = call(M::DELETE, &format!("/api/me/library/{PAPER}"), None, true).await;
    assert_eq!(unsaved["saved"], false);

    // Every route is in the OpenAPI document.
    let (_, doc) = call(M::GET, "/api/openapi.json", None, false).await;
    for path in [
        "/api/me/library",
        "/api/me/library/{paper}",
        "/api/me/collections",
        "/api/me/collections/{collection}",
        "/api/me/collections/{collection}/papers/{paper}",
        "/api/me/collections/{collection}/import",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
