//! Cards people recognise and periods a page at a time: avatars drawn from names, GitHub stars
//! and comment counts, author links, thumbnails rendered from real PDFs (typeset with pdflatex
//! from Debian's TeX packages here, in the test) or a blank sheet, and week and month pages
//! paged with navigation above and below the cards, each answer under 200 KB.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};

use crate::harness::{Server, bin, fixture, ingest, text};

/// The largest answer a feed page may be.
const MAX_PAGE_BYTES: usize = 200 * 1024;

/// `/papers/2608.19880` → every card's paper id, in order.
fn card_ids(html: &str) -> Vec<String> {
    html.split("data-paper-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The card of `id` on a page.
fn card_of<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("data-paper-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no card of {id}"));
    let rest = &html[start..];
    &rest[..rest.find("</article>").unwrap()]
}

/// A small paper typeset by pdflatex into `dir`/NAME.pdf; `None` (skipped, failing in CI) when
/// pdflatex is not installed (scripts/ensure-test-deps installs texlive-latex-base).
pub(crate) fn typeset(dir: &Path, name: &str, title: &str) -> Option<PathBuf> {
    if Command::new("pdflatex").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "pdflatex is required in CI (scripts/ensure-test-deps)"
        );
        eprintln!("SKIPPED: pdflatex not installed (scripts/ensure-test-deps installs it)");
        return None;
    }
    let tex = dir.join(format!("{name}.tex"));
    std::fs::write(
        &tex,
        format!(
            r"\documentclass[twocolumn]{{article}}
\title{{{title}}}
\author{{Ada Lovelace \and Alan Turing}}
\begin{{document}}
\maketitle
\begin{{abstract}}
We typeset this paper with pdflatex so that the hub renders its first page as the
thumbnail of its card. It has words, a formula and a table.
\end{{abstract}}
\section{{Introduction}}
Attention is all we need: $\mathrm{{softmax}}(QK^\top/\sqrt{{d}})V$, and
\[ \sum_{{i=1}}^n x_i^2 \geq 0. \]
\begin{{tabular}}{{|l|r|}}\hline Model & Score \\\hline Ours & 91.2 \\ Theirs & 88.0 \\\hline\end{{tabular}}
\end{{document}}
"
        ),
    )
    .unwrap();
    let out = Command::new("pdflatex")
        .args([
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-output-directory",
        ])
        .arg(dir)
        .arg(&tex)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "pdflatex: {}", text(&out.stdout));
    Some(dir.join(format!("{name}.pdf")))
}

