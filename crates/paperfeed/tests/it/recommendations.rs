//! "For you" against the real server: the cold start, seeds ("Recommend from this"), picks with
//! their reasons, "not interested" taking a pick and its near-duplicate away, the controls,
//! pause and reset, the private feed, the API with a Bearer token, "more like this collection",
//! CSRF and the rate limit.

use std::time::{Duration, Instant};

use reqwest::header;

use crate::community::{Visitor, api_token};
use crate::harness::{Server, fixture, ingest};

/// Three papers about protein structure to seed from, a near-duplicate pair on the same
/// subject (the same work posted twice), and two papers on other subjects.
pub(crate) const SEEDS: [&str; 3] = ["2608.20001", "2608.20002", "2608.20003"];
pub(crate) const TWINS: [&str; 2] = ["2608.20011", "2608.20012"];

fn entry(id: &str, title: &str, summary: &str, authors: &[&str]) -> serde_json::Value {
    let authors: Vec<serde_json::Value> = authors
        .iter()
        .map(|name| serde_json::json!({"_id": "x", "name": name, "hidden": false}))
        .collect();
    serde_json::json!({
        "paper": {
            "id": id,
            "authors": authors,
            "publishedAt": "2026-08-20T00:00:00.000Z",
            "submittedOnDailyAt": "2026-08-20T12:00:00.000Z",
            "title": title,
            "summary": summary,
            "upvotes": 3
        },
        "title": title,
        "numComments": 0
    })
}

pub(crate) fn protein_day() -> String {
    let twin = "We present FoldDiff, a diffusion model that generates protein backbone \
                structures conditioned on amino acid sequences. FoldDiff denoises residue \
                frames with an equivariant transformer and matches AlphaFold on single-chain \
                protein structure prediction benchmarks while sampling conformational \
                ensembles of flexible proteins.";
    let papers = [
        entry(
            SEEDS[0],
            "Equivariant Graph Networks for Protein Structure Prediction",
            "Predicting the three-dimensional structure of a protein from its amino acid \
             sequence remains central to structural biology. We train an equivariant graph \
             network over residues that refines backbone coordinates and side chains, \
             improving protein structure prediction on CASP targets.",
            &["Rosa Franklin", "Linus Cole"],
        ),
        entry(
            SEEDS[1],
            "Protein Language Models Learn Folding Constraints",
            "Protein language models trained on millions of amino acid sequences capture \
             contacts between residues. We probe their attention maps and show they encode \
             the folding constraints that determine protein structure, enabling structure \
             prediction without multiple sequence alignments.",
            &["Marta Ruiz"],
        ),
        entry(
            SEEDS[2],
            "Sampling Protein Conformations with Flow Matching",
            "Proteins move between conformations. We learn a flow matching model over \
             backbone torsion angles that samples conformational ensembles of proteins, \
             matching molecular dynamics distributions of residue contacts at a fraction of \
             the cost of simulation.",
            &["Ken Ito"],
        ),
        entry(
            TWINS[0],
            "FoldDiff: Diffusion for Protein Backbone Structure Generation",
            twin,
            &["Ada Moreau", "Ben Okafor"],
        ),
        entry(
            TWINS[1],
            "FoldDiff v2: Diffusion for Protein Backbone Structure Generation",
            &format!("{twin} This version adds results on multimers."),
            &["Ada Moreau", "Ben Okafor"],
        ),
        entry(
            "2608.20021",
            "Cooking Recipes as Programs",
            "We parse cooking recipes into programs of kitchen actions and ingredients.",
            &["Julia Child"],
        ),
        entry(
            "2608.20022",
            "Galaxy Rotation Curves from Radio Surveys",
            "We measure rotation curves of nearby galaxies from a radio survey of neutral \
             hydrogen and fit dark matter halo profiles.",
            &["Vera Rubin"],
        ),
    ];
    serde_json::Value::Array(papers.to_vec()).to_string()
}

