//! The daily page in real headless Chromium, driven over WebDriver (chromedriver).

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

use crate::harness::{Server, register_secret, workspace_root};

/// chromedriver, started as the leader of its own process group, which the Chromium it starts
/// joins.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: killing chromedriver alone left its Chromium running whenever a
        // test ended without closing its session (a failed assertion, a timeout).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn find_program(names: &[&str]) -> Option<String> {
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

/// A headless Chromium driven over WebDriver; dropping it ends chromedriver.
pub(crate) struct Browser {
    pub(crate) client: fantoccini::Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// Starts chromedriver and a headless Chromium session, or `None` (a loud skip) when they are
/// not installed outside CI. scripts/test installs both; in CI their absence is a failure.
pub(crate) async fn browser() -> Option<Browser> {
    let (Some(chromedriver), Some(chromium)) = (
        find_program(&["chromedriver"]),
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium and chromedriver are required in CI"
        );
        eprintln!("SKIPPED: chromium/chromedriver not installed (scripts/test installs them)");
        return None;
    };
    let port = free_port();
    let driver = Driver(
        Command::new(chromedriver)
            .process_group(0)
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
                // Loopback only: any other host name fails to resolve, so a page that
                // wrongly sends the browser elsewhere shows an error instead of leaving.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
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
    Some(Browser {
        client,
        _driver: driver,
        _profile: profile,
    })
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`): media and viewport
/// emulation for the screenshots.
#[derive(Debug)]
struct Cdp(serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(self.0.to_string()))
    }
}

/// Makes the tab show pages with `prefers-color-scheme: dark` (or light) in a `width` ×
/// `height` viewport, as a phone below 600 px (kept across navigations).
pub(crate) async fn emulate(client: &fantoccini::Client, dark: bool, width: u32, height: u32) {
    let scheme = if dark { "dark" } else { "light" };
    client
        .issue_cmd(Cdp(serde_json::json!({
            "cmd": "Emulation.setEmulatedMedia",
            "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
        })))
        .await
        .unwrap();
    client
        .issue_cmd(Cdp(serde_json::json!({
            "cmd": "Emulation.setDeviceMetricsOverride",
            "params": {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
        })))
        .await
        .unwrap();
}

/// Saves a screenshot under target/screenshots/ for a person to look at.
pub(crate) async fn save_screenshot(client: &fantoccini::Client, name: &str) {
    let target = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&target).unwrap();
    let shot = client.screenshot().await.unwrap();
    assert!(shot.starts_with(b"\x89PNG"));
    std::fs::write(target.join(name), &shot).unwrap();
}

pub(crate) async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_opens_the_daily_page_and_follows_a_card_to_its_paper() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let server = Server::start();
    client.goto(&server.url("/")).await.unwrap();
    assert_eq!(text_of(client, "h1").await, "Friday, Aug 21, 2026");
    let cards = client.find_all(Locator::Css("li.card")).await.unwrap();
    assert_eq!(cards.len(), 17);
    save_screenshot(client, "screenshot-daily-page.png").await;

    let link = client.find(Locator::Css("li.card h2 a")).await.unwrap();
    let title = link.text().await.unwrap();
    link.click().await.unwrap();
    client
        .wait()
        .for_url(&url::Url::parse(&server.url("/papers/2608.19880")).unwrap())
        .await
        .unwrap();
    assert_eq!(text_of(client, "h1#paper-title").await, title);
    let abstract_text = text_of(client, ".abstract-full").await;
    assert!(abstract_text.contains("9.8% fewer execution steps"));
    save_screenshot(client, "screenshot-paper-page.png").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_searches_from_the_header_box_and_pages_through_the_results() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let server = Server::start();
    server.wait_for_index(false).await;
    client.goto(&server.url("/")).await.unwrap();

    let search_box = client.find(Locator::Css("header input#q")).await.unwrap();
    search_box.send_keys("agent").await.unwrap();
    search_box.send_keys("\u{E007}").await.unwrap(); // WebDriver's Enter key
    client
        .wait()
        .for_element(Locator::Css("h1#search-title"))
        .await
        .unwrap();
    assert_eq!(
        text_of(client, "h1#search-title").await,
        "Results for “agent”"
    );
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), "/papers");
    assert_eq!(url.query(), Some("q=agent"));
    // The test server has no model: the page says semantic search is off, keyword results stay.
    assert!(
        text_of(client, "p.note")
            .await
            .contains("semantic search is off"),
        "the page must say why results are keyword-only"
    );
    let cards = client.find_all(Locator::Css("li.card")).await.unwrap();
    assert_eq!(cards.len(), 20, "a full first page");
    let marks = client.find_all(Locator::Css("li.card mark")).await.unwrap();
    assert!(!marks.is_empty(), "matched words are highlighted");
    for mark in marks.iter().take(10) {
        let word = mark.text().await.unwrap().to_lowercase();
        assert!(word.starts_with("agent"), "highlighted {word:?}");
    }
    save_screenshot(client, "screenshot-search-page.png").await;

    let first_page_ids = card_ids(client).await;
    client
        .find(Locator::Css("nav.pager a[rel=next]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("nav.pager a[rel=prev]"))
        .await
        .unwrap();
    let second_page_ids = card_ids(client).await;
    assert!(!second_page_ids.is_empty());
    assert!(
        second_page_ids
            .iter()
            .all(|id| !first_page_ids.contains(id)),
        "page 2 repeats none of page 1"
    );

    // The page's own form: a phrase and a filter, sorted by votes.
    client.goto(&server.url("/papers")).await.unwrap();
    let query = client.find(Locator::Css("input#search-q")).await.unwrap();
    query
        .send_keys("\"language model\" featured:2026-08-21")
        .await
        .unwrap();
    client
        .find(Locator::Css("select#search-sort option[value=votes]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("form.search-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The empty search page has the same heading element: wait for the results' heading.
    wait_for_text(client, "h1#search-title", |t| t.starts_with("Results for")).await;
    let votes = client
        .find_all(Locator::Css("li.card p.votes"))
        .await
        .unwrap();
    assert!(!votes.is_empty(), "the phrase matches papers of that day");
    let mut counts = Vec::new();
    for v in votes {
        let text = v.text().await.unwrap();
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        counts.push(digits.parse::<u32>().unwrap());
    }
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "sorted by votes: {counts:?}"
    );
    for link in client
        .find_all(Locator::Css("li.card .meta a[href^='/papers/date/']"))
        .await
        .unwrap()
    {
        assert_eq!(
            link.attr("href").await.unwrap().as_deref(),
            Some("/papers/date/2026-08-21")
        );
    }
    browser.client.clone().close().await.unwrap();
}

pub(crate) async fn card_ids(client: &fantoccini::Client) -> Vec<String> {
    let mut ids = Vec::new();
    for article in client
        .find_all(Locator::Css("li.card article"))
        .await
        .unwrap()
    {
        ids.push(article.attr("data-paper-id").await.unwrap().unwrap());
    }
    ids
}

/// Waits until the text of `css` satisfies `ok`, re-reading it (the page may reload or a
/// script may update it in place).
pub(crate) async fn wait_for_text(
    client: &fantoccini::Client,
    css: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && ok(&text)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed the expected text"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_signs_up_upvotes_and_comments_and_sees_the_counts_change() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let server = Server::start();
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
    // Signed up and logged in: the account page knows us.
    let deadline = Instant::now() + Duration::from_secs(15);
    while client.current_url().await.unwrap().path() == "/signup" {
        assert!(Instant::now() < deadline, "sign-up never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.goto(&server.url("/account")).await.unwrap();
    assert_eq!(text_of(client, "h1#account-title").await, "ada_reader");

    client
        .goto(&server.url("/papers/2608.19880"))
        .await
        .unwrap();
    let before: i64 = text_of(client, "form.upvote .vote-count")
        .await
        .trim()
        .parse()
        .unwrap();
    client
        .find(Locator::Css("form.upvote button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let after = wait_for_text(client, "form.upvote .vote-count", |t| {
        t.trim().parse::<i64>().is_ok_and(|n| n == before + 1)
    })
    .await;
    assert_eq!(after.trim(), (before + 1).to_string());

    let comments_before = text_of(client, "#comments p.muted").await;
    client
        .find(Locator::Id("comment-body"))
        .await
        .unwrap()
        .send_keys("Nice **work** <script>window.pwned = 1</script>")
        .await
        .unwrap();
    client
        .find(Locator::Css("#comment-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let body = wait_for_text(client, "#comments ol.comments", |t| t.contains("Nice work")).await;
    assert!(body.contains("ada_reader"), "{body}");
    let comments_after = text_of(client, "#comments p.muted").await;
    assert_ne!(comments_before, comments_after, "the comment count moved");
    let strong = text_of(client, ".comment-body strong").await;
    assert_eq!(strong, "work", "markdown rendered");
    let pwned = client
        .execute("return window.pwned === undefined && document.querySelectorAll('.comment-body script').length === 0;", vec![])
        .await
        .unwrap();
    assert_eq!(
        pwned,
        serde_json::Value::Bool(true),
        "no script from a comment ran"
    );
    // The vote was kept: a fresh load shows it.
    client.refresh().await.unwrap();
    assert_eq!(
        text_of(client, "form.upvote .vote-count").await.trim(),
        (before + 1).to_string()
    );
    save_screenshot(client, "screenshot-community.png").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_subscribes_confirms_from_the_mail_and_unsubscribes_in_one_click() {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = crate::digest::Sink::start(mail.path(), &[]) else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let hub = crate::digest::hub_with_sample();
    let data_dir = hub.path().to_owned();
    let smtp = std::ffi::OsString::from(sink.url());
    let server = Server::start_with_env(&["--no-sample"], hub, &[("PAPERFEED_SMTP_URL", &smtp)]);
    let digest_run = |date: &str| {
        crate::digest::run_ok(crate::digest::paperfeed(
            &data_dir,
            &sink,
            &["digest", "run", "--date", date],
        ))
    };

    // The header's Subscribe button leads to the form.
    client.goto(&server.url("/")).await.unwrap();
    client
        .find(Locator::Css("header .cta a.button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill_and_submit(client, &[("sub-email", "reader@example.test")]).await;
    wait_for_text(client, "p.note", |t| {
        t.contains("confirmation mail is on its way")
    })
    .await;
    save_screenshot(client, "screenshot-subscribe.png").await;

    let confirmation = sink.received()["reader@example.test"][0].clone();
    client
        .goto(&server.url(&crate::digest::link_in(&confirmation, "/confirm?t=")))
        .await
        .unwrap();
    assert_eq!(text_of(client, "h1").await, "You are subscribed");

    let out = digest_run("2026-08-21");
    assert!(out.contains("this run sent 1"), "{out}");
    let digest = sink.received()["reader@example.test"]
        .iter()
        .find(|m| m.contains("Subject: Daily Papers"))
        .cloned()
        .expect("the digest");
    client
        .goto(&server.url(&crate::digest::link_in(&digest, "/unsubscribe?t=")))
        .await
        .unwrap();
    fill_and_submit(client, &[]).await;
    wait_for_text(client, "h1", |t| t == "You are unsubscribed").await;

    let out = digest_run("2026-08-22");
    assert!(out.contains("queued 0 new jobs"), "{out}");
    assert_eq!(
        sink.received()["reader@example.test"].len(),
        2,
        "no mail after unsubscribing"
    );
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_in_through_the_form_with_a_hostile_next_stays_on_the_hub() {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let server = Server::start();
    register_secret("correct horse battery");
    let mut ada = crate::community::Visitor::new(&server);
    assert_eq!(ada.sign_up("ada_reader").await.status, 303);
    let hub = url::Url::parse(&server.base).unwrap();
    // As they would sit in a link someone is lured to: tab, newline, backslashes, dot
    // segments, encoded slashes and a scheme.
    for next in [
        "/%09/evil.example/x",
        "/%0A/evil.example/x",
        "/%5Cevil.example/x",
        "%5C%5Cevil.example/x",
        "/.//evil.example/x",
        "/%2e//evil.example/x",
        "%2F%2Fevil.example/x",
        "http://evil.example/x",
    ] {
        client
            .goto(&server.url(&format!("/login?next={next}")))
            .await
            .unwrap();
        fill_and_submit(
            client,
            &[
                ("f-username", "ada_reader"),
                ("f-password", "correct horse battery"),
            ],
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(15);
        let landed = loop {
            let url = client.current_url().await.unwrap();
            if url.path() != "/login" {
                break url;
            }
            assert!(
                Instant::now() < deadline,
                "log-in with next={next} never completed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            landed.origin(),
            hub.origin(),
            "next={next} sent the browser to {landed}"
        );
        // Logged in: the account page knows us.
        client.goto(&server.url("/account")).await.unwrap();
        assert_eq!(text_of(client, "h1#account-title").await, "ada_reader");
    }
    browser.client.clone().close().await.unwrap();
}

/// Types each value into the field with that id, then submits the page's form.
pub(crate) async fn fill_and_submit(client: &fantoccini::Client, fields: &[(&str, &str)]) {
    for (field, value) in fields {
        client
            .find(Locator::Id(field))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    client
        .find(Locator::Css("form.stacked button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The text of every element matching `css`, joined by newlines.
async fn texts_of(client: &fantoccini::Client, css: &str) -> String {
    let mut out = Vec::new();
    for element in client.find_all(Locator::Css(css)).await.unwrap() {
        out.push(element.text().await.unwrap());
    }
    out.join("\n")
}

pub(crate) async fn click(client: &fantoccini::Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Clicks `css`, which leads to another page (a link, a form's button), and waits until that
/// page has loaded: the page clicked on is marked first, so a slow answer is never mistaken
/// for the new page (which may have the same address). The address and the mark are read in
/// one script, as the page can change between two reads.
pub(crate) async fn click_and_load(client: &fantoccini::Client, css: &str) {
    client
        .execute("window.__pfLeft = true; return null;", vec![])
        .await
        .unwrap();
    click(client, css).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let loaded = client
            .execute(
                "return window.__pfLeft !== true && document.readyState === 'complete';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if loaded {
            return;
        }
        assert!(Instant::now() < deadline, "{css} led nowhere");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the browser is on a page whose path satisfies `ok`; returns the URL.
pub(crate) async fn wait_for_path(
    client: &fantoccini::Client,
    ok: impl Fn(&str) -> bool,
) -> url::Url {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = client.current_url().await.unwrap();
        if ok(url.path()) {
            return url;
        }
        assert!(Instant::now() < deadline, "stayed on {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_follows_mutes_saves_a_search_reads_following_dismisses_and_moves_a_collection_through_bibtex()
 {
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let server = Server::start();
    register_secret("correct horse battery");
    client.goto(&server.url("/signup")).await.unwrap();
    fill_and_submit(
        client,
        &[
            ("f-username", "lin_reader"),
            ("f-email", "lin@example.test"),
            ("f-password", "correct horse battery"),
        ],
    )
    .await;
    wait_for_path(client, |p| p != "/signup").await;

    // Follow the first author of the day's top paper, from its author page.
    client
        .goto(&server.url("/papers/2608.19880"))
        .await
        .unwrap();
    click(client, ".authors a").await;
    wait_for_path(client, |p| p.starts_with("/authors/")).await;
    click(client, "form.follow button").await;
    wait_for_text(client, "form.follow button", |t| t.contains("Following")).await;

    // Mute a keyword: the exact title of another paper of the day, as a phrase.
    client.goto(&server.url("/")).await.unwrap();
    let ids = card_ids(client).await;
    assert!(ids.len() > 3, "{ids:?}");
    // A paper with a plain title (no maths), so the phrase reads the same everywhere.
    let mut victim = None;
    for id in ids.iter().rev().filter(|id| id.as_str() != "2608.19880") {
        let title = text_of(client, &format!("article[data-paper-id='{id}'] h2")).await;
        if title
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-' || c == ':')
        {
            victim = Some((id.clone(), title));
            break;
        }
    }
    let (victim, victim_title) = victim.expect("a paper with a plain title on the day");
    client.goto(&server.url("/account/mutes")).await.unwrap();
    client
        .find(Locator::Id("mute-text"))
        .await
        .unwrap()
        .send_keys(&format!("\"{victim_title}\""))
        .await
        .unwrap();
    click(client, "form.stacked button[type=submit]").await;
    wait_for_text(client, "main", |t| t.contains(&victim_title)).await;
    client.goto(&server.url("/")).await.unwrap();
    assert!(
        !card_ids(client).await.contains(&victim),
        "the muted paper is hidden from the day page"
    );
    let control = text_of(client, ".hidden-control").await;
    assert!(control.contains("hidden"), "{control}");

    // Save a search from its results page.
    let top_title = text_of(client, "article[data-paper-id='2608.19880'] h2").await;
    let query: String = top_title
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    client
        .goto(&server.url(&format!(
            "/papers?q={}",
            url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        )))
        .await
        .unwrap();
    let name = client.find(Locator::Id("save-name")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("my topic").await.unwrap();
    click(client, "form.save-search button").await;
    wait_for_path(client, |p| p != "/papers").await;

    // The Following feed merges both, each paper once, saying why.
    client.goto(&server.url("/following")).await.unwrap();
    let reasons = texts_of(client, "li.reasons").await;
    assert!(reasons.contains("author you follow: "), "{reasons}");
    assert!(
        reasons.contains("matches your search: my topic"),
        "{reasons}"
    );
    let following = card_ids(client).await;
    let mut unique = following.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        following.len(),
        "each paper once: {following:?}"
    );
    assert!(!following.contains(&victim), "mutes apply to Following too");
    save_screenshot(client, "screenshot-following.png").await;

    // Not interested: the paper leaves the feed, behind the "N hidden" control.
    let dismissed = following[0].clone();
    click(
        client,
        &format!("article[data-paper-id='{dismissed}'] form[action='/account/dismissed'] button"),
    )
    .await;
    client.goto(&server.url("/following")).await.unwrap();
    assert!(!card_ids(client).await.contains(&dismissed));
    assert!(text_of(client, ".hidden-control").await.contains("hidden"));

    // A collection exported to BibTeX and imported back into a new one.
    client.goto(&server.url("/collections")).await.unwrap();
    fill_and_submit(client, &[("collection-name", "Reading group")]).await;
    let first = wait_for_path(client, |p| p.starts_with("/collections/")).await;
    client
        .goto(&server.url("/papers/2608.19880"))
        .await
        .unwrap();
    click(client, "form.add-to-collection button").await;
    wait_for_path(client, |p| p == "/papers/2608.19880").await;
    let bib = client
        .execute_async(
            "fetch(arguments[0]).then(r => r.text()).then(arguments[1])",
            vec![serde_json::json!(format!("{}.bib", first.path()))],
        )
        .await
        .unwrap();
    let bib = bib.as_str().unwrap().to_owned();
    assert!(
        bib.contains("@misc{") && bib.contains("2608.19880"),
        "{bib}"
    );
    client.goto(&server.url("/collections")).await.unwrap();
    fill_and_submit(client, &[("collection-name", "Copy")]).await;
    let copy = wait_for_path(client, |p| p.starts_with("/collections/")).await;
    assert_ne!(copy.path(), first.path());
    client
        .execute(
            "document.getElementById('import-text').value = arguments[0];",
            vec![serde_json::json!(bib)],
        )
        .await
        .unwrap();
    click(client, "form[action$='/import'] button").await;
    let report = wait_for_text(client, "p[role=status]", |t| t.contains("added")).await;
    assert!(report.contains("1 added"), "{report}");
    client.goto(copy.as_str()).await.unwrap();
    let copied = texts_of(client, "ol.cards h2").await;
    assert!(copied.contains(&top_title), "{copied}");
    browser.client.clone().close().await.unwrap();
}

/// Waits until `attribute` of the element `css` is `want` (`None`: absent).
async fn wait_for_attr(
    client: &fantoccini::Client,
    css: &str,
    attribute: &str,
    want: Option<&str>,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let element = client.find(Locator::Css(css)).await.unwrap();
        let got = element.attr(attribute).await.unwrap();
        if got.as_deref() == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} [{attribute}] is {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_picks_a_suggestion_with_the_keyboard() {
    const DOWN: &str = "\u{E015}";
    const UP: &str = "\u{E013}";
    const ESCAPE: &str = "\u{E00C}";
    const ENTER: &str = "\u{E007}";
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let server = Server::start();
    server.wait_for_index(false).await;
    client.goto(&server.url("/")).await.unwrap();
    let box_css = "header input#q";
    // The box is a combobox controlling a listbox, closed.
    wait_for_attr(client, box_css, "role", Some("combobox")).await;
    wait_for_attr(client, box_css, "aria-expanded", Some("false")).await;
    let input = client.find(Locator::Css(box_css)).await.unwrap();
    let list_id = input.attr("aria-controls").await.unwrap().unwrap();
    let list_css = format!("ul#{list_id}[role=listbox]");

    input.send_keys("envharn").await.unwrap();
    wait_for_attr(client, box_css, "aria-expanded", Some("true")).await;
    let options = client
        .find_all(Locator::Css(&format!("{list_css} li[role=option]")))
        .await
        .unwrap();
    assert!(!options.is_empty());
    assert!(
        client
            .find(Locator::Css(&list_css))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    save_screenshot(client, "screenshot-suggestions.png").await;

    // Down makes the first option active: named by aria-activedescendant, selected.
    input.send_keys(DOWN).await.unwrap();
    let first = format!("{list_id}-option-0");
    wait_for_attr(client, box_css, "aria-activedescendant", Some(&first)).await;
    let option = client.find(Locator::Id(&first)).await.unwrap();
    assert_eq!(
        option.attr("aria-selected").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(option.text().await.unwrap().contains("EnvHarness"));
    // Up from the first wraps to the last, Down back to the first.
    input.send_keys(UP).await.unwrap();
    let last = format!("{list_id}-option-{}", options.len() - 1);
    wait_for_attr(client, box_css, "aria-activedescendant", Some(&last)).await;
    input.send_keys(DOWN).await.unwrap();
    wait_for_attr(client, box_css, "aria-activedescendant", Some(&first)).await;

    // Escape closes the list and keeps the text.
    input.send_keys(ESCAPE).await.unwrap();
    wait_for_attr(client, box_css, "aria-expanded", Some("false")).await;
    wait_for_attr(client, box_css, "aria-activedescendant", None).await;
    assert!(
        !client
            .find(Locator::Css(&list_css))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    assert_eq!(
        input.prop("value").await.unwrap().as_deref(),
        Some("envharn")
    );

    // Down opens it again; Enter on the active option opens its paper.
    input.send_keys(DOWN).await.unwrap();
    wait_for_attr(client, box_css, "aria-activedescendant", Some(&first)).await;
    input.send_keys(ENTER).await.unwrap();
    client
        .wait()
        .for_url(&url::Url::parse(&server.url("/papers/2608.19880")).unwrap())
        .await
        .unwrap();
    assert!(
        text_of(client, "h1#paper-title")
            .await
            .starts_with("EnvHarness")
    );

    // With no option active, Enter searches what was typed, as without JavaScript.
    let input = client.find(Locator::Css(box_css)).await.unwrap();
    input.send_keys("enviroments").await.unwrap();
    input.send_keys(ENTER).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("p.spelling"))
        .await
        .unwrap();
    assert!(
        text_of(client, "p.spelling")
            .await
            .starts_with("Showing results for environments.")
    );
    browser.client.clone().close().await.unwrap();
}