/// A data directory holding the sample's 2026-08-21.
fn day_store() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let day = fixture("sample/hf_daily_papers/2026-08-21.json");
    let out = ingest(data.path(), &[day.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    data
}

fn thumbnails(data: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    bin()
        .arg("--data-dir")
        .arg(data)
        .arg("thumbnails")
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

/// Width and height from a PNG's header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_page_of_a_real_pdf_becomes_the_cards_thumbnail_and_others_get_a_blank_sheet() {
    let pdfs = tempfile::tempdir().unwrap();
    let Some(pdf) = typeset(pdfs.path(), "paper", "EnvHarness Thumbnail") else {
        return;
    };
    std::fs::rename(&pdf, pdfs.path().join("2608.19880.pdf")).unwrap();
    // Not a PDF: remembered as failed, with why.
    std::fs::write(pdfs.path().join("2608.18580.pdf"), "<html>not ready</html>").unwrap();
    let data = day_store();
    let dir = pdfs.path().to_str().unwrap();

    let out = thumbnails(
        data.path(),
        &["--from-dir", dir, "2608.19880", "2608.18580"],
        &[],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("made 2608.19880"), "{stdout}");
    assert!(stdout.contains("failed 2608.18580: not a PDF"), "{stdout}");
    // Without ids: the latest featured papers lacking one; made and failed ones are not asked
    // for again, and papers the folder lacks are only reported.
    let out = thumbnails(data.path(), &["--from-dir", dir, "--limit", "100"], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        !stdout.contains("2608.19880") && !stdout.contains("2608.18580"),
        "{stdout}"
    );
    assert!(stdout.contains("no PDF for "), "{stdout}");
    assert!(
        stdout.contains("the hub keeps 1 thumbnails (1 papers failed)"),
        "{stdout}"
    );
    // Nothing is fetched unless asked: without a source the command says what to give.
    let out = thumbnails(data.path(), &[], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--from-dir DIR"),
        "{}",
        text(&out.stderr)
    );

    let server = Server::start_with(&["--no-sample"], data);
    let (status, day) = server.get("/papers/date/2026-08-21").await;
    assert_eq!(status, 200);
    let card = card_of(&day, "2608.19880");
    let src_at = card
        .find("<img src=\"/thumbnails/2608.19880.png?v=")
        .expect(card);
    let src = &card[src_at + 10..];
    let src = &src[..src.find('"').unwrap()];
    assert!(
        card.contains(
            r#"class="thumb" href="/papers/2608.19880" tabindex="-1" aria-hidden="true""#
        )
    );
    let blank = card_of(&day, "2608.18580");
    assert!(
        blank.contains(
            r#"<div class="thumb blank" aria-hidden="true"><span>2608.18580</span></div>"#
        ),
        "{blank}"
    );

    let client = reqwest::Client::new();
    let response = client.get(server.url(src)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"),
        "the address names its version"
    );
    let png = response.bytes().await.unwrap();
    let (width, height) = png_size(&png);
    assert_eq!(width, 224);
    assert!(
        (280..=320).contains(&height),
        "a letter or A4 page: {height}"
    );
    // A page of text, not a blank sheet: a white 224 × 290 PNG compresses to about 1 KB.
    assert!(png.len() > 2500, "{} bytes", png.len());
    let older = client
        .get(server.url("/thumbnails/2608.19880.png?v=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(older.status(), 200);
    assert_eq!(older.headers()["cache-control"], "public, max-age=300");
    for missing in [
        "/thumbnails/2608.18580.png",
        "/thumbnails/nonsense.png",
        "/thumbnails/2608.19880",
    ] {
        let r = client.get(server.url(missing)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetching_pdfs_asks_arxiv_politely_once_each_and_remembers_refusals() {
    let pdfs = tempfile::tempdir().unwrap();
    let Some(pdf) = typeset(pdfs.path(), "fetched", "Fetched From arXiv") else {
        return;
    };
    let pdf = Arc::new(std::fs::read(pdf).unwrap());
    let served = Arc::clone(&pdf);
    let arxiv = ReplayServer::start(move |target| match target {
        "/pdf/2608.19880" => {
            Reply::ok(served.to_vec()).with_header("content-type", "application/pdf")
        }
        _ => Reply::status(404, "no such paper"),
    })
    .await
    .unwrap();
    let data = day_store();
    let base = arxiv.base_url();
    let envs = [
        ("PAPERFEED_SOURCES__ARXIV__POLITENESS_SECONDS", "0.05"),
        ("PAPERFEED_SOURCES__ARXIV__RETRIES", "0"),
        (
            "PAPERFEED_SOURCES__USER_AGENT",
            "paperfeed-test (ops@example.test)",
        ),
    ];
    let path = data.path().to_owned();
    let args = [
        "--fetch",
        "--pdf-base-url",
        &base,
        "2608.19880",
        "2608.18580",
    ]
    .map(str::to_owned);
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        thumbnails(&path, &args, &envs)
    })
    .await
    .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("made 2608.19880"), "{stdout}");
    assert!(stdout.contains("failed 2608.18580: "), "{stdout}");
    assert!(stdout.contains("HTTP 404"), "{stdout}");
    assert_eq!(arxiv.requests(), vec!["/pdf/2608.19880", "/pdf/2608.18580"]);
    assert!(
        arxiv
            .user_agents()
            .iter()
            .all(|ua| ua == "paperfeed-test (ops@example.test)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cards_show_avatars_badges_stars_comments_and_link_every_named_author() {
    let server = Server::start();
    let (_, day) = server.get("/papers/date/2026-08-21").await;
    // The top paper: Google's, submitted by taesiri, 8 GitHub stars.
    let card = card_of(&day, "2608.19880");
    assert!(
        card.contains(r#"<a class="org-badge" href="/orgs/google"><svg class="av sq av"#),
        "{card}"
    );
    assert!(
        card.contains(r#"<text x="12" y="16">G</text></svg>Google</a>"#),
        "{card}"
    );
    assert!(card.contains("submitted by <svg class=\"av "), "{card}");
    assert!(
        card.contains("<text x=\"12\" y=\"16\">T</text></svg>taesiri"),
        "{card}"
    );
    // Three stacked author avatars, each author named linking to their page.
    let stack = &card[card
        .find("<span class=\"stack\" aria-hidden=\"true\">")
        .expect(card)..];
    assert_eq!(
        stack[..stack.find("</span>").unwrap()]
            .matches("<svg")
            .count(),
        3
    );
    assert_eq!(card.matches("class=\"author\" href=\"/authors/").count(), 3);
    assert!(card.contains(
        r#"<a class="stat" href="https://github.com/google-research/envharness" rel="noopener">"#
    ));
    assert!(
        card.contains("8<span class=\"visually-hidden\"> GitHub 8 stars</span>"),
        "{card}"
    );
    assert!(card.contains(r#"<a class="stat" href="/papers/2608.19880#comments">"#));
    // Nothing is hot-linked: no image on any card comes from elsewhere.
    assert!(!day.contains("cdn-avatars") && !day.contains("<img src=\"http"));
    // An avatar's colour follows the name wherever it is drawn.
    let (_, week) = server.get("/papers/week/2026-W34").await;
    let badge = |html: &str| {
        let c = card_of(html, "2608.19880");
        let at = c.find("<svg class=\"av sq ").unwrap();
        c[at..at + 30].to_owned()
    };
    assert_eq!(badge(&day), badge(&week));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_on_cards_stay_text_and_stars_never_link_anywhere_but_http() {
    let hostile = r#"[{
      "paper": {
        "id": "2401.00002",
        "authors": [{"_id": "x", "name": "<svg onload=alert(1)>Zed", "hidden": false}],
        "publishedAt": "2024-01-01T00:00:00.000Z",
        "title": "Hostile cards",
        "summary": "Text.",
        "upvotes": 1,
        "githubRepo": "javascript:alert(3)",
        "githubStars": 99,
        "submittedOnDailyBy": {"_id": "y", "name": "<b>mallory</b>", "fullname": "M"},
        "organization": {"_id": "z", "name": "evil", "fullname": "<i>Evil</i> & Co"}
      },
      "publishedAt": "2024-01-01T20:00:00.000Z",
      "title": "Hostile cards",
      "numComments": 4
    }]"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2024-01-02.json");
    std::fs::write(&file, hostile).unwrap();
    let data = tempfile::tempdir().unwrap();
    assert!(
        ingest(data.path(), &[file.to_str().unwrap()])
            .status
            .success()
    );
    let server = Server::start_with(&["--no-sample"], data);
    let (status, html) = server.get("/").await;
    assert_eq!(status, 200);
    let card = card_of(&html, "2401.00002");
    assert!(
        !card.contains("<svg onload") && !card.contains("<b>mallory") && !card.contains("<i>Evil")
    );
    assert!(card.contains("Evil") && card.contains("&#38; Co"), "{card}");
    assert!(!card.contains("javascript:"), "{card}");
    assert!(
        card.contains("4<span class=\"visually-hidden\"> comments</span>"),
        "{card}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_month_is_shown_thirty_papers_a_page_with_pages_linked_above_and_below() {
    let server = Server::start();
    let (status, first) = server.get("/papers/month/2026-08").await;
    assert_eq!(status, 200);
    assert!(first.len() <= MAX_PAGE_BYTES, "{} bytes", first.len());
    let total: usize = first
        .split("Papers 1–30 of ")
        .nth(1)
        .expect("the pager's label")
        .split('<')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > 60, "the sample's August has {total} papers");
    assert_eq!(card_ids(&first).len(), 30);
    // The pager, above the cards and again below them, with the dates' navigation.
    assert_eq!(
        first
            .matches(r#"href="/papers/month/2026-08?page=2""#)
            .count(),
        4,
        "2 and Next, twice"
    );
    assert!(first.contains(r#"<nav class="pages" aria-label="Pages">"#));
    assert!(first.contains(r#"<nav class="pages" aria-label="More pages">"#));
    assert!(first.contains(r#"<nav class="period-nav" aria-label="Other dates">"#));
    assert!(first.contains(r#"<link rel="canonical" href="/papers/month/2026-08">"#));

    // Every page small, each paper on exactly one of them, in the month's order.
    let pages = total.div_ceil(30);
    let mut seen = Vec::new();
    for n in 1..=pages {
        let (status, html) = server.get(&format!("/papers/month/2026-08?page={n}")).await;
        assert_eq!(status, 200, "page {n}");
        assert!(
            html.len() <= MAX_PAGE_BYTES,
            "page {n}: {} bytes",
            html.len()
        );
        if n > 1 {
            assert!(html.contains(&format!(
                r#"<link rel="canonical" href="/papers/month/2026-08?page={n}">"#
            )));
            assert!(html.contains(&format!(
                "<span aria-current=\"page\"><span class=\"visually-hidden\">Page </span>{n}</span>"
            )));
        }
        seen.extend(card_ids(&html));
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), total);
    assert_eq!(distinct.len(), total, "no paper on two pages");
    let (_, api) = server
        .get("/api/daily_papers?month=2026-08&limit=100&p=0")
        .await;
    assert!(!api.is_empty());

    // Past the last page: a 404 pointing to it; not a number: 400 saying why.
    let (status, html) = server
        .get(&format!("/papers/month/2026-08?page={}", pages + 1))
        .await;
    assert_eq!(status, 404);
    assert!(
        html.contains(&format!(r#"href="/papers/month/2026-08?page={pages}""#)),
        "{html}"
    );
    let (status, html) = server.get("/papers/month/2026-08?page=two").await;
    assert_eq!(status, 400);
    assert!(html.contains("is not a page number"), "{html}");
    // The order is kept from page to page; switching the order starts again at page 1.
    let (_, trending) = server
        .get("/papers/month/2026-08?sort=trending&page=2")
        .await;
    assert!(
        trending.contains(r#"href="/papers/month/2026-08?sort=trending&#38;page=3""#),
        "{trending}"
    );
    assert!(trending.contains(r#"href="/papers/month/2026-08?sort=trending""#));
    // A week, a day: small, and a day of the sample fits on one page (no pager).
    let (_, week) = server.get("/papers/week/2026-W34").await;
    assert!(week.len() <= MAX_PAGE_BYTES, "{} bytes", week.len());
    let (_, day) = server.get("/papers/date/2026-08-21").await;
    assert!(!day.contains("class=\"pages\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_cache_keeps_each_page_of_a_month_apart() {
    let server = Server::start();
    let (_, two) = server.get("/papers/month/2026-08?page=2").await;
    let (_, three) = server.get("/papers/month/2026-08?page=3").await;
    let (_, two_again) = server.get("/papers/month/2026-08?page=2&junk=1").await;
    assert_ne!(card_ids(&two), card_ids(&three));
    assert_eq!(card_ids(&two), card_ids(&two_again));
}
