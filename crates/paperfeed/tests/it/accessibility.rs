//! The day, month (a later page), paper, search, account and library pages in headless Chromium, light and dark, at a
//! desktop width (1280 px) and a phone's (390 px): each is photographed into
//! `target/screenshots/` (test artefacts, for a person to look at) and checked by axe-core,
//! injected into the page. A serious or critical violation fails the test; the others are
//! printed.

use std::path::PathBuf;

use fantoccini::Locator;

use crate::browser::{browser, click, emulate, fill_and_submit, wait_for_path};
use crate::harness::{Server, register_secret, workspace_root};

#[derive(Clone, Copy, Debug)]
enum Scheme {
    Light,
    Dark,
}

#[derive(Clone, Copy, Debug)]
enum Width {
    /// 1280 × 900, a laptop's browser window.
    Desktop,
    /// 390 × 844, a phone held upright (the viewport of an iPhone 12 to 15).
    Phone,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }
}

impl Width {
    fn name(self) -> &'static str {
        match self {
            Width::Desktop => "desktop",
            Width::Phone => "phone",
        }
    }
}

/// Makes the tab show pages as `scheme` at `width` (kept across navigations).
async fn show_as(client: &fantoccini::Client, scheme: Scheme, width: Width) {
    let (w, h) = match width {
        Width::Desktop => (1280, 900),
        Width::Phone => (390, 844),
    };
    emulate(client, matches!(scheme, Scheme::Dark), w, h).await;
}

/// axe-core's browser build, installed by scripts/ensure-test-deps from the npm registry.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("PAPERFEED_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/tools/node_modules/axe-core/axe.min.js"));
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "axe-core is required in CI (scripts/ensure-test-deps)"
            );
            eprintln!(
                "SKIPPED: axe-core not found at {} (scripts/ensure-test-deps installs it)",
                path.display()
            );
            None
        }
    }
}

/// One violation axe found: its rule, impact, help text and where.
#[derive(Debug, serde::Deserialize)]
struct Violation {
    id: String,
    impact: Option<String>,
    help: String,
    nodes: Vec<Node>,
}

#[derive(Debug, serde::Deserialize)]
struct Node {
    target: String,
    summary: String,
}

/// Runs axe on the page shown (all rules axe runs by default: WCAG 2.x A and AA, and its best
/// practices).
async fn axe(client: &fantoccini::Client, source: &str) -> Vec<Violation> {
    let (violations, passed) = axe_run(client, source).await;
    assert!(passed > 10, "axe passed only {passed} rules: did it run?");
    violations
}

/// [`axe`]'s violations and the number of rules that passed.
async fn axe_run(client: &fantoccini::Client, source: &str) -> (Vec<Violation>, usize) {
    let loaded = client
        .execute(&format!("{source}\n;return typeof axe;"), vec![])
        .await
        .unwrap();
    assert_eq!(loaded, serde_json::json!("object"), "axe-core did not load");
    let result = client
        .execute_async(
            r"const done = arguments[arguments.length - 1];
              axe.run(document).then(
                r => done({ passed: r.passes.length, violations: r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map(n => ({ target: n.target.join(' '), summary: n.failureSummary || '' })),
                })) }),
                e => done({ error: String(e) }));",
            vec![],
        )
        .await
        .unwrap();
    assert!(result.get("error").is_none(), "axe failed: {result}");
    let passed = result["passed"].as_u64().unwrap_or(0);
    let violations = serde_json::from_value(result["violations"].clone()).unwrap();
    (violations, usize::try_from(passed).unwrap())
}

