//! Email digests delivered to a real SMTP server on loopback (aiosmtpd, `scripts/smtp-sink`),
//! run by the real `paperfeed digest run`, killed with SIGKILL midway and run again.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{bin, fixture, ingest, register_secret, text, workspace_root};

/// The SMTP server, killed when dropped.
pub(crate) struct Sink {
    child: Child,
    port: u16,
    folder: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    /// Starts the sink, or `None` (a loud skip) outside CI when aiosmtpd is not installed.
    pub(crate) fn start(folder: &Path, extra: &[&str]) -> Option<Sink> {
        let python = workspace_root().join("target/tools/hf-venv/bin/python");
        let ready = python.is_file()
            && Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success());
        if !ready {
            assert!(
                std::env::var_os("CI").is_none(),
                "aiosmtpd is required in CI: scripts/ensure-test-deps installs it"
            );
            eprintln!("SKIPPED: aiosmtpd not installed (run scripts/ensure-test-deps)");
            return None;
        }
        let mut child = Command::new(python)
            .arg(workspace_root().join("scripts/smtp-sink"))
            .arg(folder)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap()
            .parse()
            .unwrap();
        Some(Sink {
            child,
            port,
            folder: folder.to_owned(),
        })
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every accepted message, by recipient.
    pub(crate) fn received(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_rcpt: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in std::fs::read_dir(&self.folder).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                let raw = std::fs::read_to_string(&path).unwrap();
                let rcpt = raw
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("X-Envelope-To: "))
                    .unwrap()
                    .to_owned();
                by_rcpt.entry(rcpt).or_default().push(raw);
            }
        }
        by_rcpt
    }
}

pub(crate) fn paperfeed(data: &Path, sink: &Sink, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.arg("--data-dir")
        .arg(data)
        .env("PAPERFEED_SMTP_URL", sink.url())
        .env("PAPERFEED_SERVE__PUBLIC_URL", "https://papers.example.test")
        .args(args);
    cmd
}

pub(crate) fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

