//! Operating the hub: `/metrics` in the Prometheus text format (on the main listener or its
//! own), request logs (text and `--log-format json`) that carry the request id and never a
//! query string, and shutdown on SIGTERM/SIGINT (in-flight requests finish, new connections
//! are refused, a second signal exits at once, a digest run stops between messages).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::digest::{Sink, hub_with_sample, paperfeed};
use crate::harness::Server;

/// One sample line of an exposition.
#[derive(Debug)]
pub(crate) struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: the declared type of each family, and the samples in order.
pub(crate) struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    /// Samples named `name` whose labels include every pair of `labels`.
    pub(crate) fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.find(name, labels);
        assert_eq!(found.len(), 1, "one {name} {labels:?}: {found:?}");
        found[0].value
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the Prometheus text format (0.0.4) strictly: every line a HELP, a TYPE or a sample;
/// names and label names well-formed, label values correctly escaped, values numbers; every
/// sample of a declared family, declared before it; no series twice. Panics naming the line.
fn parse_exposition(text: &str) -> Exposition {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    let mut seen = std::collections::HashSet::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, tail) = (parts.next(), parts.next(), parts.next());
            let name = name.unwrap_or_else(|| panic!("line {n}: {line}"));
            assert!(is_metric_name(name), "line {n}: bad name in {line}");
            match kind {
                Some("HELP") => assert!(tail.is_some(), "line {n}: HELP without text"),
                Some("TYPE") => {
                    let kind = tail.unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "line {n}: type {kind:?}"
                    );
                    assert!(
                        types.insert(name.to_owned(), kind.to_owned()).is_none(),
                        "line {n}: {name} typed twice"
                    );
                }
                _ => panic!("line {n}: unknown comment {line}"),
            }
            continue;
        }
        assert!(!line.starts_with('#'), "line {n}: {line}");
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        assert!(is_metric_name(name), "line {n}: bad name in {line}");
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(after) = rest.strip_prefix('{') {
            let mut chars = after.char_indices().peekable();
            let end = loop {
                let (start, c) = chars.next().unwrap_or_else(|| panic!("line {n}: open {{"));
                if c == '}' {
                    break start;
                }
                if c == ',' {
                    continue;
                }
                let key_end = after[start..].find('=').unwrap() + start;
                let key = &after[start..key_end];
                assert!(
                    is_metric_name(key) && !key.contains(':'),
                    "line {n}: label name {key:?}"
                );
                while chars.peek().is_some_and(|&(i, _)| i < key_end) {
                    chars.next();
                }
                assert_eq!(chars.next().map(|x| x.1), Some('='), "line {n}");
                assert_eq!(chars.next().map(|x| x.1), Some('"'), "line {n}");
                let mut value = String::new();
                loop {
                    match chars.next().map(|x| x.1) {
                        Some('"') => break,
                        Some('\\') => match chars.next().map(|x| x.1) {
                            Some('\\') => value.push('\\'),
                            Some('"') => value.push('"'),
                            Some('n') => value.push('\n'),
                            other => panic!("line {n}: bad escape {other:?}"),
                        },
                        Some(c) => value.push(c),
                        None => panic!("line {n}: unterminated label value"),
                    }
                }
                assert!(
                    labels.insert(key.to_owned(), value).is_none(),
                    "line {n}: label {key} twice"
                );
            };
            rest = &after[end + 1..];
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("line {n}: no value in {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("line {n}: value {v:?} (timestamps are not sent)")),
        };
        let family = [
            ("_bucket", "histogram"),
            ("_sum", "histogram"),
            ("_count", "histogram"),
        ]
        .iter()
        .find_map(|(suffix, kind)| {
            name.strip_suffix(suffix)
                .filter(|f| types.get(*f).is_some_and(|t| t == kind))
        })
        .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "line {n}: {name} before (or without) its TYPE"
        );
        assert!(
            seen.insert(format!("{name}{labels:?}")),
            "line {n}: series twice: {line}"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    let exposition = Exposition { types, samples };
    check_histograms(&exposition);
    exposition
}

