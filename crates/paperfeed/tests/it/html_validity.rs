//! Every kind of page is valid HTML5, checked by the W3C Nu HTML Checker (vnu.jar), which
//! scripts/ensure-test-deps installs from the npm registry.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{Server, ingest, workspace_root};

pub(crate) fn vnu_jar() -> Option<PathBuf> {
    let jar = std::env::var_os("PAPERFEED_VNU_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root().join("target/tools/node_modules/vnu-jar/build/dist/vnu.jar")
        });
    jar.is_file().then_some(jar)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_page_is_valid_html5() {
    let Some(jar) = vnu_jar() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "vnu.jar is required in CI (scripts/ensure-test-deps)"
        );
        eprintln!("SKIPPED: vnu.jar not installed (scripts/ensure-test-deps installs it)");
        return;
    };
    let pages_dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut save = |name: &str, html: String| {
        let path = pages_dir.path().join(format!("{name}.html"));
        std::fs::write(&path, html).unwrap();
        files.push(path);
    };

    let server = Server::start();
    for (name, path) in [
        ("home", "/"),
        ("day", "/papers/date/2026-08-18"),
        ("week", "/papers/week/2026-W34"),
        ("month", "/papers/month/2026-08"),
        ("month-page-2", "/papers/month/2026-08?page=2"),
        ("month-past-last", "/papers/month/2026-08?page=99"),
        ("paper", "/papers/2608.19880"),
        ("paper-with-tex", "/papers/2608.14614"),
        ("not-found-paper", "/papers/2608.99999"),
        ("not-found-day", "/papers/date/2026-08-20"),
        ("bad-date", "/papers/date/2026-02-30"),
        ("search-empty", "/papers?q=%3Cscript%3E"),
        ("search", "/papers?q=EnvHarness+agents&mode=keyword"),
        ("search-error", "/papers?q=%22unclosed"),
        ("status", "/status"),
        ("subscribe", "/subscribe"),
    ] {
        save(name, server.get(path).await.1);
    }
    drop(server);

    let hostile = tempfile::tempdir().unwrap();
    let file = hostile.path().join("2024-01-02.json");
    std::fs::write(&file, crate::pages::HOSTILE_DAY).unwrap();
    let data = tempfile::tempdir().unwrap();
    assert!(
        ingest(data.path(), &[file.to_str().unwrap()])
            .status
            .success()
    );
    let server = Server::start_with(&["--no-sample"], data);
    save("hostile-day", server.get("/").await.1);
    save("hostile-paper", server.get("/papers/2401.00001").await.1);
    drop(server);
    let server = Server::start_with(&["--no-sample"], tempfile::tempdir().unwrap());
    save("empty-hub", server.get("/").await.1);

    let out = Command::new("java")
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
