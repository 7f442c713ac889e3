//! The daily page in real headless Chromium, driven over WebDriver (chromedriver).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

use crate::harness::{Server, workspace_root};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_program(names: &[&str]) -> Option<String> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_opens_the_daily_page_and_follows_a_card_to_its_paper() {
    let (Some(chromedriver), Some(chromium)) = (
        find_program(&["chromedriver"]),
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        // scripts/test installs both; in CI their absence is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium and chromedriver are required in CI"
        );
        eprintln!("SKIPPED: chromium/chromedriver not installed (scripts/test installs them)");
        return;
    };
    let server = Server::start();
    let port = free_port();
    let _driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1600",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver did not start: {e}"),
        }
    };

    client.goto(&server.url("/")).await.unwrap();
    let heading = client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Friday, Aug 21, 2026");
    let cards = client.find_all(Locator::Css("li.card")).await.unwrap();
    assert_eq!(cards.len(), 17);
    let target = workspace_root().join("target");
    std::fs::create_dir_all(&target).unwrap();
    let shot = client.screenshot().await.unwrap();
    std::fs::write(target.join("screenshot-daily-page.png"), &shot).unwrap();

    let link = client.find(Locator::Css("li.card h2 a")).await.unwrap();
    let title = link.text().await.unwrap();
    link.click().await.unwrap();
    client
        .wait()
        .for_url(&url::Url::parse(&server.url("/papers/2608.19880")).unwrap())
        .await
        .unwrap();
    let paper_title = client
        .find(Locator::Css("h1#paper-title"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(paper_title, title);
    let abstract_text = client
        .find(Locator::Css(".abstract-full"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(abstract_text.contains("9.8% fewer execution steps"));
    let shot = client.screenshot().await.unwrap();
    assert!(shot.starts_with(b"\x89PNG"));
    std::fs::write(target.join("screenshot-paper-page.png"), &shot).unwrap();
    client.close().await.unwrap();
}