/// Every histogram series: buckets by rising `le`, cumulative counts that never fall, a
/// `+Inf` bucket equal to `_count`, and a `_sum`.
fn check_histograms(exposition: &Exposition) {
    for (family, _) in exposition.types.iter().filter(|(_, t)| *t == "histogram") {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for s in exposition.find(&format!("{family}_bucket"), &[]) {
            let mut labels = s.labels.clone();
            let le = labels.remove("le").expect("a bucket has le");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            series
                .entry(format!("{labels:?}"))
                .or_default()
                .push((le, s.value));
        }
        for (labels, buckets) in series {
            assert!(buckets.len() >= 2, "{family}{labels}: buckets");
            for pair in buckets.windows(2) {
                assert!(pair[0].0 < pair[1].0, "{family}{labels}: le rises");
                assert!(pair[0].1 <= pair[1].1, "{family}{labels}: counts cumulate");
            }
            let (le, inf) = *buckets.last().unwrap();
            assert!(le.is_infinite(), "{family}{labels}: ends with +Inf");
            let count = exposition
                .samples
                .iter()
                .find(|s| {
                    s.name == format!("{family}_count") && format!("{:?}", s.labels) == labels
                })
                .unwrap_or_else(|| panic!("{family}{labels}: no _count"));
            assert_eq!(count.value, inf, "{family}{labels}: +Inf = _count");
            assert!(
                exposition
                    .samples
                    .iter()
                    .any(|s| s.name == format!("{family}_sum")
                        && format!("{:?}", s.labels) == labels),
                "{family}{labels}: no _sum"
            );
        }
    }
}

