//! RSS and Atom feeds read back with a feed parser (feed-rs, as readers parse them), and the
//! HTTP validators and compression every GET carries.

use std::io::Read as _;

use feed_rs::model::FeedType;
use reqwest::header;

use crate::harness::{Server, fixture, ingest};

/// Papers on the sample's latest featured day (2026-08-21) and the week before it.
const LATEST_DAY_TOP: &str = "2608.19880";

async fn fetch(server: &Server, path: &str) -> (u16, String, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = reqwest::Client::new()
        .get(server.url(path))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        headers,
        resp.bytes().await.unwrap().to_vec(),
    )
}

fn parse(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "the feed does not parse: {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_feed_reads_back_as_rss_and_atom_with_stable_guids() {
    let server = Server::start();
    let (status, content_type, _, rss) = fetch(&server, "/feed.xml").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/rss+xml; charset=utf-8");
    let rss = parse(&rss);
    assert_eq!(rss.feed_type, FeedType::RSS2);
    let (_, content_type, _, atom) = fetch(&server, "/feed.atom").await;
    assert_eq!(content_type, "application/atom+xml; charset=utf-8");
    let atom = parse(&atom);
    assert_eq!(atom.feed_type, FeedType::Atom);

    for feed in [&rss, &atom] {
        // The last seven featured days of the sample, newest day first, top paper first.
        assert!(feed.entries.len() > 17, "more than the latest day");
        let first = &feed.entries[0];
        assert_eq!(first.id, format!("https://arxiv.org/abs/{LATEST_DAY_TOP}"));
        assert_eq!(
            first.title.as_ref().unwrap().content,
            "EnvHarness: Awakening Static Worlds for Agent Learning"
        );
        let link = &first.links[0].href;
        assert!(
            link.starts_with("http://127.0.0.1:")
                && link.ends_with(&format!("/papers/{LATEST_DAY_TOP}")),
            "{link}"
        );
        assert_eq!(
            first.published.unwrap().to_rfc3339(),
            "2026-08-21T00:00:00+00:00"
        );
        assert!(first.authors.len() > 10);
        let summary = &first.summary.as_ref().unwrap().content;
        assert!(summary.contains("▲ 163"), "{summary}");
    }
    // The same papers in both, in the same order.
    let ids = |f: &feed_rs::model::Feed| f.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&rss), ids(&atom));
    // Stable: asking again gives the same ids.
    let (_, _, _, again) = fetch(&server, "/feed.xml").await;
    assert_eq!(ids(&parse(&again)), ids(&rss));
}

