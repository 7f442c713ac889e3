//! The live-source clients against a loopback server replaying real recorded answers, plus
//! the failures real services produce. Waits go through a `ManualClock`: the delays asked for
//! are checked, never slept (only the timeout test spends real time, a fraction of a second).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use paperfeed_core::ArxivId;
use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};
use paperfeed_ingest::fetch::{
    ArxivClient, FetchError, Fetcher, HfMirror, HttpConfig, ManualClock, OaiHarvester, OaiRequest,
};

const ATOM: &[u8] = include_bytes!("fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml");
const OAI_1: &[u8] = include_bytes!("fixtures/ListRecords_arXiv_set-cs_2016-03-09_page001.xml");
const OAI_2: &[u8] = include_bytes!("fixtures/ListRecords_arXiv_set-cs_2016-03-09_page002.xml");
const OAI_LAST: &[u8] = include_bytes!("fixtures/ListRecords_arXiv_set-cs_2016-03-09_page103.xml");
const HF_DAY: &[u8] = include_bytes!("fixtures/2024-03-12.json");

const GAP: Duration = Duration::from_secs(3);
const BACKOFF: Duration = Duration::from_secs(5);

fn config() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_secs(10),
        politeness_gap: GAP,
        retries: 3,
        backoff: BACKOFF,
        ..HttpConfig::default()
    }
}

fn fetcher(config: HttpConfig) -> (Arc<Fetcher>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    let fetcher = Fetcher::new(config, Arc::clone(&clock) as _).unwrap();
    (Arc::new(fetcher), clock)
}

/// A script answering the n-th request (0-based) with `replies[n]`, the last one after.
fn in_turn(replies: Vec<Reply>) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    let n = AtomicUsize::new(0);
    move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst).min(replies.len() - 1);
        replies[i].clone()
    }
}

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

fn oai_harvest(target: &str) -> Reply {
    if target.contains("resumptionToken=1122234%7C1001") {
        Reply::ok(OAI_2)
    } else if target.contains("resumptionToken=1122234%7C2001") {
        Reply::ok(OAI_LAST)
    } else if target.contains("resumptionToken") {
        Reply::status(400, "badResumptionToken")
    } else {
        Reply::ok(OAI_1)
    }
}

#[tokio::test]
async fn an_id_lookup_reads_the_recorded_answer_and_says_who_is_asking() {
    let server = ReplayServer::start(|_| Reply::ok(ATOM)).await.unwrap();
    let (fetcher, _) = fetcher(config());
    let arxiv = ArxivClient::new(&server.base_url(), fetcher).unwrap();
    let paper = arxiv.lookup_one(&id("2510.14968")).await.unwrap().unwrap();
    assert_eq!(paper.id.as_str(), "2510.14968");
    assert!(!paper.title.is_empty());
    assert_eq!(paper.versions[0].number, 1);
    assert_eq!(
        arxiv.lookup_one(&id("2401.00001")).await.unwrap(),
        None,
        "an id the answer does not hold is not found"
    );
    assert_eq!(
        server.requests()[0],
        "/api/query?id_list=2510.14968&max_results=1"
    );
    assert!(
        server.user_agents()[0].starts_with("paperfeed/"),
        "{:?}",
        server.user_agents()
    );
}

#[tokio::test]
async fn a_listing_pages_with_start_and_total_results_and_waits_politely_between_pages() {
    let server = ReplayServer::start(|_| Reply::ok(ATOM)).await.unwrap();
    let (fetcher, clock) = fetcher(config());
    let arxiv = ArxivClient::new(&server.base_url(), fetcher).unwrap();
    let first = arxiv
        .search_page("cat:cs.RO AND neural", 0, 2)
        .await
        .unwrap();
    assert_eq!(first.papers.len(), 2);
    assert_eq!(first.total_results, 5619);
    assert_eq!(first.next_start, Some(2));
    let last = arxiv
        .search_page("cat:cs.RO AND neural", 5617, 2)
        .await
        .unwrap();
    assert_eq!(last.next_start, None, "5617 + 2 reaches the total");
    assert_eq!(
        server.requests(),
        [
            "/api/query?search_query=cat%3Acs.RO+AND+neural&sortBy=submittedDate&sortOrder=descending&start=0&max_results=2",
            "/api/query?search_query=cat%3Acs.RO+AND+neural&sortBy=submittedDate&sortOrder=descending&start=5617&max_results=2",
        ]
    );
    assert_eq!(clock.sleeps(), [GAP], "no wait before the first request");
    clock.advance(Duration::from_secs(2));
    arxiv.search_page("cat:cs.RO", 0, 2).await.unwrap();
    assert_eq!(
        clock.sleeps(),
        [GAP, Duration::from_secs(1)],
        "only what is left of the gap"
    );
}