pub(crate) async fn scrape(url: &str) -> (reqwest::header::HeaderMap, Exposition) {
    let resp = reqwest::Client::new()
        .get(url)
        // A scrape answers in full even to a client holding a copy.
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let headers = resp.headers().clone();
    (headers, parse_exposition(&resp.text().await.unwrap()))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_per_matched_route_and_parse_as_prometheus_text() {
    let server = Server::start();
    server.wait_for_index(false).await;
    for path in [
        "/",
        "/",
        "/papers/2608.19880",
        "/no/such/page/123",
        "/healthz",
    ] {
        server.get(path).await;
    }
    let (headers, metrics) = scrape(&server.url("/metrics")).await;
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.get("etag").is_none(), "a scrape is never validated");
    assert!(headers.get("last-modified").is_none());

    let requests = "paperfeed_http_requests_total";
    let ok_home = [("route", "/"), ("method", "GET"), ("status", "200")];
    assert_eq!(metrics.value(requests, &ok_home), 2.0);
    assert_eq!(
        metrics.value(requests, &[("route", "/papers/{*id}"), ("status", "200")]),
        1.0,
        "the matched route, not the paper's path"
    );
    assert_eq!(
        metrics.value(requests, &[("route", "unmatched"), ("status", "404")]),
        1.0
    );
    assert!(
        metrics
            .samples
            .iter()
            .all(|s| !s.labels.values().any(|v| v.contains("no/such"))),
        "raw paths never become labels"
    );
    let buckets = metrics.find("paperfeed_http_request_duration_seconds_bucket", &ok_home);
    assert!(buckets.len() > 5, "{buckets:?}");
    assert_eq!(
        metrics.value("paperfeed_http_request_duration_seconds_count", &ok_home),
        2.0
    );
    assert!(metrics.value("paperfeed_store_papers", &[]) >= 100.0);
    assert_eq!(
        metrics.value("paperfeed_index_documents", &[]),
        metrics.value("paperfeed_store_papers", &[]),
        "the index has caught up"
    );
    assert_eq!(metrics.value("paperfeed_semantic_search_enabled", &[]), 0.0);
    assert_eq!(
        metrics.value(
            "paperfeed_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    for frequency in ["daily", "weekly"] {
        for state in ["queued", "claimed", "sent", "failed"] {
            assert_eq!(
                metrics.value(
                    "paperfeed_digest_jobs",
                    &[("frequency", frequency), ("state", state)]
                ),
                0.0
            );
        }
    }
    // The scrape counted itself: in flight while it was answered.
    let (_, again) = scrape(&server.url("/metrics")).await;
    assert_eq!(
        again.value(requests, &[("route", "/metrics"), ("status", "200")]),
        1.0
    );
    assert_eq!(again.value("paperfeed_http_requests_in_flight", &[]), 1.0);

    // The default text log: one line per request, with its id and route.
    let line = server
        .wait_for_log_line(&["request answered", "http.route=/papers/{*id}"])
        .await;
    assert!(line.contains("request.id="), "{line}");
    assert!(line.contains("http.status=200"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_bind_serves_metrics_on_their_own_listener_and_not_on_the_main_one() {
    let server = Server::start_with(
        &["--metrics-bind", "127.0.0.1:0"],
        tempfile::tempdir().unwrap(),
    );
    let metrics_url = server
        .announced
        .iter()
        .find_map(|l| l.strip_prefix("metrics on "))
        .expect("serve names the metrics address")
        .to_owned();
    assert_ne!(metrics_url, server.url("/metrics"), "a listener of its own");
    let (status, _) = server.get("/metrics").await;
    assert_eq!(status, 404, "the public listener has no /metrics");
    server.get("/").await;
    let (_, metrics) = scrape(&metrics_url).await;
    // One registry: the main listener's requests are counted there.
    assert_eq!(
        metrics.value(
            "paperfeed_http_requests_total",
            &[("route", "/"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        metrics.value(
            "paperfeed_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
}

fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect()
}

/// The fields of the request span a JSON log line was emitted in, if any.
fn http_span(line: &serde_json::Value) -> Option<&serde_json::Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == "http")
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_the_request_id_on_every_line_of_a_request_and_never_a_query_string() {
    let server = Server::start_with(&["--log-format", "json"], tempfile::tempdir().unwrap());
    let http = reqwest::Client::new();
    let resp = http
        .get(server.url("/unsubscribe?t=SECRETLINKTOKEN42.abc"))
        .header("x-request-id", "ops-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "ops-test-1");
    let status = resp.status().as_u16();
    // A client's id that is not plain (here: an address) is replaced, never logged.
    let resp = http
        .get(server.url("/"))
        .header("x-request-id", "eve@example.test")
        .send()
        .await
        .unwrap();
    let given = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(given, "eve@example.test");
    assert_eq!(given.len(), 8, "a counter id: {given}");

    server
        .wait_for_log_line(&["request answered", &format!("\"{given}\"")])
        .await;
    let log = server.log();
    assert!(!log.contains("SECRETLINKTOKEN42"), "{log}");
    assert!(!log.contains("eve@example.test"), "{log}");
    let lines = json_lines(&log);
    let answered: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request answered")
        .filter(|l| http_span(l).is_some_and(|s| s["request.id"] == "ops-test-1"))
        .collect();
    assert_eq!(answered.len(), 1, "one access line per request: {log}");
    let line = answered[0];
    let span = http_span(line).unwrap();
    assert_eq!(span["http.method"], "GET");
    assert_eq!(
        span["http.path"], "/unsubscribe",
        "the path without its query"
    );
    assert_eq!(span["http.route"], "/unsubscribe");
    assert_eq!(line["fields"]["http.status"], status);
    assert!(line["fields"]["duration_ms"].as_f64().is_some(), "{line}");
    // Every line logged inside a request names it.
    for l in &lines {
        if let Some(span) = http_span(l) {
            assert!(span["request.id"].is_string(), "{l}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_confirmation_mail_is_counted_and_logged_with_the_request_id_but_not_the_address()
{
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(mail.path(), &["--reject-rcpt", "bounce"]) else {
        return;
    };
    let smtp = std::ffi::OsString::from(sink.url());
    let server = Server::start_with_env(
        &["--log-format", "json"],
        tempfile::tempdir().unwrap(),
        &[("PAPERFEED_SMTP_URL", &smtp)],
    );
    let http = reqwest::Client::new();
    let page = http.get(server.url("/subscribe")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    crate::harness::register_secret(&csrf);
    let resp = http
        .post(server.url("/subscribe"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-request-id", "ops-bounce-1")
        .body(format!(
            "csrf={csrf}&email=bounce%40example.test&frequency=daily"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the same answer for every address");

    let (_, metrics) = scrape(&server.url("/metrics")).await;
    assert_eq!(
        metrics.value("paperfeed_smtp_failures_total", &[("kind", "permanent")]),
        1.0
    );
    server
        .wait_for_log_line(&["confirmation mail not sent", "ops-bounce-1"])
        .await;
    let log = server.log();
    let warning = json_lines(&log)
        .into_iter()
        .find(|l| l["fields"]["message"] == "confirmation mail not sent")
        .unwrap();
    assert_eq!(http_span(&warning).unwrap()["request.id"], "ops-bounce-1");
    assert!(warning["fields"]["subscriber.id"].is_number(), "{warning}");
    assert!(!log.contains("bounce@"), "{log}");
}

/// A POST whose body arrives only when the test says: a request in flight for as long as the
/// test wants.
struct SlowRequest {
    stream: TcpStream,
    rest: &'static [u8],
}

impl SlowRequest {
    fn start(server: &Server) -> Self {
        let body: &'static [u8] = b"csrf=none&username=nobody&password=wrong";
        let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
        write!(
            stream,
            "POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body[..8]).unwrap();
        stream.flush().unwrap();
        Self {
            stream,
            rest: &body[8..],
        }
    }

    /// Sends the rest of the body and reads the whole answer.
    fn finish(mut self) -> String {
        self.stream.write_all(self.rest).unwrap();
        self.stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut answer = String::new();
        self.stream.read_to_string(&mut answer).unwrap();
        answer
    }
}

/// Waits until the server counts `n` requests in flight besides the scrape asking.
async fn wait_in_flight(server: &Server, n: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, metrics) = scrape(&server.url("/metrics")).await;
        if metrics.value("paperfeed_http_requests_in_flight", &[]) - 1.0 >= n {
            return;
        }
        assert!(Instant::now() < deadline, "the slow request never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_request_in_flight_refuses_new_connections_and_exits_zero() {
    let mut server = Server::start();
    let slow = SlowRequest::start(&server);
    wait_in_flight(&server, 1.0).await;

    server.signal("TERM");
    server
        .wait_for_log_line(&["waiting for in-flight requests", "requests=1"])
        .await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.wait_exit(Duration::from_millis(500)).is_none(),
        "it waits for the request in flight"
    );

    let answer = slow.finish();
    assert!(
        answer.starts_with("HTTP/1.1 403"),
        "the request in flight is answered (its CSRF token is wrong: 403): {answer}"
    );
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("exits once the request is done");
    assert!(status.success(), "{status:?}");
    let log = server.log();
    assert!(log.contains("in-flight requests finished"), "{log}");
    assert!(log.contains("background task finished"), "{log}");
    assert!(log.contains("paperfeed stopped"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_outlasts_the_grace_period_is_abandoned_and_the_process_still_exits() {
    let mut server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[("PAPERFEED_SERVE__SHUTDOWN_GRACE_SECONDS", "1".as_ref())],
    );
    let _slow = SlowRequest::start(&server);
    wait_in_flight(&server, 1.0).await;
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("exits after the grace period");
    assert!(status.success(), "{status:?}");
    assert!(
        server
            .log()
            .contains("requests still in flight at the shutdown deadline"),
        "{}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_exits_at_once_with_status_130() {
    let mut server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[("PAPERFEED_SERVE__SHUTDOWN_GRACE_SECONDS", "600".as_ref())],
    );
    let _slow = SlowRequest::start(&server);
    wait_in_flight(&server, 1.0).await;
    server.signal("INT");
    server
        .wait_for_log_line(&["waiting for in-flight requests"])
        .await;
    assert!(
        server.wait_exit(Duration::from_millis(500)).is_none(),
        "the first signal waits for the request (up to 600 s)"
    );
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the second signal does not wait");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(server.log().contains("second signal"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_a_digest_run_between_messages_and_leaves_no_job_claimed() {
    let mail = tempfile::tempdir().unwrap();
    // Each message takes the server half a second: the run is still busy when stopped.
    let Some(sink) = Sink::start(mail.path(), &["--delay", "0.5"]) else {
        return;
    };
    let data = hub_with_sample();
    let data = data.path();
    let subscribers: Vec<String> = (0..16)
        .map(|i| format!("stop{i:02}@example.test"))
        .collect();
    for email in &subscribers {
        crate::digest::run_ok(paperfeed(
            data,
            &sink,
            &["subscriber", "add", email, "--confirmed"],
        ));
    }
    let run = paperfeed(data, &sink, &["digest", "run", "--date", "2026-08-21"])
        .env("PAPERFEED_MAIL__WORKERS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.received().values().map(Vec::len).sum::<usize>() < 2 {
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = run.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?} {stdout}", out.status);
    assert!(stdout.contains("stopped early"), "{stdout}");
    let sent_before = sink.received().values().map(Vec::len).sum::<usize>();
    assert!(
        sent_before < subscribers.len(),
        "stopped midway: {sent_before} sent"
    );

    // Nothing was left claimed: a rerun (leases of 5 minutes) sends every other digest now.
    let out = crate::digest::run_ok(paperfeed(
        data,
        &sink,
        &["digest", "run", "--date", "2026-08-21"],
    ));
    assert!(
        out.contains(&format!(
            "period total: {} sent, 0 waiting",
            subscribers.len()
        )),
        "{out}"
    );
    let received = sink.received();
    for email in &subscribers {
        assert_eq!(
            received.get(email).map_or(0, Vec::len),
            1,
            "{email}: one digest, none twice"
        );
    }
}

#[test]
fn the_metrics_address_and_the_grace_period_are_layered_settings_checked_at_start() {
    let out = crate::harness::bin()
        .env("PAPERFEED_SERVE__METRICS_BIND", "127.0.0.1:9100")
        .env("PAPERFEED_SERVE__SHUTDOWN_GRACE_SECONDS", "30")
        .arg("config")
        .output()
        .unwrap();
    let toml = crate::harness::text(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        crate::harness::text(&out.stderr)
    );
    assert!(toml.contains("metrics_bind = \"127.0.0.1:9100\""), "{toml}");
    assert!(toml.contains("shutdown_grace_seconds = 30"), "{toml}");

    let out = crate::harness::bin()
        .env("PAPERFEED_SERVE__SHUTDOWN_GRACE_SECONDS", "86400")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        crate::harness::text(&out.stderr)
            .contains("serve.shutdown_grace_seconds must be at most 3600"),
        "{}",
        crate::harness::text(&out.stderr)
    );
    let out = crate::harness::bin()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:8123",
            "--metrics-bind",
            "127.0.0.1:8123",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        crate::harness::text(&out.stderr).contains("must differ from serve.bind"),
        "{}",
        crate::harness::text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_jobs_of_the_current_period_are_gauges_read_at_scrape_time() {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(mail.path(), &[]) else {
        return;
    };
    let hub = hub_with_sample();
    let data = hub.path().to_owned();
    for email in ["gauge1@example.test", "gauge2@example.test"] {
        crate::digest::run_ok(paperfeed(
            &data,
            &sink,
            &["subscriber", "add", email, "--confirmed"],
        ));
    }
    let smtp = std::ffi::OsString::from(sink.url());
    let server = Server::start_with_env(&["--no-sample"], hub, &[("PAPERFEED_SMTP_URL", &smtp)]);
    let jobs = |metrics: &Exposition, state| {
        metrics.value(
            "paperfeed_digest_jobs",
            &[("frequency", "daily"), ("state", state)],
        )
    };
    let (_, before) = scrape(&server.url("/metrics")).await;
    assert_eq!(jobs(&before, "queued") + jobs(&before, "sent"), 0.0);
    // Today's daily run (no --date: the period the gauges report), from another process.
    crate::digest::run_ok(paperfeed(&data, &sink, &["digest", "run"]));
    let (_, after) = scrape(&server.url("/metrics")).await;
    let total: f64 = ["queued", "claimed", "sent", "failed"]
        .iter()
        .map(|s| jobs(&after, s))
        .sum();
    assert_eq!(total, 2.0, "one job per confirmed daily subscriber");
    assert_eq!(jobs(&after, "queued") + jobs(&after, "claimed"), 0.0);
}

/// A connection that sends the start of a request and then nothing (slowloris).
fn half_sent_request(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n")
        .unwrap();
    stream
}

/// How long until the server closes `stream` (reads return end of file or a reset), reading
/// for at most `limit`; `None` when it was still open then.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => Some(started.elapsed()),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => {
            Some(started.elapsed())
        }
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_requests_are_closed_after_the_header_timeout_and_cannot_starve_the_server() {
    let server = Server::start_with_env(
        &["--no-sample"],
        tempfile::tempdir().unwrap(),
        &[
            ("PAPERFEED_SERVE__HEADER_READ_TIMEOUT_SECONDS", "2".as_ref()),
            ("PAPERFEED_SERVE__IDLE_TIMEOUT_SECONDS", "30".as_ref()),
            ("PAPERFEED_SERVE__MAX_CONNECTIONS", "8".as_ref()),
        ],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Five times the connection limit, all stuck in their headers.
    let mut slow: Vec<TcpStream> = (0..40).map(|_| half_sent_request(&addr)).collect();

    // A normal request waits for a free connection, but not for ever: the stuck ones are
    // closed after the header timeout and the queue moves on.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let resp = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("a normal request is answered while slow clients hold the connections");
    assert_eq!(resp.status(), 200);
    server
        .wait_for_log_line(&["connection limit reached", "max_connections=8"])
        .await;

    // The first stuck connection was accepted at once: it is closed about 2 s in, not held.
    let closed = closed_within(&mut slow[0], Duration::from_secs(30));
    assert!(
        closed.is_some(),
        "a half-sent request was still open after 30 s"
    );
    // A fresh one is closed after the header timeout too (and not at once).
    let mut fresh = half_sent_request(&addr);
    let started = Instant::now();
    let closed = closed_within(&mut fresh, Duration::from_secs(30));
    assert!(
        closed.is_some(),
        "a half-sent request was still open after 30 s"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed before its header timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_connection_waits_for_its_next_request_until_the_idle_timeout() {
    let server = Server::start_with_env(
        &["--no-sample"],
        tempfile::tempdir().unwrap(),
        &[
            ("PAPERFEED_SERVE__HEADER_READ_TIMEOUT_SECONDS", "1".as_ref()),
            ("PAPERFEED_SERVE__IDLE_TIMEOUT_SECONDS", "4".as_ref()),
        ],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let body = r#"{"status":"ok"}"#;
    let read_answer = |stream: &mut TcpStream| {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).ends_with(body) {
            let n = stream.read(&mut buf).unwrap();
            assert!(
                n > 0,
                "closed mid-answer: {}",
                String::from_utf8_lossy(&answer)
            );
            answer.extend_from_slice(&buf[..n]);
        }
    };
    stream.write_all(request).unwrap();
    read_answer(&mut stream);
    // Longer than the header timeout between requests: still open, the next one is answered.
    std::thread::sleep(Duration::from_millis(2500));
    stream.write_all(request).unwrap();
    read_answer(&mut stream);
    // Idle past the idle timeout: closed by the server.
    let started = Instant::now();
    let closed = closed_within(&mut stream, Duration::from_secs(30));
    assert!(
        closed.is_some(),
        "an idle connection was still open after 30 s"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "closed before its idle timeout: {:?}",
        started.elapsed()
    );
}

/// The paper only the Atom fixture has, a phrase of its title, and the fixture.
const ATOM_PAPER: &str = "2510.14968";
const ATOM_QUERY: &str = "/papers?q=Retrieval-Based+Demonstration+Decomposer&mode=keyword";
const ATOM: &str =
    "crates/paperfeed-ingest/tests/fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml";

async fn wait_until_found(server: &Server, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, html) = server.get(ATOM_QUERY).await;
        if status == 200 && html.contains(ATOM_PAPER) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the ingested paper never became searchable (status {status})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn readiness(server: &Server) -> (u16, serde_json::Value) {
    let (status, body) = server.get("/readyz").await;
    (status, serde_json::from_str(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_index_folder_is_recreated_and_new_papers_become_searchable_without_restart() {
    let server = Server::start();
    server.wait_for_index(false).await;
    let index = server.data_dir().join("index").join("keyword");
    std::fs::remove_dir_all(&index).unwrap();
    let atom = crate::harness::fixture(ATOM);
    assert!(
        crate::harness::ingest(server.data_dir(), &[atom.to_str().unwrap()])
            .status
            .success()
    );
    wait_until_found(&server, "after the index folder was deleted").await;
    assert!(index.join("meta.json").is_file(), "the index was recreated");
    server
        .wait_for_log_line(&["search index folder was gone"])
        .await;
    // The sample's papers are back in it too.
    let (status, html) = server.get("/papers?q=diffusion&mode=keyword").await;
    assert_eq!(status, 200);
    assert!(!html.contains("No papers match"), "{html}");
    assert_eq!(readiness(&server).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_is_503_with_the_reason_while_the_index_cannot_be_written_and_it_heals_after() {
    let server = Server::start();
    server.wait_for_index(false).await;
    assert_eq!(readiness(&server).await.0, 200);
    // A file where the index folder was: writes fail, even for root (who ignores modes).
    let index = server.data_dir().join("index").join("keyword");
    std::fs::remove_dir_all(&index).unwrap();
    std::fs::write(&index, b"not a folder").unwrap();
    let atom = crate::harness::fixture(ATOM);
    assert!(
        crate::harness::ingest(server.data_dir(), &[atom.to_str().unwrap()])
            .status
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let reason = loop {
        let (status, ready) = readiness(&server).await;
        if status == 503 {
            break ready["reason"].as_str().unwrap_or_default().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "still ready with a broken index: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(reason.contains("search index"), "{reason}");
    assert!(
        !reason.contains(server.data_dir().to_str().unwrap()),
        "no host paths in a public answer: {reason}"
    );
    // Writable again: retried without a new store write, the paper becomes searchable.
    std::fs::remove_file(&index).unwrap();
    wait_until_found(&server, "after the index folder came back").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, ready) = readiness(&server).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never ready again: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
        .wait_for_log_line(&["indexing failed; retrying"])
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_connection_limit_connections_holding_a_slot_without_use_make_room() {
    // Timeouts far longer than the client below waits: only making room can answer it.
    let server = Server::start_with_env(
        &["--no-sample"],
        tempfile::tempdir().unwrap(),
        &[
            (
                "PAPERFEED_SERVE__HEADER_READ_TIMEOUT_SECONDS",
                "120".as_ref(),
            ),
            ("PAPERFEED_SERVE__IDLE_TIMEOUT_SECONDS", "120".as_ref()),
            ("PAPERFEED_SERVE__MAX_CONNECTIONS", "8".as_ref()),
        ],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Kept-alive connections that got their answer and sit idle, and half-sent requests.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 1024];
        assert!(stream.read(&mut buf).unwrap() > 0);
        held.push(stream);
    }
    held.extend((0..36).map(|_| half_sent_request(&addr)));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let resp = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("answered long before any timeout frees a connection");
    assert_eq!(resp.status(), 200);
    // The idle kept-alive connections were among those closed.
    let closed = closed_within(&mut held[0], Duration::from_secs(30));
    assert!(closed.is_some(), "an idle connection kept its slot");
}
