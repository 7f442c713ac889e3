//! The community over HTTP, as a browser and a script would use it: accounts, sessions, CSRF,
//! votes, comments, submissions, API tokens and rate limits. Each test fails if the defence it
//! names is removed.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::Stdio;

use reqwest::header;

use crate::harness::{Server, bin, fixture, ingest, register_secret};

/// The sample's top paper on its latest day, with 163 imported upvotes.
pub(crate) const PAPER: &str = "2608.19880";
pub(crate) const PASSWORD: &str = "correct horse battery";

fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser-like client: keeps cookies by hand, never follows redirects.
#[derive(Clone)]
pub(crate) struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Visitor {
    pub(crate) fn new(server: &Server) -> Self {
        Self::from_address(server, "127.0.0.1")
    }

    /// A visitor whose connections come from `ip` (any 127.x.y.z: the whole block is this
    /// machine's loopback), so the server sees a different client address.
    pub(crate) fn from_address(server: &Server, ip: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(ip.parse::<std::net::IpAddr>().unwrap())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookies: HashMap::new(),
        }
    }

    /// A visitor from `peer` (a 127.x.y.z address) whose every request says, as a reverse
    /// proxy would, that it forwards for `client` (`X-Forwarded-For`).
    pub(crate) fn forwarding(server: &Server, peer: &str, client: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", client.parse().unwrap());
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(peer.parse::<std::net::IpAddr>().unwrap())
                .default_headers(headers)
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                // Session ids and CSRF tokens must never show in the server's logs.
                register_secret(v);
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Answer {
            status,
            headers,
            body: resp.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// GET an absolute address (another server on loopback) with this visitor's cookies.
    pub(crate) async fn get_url(&mut self, url: &str) -> Answer {
        let req = self.http.get(url);
        self.send(req).await
    }

    /// POST a form to an absolute address with this visitor's cookies.
    pub(crate) async fn post_url(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        let req = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(form));
        self.send(req).await
    }

    /// Forgets cookie `name` (a browser that never had it).
    pub(crate) fn forget_cookie(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        for (field, value) in form {
            if matches!(*field, "password" | "current" | "csrf") {
                register_secret(value);
            }
        }
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode(form));
        self.send(req).await
    }

    /// The CSRF token in the first form of `path`'s content (after the header, whose log-out
    /// form a signed-in reader sees on every page).
    pub(crate) async fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        let main = page.body.find("<main").unwrap_or(0);
        let at = page.body[main..]
            .find(r#"name="csrf" value=""#)
            .map(|at| main + at)
            .unwrap_or_else(|| panic!("no form on {path}: {}", page.body));
        let rest = &page.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    pub(crate) async fn sign_up(&mut self, name: &str) -> Answer {
        let csrf = self.csrf("/signup").await;
        let email = format!("{name}@example.org");
        self.post(
            "/signup",
            &[
                ("csrf", &csrf),
                ("username", name),
                ("email", &email),
                ("password", PASSWORD),
            ],
        )
        .await
    }

    pub(crate) async fn log_in(&mut self, name: &str, password: &str) -> Answer {
        let csrf = self.csrf("/login").await;
        self.post(
            "/login",
            &[("csrf", &csrf), ("username", name), ("password", password)],
        )
        .await
    }

    pub(crate) async fn upvotes(&mut self, id: &str) -> i64 {
        let page = self.get(&format!("/papers/{id}")).await;
        let at = page.body.find(r#"class="vote-count">"#).unwrap();
        let rest = &page.body[at + r#"class="vote-count">"#.len()..];
        rest[..rest.find('<').unwrap()].parse().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn votes_count_once_per_user_need_a_session_and_a_csrf_token_and_can_be_undone() {
    let server = Server::start();
    let mut ada = Visitor::new(&server);
    let signed = ada.sign_up("ada").await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let set = signed
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        set.starts_with("pf_session=") && set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let before = ada.upvotes(PAPER).await;
    assert_eq!(before, 163);
    let vote_path = format!("/papers/{PAPER}/upvote");

    // Missing and wrong CSRF tokens are refused.
    assert_eq!(ada.post(&vote_path, &[("action", "up")]).await.status, 403);
    assert_eq!(
        ada.post(&vote_path, &[("action", "up"), ("csrf", "forged")])
            .await
            .status,
        403
    );
    assert_eq!(
        ada.upvotes(PAPER).await,
        before,
        "a refused vote does not count"
    );

    // Repeated and concurrent votes by one user count once.
    let csrf = ada.csrf(&format!("/papers/{PAPER}")).await;
    let voted = ada
        .post(&vote_path, &[("action", "up"), ("csrf", &csrf)])
        .await;
    assert_eq!(voted.status, 303);
    assert_eq!(
        voted.headers[header::LOCATION],
        format!("/papers/{PAPER}#vote")
    );
    let stuffing = (0..30).map(|_| {
        let mut v = ada.clone();
        let (path, csrf) = (vote_path.clone(), csrf.clone());
        tokio::spawn(async move {
            v.post(&path, &[("action", "up"), ("csrf", &csrf)])
                .await
                .status
        })
    });
    for status in futures_join(stuffing).await {
        assert!(status == 303 || status == 429, "{status}");
    }
    assert_eq!(ada.upvotes(PAPER).await, before + 1, "one user, one vote");

    // Undo.
    ada.post(&vote_path, &[("action", "undo"), ("csrf", &csrf)])
        .await;
    assert_eq!(ada.upvotes(PAPER).await, before);

    // A logged-out visitor is sent to log in and nothing changes.
    let mut anon = Visitor::new(&server);
    let refused = anon
        .post(&vote_path, &[("action", "up"), ("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 303);
    assert!(
        refused.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login?next=")
    );
    let refused = anon
        .post(
            &format!("/papers/{PAPER}/comments"),
            &[("body", "hi"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 303);
    assert_eq!(
        anon.post("/submit", &[("arxiv_id", PAPER)]).await.status,
        303
    );
    assert_eq!(anon.upvotes(PAPER).await, before);
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_in_rotates_the_session_and_answers_the_same_for_unknown_users_and_wrong_passwords()
{
    let server = Server::start();
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    let mut stranger = Visitor::new(&server);

    // Wrong password and unknown user: the same status and the same page.
    let wrong = stranger.log_in("ada", "not the password").await;
    let unknown = stranger.log_in("nobody-here", "not the password").await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    let strip = |body: &str, name: &str| body.replace(&format!("value=\"{name}\""), "value=NAME");
    assert_eq!(
        strip(&wrong.body, "ada"),
        strip(&unknown.body, "nobody-here")
    );
    assert!(wrong.body.contains("Wrong user name or password."));

    // Session fixation: an id planted before log-in is never the one logged in.
    let mut victim = Visitor::new(&server);
    victim
        .cookies
        .insert("pf_session".into(), "planted-by-attacker".into());
    assert_eq!(victim.log_in("ada", PASSWORD).await.status, 303);
    let session = victim.cookies["pf_session"].clone();
    assert_ne!(session, "planted-by-attacker");
    let mut attacker = Visitor::new(&server);
    attacker
        .cookies
        .insert("pf_session".into(), "planted-by-attacker".into());
    assert!(
        attacker.get("/account").await.status == 303,
        "the planted id is not logged in"
    );
    assert_eq!(victim.get("/account").await.status, 200);
    // Logging in again rotates the id and ends the old session.
    assert_eq!(victim.log_in("ada", PASSWORD).await.status, 303);
    assert_ne!(victim.cookies["pf_session"], session);
    let mut old = Visitor::new(&server);
    old.cookies.insert("pf_session".into(), session);
    assert_eq!(old.get("/account").await.status, 303);

    // Changing the password needs the current one; the new one then works.
    let csrf = victim.csrf("/account/password").await;
    let bad = victim
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", "nope nope nope"),
                ("password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    let ok = victim
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(
        stranger.log_in("ada", "a brand new password").await.status,
        303
    );

    // Log-in forms without the double-submit token are refused.
    let mut bare = Visitor::new(&server);
    assert_eq!(
        bare.post("/login", &[("username", "ada"), ("password", PASSWORD)])
            .await
            .status,
        403
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn guessing_passwords_is_slowed_down_with_429_and_retry_after() {
    let server = Server::start();
    let mut guesser = Visitor::new(&server);
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let answer = guesser.log_in("ada", "guess guess guess").await;
        statuses.push(answer.status);
        if answer.status == 429 {
            let retry: u64 = answer.headers[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
            return;
        }
    }
    panic!("15 wrong guesses were never limited: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stranger_guessing_from_elsewhere_slows_the_owner_down_but_never_locks_them_out() {
    let server = Server::start();
    let mut ada = Visitor::from_address(&server, "127.0.0.3");
    assert_eq!(ada.sign_up("ada").await.status, 303);
    // Guessing from one address is refused soon, as before.
    let mut stranger = Visitor::from_address(&server, "127.0.0.2");
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(stranger.log_in("ada", "guess guess guess").await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Guessing from more addresses is slowed down, never refused for the account.
    for ip in ["127.0.0.4", "127.0.0.5"] {
        let mut other = Visitor::from_address(&server, ip);
        for _ in 0..2 {
            assert_eq!(other.log_in("ADA", "guess guess guess").await.status, 401);
        }
    }
    // The owner, from their own address, still gets in (at most a short wait).
    let started = std::time::Instant::now();
    let owner = ada.log_in("ada", PASSWORD).await;
    assert_eq!(owner.status, 303, "{}", owner.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(ada.get("/account").await.status, 200);
    // A huge user name that fits in a body costs a bounded bucket, and answers like any
    // wrong one. (One past the body limit is refused unread: api.rs,
    // `oversized_bodies_get_413_whether_declared_or_chunked`, sends it by hand, since a client
    // still writing a body the server refused may see the connection close before the 413.)
    let huge = "u".repeat(100_000);
    let answer = Visitor::from_address(&server, "127.0.0.6")
        .log_in(&huge, "guess guess guess")
        .await;
    assert_eq!(answer.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_log_in_limits_key_on_the_client_it_forwards_for() {
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[(
            "PAPERFEED_SERVE__TRUSTED_PROXIES",
            std::ffi::OsStr::new("127.0.0.1, ::1"),
        )],
    );
    // One client of the proxy guessing is refused soon…
    let mut guesser = Visitor::forwarding(&server, "127.0.0.1", "203.0.113.7");
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(guesser.log_in("ada", "guess guess guess").await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // …while another client of the same proxy is not: the limit is the client's, not the
    // proxy's.
    let mut other = Visitor::forwarding(&server, "127.0.0.1", "198.51.100.2");
    assert_eq!(other.log_in("bo", "guess guess guess").await.status, 401);
    // A peer that is not a trusted proxy cannot pick its address with the header: each
    // attempt claims a new client, and its own address is limited all the same.
    let mut statuses = Vec::new();
    for i in 0..15 {
        let mut liar = Visitor::forwarding(&server, "127.0.0.2", &format!("192.0.2.{i}"));
        statuses.push(liar.log_in("cy", "guess guess guess").await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// `next` values a browser could read as another origin, or that once broke the answer.
pub(crate) const HOSTILE_NEXTS: [&str; 12] = [
    "/\t/evil.example/x",
    "/\n/evil.example/x",
    "/\r/evil.example/x",
    "/\x0b/evil.example/x",
    "//evil.example/x",
    "/\\evil.example/x",
    "\\/evil.example/x",
    "/.//evil.example/x",
    "/%2e//evil.example/x",
    "https://evil.example/x",
    "/\r\nSet-Cookie: pf_session=planted",
    "javascript:alert(1)",
];

#[tokio::test(flavor = "multi_thread")]
async fn after_log_in_next_never_leaves_the_hub_however_it_is_written() {
    // Many log-ins to one account in a row: no waiting for its limit here.
    let server = Server::start_with_env(
        &[],
        tempfile::tempdir().unwrap(),
        &[(
            "PAPERFEED_COMMUNITY__RATE_LIMITS__LOGIN_ACCOUNT__BURST",
            std::ffi::OsStr::new("100"),
        )],
    );
    assert_eq!(Visitor::new(&server).sign_up("ada").await.status, 303);
    let base = url::Url::parse(&server.base).unwrap();
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let check = async |next: &str| {
        // Each from an address of its own, within the per-address limit.
        let n = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut ada = Visitor::from_address(&server, &format!("127.0.1.{}", n + 1));
        let csrf = ada.csrf("/login").await;
        let answer = ada
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", "ada"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(answer.status, 303, "next={next:?}: {}", answer.body);
        let location = answer.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        // Read the way a browser reads it.
        let lands = base.join(&location).unwrap();
        assert_eq!(
            lands.origin(),
            base.origin(),
            "next={next:?} -> {location:?}"
        );
        assert!(!location.starts_with("//"), "{location:?}");
        assert!(
            answer.headers.get_all(header::SET_COOKIE).iter().count() == 1,
            "only the session cookie: {:?}",
            answer.headers
        );
        location
    };
    for next in HOSTILE_NEXTS {
        check(next).await;
    }
    assert_eq!(check("/%09/evil.example/x").await, "/%09/evil.example/x");
    assert_eq!(check("/account").await, "/account");
    assert_eq!(check("/papers?q=a+b#top").await, "/papers?q=a+b#top");
    // Signing up follows the same rule.
    let mut eve = Visitor::new(&server);
    let csrf = eve.csrf("/signup").await;
    let answer = eve
        .post(
            "/signup",
            &[
                ("csrf", &csrf),
                ("username", "eve"),
                ("email", "eve@example.org"),
                ("password", PASSWORD),
                ("next", "/\t/evil.example/x"),
            ],
        )
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.headers[header::LOCATION], "/");
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_are_sanitised_and_only_their_author_edits_or_deletes_them() {
    let server = Server::start();
    let (mut ada, mut eve) = (Visitor::new(&server), Visitor::new(&server));
    ada.sign_up("ada").await;
    eve.sign_up("eve").await;
    // A user name cannot carry markup.
    let mut mallory = Visitor::new(&server);
    let refused = mallory.sign_up("<script>x</script>").await;
    assert_eq!(refused.status, 400);
    assert!(!refused.body.contains("<script>x"), "{}", refused.body);

    let paper = format!("/papers/{PAPER}");
    let csrf = ada.csrf(&paper).await;
    let xss = "**bold** <script>alert('xss')</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))";
    let posted = ada
        .post(
            &format!("{paper}/comments"),
            &[("csrf", &csrf), ("body", xss)],
        )
        .await;
    assert_eq!(posted.status, 303);
    let location = posted.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let comment_id: i64 = location.rsplit("comment-").next().unwrap().parse().unwrap();
    let page = eve.get(&paper).await.body;
    assert!(page.contains("<strong>bold</strong>"), "markdown renders");
    for bad in ["<script>alert('xss')", "onerror", "javascript:alert"] {
        assert!(!page.contains(bad), "{bad} reached the page");
    }

    // Eve cannot edit or delete Ada's comment, nor hide it.
    let eve_csrf = eve.csrf(&paper).await;
    for action in ["edit", "delete", "hide"] {
        let answer = eve
            .post(
                &format!("/comments/{comment_id}/{action}"),
                &[("csrf", &eve_csrf), ("body", "pwned")],
            )
            .await;
        assert_eq!(answer.status, 403, "{action}");
    }
    assert!(!eve.get(&paper).await.body.contains("pwned"));
    // Ada can.
    let edited = ada
        .post(
            &format!("/comments/{comment_id}/edit"),
            &[("csrf", &csrf), ("body", "second thoughts")],
        )
        .await;
    assert_eq!(edited.status, 303);
    assert!(eve.get(&paper).await.body.contains("second thoughts"));
    assert_eq!(
        ada.post(
            &format!("/comments/{comment_id}/delete"),
            &[("csrf", &csrf)]
        )
        .await
        .status,
        303
    );
    assert!(!eve.get(&paper).await.body.contains("second thoughts"));
}

pub(crate) fn run_cli(server_dir: &std::path::Path, args: &[&str], stdin: &str) -> String {
    // What goes in on stdin is a password (user add --password-stdin).
    stdin.lines().for_each(register_secret);
    let mut child = bin()
        .arg("--data-dir")
        .arg(server_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Adds the user `name` (password [`PASSWORD`]) to the store in `data_dir` and returns a fresh
/// API token of theirs, registered as a secret the logs must not hold.
/// The secret of the private feed address a page shows (`…?token=pff_…`), noted as a secret.
pub(crate) fn feed_token_in(body: &str) -> String {
    let at = body.find("token=").unwrap() + "token=".len();
    let token: String = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect();
    register_secret(&token);
    token
}

pub(crate) fn api_token(data_dir: &std::path::Path, name: &str) -> String {
    let email = format!("{name}@example.org");
    run_cli(
        data_dir,
        &["user", "add", name, "--email", &email, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let token = run_cli(data_dir, &["token", "create", name], "")
        .trim()
        .to_owned();
    register_secret(&token);
    token
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_upvote_and_submit_with_an_api_token() {
    let data = tempfile::tempdir().unwrap();
    let atom = fixture(
        "crates/paperfeed-ingest/tests/fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml",
    );
    assert!(
        ingest(data.path(), &[atom.to_str().unwrap()])
            .status
            .success()
    );
    run_cli(
        data.path(),
        &[
            "user",
            "add",
            "bot",
            "--email",
            "bot@example.org",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    let token = run_cli(data.path(), &["token", "create", "bot"], "")
        .trim()
        .to_owned();
    assert!(token.starts_with("pf_"));
    register_secret(&token);
    // arXiv, replayed on loopback: one paper the store does not hold, and no such paper.
    let atom = String::from_utf8(std::fs::read(&atom).unwrap())
        .unwrap()
        .replace("2510.14968v1", "2511.00042v1");
    let empty = r#"<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>arXiv Query</title><opensearch:totalResults>0</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex><opensearch:itemsPerPage>1</opensearch:itemsPerPage></feed>"#;
    let arxiv = paperfeed_ingest::fetch::replay::ReplayServer::start(move |target| {
        use paperfeed_ingest::fetch::replay::Reply;
        if target.starts_with("/api/query?id_list=2511.00042") {
            Reply::ok(atom.clone())
        } else if target.starts_with("/api/query?id_list=") {
            Reply::ok(empty)
        } else {
            Reply::status(404, "not recorded")
        }
    })
    .await
    .unwrap();
    let window = std::ffi::OsString::from("3650");
    let arxiv_url = std::ffi::OsString::from(arxiv.base_url());
    let no_wait = std::ffi::OsString::from("0");
    let server = Server::start_with_env(
        &[],
        data,
        &[
            ("PAPERFEED_COMMUNITY__SUBMIT_WINDOW_DAYS", &window),
            ("PAPERFEED_SOURCES__ARXIV__BASE_URL", &arxiv_url),
            ("PAPERFEED_SOURCES__ARXIV__POLITENESS_SECONDS", &no_wait),
        ],
    );
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, auth: Option<&str>, body: Option<&str>| {
        let mut req = http.request(method, server.url(path));
        if let Some(t) = auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(b.to_owned());
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (
                status,
                serde_json::from_str::<serde_json::Value>(&resp.text().await.unwrap()).unwrap(),
            )
        }
    };
    // The store holds the ingested papers only (no sample), none with imported votes.
    let path = "/api/papers/2510.14827/upvote";
    let (status, _) = call(reqwest::Method::POST, path, None, None).await;
    assert_eq!(status, 401, "no token, no vote");
    let (status, _) = call(reqwest::Method::POST, path, Some("pf_wrong"), None).await;
    assert_eq!(status, 401);
    for _ in 0..3 {
        let (status, json) = call(reqwest::Method::POST, path, Some(&token), None).await;
        assert_eq!((status, json["upvotes"].as_i64()), (200, Some(1)), "{json}");
    }
    let (_, json) = call(reqwest::Method::DELETE, path, Some(&token), None).await;
    assert_eq!(
        (json["upvotes"].as_i64(), json["voted"].as_bool()),
        (Some(0), Some(false))
    );

    // Submissions: an ingested paper not yet featured goes on today's feed with its submitter.
    let submit = |id: &str| format!(r#"{{"arxivId": "{id}"}}"#);
    let (status, _) = call(
        reqwest::Method::POST,
        "/api/papers/submit",
        None,
        Some(&submit("2510.14968")),
    )
    .await;
    assert_eq!(status, 401);
    let (status, json) = call(
        reqwest::Method::POST,
        "/api/papers/submit",
        Some(&token),
        Some(&submit("https://arxiv.org/abs/2510.14968v1")),
    )
    .await;
    assert_eq!(status, 201, "{json}");
    assert_eq!(
        json["featuredOn"].as_str().unwrap(),
        chrono::Utc::now().date_naive().to_string()
    );
    let (status, json) = call(
        reqwest::Method::POST,
        "/api/papers/submit",
        Some(&token),
        Some(&submit("2510.14968")),
    )
    .await;
    assert_eq!(status, 409, "already featured");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("/papers/2510.14968"),
        "{json}"
    );
    let (status, json) = call(
        reqwest::Method::POST,
        "/api/papers/submit",
        Some(&token),
        Some(&submit("2511.99999")),
    )
    .await;
    assert_eq!(status, 422, "arXiv has no such paper: {json}");
    // A paper the store does not hold comes from arXiv and is featured today.
    let (status, json) = call(
        reqwest::Method::POST,
        "/api/papers/submit",
        Some(&token),
        Some(&submit("2511.00042")),
    )
    .await;
    assert_eq!(status, 201, "{json}");
    let (status, paper) = crate::api::get_json(&server, "/api/papers/2511.00042").await;
    assert_eq!(status, 200, "{paper}");
    let (status, json) = call(
        reqwest::Method::POST,
        "/api/papers/submit",
        Some(&token),
        Some(&submit("not an id")),
    )
    .await;
    assert_eq!((status, json["parameter"].as_str()), (400, Some("arxivId")));
    let (_, day) = crate::api::get_json(
        &server,
        &format!("/api/daily_papers?date={}", chrono::Utc::now().date_naive()),
    )
    .await;
    assert_eq!(day[0]["submittedBy"]["name"].as_str(), Some("bot"), "{day}");
    // Submissions are ingests of the serving process: one paper from arXiv (new), one already
    // stored and now featured (updated).
    let (_, metrics) = crate::ops::scrape(&server.url("/metrics")).await;
    for (outcome, n) in [("new", 1.0), ("updated", 1.0), ("rejected", 0.0)] {
        assert_eq!(
            metrics.value(
                "paperfeed_ingest_records_total",
                &[("source", "submission"), ("outcome", outcome)]
            ),
            n,
            "{outcome}"
        );
    }
}

/// arXiv asked on the request path must not hold the caller: whether it refuses connections
/// or accepts and never answers, a submission of a paper the hub lacks is answered within
/// seconds with 503 and `Retry-After` (not 422 "unknown to arXiv", which nobody knows), and
/// nothing is stored. The source is configured as harvests use it (5 attempts, 60 s each):
/// those retries belong to harvests, not to someone waiting for an answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_submission_arxiv_cannot_answer_gets_503_and_retry_after_within_seconds() {
    use paperfeed_ingest::fetch::replay::{ReplayServer, Reply};
    let silent = ReplayServer::start(|_| {
        Reply::Slow(
            std::time::Duration::from_secs(600),
            Box::new(Reply::status(500, "")),
        )
    })
    .await
    .unwrap();
    let failing = ReplayServer::start(|_| Reply::status(503, "down for maintenance"))
        .await
        .unwrap();
    for (what, arxiv) in [
        ("refusing connections", "http://127.0.0.1:9".to_owned()),
        ("never answering", silent.base_url()),
        ("answering 503", failing.base_url()),
    ] {
        let arxiv = std::ffi::OsString::from(arxiv);
        let (retries, timeout) = (
            std::ffi::OsString::from("4"),
            std::ffi::OsString::from("60"),
        );
        let server = Server::start_with_env(
            &[],
            tempfile::tempdir().unwrap(),
            &[
                ("PAPERFEED_SOURCES__ARXIV__BASE_URL", &arxiv),
                ("PAPERFEED_SOURCES__ARXIV__RETRIES", &retries),
                ("PAPERFEED_SOURCES__ARXIV__TIMEOUT_SECONDS", &timeout),
            ],
        );
        let token = api_token(server.data_dir(), "bot");
        let started = std::time::Instant::now();
        let resp = reqwest::Client::new()
            .post(server.url("/api/papers/submit"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"arxivId": "2611.00042"}"#)
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        let waited = started.elapsed();
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let json: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        eprintln!("arXiv {what}: the API answered {status} after {waited:?}");
        assert_eq!(status, 503, "arXiv {what}: {json}");
        assert!(
            retry_after.is_some_and(|s| s > 0),
            "arXiv {what}: Retry-After"
        );
        assert!(
            waited < std::time::Duration::from_secs(10),
            "arXiv {what}: answered after {waited:?}"
        );
        assert!(
            json["error"].as_str().unwrap().contains("again"),
            "arXiv {what}: {json}"
        );
        let (status, _) = crate::api::get_json(&server, "/api/papers/2611.00042").await;
        assert_eq!(status, 404, "arXiv {what}: nothing stored");
        // The submission form says the same, as a page.
        let mut visitor = Visitor::new(&server);
        assert_eq!(visitor.log_in("bot", PASSWORD).await.status, 303);
        let csrf = visitor.csrf("/submit").await;
        let started = std::time::Instant::now();
        let page = visitor
            .post("/submit", &[("csrf", &csrf), ("arxiv_id", "2611.00042")])
            .await;
        assert_eq!(page.status, 503, "arXiv {what}: {}", page.body);
        assert!(
            page.headers.contains_key(header::RETRY_AFTER),
            "arXiv {what}"
        );
        assert!(page.body.contains("again"), "arXiv {what}: {}", page.body);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "arXiv {what}: the form answered after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logged_in_reader_subscribes_their_account_address_in_one_click() {
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = crate::digest::Sink::start(mail.path(), &[]) else {
        return;
    };
    let smtp = std::ffi::OsString::from(sink.url());
    let server = Server::start_with_env(
        &["--no-sample"],
        tempfile::tempdir().unwrap(),
        &[("PAPERFEED_SMTP_URL", &smtp)],
    );
    let mut carol = Visitor::new(&server);
    carol.sign_up("carol").await;
    let page = carol.get("/subscribe").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("value=\"carol@example.org\""),
        "the account address is filled in: {}",
        page.body
    );
    let csrf = carol.csrf("/subscribe").await;
    let done = carol
        .post(
            "/subscribe",
            &[
                ("csrf", &csrf),
                ("email", "carol@example.org"),
                ("frequency", "weekly"),
            ],
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains("confirmation mail is on its way"));
    // Still a double opt-in: account addresses are not verified.
    let received = sink.received();
    assert!(
        received["carol@example.org"][0].contains("Confirm your Daily Papers subscription"),
        "{received:?}"
    );
}
