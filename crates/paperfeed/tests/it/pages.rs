//! Pages over HTTP from the real server, started as `serve` does with the bundled sample.

use crate::harness::{Server, ingest};

/// Papers on the sample's latest day (sample/hf_daily_papers/2026-08-21.json).
const LATEST_DAY_PAPERS: usize = 17;

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_page_shows_the_latest_sample_day_like_the_reference_page() {
    let server = Server::start();
    let (status, html) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(html.starts_with("<!DOCTYPE html>"));
    // No mail server here: the banner points to the feeds (tests/it/header.rs has both).
    assert!(html.contains("Follow the daily papers in your feed reader:"));
    assert!(html.contains("by AK and the research community"));
    assert!(html.contains("Friday, Aug 21, 2026"), "latest day heading");
    assert_eq!(count(&html, "class=\"card\""), LATEST_DAY_PAPERS);
    // Cards: title linking to the paper page, abstract, N authors, date, votes, submitter, comments.
    assert!(html.contains(
        "href=\"/papers/2608.19880\">EnvHarness: Awakening Static Worlds for Agent Learning</a>"
    ));
    assert!(html.contains("17 authors"));
    assert!(html.contains("Aug 20, 2026"), "arXiv date of the top paper");
    assert!(html.contains("▲</span> 163<span class=\"visually-hidden\"> upvotes</span>"));
    assert!(html.contains("submitted by <svg class=\"av "));
    assert!(html.contains("</svg>taesiri</span>"));
    assert!(html.contains("1<span class=\"visually-hidden\"> comment</span>"));
    // Most upvoted first.
    let first = html.find("2608.19880").unwrap();
    let second = html.find("2608.18580").unwrap();
    assert!(first < second);
    // Navigation to the previous featured day and to the week and month views.
    assert!(
        html.contains("href=\"/papers/date/2026-08-19\""),
        "previous featured day"
    );
    assert!(html.contains("href=\"/papers/week/2026-W34\""));
    assert!(html.contains("href=\"/papers/month/2026-08\""));
    // Landmarks and labels.
    for landmark in [
        "<header",
        "<main id=\"main\"",
        "<footer",
        "role=\"search\"",
        "<label for=\"q\"",
    ] {
        assert!(html.contains(landmark), "{landmark}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn day_week_and_month_views_list_their_papers_and_link_neighbours() {
    let server = Server::start();
    let (status, day) = server.get("/papers/date/2026-08-18").await;
    assert_eq!(status, 200);
    assert!(day.contains("href=\"/papers/date/2026-08-13\""), "prev day");
    assert!(day.contains("href=\"/papers/date/2026-08-19\""), "next day");

    let (status, week) = server.get("/papers/week/2026-W34").await;
    assert_eq!(status, 200);
    assert!(week.contains("Week 34, 2026"));
    assert!(week.contains("featured <a href=\"/papers/date/2026-08-21\">"));
    assert!(week.contains("href=\"/papers/week/2026-W33\""), "prev week");

    let (status, month) = server.get("/papers/month/2026-08").await;
    assert_eq!(status, 200);
    assert!(month.contains("August 2026"));
    assert!(
        month.contains("href=\"/papers/month/2026-07\""),
        "prev month"
    );
    // A month holds at least the latest day's papers.
    assert!(count(&month, "class=\"card\"") > LATEST_DAY_PAPERS);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_paper_page_shows_everything_known_about_a_paper() {
    let server = Server::start();
    let (status, html) = server.get("/papers/2608.19880").await;
    assert_eq!(status, 200);
    assert!(html.contains(
        "<h1 id=\"paper-title\">EnvHarness: Awakening Static Worlds for Agent Learning</h1>"
    ));
    assert!(
        html.contains("Chengsong Huang") && html.contains("Chen-Yu Lee"),
        "all authors"
    );
    assert!(html.contains("https://arxiv.org/abs/2608.19880"));
    assert!(html.contains("https://arxiv.org/pdf/2608.19880"));
    assert!(html.contains("GitHub: "));
    assert!(html.contains("Project page"));
    assert!(
        html.contains("href=\"/papers/date/2026-08-21\">Aug 21, 2026</a>"),
        "featured date"
    );
    assert!(html.contains("9.8% fewer execution steps"), "full abstract");
    // Versioned ids redirect to the canonical page.
    let (status, _) = server.get("/papers/2608.19880v2").await;
    assert_eq!(status, 308);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_papers_and_dates_get_a_helpful_404_and_malformed_ones_a_400() {
    let server = Server::start();
    let (status, html) = server.get("/papers/2608.99999").await;
    assert_eq!(status, 404);
    assert!(html.contains("not on this hub") && html.contains("https://arxiv.org/abs/2608.99999"));

    let (status, html) = server.get("/papers/date/2026-08-20").await;
    assert_eq!(status, 404);
    assert!(
        html.contains("/papers/date/2026-08-19") && html.contains("/papers/date/2026-08-21"),
        "nearest days"
    );

    for (path, reason) in [
        ("/papers/date/2026-02-30", "YYYY-MM-DD"),
        ("/papers/date/yesterday", "YYYY-MM-DD"),
        ("/papers/week/2026-W54", "YYYY-Www"),
        ("/papers/month/2026-13", "YYYY-MM"),
        ("/papers/not-an-id", "expected a new-style id"),
    ] {
        let (status, html) = server.get(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(html.contains(reason), "{path}: {html}");
    }
    let (status, _) = server.get("/no/such/page").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_mail_server_the_subscribe_button_says_digests_are_not_available() {
    let server = Server::start();
    let (status, html) = server.get("/subscribe").await;
    assert_eq!(status, 200);
    assert!(html.contains("not available on this hub"));
    // The header's search box leads to the search page; the old address redirects there.
    let (status, _) = server.get("/search?q=transformer").await;
    assert_eq!(status, 308);
}

pub const HOSTILE_DAY: &str = r#"[{
  "paper": {
    "id": "2401.00001",
    "authors": [{"_id": "x", "name": "Eve <img src=x onerror=alert(2)>", "hidden": false}],
    "publishedAt": "2024-01-01T00:00:00.000Z",
    "submittedOnDailyAt": "2024-01-02T00:00:00.000Z",
    "title": "<script>alert(1)</script> & $x<y$",
    "summary": "Fish & chips <b>bold</b> where $x<y$ and $\\frac{a$ stays source.",
    "upvotes": 3,
    "githubRepo": "javascript:alert(3)",
    "ai_keywords": ["<i>k</i>"]
  },
  "publishedAt": "2024-01-01T20:00:00.000Z",
  "title": "<script>alert(1)</script> & $x<y$",
  "numComments": 0
}]"#;

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_titles_and_abstracts_are_escaped_and_tex_becomes_mathml() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2024-01-02.json");
    std::fs::write(&file, HOSTILE_DAY).unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = ingest(data.path(), &[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        crate::harness::text(&out.stderr)
    );
    let server = Server::start_with(&["--no-sample"], data);
    for path in [
        "/",
        "/papers/date/2024-01-02",
        "/papers/2401.00001",
        "/papers/week/2024-W01",
    ] {
        let (status, html) = server.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("<b>bold"), "{path}");
        assert!(!html.contains("<i>k"), "{path}");
        assert!(!html.contains("javascript:"), "{path}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; "),
            "{path}"
        );
        assert!(html.contains("<math"), "{path}: TeX rendered as MathML");
        assert!(
            html.contains("Fish &amp; chips &lt;b&gt;bold&lt;/b&gt;"),
            "{path}"
        );
    }
    let (_, html) = server.get("/papers/2401.00001").await;
    assert!(
        html.contains("$\\frac{a$"),
        "TeX that does not parse stays as escaped source"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_hub_explains_how_to_load_papers() {
    let server = Server::start_with(&["--no-sample"], tempfile::tempdir().unwrap());
    let (status, html) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("No papers yet") && html.contains("paperfeed ingest"));
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_follow_an_ingest_run_by_another_process_while_serving() {
    let server = Server::start();
    let (_, before) = server.get("/papers/date/2026-08-21").await;
    assert!(before.contains("▲</span> 163<"));
    // The same paper with more votes on a new day, ingested by a separate `paperfeed ingest`.
    let day = std::fs::read_to_string(crate::harness::fixture(
        "sample/hf_daily_papers/2026-08-21.json",
    ))
    .unwrap()
    .replacen("\"upvotes\": 163", "\"upvotes\": 999", 1)
    .replace("2026-08-21T00:00:00.000Z", "2026-08-24T00:00:00.000Z");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2026-08-24.json");
    std::fs::write(&file, day).unwrap();
    let out = ingest(server.data_dir(), &[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        crate::harness::text(&out.stderr)
    );

    let (_, after) = server.get("/papers/date/2026-08-21").await;
    assert!(
        after.contains("▲</span> 999<"),
        "a cached page must not outlive a change"
    );
    assert!(
        after.contains("href=\"/papers/date/2026-08-24\""),
        "the new day is linked"
    );
    let (status, home) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(home.contains("Monday, Aug 24, 2026"));
}

#[tokio::test(flavor = "multi_thread")]
async fn feed_pages_rank_by_votes_or_by_the_trending_score() {
    let server = Server::start();
    let ids = |html: &str| -> Vec<String> {
        html.match_indices("data-paper-id=\"")
            .map(|(i, m)| html[i + m.len()..].split('"').next().unwrap().to_owned())
            .collect()
    };
    let (status, by_votes) = server.get("/papers/date/2026-08-18").await;
    assert_eq!(status, 200);
    let (status, trending) = server.get("/papers/date/2026-08-18?sort=trending").await;
    assert_eq!(status, 200);
    assert!(
        trending.contains("href=\"/papers/date/2026-08-18?sort=trending\" aria-current=\"page\"")
    );
    let (votes_ids, trending_ids) = (ids(&by_votes), ids(&trending));
    let mut a = votes_ids.clone();
    let mut b = trending_ids.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same papers");
    assert_ne!(
        votes_ids, trending_ids,
        "a newer day's papers rise under trending"
    );
    let (status, _) = server.get("/papers/date/2026-08-18?sort=bogus").await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness_answer_json_for_probes() {
    let server = Server::start();
    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    server.wait_for_index(false).await;
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["index"]["caught_up"], true, "{body}");
    assert!(ready["store"]["change_seq"].as_i64().unwrap() > 0);
}

/// One HF daily file per day of ISO week 2024-W02 (Jan 8–14), `per_day` papers each with a
/// long abstract, like a busy hub (the issue measured 333 a day at 100k papers).
fn busy_week(dir: &std::path::Path, per_day: usize) -> Vec<String> {
    let abstract_text = "We study large pages. ".repeat(320);
    (8..=14)
        .map(|day| {
            let entries: Vec<serde_json::Value> = (0..per_day)
                .map(|n| {
                    serde_json::json!({
                        "paper": {
                            "id": format!("2401.{:05}", day * 1000 + n),
                            "authors": [{"_id": "x", "name": "Ada Lovelace", "hidden": false}],
                            "publishedAt": format!("2024-01-{day:02}T00:00:00.000Z"),
                            "submittedOnDailyAt": format!("2024-01-{day:02}T00:00:00.000Z"),
                            "title": format!("Paper {n} of day {day}"),
                            "summary": abstract_text,
                            "upvotes": n,
                        },
                        "publishedAt": format!("2024-01-{day:02}T00:00:00.000Z"),
                        "title": format!("Paper {n} of day {day}"),
                        "numComments": 0,
                    })
                })
                .collect();
            let file = dir.join(format!("2024-01-{day:02}.json"));
            std::fs::write(&file, serde_json::to_vec(&entries).unwrap()).unwrap();
            file.display().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_week_is_served_a_page_at_a_time_and_each_page_again_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let files = busy_week(dir.path(), 320);
    let data = tempfile::tempdir().unwrap();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = ingest(data.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        crate::harness::text(&out.stderr)
    );
    let server = Server::start_with(&["--no-sample"], data);
    // A week of 2,240 papers was a page of megabytes; it is now 75 pages of 30 cards, each
    // small, whole, and saying how many there are in all.
    let (status, week) = server.get("/papers/week/2024-W02").await;
    assert_eq!(status, 200, "{}", &week[..week.len().min(2000)]);
    assert_eq!(count(&week, "<li class=\"card\">"), 30);
    assert!(week.len() < 1024 * 1024, "{} bytes", week.len());
    assert!(week.trim_end().ends_with("</html>"), "the whole page");
    assert!(week.contains("2240"), "the period's total is said");
    assert!(week.contains("?page=2"), "a link to the next page");
    let (status, last) = server.get("/papers/week/2024-W02?page=75").await;
    assert_eq!(status, 200);
    assert_eq!(count(&last, "<li class=\"card\">"), 2240 - 74 * 30);
    let (status, beyond) = server.get("/papers/week/2024-W02?page=76").await;
    assert_eq!(status, 404);
    assert!(beyond.contains("page=75"), "the last page is linked");
    let (status, month) = server.get("/papers/month/2024-01").await;
    assert_eq!(status, 200);
    assert_eq!(count(&month, "<li class=\"card\">"), 30);
    // Every paper of a busy day is on exactly one of its pages.
    let mut seen = std::collections::BTreeSet::new();
    for page in 1..=11 {
        let (status, html) = server
            .get(&format!("/papers/date/2024-01-10?page={page}"))
            .await;
        assert_eq!(status, 200, "page {page}");
        let cards = count(&html, "<li class=\"card\">");
        assert_eq!(cards, if page < 11 { 30 } else { 320 - 300 }, "page {page}");
        for (at, _) in html.match_indices("href=\"/papers/2401.") {
            let id = &html[at + "href=\"/papers/".len()..][..10];
            seen.insert(id.to_owned());
        }
    }
    assert_eq!(seen.len(), 320, "each of the day's papers once");
    // A kept page is served again, whatever junk parameters come with it. The header's
    // log-in link leads back to the address asked for, junk and all: compared without it.
    let (status, day) = server.get("/papers/date/2024-01-10?page=3").await;
    assert_eq!(status, 200);
    let without_header = |page: &str| {
        let from = page.find("<nav class=\"account-links\"").unwrap();
        let to = from + page[from..].find("</nav>").unwrap();
        format!("{}{}", &page[..from], &page[to..])
    };
    for junk in 0..3 {
        let (status, again) = server
            .get(&format!("/papers/date/2024-01-10?page=3&junk={junk}"))
            .await;
        assert_eq!(status, 200);
        assert!(
            without_header(&again) == without_header(&day),
            "the kept page, junk {junk}"
        );
    }
}