/// A hub with two real sample days and the papers above (on 2026-08-20), with the embedding
/// model when `model` names it.
pub(crate) fn hub(model: Option<&std::path::Path>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2026-08-20.json");
    std::fs::write(&file, protein_day()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let days = [
        fixture("sample/hf_daily_papers/2026-08-19.json"),
        fixture("sample/hf_daily_papers/2026-08-21.json"),
    ];
    let out = ingest(
        data.path(),
        &[
            file.to_str().unwrap(),
            days[0].to_str().unwrap(),
            days[1].to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        crate::harness::text(&out.stderr)
    );
    match model {
        Some(model) => Server::start_with_env(
            &["--no-sample"],
            data,
            &[("PAPERFEED_MODEL_DIR", model.as_os_str())],
        ),
        None => Server::start_with(&["--no-sample"], data),
    }
}

/// The ids of the cards on a page, in order.
pub(crate) fn card_ids(body: &str) -> Vec<String> {
    body.split(r#"data-paper-id=""#)
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// `/for-you` once the recommender has read the hub (just after a start it says it is
/// warming up).
pub(crate) async fn for_you(reader: &mut Visitor) -> crate::community::Answer {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = reader.get("/for-you").await;
        if !page.body.contains(r#"id="for-you-warming""#) {
            return page;
        }
        assert!(Instant::now() < deadline, "the recommender never warmed up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn seed(reader: &mut Visitor, csrf: &str, id: &str) -> crate::community::Answer {
    let back = format!("/papers/{id}");
    reader
        .post(
            "/for-you/seeds",
            &[
                ("csrf", csrf),
                ("paper", id),
                ("action", "add"),
                ("back", &back),
            ],
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn for_you_starts_cold_learns_from_seeds_explains_each_pick_and_forgets_on_reset() {
    let server = hub(None);
    let mut anyone = Visitor::new(&server);
    let away = anyone.get("/for-you").await;
    assert_eq!(away.status, 303, "signed-in only");
    assert!(
        away.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );

    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let start = for_you(&mut ada).await;
    assert_eq!(start.status, 200, "{}", start.body);
    assert_eq!(start.headers[header::CACHE_CONTROL], "private, no-store");
    assert!(start.body.contains("How to start"), "{}", start.body);
    assert!(card_ids(&start.body).is_empty());

    // "Recommend from this" is on paper pages and cards, and needs the session's token.
    let csrf = ada.csrf("/for-you").await;
    let paper = ada.get(&format!("/papers/{}", SEEDS[0])).await;
    assert!(paper.body.contains("Recommend from this"));
    let day = ada.get("/").await;
    assert!(day.body.contains(r#"action="/for-you/seeds""#));
    let forged = ada
        .post("/for-you/seeds", &[("paper", SEEDS[0]), ("action", "add")])
        .await;
    assert_eq!(forged.status, 403);
    for id in SEEDS {
        let done = seed(&mut ada, &csrf, id).await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.headers[header::LOCATION], format!("/papers/{id}"));
    }
    let unknown = seed(&mut ada, &csrf, "2608.29999").await;
    assert_eq!(unknown.status, 404);

    let page = for_you(&mut ada).await;
    assert_eq!(page.status, 200);
    let picks = card_ids(&page.body);
    assert!(!picks.is_empty(), "{}", page.body);
    assert!(
        TWINS.contains(&picks[0].as_str()),
        "the protein paper comes first: {picks:?}"
    );
    assert!(
        picks.iter().all(|p| !SEEDS.contains(&p.as_str())),
        "seeds are not picked"
    );
    assert!(
        page.body.contains("because you asked for papers like “"),
        "each pick says why: {}",
        page.body
    );
    assert!(page.body.contains("Score: relevance"));
    assert!(
        page.body.contains("social 0.10 ×"),
        "the social term and its weight"
    );
    assert!(page.body.contains("recency 0.25 ×"));
    for id in SEEDS {
        assert!(
            page.body.contains(&format!(r#"href="/papers/{id}""#)),
            "seed list"
        );
    }

    // Not interested in the top pick: it and its near-duplicate leave.
    let dismissed = ada
        .post(
            "/account/dismissed",
            &[("csrf", &csrf), ("paper", &picks[0]), ("back", "/for-you")],
        )
        .await;
    assert_eq!(dismissed.status, 303);
    let after = card_ids(&for_you(&mut ada).await.body);
    assert!(!after.is_empty());
    for twin in TWINS {
        assert!(!after.contains(&twin.to_owned()), "{twin} left: {after:?}");
    }

    // A private feed of the same picks, without a session.
    let made = ada.post("/for-you/feed-address", &[("csrf", &csrf)]).await;
    assert_eq!(made.status, 200);
    let token = crate::community::feed_token_in(&made.body);
    let mut reader = Visitor::new(&server);
    let feed = reader
        .get(&format!("/for-you/feed.xml?token={token}"))
        .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert_eq!(feed.headers[header::CACHE_CONTROL], "private, no-store");
    assert!(
        feed.body.contains("<rss") && feed.body.contains("Why: because you asked for papers like")
    );
    assert!(!feed.body.contains(TWINS[0]) && !feed.body.contains(TWINS[1]));
    let atom = reader
        .get(&format!("/for-you/feed.atom?token={token}"))
        .await;
    assert!(atom.body.contains("<feed"));
    assert_eq!(
        reader.get("/for-you/feed.xml?token=pff_nope").await.status,
        404
    );
    assert!(ada.get("/account").await.body.contains("For you feed"));

    // A reset: every signal so far is ignored and the seeds go; the cold start again.
    let reset = ada.post("/for-you/reset", &[("csrf", &csrf)]).await;
    assert_eq!(reset.status, 303);
    let cold = for_you(&mut ada).await;
    assert!(cold.body.contains("How to start"), "{}", cold.body);
    assert!(cold.body.contains("it was reset on"));
    assert!(card_ids(&cold.body).is_empty());
    assert!(cold.body.contains("None yet: press"), "the seeds are gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_controls_are_checked_kept_and_used_on_the_next_load_and_pause_stops_picks() {
    let server = hub(None);
    let mut ben = Visitor::new(&server);
    ben.sign_up("ben").await;
    let csrf = ben.csrf("/for-you").await;
    for id in SEEDS {
        seed(&mut ben, &csrf, id).await;
    }
    let refused = ben
        .post(
            "/for-you/controls",
            &[
                ("csrf", &csrf),
                ("social_weight", "150"),
                ("recency_days", "30"),
                ("exploration", "0"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("social_weight must be a whole number from 0 to 100")
    );
    let saved = ben
        .post(
            "/for-you/controls",
            &[
                ("csrf", &csrf),
                ("social_weight", "0"),
                ("recency_days", "1"),
                ("exploration", "25"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let page = for_you(&mut ben).await;
    assert!(
        page.body
            .contains(r#"name="recency_days" type="number" min="1" max="3650" value="1""#)
    );
    assert!(page.body.contains("social 0.00 ×"), "{}", page.body);
    assert!(page.body.contains("exploration"));
    // One day back from the hub's newest day (2026-08-21): the seeds' day and that one only.
    for id in card_ids(&page.body) {
        let paper = ben.get(&format!("/api/papers/{id}")).await;
        assert!(
            paper.body.contains("2026-08-21") || paper.body.contains("2026-08-20"),
            "{id}: {}",
            paper.body
        );
    }

    let paused = ben
        .post("/for-you/pause", &[("csrf", &csrf), ("paused", "true")])
        .await;
    assert_eq!(paused.status, 303);
    let page = for_you(&mut ben).await;
    assert!(page.body.contains("Recommendations are paused"));
    assert!(card_ids(&page.body).is_empty());
    ben.post("/for-you/pause", &[("csrf", &csrf), ("paused", "false")])
        .await;
    assert!(!card_ids(&for_you(&mut ben).await.body).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_recommendations_api_answers_a_bearer_token_with_papers_and_their_reasons() {
    let server = hub(None);
    let token = api_token(server.data_dir(), "bot");
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {token}");
    let get = |query: &str| {
        http.get(server.url(&format!("/api/me/recommendations{query}")))
            .header(header::AUTHORIZATION, &bearer)
            .send()
    };
    let anonymous = http
        .get(server.url("/api/me/recommendations"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    for bad in ["0", "101", "ten", "05"] {
        let answer = get(&format!("?limit={bad}")).await.unwrap();
        assert_eq!(answer.status(), 400, "{bad}");
        let body: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        assert_eq!(body["parameter"], "limit");
    }
    let cold: serde_json::Value =
        serde_json::from_str(&get("").await.unwrap().text().await.unwrap()).unwrap();
    assert!(
        cold["state"] == "cold_start" || cold["state"] == "warming",
        "{cold}"
    );
    // Upvotes are signals too.
    for id in SEEDS {
        let voted = http
            .post(server.url(&format!("/api/papers/{id}/upvote")))
            .header(header::AUTHORIZATION, &bearer)
            .send()
            .await
            .unwrap();
        assert!(voted.status().is_success(), "{}", voted.status());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let answer = get("?limit=3").await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()[header::CACHE_CONTROL], "private, no-store");
        let body: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        if body["state"] != "warming" {
            break body;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(body["state"], "picks", "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let first = &items[0];
    assert!(
        TWINS.contains(&first["paper"]["id"].as_str().unwrap()),
        "{body}"
    );
    assert!(
        first["paper"]["title"]
            .as_str()
            .unwrap()
            .starts_with("FoldDiff")
    );
    assert!(first["paper"]["authors"].is_array() && first["paper"]["summary"].is_string());
    let reason = &first["reasons"][0];
    assert_eq!(reason["kind"], "upvoted");
    assert!(SEEDS.contains(&reason["paperId"].as_str().unwrap()));
    assert!(
        reason["text"]
            .as_str()
            .unwrap()
            .starts_with("because you upvoted “")
    );
    assert!(first["score"]["social"]["weight"].as_f64().unwrap() > 0.0);
    assert_eq!(body["controls"]["recencyDays"], 30);
    // The CLI runs the same use case.
    let cli = crate::harness::bin()
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["recommend", "bot", "--limit", "3"])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        crate::harness::text(&cli.stderr)
    );
    let printed = crate::harness::text(&cli.stdout);
    assert!(printed.contains(" 1. 2608.2001"), "{printed}");
    assert!(printed.contains("because you upvoted “"), "{printed}");
    let all: serde_json::Value =
        serde_json::from_str(&get("?limit=100").await.unwrap().text().await.unwrap()).unwrap();
    assert!(all["items"].as_array().unwrap().len() <= 100);
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !SEEDS.contains(&i["paper"]["id"].as_str().unwrap())),
        "what the caller upvoted is not recommended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collection_page_lists_more_like_it_with_reasons() {
    let server = hub(None);
    let mut cy = Visitor::new(&server);
    cy.sign_up("cy").await;
    let csrf = cy.csrf("/collections").await;
    let made = cy
        .post("/collections", &[("csrf", &csrf), ("name", "Proteins")])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let href = made.headers[header::LOCATION].to_str().unwrap().to_owned();
    for id in SEEDS {
        let added = cy
            .post(&format!("{href}/add"), &[("csrf", &csrf), ("paper", id)])
            .await;
        assert_eq!(added.status, 303, "{}", added.body);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let page = loop {
        let page = cy.get(&href).await;
        assert_eq!(page.status, 200);
        if page.body.contains("More like this collection") {
            break page;
        }
        assert!(Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let more = &page.body[page.body.find("More like this collection").unwrap()..];
    let ids = card_ids(more);
    assert!(TWINS.contains(&ids[0].as_str()), "{ids:?}");
    assert!(ids.iter().all(|p| !SEEDS.contains(&p.as_str())));
    assert!(more.contains("because you collected “"));
}

#[tokio::test(flavor = "multi_thread")]
async fn recommender_writes_are_rate_limited_per_reader() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        &[],
        data,
        &[
            (
                "PAPERFEED_COMMUNITY__RATE_LIMITS__RECOMMENDER__BURST",
                std::ffi::OsStr::new("2"),
            ),
            (
                "PAPERFEED_COMMUNITY__RATE_LIMITS__RECOMMENDER__PER_MINUTE",
                std::ffi::OsStr::new("1"),
            ),
        ],
    );
    let mut dee = Visitor::new(&server);
    dee.sign_up("dee").await;
    let csrf = dee.csrf("/for-you").await;
    for _ in 0..2 {
        let ok = dee.post("/for-you/reset", &[("csrf", &csrf)]).await;
        assert_eq!(ok.status, 303);
    }
    let limited = dee.post("/for-you/reset", &[("csrf", &csrf)]).await;
    assert_eq!(limited.status, 429);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_for_you_pages_are_valid_html5() {
    let Some(jar) = crate::html_validity::vnu_jar() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "vnu.jar is required in CI (scripts/ensure-test-deps)"
        );
        eprintln!("SKIPPED: vnu.jar not installed (scripts/ensure-test-deps installs it)");
        return;
    };
    let server = hub(None);
    let mut eve = Visitor::new(&server);
    eve.sign_up("eve").await;
    let pages = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut save = |name: &str, html: &str| {
        let path = pages.path().join(format!("{name}.html"));
        std::fs::write(&path, html).unwrap();
        files.push(path);
    };
    save("cold-start", &for_you(&mut eve).await.body);
    let csrf = eve.csrf("/for-you").await;
    for id in SEEDS {
        seed(&mut eve, &csrf, id).await;
    }
    save("picks", &for_you(&mut eve).await.body);
    save(
        "paper-signed-in",
        &eve.get(&format!("/papers/{}", SEEDS[0])).await.body,
    );
    let refused = eve
        .post(
            "/for-you/controls",
            &[("csrf", &csrf), ("recency_days", "0")],
        )
        .await;
    save("refused-control", &refused.body);
    let made = eve
        .post("/collections", &[("csrf", &csrf), ("name", "Proteins")])
        .await;
    let href = made.headers[header::LOCATION].to_str().unwrap().to_owned();
    eve.post(
        &format!("{href}/add"),
        &[("csrf", &csrf), ("paper", SEEDS[0])],
    )
    .await;
    let collection = eve.get(&href).await.body;
    assert!(collection.contains("More like this collection"));
    save("collection-more", &collection);
    eve.post("/for-you/pause", &[("csrf", &csrf), ("paused", "true")])
        .await;
    save("paused", &for_you(&mut eve).await.body);
    let out = std::process::Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .arg("--errors-only")
        .args(&files)
        .output()
        .expect("running java -jar vnu.jar");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && report.trim().is_empty(),
        "HTML5 errors:\n{report}"
    );
}