#[tokio::test]
async fn an_atom_error_entry_is_a_clear_error_naming_the_url() {
    let error = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345</summary>
  </entry>
</feed>"#;
    let server = ReplayServer::start(move |_| Reply::ok(error))
        .await
        .unwrap();
    let (fetcher, _) = fetcher(config());
    let arxiv = ArxivClient::new(&server.base_url(), fetcher).unwrap();
    let err = arxiv.lookup_one(&id("2401.00001")).await.unwrap_err();
    assert!(matches!(err, FetchError::BadPage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("/api/query?id_list=2401.00001"),
        "{message}"
    );
    assert!(
        message.contains("arXiv API error: incorrect id format for 1234.12345"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 1, "an API error is not retried");
}

#[tokio::test]
async fn an_empty_page_ends_an_empty_listing_but_is_an_error_before_the_total() {
    let empty = |total: u32| {
        format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults></feed>"#
        )
    };
    let (none, some) = (empty(0), empty(40));
    let server = ReplayServer::start(in_turn(vec![Reply::ok(none), Reply::ok(some)]))
        .await
        .unwrap();
    let (fetcher, _) = fetcher(config());
    let arxiv = ArxivClient::new(&server.base_url(), fetcher).unwrap();
    let page = arxiv.search_page("ti:nothing", 0, 10).await.unwrap();
    assert!(page.papers.is_empty());
    assert_eq!((page.total_results, page.next_start), (0, None));
    let err = arxiv.search_page("ti:flaky", 20, 10).await.unwrap_err();
    assert!(
        err.to_string().contains("an empty page at start=20 of 40"),
        "{err}"
    );
}

#[tokio::test]
async fn an_oai_harvest_follows_resumption_tokens_to_the_empty_token() {
    let server = ReplayServer::start(oai_harvest).await.unwrap();
    let (fetcher, clock) = fetcher(config());
    let oai = OaiHarvester::new(&format!("{}/oai2", server.base_url()), fetcher).unwrap();
    let request = OaiRequest {
        set: Some("cs".into()),
        from: Some(NaiveDate::from_ymd_opt(2016, 3, 1).unwrap()),
        until: Some(NaiveDate::from_ymd_opt(2016, 3, 9).unwrap()),
    };
    let mut page = oai.first_page(&request).await.unwrap();
    let mut ids = std::collections::HashSet::new();
    let mut pages = 1;
    loop {
        assert!(
            page.rejected.is_empty(),
            "{:?}",
            page.rejected.listed.first()
        );
        ids.extend(page.papers.iter().map(|p| p.id.clone()));
        let Some(token) = page.next_token.clone() else {
            break;
        };
        page = oai.next_page(&token).await.unwrap();
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 2538, "every record of the three pages, once");
    assert_eq!(page.cursor, Some(102_000));
    assert_eq!(
        server.requests(),
        [
            "/oai2?verb=ListRecords&metadataPrefix=arXiv&set=cs&from=2016-03-01&until=2016-03-09",
            "/oai2?verb=ListRecords&resumptionToken=1122234%7C1001",
            "/oai2?verb=ListRecords&resumptionToken=1122234%7C2001",
        ]
    );
    assert_eq!(clock.sleeps(), [GAP, GAP]);
}

#[tokio::test]
async fn no_records_match_is_an_empty_last_page() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2016-03-09T00:00:00Z</responseDate>
<request verb="ListRecords">http://export.arxiv.org/oai2</request>
<error code="noRecordsMatch">No records match</error></OAI-PMH>"#;
    let server = ReplayServer::start(move |_| Reply::ok(body)).await.unwrap();
    let (fetcher, _) = fetcher(config());
    let oai = OaiHarvester::new(&server.base_url(), fetcher).unwrap();
    let page = oai.first_page(&OaiRequest::default()).await.unwrap();
    assert!(page.papers.is_empty());
    assert_eq!(page.next_token, None);
}

#[tokio::test]
async fn a_503_with_retry_after_is_waited_out_then_retried() {
    let busy = Reply::status(503, "Retry later").with_header("Retry-After", "120");
    let server = ReplayServer::start(in_turn(vec![busy, Reply::ok(OAI_LAST)]))
        .await
        .unwrap();
    let (fetcher, clock) = fetcher(config());
    let oai = OaiHarvester::new(&server.base_url(), fetcher).unwrap();
    let page = oai.next_page("1122234|102001").await.unwrap();
    assert_eq!(page.papers.len(), 538);
    assert_eq!(clock.sleeps(), [Duration::from_secs(120)]);
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_fails_saying_so() {
    let busy = Reply::status(503, "down for maintenance").with_header("Retry-After", "86400");
    let server = ReplayServer::start(move |_| busy.clone()).await.unwrap();
    let (fetcher, clock) = fetcher(config());
    let oai = OaiHarvester::new(&server.base_url(), fetcher).unwrap();
    let err = oai.next_page("t").await.unwrap_err().to_string();
    assert!(err.contains("Retry-After 86400 s"), "{err}");
    assert!(err.contains("HTTP 503"), "{err}");
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_with_exponential_backoff_then_given_up() {
    let server = ReplayServer::start(|_| Reply::status(502, "Bad Gateway"))
        .await
        .unwrap();
    let (fetcher, clock) = fetcher(config());
    let hf = HfMirror::new(&server.base_url(), fetcher).unwrap();
    let day = NaiveDate::from_ymd_opt(2024, 3, 12).unwrap();
    let err = hf.day(day).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, FetchError::Unavailable { attempts: 4, .. }),
        "{message}"
    );
    assert!(
        message.contains("/api/daily_papers?date=2024-03-12"),
        "{message}"
    );
    assert!(message.contains("HTTP 502"), "{message}");
    assert_eq!(
        clock.sleeps(),
        [BACKOFF, BACKOFF * 2, BACKOFF * 4],
        "backoff doubles"
    );
}