fn describe(violations: &[&Violation]) -> String {
    violations
        .iter()
        .map(|v| {
            let nodes: Vec<String> = v
                .nodes
                .iter()
                .take(5)
                .map(|n| format!("    {} — {}", n.target, n.summary.replace('\n', " ")))
                .collect();
            format!(
                "  {} ({}): {} [{} elements]\n{}",
                v.id,
                v.impact.as_deref().unwrap_or("?"),
                v.help,
                v.nodes.len(),
                nodes.join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_main_page_passes_axe_light_and_dark_on_desktop_and_phone_and_is_photographed() {
    let Some(axe_js) = axe_source() else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    // The check itself: a page with an image lacking its text alternative fails it.
    client
        .goto("data:text/html,<!DOCTYPE html><html lang=en><title>t</title><main><img src=x.png></main></html>")
        .await
        .unwrap();
    let (violations, _) = axe_run(client, &axe_js).await;
    assert!(
        violations
            .iter()
            .any(|v| v.id == "image-alt" && v.impact.as_deref() == Some("critical")),
        "axe missed an image without alt: {violations:?}"
    );
    let server = Server::start();
    server.wait_for_index(false).await;
    // The top paper's card with a thumbnail rendered from a real PDF (the others show the
    // blank sheet), made before any page is kept.
    let pdfs = tempfile::tempdir().unwrap();
    if let Some(pdf) = crate::cards::typeset(pdfs.path(), "paper", "EnvHarness") {
        std::fs::rename(&pdf, pdfs.path().join("2608.19880.pdf")).unwrap();
        let out = crate::harness::bin()
            .arg("--data-dir")
            .arg(server.data_dir())
            .args(["thumbnails", "--from-dir"])
            .arg(pdfs.path())
            .arg("2608.19880")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            crate::harness::text(&out.stdout)
        );
    }
    let shots = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // The day page as a visitor sees it, then signed in, with a paper in the library (its
    // card shows "Saved") so the library page lists something.
    let mut pages: Vec<(&str, String)> = vec![("day-visitor", "/".to_owned())];
    register_secret("correct horse battery");
    client.goto(&server.url("/signup")).await.unwrap();
    fill_and_submit(
        client,
        &[
            ("f-username", "ada_reader"),
            ("f-email", "ada@example.test"),
            ("f-password", "correct horse battery"),
        ],
    )
    .await;
    wait_for_path(client, |p| p != "/signup").await;
    client
        .goto(&server.url("/papers/2608.19880"))
        .await
        .unwrap();
    click(client, "form.save button").await;
    client
        .wait()
        .for_element(Locator::Css("form.save button[aria-pressed=true]"))
        .await
        .unwrap();
    pages.extend([
        ("day", "/papers/date/2026-08-21".to_owned()),
        ("month-page-2", "/papers/month/2026-08?page=2".to_owned()),
        ("paper", "/papers/2608.19880".to_owned()),
        ("search", "/papers?q=agent".to_owned()),
        ("account", "/account".to_owned()),
        ("library", "/library".to_owned()),
    ]);

    let mut failures = Vec::new();
    let mut visitor_done = false;
    for scheme in [Scheme::Light, Scheme::Dark] {
        for width in [Width::Desktop, Width::Phone] {
            show_as(client, scheme, width).await;
            for (name, path) in &pages {
                // The visitor's page is photographed while signed out: once per combination,
                // with the session cookie set aside and restored.
                let signed_out = *name == "day-visitor";
                let cookies = if signed_out {
                    let cookies = client.get_all_cookies().await.unwrap();
                    client.delete_all_cookies().await.unwrap();
                    Some(cookies)
                } else {
                    None
                };
                client.goto(&server.url(path)).await.unwrap();
                let shot = client.screenshot().await.unwrap();
                assert!(shot.starts_with(b"\x89PNG"));
                let file = shots.join(format!("{name}-{}-{}.png", scheme.name(), width.name()));
                std::fs::write(&file, &shot).unwrap();
                let violations = axe(client, &axe_js).await;
                if let Some(cookies) = cookies {
                    for cookie in cookies {
                        client.add_cookie(cookie).await.unwrap();
                    }
                    visitor_done = true;
                }
                let (blocking, other): (Vec<&Violation>, Vec<&Violation>) = violations
                    .iter()
                    .partition(|v| matches!(v.impact.as_deref(), Some("serious" | "critical")));
                let label = format!("{path} ({}, {})", scheme.name(), width.name());
                if !other.is_empty() {
                    eprintln!("axe, minor or moderate, {label}:\n{}", describe(&other));
                }
                if !blocking.is_empty() {
                    failures.push(format!("{label}:\n{}", describe(&blocking)));
                }
            }
        }
    }
    assert!(visitor_done);
    assert!(
        failures.is_empty(),
        "serious or critical accessibility violations (screenshots in {}):\n{}",
        shots.display(),
        failures.join("\n")
    );
    let taken = std::fs::read_dir(&shots)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".png"))
        })
        .count();
    assert!(taken >= pages.len() * 4, "{taken} screenshots");
    browser.client.clone().close().await.unwrap();
}