pub(crate) fn hub_with_sample() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let out = ingest(
        data.path(),
        &[fixture("sample/hf_daily_papers").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    data
}

fn add(data: &Path, sink: &Sink, email: &str, extra: &[&str]) {
    let mut args = vec!["subscriber", "add", email];
    args.extend_from_slice(extra);
    run_ok(paperfeed(data, sink, &args));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_run_mails_each_confirmed_subscriber_once_and_one_click_unsubscribes() {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(mail.path(), &["--reject-rcpt", "bounce"]) else {
        return;
    };
    let data = hub_with_sample();
    let data = data.path();
    add(data, &sink, "ada@example.test", &["--confirmed"]);
    add(
        data,
        &sink,
        "agents@example.test",
        &["--confirmed", "--topic", "agent"],
    );
    add(data, &sink, "pending@example.test", &[]);
    add(data, &sink, "bounce@example.test", &["--confirmed"]);
    add(
        data,
        &sink,
        "weekly@example.test",
        &["--confirmed", "--frequency", "weekly"],
    );
    let bad = paperfeed(data, &sink, &["subscriber", "add", "not-an-address"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("not an email address"),
        "{}",
        text(&bad.stderr)
    );

    let dry = run_ok(paperfeed(
        data,
        &sink,
        &["digest", "run", "--date", "2026-08-21", "--dry-run"],
    ));
    assert!(dry.contains("nothing queued or sent"), "{dry}");
    assert!(sink.received().is_empty(), "a dry run sends nothing");

    let out = run_ok(paperfeed(
        data,
        &sink,
        &["digest", "run", "--date", "2026-08-21"],
    ));
    assert!(out.contains("this run sent 2"), "{out}");
    let received = sink.received();
    assert_eq!(
        received.keys().collect::<Vec<_>>(),
        ["ada@example.test", "agents@example.test"],
        "confirmed daily subscribers only; the bounce was refused"
    );
    let ada = &received["ada@example.test"][0];
    assert!(ada.contains("List-Unsubscribe: <https://papers.example.test/unsubscribe?t="));
    assert!(ada.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(ada.contains("multipart/alternative"));
    assert!(
        ada.contains("Subject: Daily Papers: 10 trending papers"),
        "{ada}"
    );
    assert!(
        ada.contains("EnvHarness"),
        "the most upvoted paper of the day"
    );
    let agents = &received["agents@example.test"][0];
    assert!(agents.to_lowercase().contains("agent"));

    // Again, and for the next day: nothing twice, only papers not mailed before.
    let again = run_ok(paperfeed(
        data,
        &sink,
        &["digest", "run", "--date", "2026-08-21"],
    ));
    assert!(again.contains("queued 0 new jobs"), "{again}");
    assert_eq!(sink.received().values().map(Vec::len).sum::<usize>(), 2);
    run_ok(paperfeed(
        data,
        &sink,
        &["digest", "run", "--date", "2026-08-22"],
    ));
    let received = sink.received();
    let next_day = received["ada@example.test"]
        .iter()
        .find(|m| m.contains("Aug 22, 2026"))
        .expect("a digest for the next day, with the papers not mailed yet");
    assert!(
        !next_day.contains("EnvHarness"),
        "a paper is never mailed twice"
    );
}

/// Total messages the sink accepted.
fn total(sink: &Sink) -> usize {
    sink.received().values().map(Vec::len).sum()
}

/// Each of `subscribers` got exactly one digest (one distinct Message-ID); returns how many
/// physical repeats there were. A message the server accepted in the last milliseconds before
/// a kill, before the run recorded it as sent, is sent again: no sender can know. It carries
/// the same Message-ID, so the receiving side sees one digest.
pub(crate) fn one_digest_each(sink: &Sink, subscribers: &[String]) -> usize {
    let received = sink.received();
    let mut repeats = 0;
    for email in subscribers {
        let copies = received.get(email).map(Vec::as_slice).unwrap_or_default();
        let ids: std::collections::BTreeSet<&str> = copies
            .iter()
            .map(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("Message-ID: "))
                    .expect("every digest has a Message-ID")
            })
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "{email} gets exactly one digest for the period"
        );
        repeats += copies.len() - 1;
    }
    repeats
}

#[test]
fn a_digest_run_killed_midway_completes_on_an_immediate_rerun_with_exactly_one_mail_each() {
    let mail = tempfile::tempdir().unwrap();
    // Each message takes 0.2 s to be accepted: the run is still sending when it is killed.
    let Some(sink) = Sink::start(mail.path(), &["--delay", "0.2"]) else {
        return;
    };
    let data = hub_with_sample();
    let data = data.path();
    let subscribers: Vec<String> = (0..40)
        .map(|i| format!("reader{i:02}@example.test"))
        .collect();
    for email in &subscribers {
        add(data, &sink, email, &["--confirmed"]);
    }
    // The default lease (5 minutes): only the dead run's lock going with it frees its jobs.
    let mut run = paperfeed(data, &sink, &["digest", "run", "--date", "2026-08-21"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while total(&sink) < 8 {
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap(); // SIGKILL: no cleanup; its claimed jobs stay claimed, leased 5 minutes
    run.wait().unwrap();
    let before = total(&sink);
    assert!(before < subscribers.len(), "killed midway: {before} sent");

    // At once: the rerun takes over the dead run's claims and sends everything left.
    let out = run_ok(paperfeed(
        data,
        &sink,
        &["digest", "run", "--date", "2026-08-21"],
    ));
    assert!(out.contains("queued 0 new jobs"), "{out}");
    assert!(
        out.contains(&format!(
            "period total: {} sent, 0 waiting",
            subscribers.len()
        )),
        "{out}"
    );
    let repeats = one_digest_each(&sink, &subscribers);
    assert!(
        repeats <= 4,
        "only messages in flight at the kill can repeat: {repeats}"
    );
}

#[test]
fn a_digest_run_while_another_is_alive_says_so_and_exits_non_zero() {
    let mail = tempfile::tempdir().unwrap();
    // Each message takes 10 s to be accepted: the first run holds all four jobs a while.
    let Some(sink) = Sink::start(mail.path(), &["--delay", "10"]) else {
        return;
    };
    let data = hub_with_sample();
    let data = data.path();
    let subscribers: Vec<String> = (0..4).map(|i| format!("patient{i}@example.test")).collect();
    for email in &subscribers {
        add(data, &sink, email, &["--confirmed"]);
    }
    let store = paperfeed_store::SqliteStore::open(&data.join("paperfeed.sqlite3")).unwrap();
    a_second_run_while_the_first_is_alive_fails(
        || paperfeed(data, &sink, &["digest", "run", "--date", "2026-08-21"]),
        &store,
        &sink,
        &subscribers,
    );
}

/// Starts a run of 2026-08-21 (`run()`) for four `subscribers` against a slow `sink`, waits
/// until its four workers hold the four jobs (read in `store`), then runs again: the second
/// run sends nothing, names the first and exits non-zero; the first finishes them, exit 0.
pub(crate) fn a_second_run_while_the_first_is_alive_fails(
    run: impl Fn() -> Command,
    store: &dyn paperfeed_store::MailStore,
    sink: &Sink,
    subscribers: &[String],
) {
    assert_eq!(subscribers.len(), 4, "one job per worker");
    let first = run()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = runtime.block_on(store.digest_counts("2026-08-21")).unwrap();
        if counts.claimed == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first run never claimed: {counts:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let second = run().output().unwrap();
    let (out, err) = (text(&second.stdout), text(&second.stderr));
    assert!(!second.status.success(), "{out}\n{err}");
    assert!(out.contains("this run sent 0"), "{out}");
    assert!(
        err.contains("4 digests of 2026-08-21 are held by another digest run that is still alive")
            && err.contains(&format!("digest run, pid {}", first.id())),
        "{err}"
    );

    let first = first.wait_with_output().unwrap();
    let first_out = text(&first.stdout);
    assert!(
        first.status.success(),
        "{first_out}\n{}",
        text(&first.stderr)
    );
    assert!(
        first_out.contains("period total: 4 sent, 0 waiting"),
        "{first_out}"
    );
    assert_eq!(one_digest_each(sink, subscribers), 0);
}

/// A copy of the sample's latest day featured today (UTC) instead, so the current periods of
/// `serve`'s scheduler have papers: returns the folder holding it.
fn papers_featured_today() -> tempfile::TempDir {
    let source = fixture("sample/hf_daily_papers/2026-08-21.json");
    let mut entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
    let today = chrono::Utc::now().date_naive();
    let at = format!("{today}T00:00:00.000Z");
    for entry in entries.as_array_mut().unwrap() {
        entry["publishedAt"] = at.clone().into();
        entry["paper"]["submittedOnDailyAt"] = at.clone().into();
    }
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join(format!("{today}.json")),
        serde_json::to_string(&entries).unwrap(),
    )
    .unwrap();
    folder
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_sends_at_start_what_a_killed_digest_run_left_unsent() {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(mail.path(), &["--delay", "0.3"]) else {
        return;
    };
    let hub = tempfile::tempdir().unwrap();
    let today = papers_featured_today();
    let out = ingest(hub.path(), &[today.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let subscribers: Vec<String> = (0..12)
        .map(|i| format!("early{i:02}@example.test"))
        .collect();
    for email in &subscribers {
        add(hub.path(), &sink, email, &["--confirmed"]);
    }
    // Today's run (no --date), killed after a few messages.
    let mut run = paperfeed(hub.path(), &sink, &["digest", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while total(&sink) < 2 {
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    let before = total(&sink);
    assert!(before < subscribers.len(), "killed midway: {before} sent");

    // A node starts with the scheduler on, its hour far off: its first sweep sends the rest.
    // The same public URL as the run's, so a message re-sent has the same Message-ID.
    let hour = (chrono::Timelike::hour(&chrono::Utc::now()) + 12) % 24;
    let smtp = std::ffi::OsString::from(sink.url());
    let hour = std::ffi::OsString::from(hour.to_string());
    let public_url = std::ffi::OsString::from("https://papers.example.test");
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let _server = crate::harness::Server::start_logged(
        &["--no-sample"],
        hub,
        &[
            ("PAPERFEED_SMTP_URL", &smtp),
            ("PAPERFEED_MAIL__SCHEDULE_HOUR", &hour),
            ("PAPERFEED_SERVE__PUBLIC_URL", &public_url),
        ],
        std::fs::File::create(&log).unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.received().len() < subscribers.len() {
        assert!(
            Instant::now() < deadline,
            "serve never sent the rest: {} of {} subscribers have a digest",
            sink.received().len(),
            subscribers.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let repeats = one_digest_each(&sink, &subscribers);
    assert!(
        repeats <= 4,
        "only messages in flight at the kill can repeat: {repeats}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&log).unwrap();
        if log.contains("sent digests earlier runs left unsent") {
            break;
        }
        assert!(Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The plain-text part of a mail as written on the wire, with quoted-printable undone enough
/// to read links: soft line breaks joined and `=3D` back to `=`.
pub(crate) fn readable(raw: &str) -> String {
    raw.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The path and query of the first `marker…` link in a mail (`/confirm?t=…`).
pub(crate) fn link_in(mail: &str, marker: &str) -> String {
    let mail = readable(mail);
    let token: String = mail
        .split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no {marker} link in {mail}"))
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    // Signed links are credentials: they must never show in the server's logs.
    register_secret(&token);
    format!("{marker}{token}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_subscribes_confirms_by_mail_and_gets_the_next_digest() {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(mail.path(), &[]) else {
        return;
    };
    let hub = hub_with_sample();
    let data_dir = hub.path().to_owned();
    let smtp = std::ffi::OsString::from(sink.url());
    let server = crate::harness::Server::start_with_env(
        &["--no-sample"],
        hub,
        &[("PAPERFEED_SMTP_URL", &smtp)],
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(server.url("/subscribe")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("Get trending papers in your email inbox"));
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let post = |body: String| {
        http.post(server.url("/subscribe"))
            .header("cookie", cookie.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let resp = post("email=eve%40example.test&frequency=daily".into())
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "no CSRF token, no subscription");
    let resp = post(format!("csrf={csrf}&email=not-an-address&frequency=daily"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("is not an email address")
    );
    let resp = post(format!(
        "csrf={csrf}&email=eve%40example.test&frequency=daily"
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let thanks = resp.text().await.unwrap();
    assert!(
        thanks.contains("a confirmation mail is on its way"),
        "{thanks}"
    );

    let received = sink.received();
    let confirmation = readable(&received["eve@example.test"][0]);
    assert!(confirmation.contains("Subject: Confirm your Daily Papers subscription"));
    let path = link_in(&confirmation, "/confirm?t=");
    // Asking again within the interval: the same answer, no second mail.
    let again = post(format!(
        "csrf={csrf}&email=eve%40example.test&frequency=daily"
    ))
    .await
    .unwrap();
    assert_eq!(again.text().await.unwrap(), thanks);
    assert_eq!(sink.received()["eve@example.test"].len(), 1);

    // Before confirming, a digest run sends eve nothing.
    let out = run_ok(paperfeed(
        &data_dir,
        &sink,
        &["digest", "run", "--date", "2026-08-21"],
    ));
    assert!(out.contains("queued 0 new jobs"), "{out}");
    let (status, page) = server.get(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("You are subscribed"), "{page}");
    let (status, _) = server.get(&format!("{path}x")).await;
    assert_eq!(status, 400, "a tampered link is invalid");

    // Confirmed: the same request answers the same and mails nothing.
    let again = post(format!(
        "csrf={csrf}&email=eve%40example.test&frequency=daily"
    ))
    .await
    .unwrap();
    assert_eq!(again.text().await.unwrap(), thanks);
    assert_eq!(sink.received()["eve@example.test"].len(), 1);
    let out = run_ok(paperfeed(
        &data_dir,
        &sink,
        &["digest", "run", "--date", "2026-08-22"],
    ));
    assert!(out.contains("this run sent 1"), "{out}");
    assert_eq!(
        sink.received()["eve@example.test"].len(),
        2,
        "the confirmation and one digest"
    );

    // The digest's preferences link: no login, validated input, saved in place.
    let digest = sink.received()["eve@example.test"]
        .iter()
        .find(|m| m.contains("Subject: Daily Papers"))
        .cloned()
        .unwrap();
    let prefs = link_in(&digest, "/subscription?t=");
    let token = prefs.trim_start_matches("/subscription?t=").to_owned();
    let (status, page) = server.get(&prefs).await;
    assert_eq!(status, 200);
    assert!(page.contains("For eve@example.test"), "{page}");
    let save = |body: String| {
        http.post(server.url("/subscription"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let bad = save(format!("t={token}&frequency=weekly&topics=agent&papers=0"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("from 1 to 50"));
    let ok = save(format!(
        "t={token}&frequency=weekly&topics=agent%0Adiffusion&papers=3"
    ))
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("Saved."));
    let forged = save(format!("t={token}x&frequency=daily&topics=&papers=3"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    // Weekly now: the daily run passes eve by; the weekly one mails at most 3 matching papers.
    let out = run_ok(paperfeed(
        &data_dir,
        &sink,
        &["digest", "run", "--date", "2026-08-24"],
    ));
    assert!(out.contains("queued 0 new jobs"), "{out}");
    let out = run_ok(paperfeed(
        &data_dir,
        &sink,
        &[
            "digest",
            "run",
            "--period",
            "weekly",
            "--date",
            "2026-08-24",
        ],
    ));
    assert!(out.contains("queued 1 new jobs"), "{out}");
    assert!(
        sink.received()["eve@example.test"]
            .iter()
            .any(|m| m.contains("Subject: Weekly Papers: 3 trending papers")),
        "a weekly digest of 3 papers"
    );
}