#[tokio::test]
async fn a_connection_reset_and_a_body_cut_short_are_retried() {
    let cut = Reply::CutOff {
        body: HF_DAY.to_vec(),
        sent: HF_DAY.len() / 2,
    };
    let server = ReplayServer::start(in_turn(vec![Reply::Reset, cut, Reply::ok(HF_DAY)]))
        .await
        .unwrap();
    let (fetcher, clock) = fetcher(config());
    let hf = HfMirror::new(&server.base_url(), fetcher).unwrap();
    let day = NaiveDate::from_ymd_opt(2024, 3, 12).unwrap();
    let page = hf.day(day).await.unwrap();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(clock.sleeps(), [BACKOFF, BACKOFF * 2]);
    assert_eq!(page.papers.len(), 9);
    assert!(
        page.papers
            .iter()
            .all(|p| p.featured.as_ref().unwrap().date == day)
    );
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_fails_as_a_timeout() {
    let slow = Reply::Slow(Duration::from_secs(30), Box::new(Reply::ok(ATOM)));
    let server = ReplayServer::start(move |_| slow.clone()).await.unwrap();
    let (fetcher, _) = fetcher(HttpConfig {
        timeout: Duration::from_millis(200),
        retries: 1,
        ..config()
    });
    let arxiv = ArxivClient::new(&server.base_url(), fetcher).unwrap();
    let started = std::time::Instant::now();
    let err = arxiv.lookup_one(&id("2510.14968")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let message = err.to_string();
    assert!(message.contains("after 2 attempt(s)"), "{message}");
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn a_truncated_xml_page_is_a_page_error_naming_the_url_and_the_damage() {
    let cut = OAI_2[..OAI_2.len() / 2].to_vec();
    let server = ReplayServer::start(move |_| Reply::ok(cut.clone()))
        .await
        .unwrap();
    let (fetcher, _) = fetcher(config());
    let oai = OaiHarvester::new(&server.base_url(), fetcher).unwrap();
    let err = oai.next_page("1122234|1001").await.unwrap_err();
    assert!(matches!(err, FetchError::BadPage { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("resumptionToken=1122234%7C1001"),
        "{message}"
    );
    assert!(message.contains("line "), "{message}");
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let server = ReplayServer::start(|_| Reply::status(404, "no such page"))
        .await
        .unwrap();
    let (fetcher, clock) = fetcher(config());
    let hf = HfMirror::new(&server.base_url(), fetcher).unwrap();
    let err = hf
        .day(NaiveDate::from_ymd_opt(2024, 3, 12).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Refused { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no such page"));
    assert_eq!(server.requests().len(), 1);
    assert!(clock.sleeps().is_empty());
}

#[test]
fn https_without_tls_and_other_schemes_are_refused_up_front() {
    let clock = Arc::new(ManualClock::default());
    let fetcher = Arc::new(Fetcher::new(config(), clock).unwrap());
    let err = OaiHarvester::new("ftp://example.org/oai", Arc::clone(&fetcher)).unwrap_err();
    assert!(err.to_string().contains("only http(s)"), "{err}");
    let https = ArxivClient::new("https://export.arxiv.org", fetcher);
    assert_eq!(https.is_ok(), cfg!(feature = "tls"));
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused_without_reading_it_all() {
    // Announced with a length: refused before the body is read.
    let server = ReplayServer::start(|_| Reply::ok(OAI_1)).await.unwrap();
    let (small, clock) = fetcher(HttpConfig {
        max_body_bytes: 100_000,
        ..config()
    });
    let oai = OaiHarvester::new(&server.base_url(), small).unwrap();
    let err = oai.first_page(&OaiRequest::default()).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string().ends_with(
            "the answer is larger than the 100000 bytes allowed for one response; refused"
        ),
        "{err}"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "a page too large is not fetched again"
    );
    assert!(clock.sleeps().is_empty());

    // Without a length and without an end: reading stops at the limit. Before the limit, this
    // read until the timeout, holding everything.
    let server = ReplayServer::start(|_| Reply::Endless {
        chunk: vec![b' '; 64 * 1024],
    })
    .await
    .unwrap();
    let (mib, _) = fetcher(HttpConfig {
        max_body_bytes: 1 << 20,
        ..config()
    });
    let hf = HfMirror::new(&server.base_url(), mib).unwrap();
    let day = NaiveDate::from_ymd_opt(2024, 3, 12).unwrap();
    let err = hf.day(day).await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("the answer is larger than the 1 MiB allowed for one response; refused"),
        "{err}"
    );
}