#[tokio::test(flavor = "multi_thread")]
async fn feeds_carry_untrusted_titles_and_tex_as_escaped_text() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2024-01-02.json");
    std::fs::write(&file, crate::pages::HOSTILE_DAY).unwrap();
    let server = Server::start_with(&["--no-sample"], tempfile::tempdir().unwrap());
    let out = ingest(server.data_dir(), &[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for path in ["/feed.xml", "/feed.atom", "/trending/feed.xml"] {
        let (status, _, _, bytes) = fetch(&server, path).await;
        assert_eq!(status, 200, "{path}");
        let raw = String::from_utf8(bytes.clone()).unwrap();
        assert!(!raw.contains("<script>"), "{path}: markup must be escaped");
        let feed = parse(&bytes);
        let entry = feed
            .entries
            .iter()
            .find(|e| e.id.ends_with("2401.00001"))
            .unwrap_or_else(|| panic!("{path}: the hostile paper is listed"));
        let title = &entry.title.as_ref().unwrap().content;
        let summary = &entry.summary.as_ref().unwrap().content;
        let [title, summary] = as_shown(&feed.feed_type, [title, summary]);
        assert_eq!(title, "<script>alert(1)</script> & $x<y$", "{path}");
        assert!(
            summary.contains("Fish & chips <b>bold</b> where $x<y$"),
            "{path}: markup and TeX come back as the text they were: {summary}"
        );
        assert_eq!(entry.authors[0].name, "Eve <img src=x onerror=alert(2)>");
    }
}

/// What a reader shows for each of `texts`: RSS titles and descriptions are HTML to readers,
/// so they go through Python's HTML parser (html.parser), which must find no element in them;
/// Atom's are text (`type="text"`) and shown as they are.
fn as_shown<const N: usize>(feed_type: &FeedType, texts: [&String; N]) -> [String; N] {
    if *feed_type != FeedType::RSS2 {
        return texts.map(String::clone);
    }
    const READ_AS_HTML: &str = r#"
import json, sys
from html.parser import HTMLParser

class Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self.text = [], []
    def handle_starttag(self, tag, attrs):
        self.elements.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.elements.append(tag)
    def handle_data(self, data):
        self.text.append(data)

shown = []
for html in json.load(sys.stdin):
    reader = Reader()
    reader.feed(html)
    reader.close()
    shown.append({"elements": reader.elements, "text": "".join(reader.text)})
json.dump(shown, sys.stdout)
"#;
    let mut python = std::process::Command::new("python3")
        .args(["-c", READ_AS_HTML])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (for its HTML parser)");
    let input = serde_json::to_vec(&texts.as_slice()).unwrap();
    std::io::Write::write_all(&mut python.stdin.take().unwrap(), &input).unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(out.status.success());
    let shown: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut i = 0;
    texts.map(|html| {
        let one = &shown[i];
        i += 1;
        assert_eq!(
            one["elements"],
            serde_json::json!([]),
            "a reader finds live markup in {html:?}"
        );
        one["text"].as_str().unwrap().to_owned()
    })
}

/// A paper whose title and abstract try to close their RSS elements and open a script.
const CLOSING_TAGS_DAY: &str = r#"[{
  "paper": {
    "id": "2401.00002",
    "authors": [{"_id": "x", "name": "Mallory", "hidden": false}],
    "publishedAt": "2024-01-01T00:00:00.000Z",
    "submittedOnDailyAt": "2024-01-02T00:00:00.000Z",
    "title": "Titles </title><script>alert(8)</script> & <i>more</i>",
    "summary": "An abstract </description><script>alert(9)</script> with <img src=x onerror=alert(10)> &amp; an entity.",
    "upvotes": 3
  },
  "publishedAt": "2024-01-01T20:00:00.000Z",
  "title": "Titles </title><script>alert(8)</script> & <i>more</i>",
  "numComments": 0
}]"#;

#[tokio::test(flavor = "multi_thread")]
async fn rss_readers_show_markup_in_titles_and_abstracts_as_text_never_as_html() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2024-01-02.json");
    std::fs::write(&file, CLOSING_TAGS_DAY).unwrap();
    let server = Server::start_with(&["--no-sample"], tempfile::tempdir().unwrap());
    let out = ingest(server.data_dir(), &[file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let search = "/papers/feed.xml?q=%3C%2Fdescription%3E%3Cscript%3Ealert(7)%3C%2Fscript%3E";
    for path in ["/feed.xml", "/trending/feed.xml", "/feed.atom", search] {
        let (status, _, _, bytes) = fetch(&server, path).await;
        assert_eq!(status, 200, "{path}");
        let feed = parse(&bytes);
        let channel_title = feed.title.as_ref().unwrap().content.clone();
        let [channel_title] = as_shown(&feed.feed_type, [&channel_title]);
        if path == search {
            assert!(
                channel_title.contains("</description><script>alert(7)</script>"),
                "{path}: the query shows as typed: {channel_title}"
            );
            continue;
        }
        let entry = feed
            .entries
            .iter()
            .find(|e| e.id.ends_with("2401.00002"))
            .unwrap_or_else(|| panic!("{path}: the paper is listed"));
        let title = &entry.title.as_ref().unwrap().content;
        let summary = &entry.summary.as_ref().unwrap().content;
        let [title, summary] = as_shown(&feed.feed_type, [title, summary]);
        assert_eq!(
            title, "Titles </title><script>alert(8)</script> & <i>more</i>",
            "{path}"
        );
        assert!(
            summary.starts_with(
                "An abstract </description><script>alert(9)</script> with \
                 <img src=x onerror=alert(10)> &amp; an entity."
            ),
            "{path}: {summary}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_feed_follows_the_query_and_pages_announce_their_feeds() {
    let server = Server::start();
    server.wait_for_index(false).await;
    let (status, _, _, bytes) = fetch(&server, "/papers/feed.xml?q=agent+featured:2026-08").await;
    assert_eq!(status, 200);
    let feed = parse(&bytes);
    assert!(!feed.entries.is_empty());
    assert!(
        feed.title
            .unwrap()
            .content
            .contains("agent featured:2026-08")
    );
    // Newest first by default: a subscriber sees new matches on top.
    let dates: Vec<_> = feed.entries.iter().map(|e| e.published.unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    for entry in &feed.entries {
        let text = format!(
            "{} {}",
            entry.title.as_ref().unwrap().content,
            entry.summary.as_ref().unwrap().content
        )
        .to_lowercase();
        assert!(text.contains("agent"), "{text}");
    }
    let (status, _, _, body) = fetch(&server, "/feed.atom?q=%22unclosed").await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    let (_, html) = server.get("/").await;
    assert!(html.contains(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Daily Papers (RSS)\" href=\"/feed.xml\">"
    ));
    assert!(html.contains("type=\"application/atom+xml\""));
    let (_, html) = server.get("/papers?q=vision+transformer").await;
    assert!(
        html.contains("href=\"/feed.xml?q=vision+transformer\""),
        "search feed link"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revalidating_client_gets_304_until_the_store_changes() {
    let server = Server::start_with(&["--no-sample"], tempfile::tempdir().unwrap());
    let out = ingest(
        server.data_dir(),
        &[
            fixture("crates/paperfeed-ingest/tests/fixtures/2024-03-12.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(out.status.success());
    let client = reqwest::Client::new();
    for path in [
        "/",
        "/papers/date/2024-03-12",
        "/papers/2403.06634",
        "/feed.xml",
        "/papers?q=model",
    ] {
        let first = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        let etag = first.headers()[header::ETAG].clone();
        let modified = first.headers()[header::LAST_MODIFIED].clone();
        assert!(etag.to_str().unwrap().starts_with("W/\""), "{path}");
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");

        let again = client
            .get(server.url(path))
            .header(header::IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()[header::ETAG], etag);
        assert!(again.bytes().await.unwrap().is_empty());

        let since = client
            .get(server.url(path))
            .header(header::IF_MODIFIED_SINCE, modified)
            .send()
            .await
            .unwrap();
        assert_eq!(since.status(), 304, "{path}");

        let other = client
            .get(server.url(path))
            .header(header::IF_NONE_MATCH, "W/\"0000000000000000\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "{path}: a stale copy gets the page");
    }
    let (_, _, headers, _) = fetch(&server, "/").await;
    let before = headers[header::ETAG].clone();

    // New papers change every validator.
    let out = ingest(
        server.data_dir(),
        &[
            fixture("crates/paperfeed-ingest/tests/fixtures/2025-02-06.json")
                .to_str()
                .unwrap(),
        ],
    );
    assert!(out.status.success());
    let after = client
        .get(server.url("/"))
        .header(header::IF_NONE_MATCH, before.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        200,
        "the store changed: the old copy is stale"
    );
    assert_ne!(after.headers()[header::ETAG], before);

    // Errors carry no validators.
    let missing = client
        .get(server.url("/papers/2401.99999"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get(header::ETAG).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_and_feeds_are_compressed_with_gzip_or_brotli_when_asked() {
    let server = Server::start();
    let client = reqwest::Client::new();
    let (_, plain) = server.get("/").await;
    for path in ["/", "/feed.xml"] {
        let gz = client
            .get(server.url(path))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip", "{path}");
        let bytes = gz.bytes().await.unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(bytes.len() * 3 < text.len(), "{path}: compressed well");
        if path == "/" {
            assert_eq!(text, plain);
        }

        let br = client
            .get(server.url(path))
            .header(header::ACCEPT_ENCODING, "br")
            .send()
            .await
            .unwrap();
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br", "{path}");
        let bytes = br.bytes().await.unwrap();
        let mut text = String::new();
        brotli::Decompressor::new(&bytes[..], 4096)
            .read_to_string(&mut text)
            .unwrap();
        if path == "/" {
            assert_eq!(text, plain);
        }
    }
    // No Accept-Encoding: no encoding.
    let resp = client.get(server.url("/")).send().await.unwrap();
    assert!(resp.headers().get(header::CONTENT_ENCODING).is_none());
}
