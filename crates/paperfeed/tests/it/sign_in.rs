//! Signing in through identity providers, against a real OpenID provider on loopback (the npm
//! package oidc-provider, started here with Node.js) in headless Chromium and over HTTP, and
//! against a misbehaving issuer (also Node.js, signing with jose) for the ID tokens a real
//! provider never gets wrong.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use fantoccini::Locator;

use crate::browser::{browser, click_and_load, text_of, wait_for_path};
use crate::community::Visitor;
use crate::harness::{Server, register_secret, workspace_root};

const LAB_SECRET: &str = "lab-client-secret-for-tests";
const LAB2_SECRET: &str = "lab2-client-secret-for-tests";

/// `target/tools/node_modules` with oidc-provider (scripts/ensure-test-deps), or `None` (a
/// loud skip outside CI) when it or Node.js is missing.
fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPERFEED_TEST_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/tools/node_modules"));
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node && dir.join("oidc-provider/lib/index.js").is_file() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "node and oidc-provider are required in CI (scripts/ensure-test-deps)"
        );
        eprintln!("SKIPPED: node or oidc-provider missing (run scripts/ensure-test-deps)");
        None
    }
}

/// A Node.js script of `tests/it/oidc/` serving on loopback; killed on drop.
struct NodeServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    base: String,
}

impl NodeServer {
    fn start(script: &str, modules: &std::path::Path) -> Self {
        let mut child = Command::new("node")
            .arg(
                workspace_root()
                    .join("crates/paperfeed/tests/it/oidc")
                    .join(script),
            )
            .arg(modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting node");
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the provider exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening ") {
                break url.trim().to_owned();
            }
        };
        Self {
            child,
            stdin,
            lines,
            base,
        }
    }

    /// Hands the real provider its clients and accounts; returns once it serves them.
    fn configure(&mut self, config: &serde_json::Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{config}").unwrap();
        stdin.flush().unwrap();
        loop {
            let line = self.lines.next().expect("the provider exited").unwrap();
            if line.trim() == "ready" {
                return;
            }
        }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for a server with the providers `(name, display, client id, secret, issuer)`.
fn provider_env(providers: &[(&str, &str, &str, &str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![("PAPERFEED_AUTH__ALLOW_LOOPBACK_HTTP".into(), "true".into())];
    for (name, display, client_id, secret, issuer) in providers {
        register_secret(secret);
        let key = |k: &str| format!("PAPERFEED_AUTH__PROVIDERS__{}__{k}", name.to_uppercase());
        env.extend([
            (key("KIND"), "oidc".to_owned()),
            (key("ISSUER"), (*issuer).to_owned()),
            (key("CLIENT_ID"), (*client_id).to_owned()),
            (key("CLIENT_SECRET"), (*secret).to_owned()),
            (key("DISPLAY_NAME"), (*display).to_owned()),
            (key("TRUST_EMAIL"), "true".to_owned()),
        ]);
    }
    env
}

fn start_server(env: &[(String, String)]) -> Server {
    let envs: Vec<(&str, &OsStr)> = env
        .iter()
        .map(|(k, v)| (k.as_str(), OsStr::new(v.as_str())))
        .collect();
    Server::start_with_env(&[], tempfile::tempdir().unwrap(), &envs)
}

/// The real provider with clients `lab` and `lab2` for `server`, and Alice's account.
fn configure_lab(provider: &mut NodeServer, server_base: &str) {
    provider.configure(&serde_json::json!({
        "clients": [
            {
                "client_id": "paperfeed-lab",
                "client_secret": LAB_SECRET,
                "redirect_uris": [format!("{server_base}/auth/lab/callback")],
            },
            {
                "client_id": "paperfeed-lab2",
                "client_secret": LAB2_SECRET,
                "redirect_uris": [format!("{server_base}/auth/lab2/callback")],
            },
        ],
        "accounts": {
            "alice": {
                "email": "alice@example.org",
                "email_verified": true,
                "name": "Alice Liddell",
            },
        },
    }));
}

/// The real provider and a server that knows it as `lab` ("Lab ID") and `lab2` ("Lab Two"),
/// two clients of the same issuer. The server has to start first (the provider's clients
/// name its address), so the provider serves on a port of its own choosing and is told its
/// clients after.
fn lab_and_server(modules: &std::path::Path) -> (NodeServer, Server) {
    let mut provider = NodeServer::start("provider.mjs", modules);
    let server = start_server(&provider_env(&[
        ("lab", "Lab ID", "paperfeed-lab", LAB_SECRET, &provider.base),
        (
            "lab2",
            "Lab Two",
            "paperfeed-lab2",
            LAB2_SECRET,
            &provider.base,
        ),
    ]));
    configure_lab(&mut provider, &server.base);
    (provider, server)
}

/// Clicks the element `css` once it is there.
async fn click(client: &fantoccini::Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Clicks `button` (which leaves for the provider), then at the provider's development pages
/// logs in as `login` when asked and consents when asked, until the browser is back on the
/// hub. The page the click left is marked first, so a slow navigation is never mistaken for
/// the way back (the link flow leaves /account for /account).
async fn through_provider(
    client: &fantoccini::Client,
    button: &str,
    provider: &str,
    hub: &str,
    login: &str,
) {
    client
        .execute("window.__pfLeft = true; return null;", vec![])
        .await
        .unwrap();
    click(client, button).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // Origins end at the port: "http://127.0.0.1:4442" is a prefix of ":44427".
    let (hub, provider) = (format!("{hub}/"), format!("{provider}/"));
    loop {
        // The address and the mark are read in one script: read apart, the page could change
        // between them.
        let (url, left) = match client
            .execute(
                "return [window.location.href, window.__pfLeft === true];",
                vec![],
            )
            .await
        {
            Ok(serde_json::Value::Array(pair)) => (
                pair[0].as_str().unwrap_or_default().to_owned(),
                pair[1].as_bool().unwrap_or(true),
            ),
            // Between two documents: look again.
            _ => (String::new(), true),
        };
        if url.starts_with(&hub) && !left {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "stuck at {url}");
        if url.starts_with(&provider) && url.contains("/interaction/") {
            if let Ok(field) = client.find(Locator::Css("input[name=login]")).await {
                field.send_keys(login).await.unwrap();
                client
                    .find(Locator::Css("input[name=password]"))
                    .await
                    .unwrap()
                    .send_keys("any password")
                    .await
                    .unwrap();
                click(client, "button[type=submit]").await;
            } else if let Ok(button) = client.find(Locator::Css("button[type=submit]")).await {
                button.click().await.unwrap();
            }
            // A form sent is not sent again while its answer is on the way.
            let sent = std::time::Instant::now();
            while sent.elapsed() < Duration::from_secs(5)
                && client.current_url().await.map(|u| u.to_string()).ok() == Some(url.clone())
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_signs_up_through_a_provider_signs_out_signs_in_again_and_links_a_second() {
    let Some(modules) = node_modules() else {
        return;
    };
    let Some(browser) = browser().await else {
        return;
    };
    let client = &browser.client;
    let (provider, server) = lab_and_server(&modules);

    // Sign up: the sign-up page offers the provider; the provider's login and consent; back
    // here, a user name suggested from the provider's preferred_username.
    client.goto(&server.url("/signup")).await.unwrap();
    assert_eq!(
        text_of(client, "#provider-lab").await,
        "Sign up with Lab ID"
    );
    through_provider(
        client,
        "#provider-lab",
        &provider.base,
        &server.base,
        "alice",
    )
    .await;
    wait_for_path(client, |p| p == "/auth/signup").await;
    let name = client
        .find(Locator::Id("f-username"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("alice"));
    assert!(
        text_of(client, "p.muted")
            .await
            .contains("alice@example.org"),
        "the address the provider verified is taken, not asked for"
    );
    assert!(client.find(Locator::Id("f-email")).await.is_err());
    click_and_load(client, "form.stacked button[type=submit]").await;
    wait_for_path(client, |p| p == "/").await;
    client.goto(&server.url("/account")).await.unwrap();
    assert_eq!(text_of(client, "h1").await, "alice");
    let identities = text_of(client, "ul.identities").await;
    assert!(identities.contains("Lab ID"), "{identities}");
    assert!(
        text_of(client, "main").await.contains("Set a password"),
        "no password yet"
    );

    // Sign out, and in again: the provider remembers Alice, so it sends her straight back.
    click_and_load(client, "main form[action='/logout'] button").await;
    wait_for_path(client, |p| p == "/").await;
    client.goto(&server.url("/login")).await.unwrap();
    through_provider(
        client,
        "#provider-lab",
        &provider.base,
        &server.base,
        "alice",
    )
    .await;
    wait_for_path(client, |p| p == "/").await;
    client.goto(&server.url("/account")).await.unwrap();
    assert_eq!(text_of(client, "h1").await, "alice", "the same account");

    // Link the second provider from the account page.
    through_provider(client, "#link-lab2", &provider.base, &server.base, "alice").await;
    wait_for_path(client, |p| p == "/account").await;
    let identities = text_of(client, "ul.identities").await;
    assert!(
        identities.contains("Lab ID") && identities.contains("Lab Two"),
        "{identities}"
    );
    crate::browser::save_screenshot(client, "screenshot-account-identities.png").await;

    // The API says the same: a token made on the account page, then GET /api/me.
    client
        .find(Locator::Id("token-name"))
        .await
        .unwrap()
        .send_keys("sign-in test")
        .await
        .unwrap();
    click_and_load(client, "form[action='/account/tokens'] button").await;
    let token = text_of(client, "#new-token").await;
    register_secret(&token);
    let me = reqwest::Client::new()
        .get(server.url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["hasPassword"], false);
    let providers: Vec<&str> = me["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["lab", "lab2"]);
    // oidc-provider's subject is the account id its log-in page was given.
    assert_eq!(me["identities"][0]["subject"], "alice");
    assert_eq!(me["identities"][0]["providerName"], "Lab ID");

    // Unlink the first; the second, now her only way in, stays.
    click_and_load(client, "ul.identities li:first-child button").await;
    wait_for_path(client, |p| p == "/account").await;
    let identities = text_of(client, "ul.identities").await;
    assert!(
        !identities.contains("Lab ID") && identities.contains("Lab Two"),
        "{identities}"
    );
    click_and_load(client, "ul.identities li:first-child button").await;
    let refusal = text_of(client, "main").await;
    assert!(refusal.contains("last way to sign in"), "{refusal}");
    browser.client.clone().close().await.unwrap();
}

/// Follows the real provider's redirects and development pages over HTTP (log-in as `login`,
/// consent) from `url` until it sends the visitor back to the hub; the callback address.
async fn provider_round_trip(
    visitor: &mut Visitor,
    provider: &str,
    hub: &str,
    url: &str,
    login: &str,
) -> String {
    let mut url = url.to_owned();
    for _ in 0..12 {
        if url.starts_with(hub) {
            return url;
        }
        let answer = visitor.get_url(&url).await;
        let next = if answer.status == 200 && url.contains("/interaction/") {
            let form: Vec<(&str, &str)> = if answer.body.contains(r#"value="login""#) {
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else {
                vec![("prompt", "consent")]
            };
            let posted = visitor.post_url(&url, &form).await;
            assert_eq!(posted.status, 303, "{}", posted.body);
            posted.headers["location"].to_str().unwrap().to_owned()
        } else {
            assert!(
                matches!(answer.status, 302 | 303),
                "{url}: {} {}",
                answer.status,
                answer.body
            );
            answer.headers["location"].to_str().unwrap().to_owned()
        };
        url = if next.starts_with('/') {
            format!("{provider}{next}")
        } else {
            next
        };
    }
    panic!("the provider never sent the visitor back (last {url})")
}

/// Starts a sign-in at `provider` as `visitor`: the provider's authorization address.
async fn start(visitor: &mut Visitor, provider: &str) -> String {
    let csrf = visitor.csrf("/login").await;
    let started = visitor
        .post(&format!("/auth/{provider}/start"), &[("csrf", &csrf)])
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    started.headers["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_state_a_replayed_callback_and_a_replayed_code_are_refused() {
    let Some(modules) = node_modules() else {
        return;
    };
    let (provider, server) = lab_and_server(&modules);
    let mut alice = Visitor::new(&server);
    let authorize = start(&mut alice, "lab").await;
    assert!(authorize.starts_with(&provider.base), "{authorize}");
    for part in [
        "code_challenge_method=S256",
        "nonce=",
        "state=",
        "scope=openid",
    ] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }
    let callback = provider_round_trip(
        &mut alice,
        &provider.base,
        &server.base,
        &authorize,
        "alice",
    )
    .await;
    let path = callback.strip_prefix(&server.base).unwrap().to_owned();
    register_secret(&path);
    let (code, state) = {
        let url = url::Url::parse(&callback).unwrap();
        let get = |k: &str| {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
                .unwrap()
        };
        (get("code"), get("state"))
    };

    // A tampered state is refused, and spends nothing: the real one still works after.
    let tampered = path.replace(&format!("state={state}"), &format!("state={state}x"));
    let answer = alice.get(&tampered).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("already used, has expired"),
        "{}",
        answer.body
    );
    // From another browser (no cookie of the one that started it): refused, and spent.
    let mut stranger = alice.clone();
    stranger.forget_cookie("pf_oidc");
    let answer = stranger.get(&path).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("another browser"), "{}", answer.body);
    let answer = alice.get(&path).await;
    assert_eq!(
        answer.status, 400,
        "a callback is good once: {}",
        answer.body
    );

    // A fresh sign-in goes through and signs Alice up.
    let authorize = start(&mut alice, "lab").await;
    let callback = provider_round_trip(
        &mut alice,
        &provider.base,
        &server.base,
        &authorize,
        "alice",
    )
    .await;
    let path = callback.strip_prefix(&server.base).unwrap().to_owned();
    let answer = alice.get(&path).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.headers["location"], "/auth/signup");
    // Replayed: the same callback again finds nothing.
    let answer = alice.get(&path).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("already used"), "{}", answer.body);

    // An answer naming another issuer (RFC 9207's mix-up defence) is refused.
    let authorize = start(&mut alice, "lab").await;
    let callback = provider_round_trip(
        &mut alice,
        &provider.base,
        &server.base,
        &authorize,
        "alice",
    )
    .await;
    let path = callback.strip_prefix(&server.base).unwrap().to_owned();
    register_secret(&path);
    let issuer: String = url::form_urlencoded::byte_serialize(provider.base.as_bytes()).collect();
    assert!(path.contains(&format!("iss={issuer}")), "{path}");
    let mixed_up = path.replace(&format!("iss={issuer}"), "iss=http%3A%2F%2F127.0.0.1%3A1");
    let answer = alice.get(&mixed_up).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("names another issuer"),
        "{}",
        answer.body
    );

    // A spent code under a fresh state: the provider refuses it.
    let authorize = start(&mut alice, "lab").await;
    let fresh_state = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let replay = format!(
        "/auth/lab/callback?code={}&state={}",
        url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(fresh_state.as_bytes()).collect::<String>()
    );
    let answer = alice.get(&replay).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("invalid_grant"), "{}", answer.body);
    assert!(
        !server.log().contains(&code),
        "no authorization code in the log"
    );
}

/// One sign-in at the misbehaving issuer over HTTP, which answers at once: the callback's
/// answer.
async fn fake_sign_in(visitor: &mut Visitor, issuer: &str, mode: &str) -> crate::community::Answer {
    reqwest::Client::new()
        .post(format!("{issuer}/mode"))
        .body(mode.to_owned())
        .send()
        .await
        .unwrap();
    let authorize = start(visitor, "fake").await;
    let back = visitor.get_url(&authorize).await;
    assert_eq!(back.status, 302);
    let callback = back.headers["location"].to_str().unwrap().to_owned();
    visitor.get_url(&callback).await
}

async fn jwks_fetches(issuer: &str) -> u64 {
    let stats = reqwest::get(format!("{issuer}/stats"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    stats["jwks"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn id_tokens_expired_wrongly_signed_or_for_another_client_are_refused_and_new_keys_fetched_once()
 {
    let Some(modules) = node_modules() else {
        return;
    };
    let issuer = NodeServer::start("fake-issuer.mjs", &modules);
    // This hub signs readers in through the provider only: passwords are off.
    let mut env = provider_env(&[(
        "fake",
        "Fake",
        "paperfeed-fake",
        "fake-client-secret-for-tests",
        &issuer.base,
    )]);
    env.push(("PAPERFEED_AUTH__PASSWORDS".into(), "false".into()));
    let server = start_server(&env);
    let mut visitor = Visitor::new(&server);
    let mut pages = vec![("login", visitor.get("/login").await.body)];
    assert!(pages[0].1.contains("Sign in with Fake"), "{}", pages[0].1);
    assert!(
        !pages[0].1.contains(r#"name="password""#),
        "no password form"
    );
    let csrf = visitor.csrf("/login").await;
    let refused = visitor
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", "x"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Password sign-in is turned off"));
    for (mode, says) in [
        ("expired", "the ID token has expired"),
        ("audience", "the ID token was issued to another client"),
        ("signature", "signature does not check out"),
    ] {
        let answer = fake_sign_in(&mut visitor, &issuer.base, mode).await;
        assert_eq!(answer.status, 400, "{mode}: {}", answer.body);
        assert!(answer.body.contains(says), "{mode}: {}", answer.body);
    }
    let good = fake_sign_in(&mut visitor, &issuer.base, "good").await;
    assert_eq!(good.status, 303, "{}", good.body);
    assert_eq!(good.headers["location"], "/auth/signup");

    // The issuer rotates its key: a token under the new key's id makes the hub fetch the keys
    // once more, and goes through.
    let before = jwks_fetches(&issuer.base).await;
    let rotated = fake_sign_in(&mut visitor, &issuer.base, "rotate").await;
    assert_eq!(rotated.status, 303, "{}", rotated.body);
    assert_eq!(jwks_fetches(&issuer.base).await, before + 1);
    // A key it never publishes: fetched once more, then refused; no loop of fetches.
    let before = jwks_fetches(&issuer.base).await;
    let unknown = fake_sign_in(&mut visitor, &issuer.base, "unknown").await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(unknown.body.contains("signature does not check out"));
    assert_eq!(jwks_fetches(&issuer.base).await, before + 1);

    // The new reader picks a name on the sign-up form; the address was vouched for.
    let csrf = visitor.csrf("/auth/signup").await;
    let page = visitor.get("/auth/signup").await;
    assert!(page.body.contains(r#"value="fakeuser""#), "{}", page.body);
    pages.push(("signup", page.body));
    let invalid = visitor
        .post(
            "/auth/signup",
            &[("csrf", &csrf), ("username", "no spaces")],
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert!(
        invalid.body.contains("may contain only letters"),
        "{}",
        invalid.body
    );
    let made = visitor
        .post(
            "/auth/signup",
            &[("csrf", &csrf), ("username", "fake-reader")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let account = visitor.get("/account").await;
    assert!(account.body.contains("fake-reader"), "{}", account.body);
    assert!(
        !account.body.contains("Set a password"),
        "no passwords at this hub"
    );
    // Her only way in: passwords are off, so the identity stays.
    let csrf = visitor.csrf("/account").await;
    let kept = visitor
        .post(
            "/account/identities/unlink",
            &[
                ("csrf", &csrf),
                ("provider", "fake"),
                ("subject", "fake-subject-1"),
            ],
        )
        .await;
    assert_eq!(kept.status, 400);
    assert!(kept.body.contains("last way to sign in"), "{}", kept.body);
    pages.push(("account", visitor.get("/account").await.body));
    let delete = visitor.get("/account/delete").await.body;
    assert!(delete.contains("Your user name (fake-reader), to confirm"));
    pages.push(("delete", delete));
    valid_html(&pages);
}

/// The pages are valid HTML5 (the W3C checker, as for every other kind of page).
fn valid_html(pages: &[(&str, String)]) {
    let Some(jar) = crate::html_validity::vnu_jar() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "vnu.jar is required in CI"
        );
        eprintln!("SKIPPED: vnu.jar not installed (scripts/ensure-test-deps installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = pages
        .iter()
        .map(|(name, html)| {
            let path = dir.path().join(format!("{name}.html"));
            std::fs::write(&path, html).unwrap();
            path
        })
        .collect();
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

#[tokio::test(flavor = "multi_thread")]
async fn github_sign_in_reads_the_user_api_and_vouches_only_for_a_verified_primary_address() {
    let Some(modules) = node_modules() else {
        return;
    };
    let fake = NodeServer::start("fake-issuer.mjs", &modules);
    let secret = "github-client-secret-for-tests";
    register_secret(secret);
    let env: Vec<(String, String)> = vec![
        ("PAPERFEED_AUTH__ALLOW_LOOPBACK_HTTP".into(), "true".into()),
        (
            "PAPERFEED_AUTH__PROVIDERS__GITHUB__CLIENT_ID".into(),
            "Iv1.test".into(),
        ),
        (
            "PAPERFEED_AUTH__PROVIDERS__GITHUB__CLIENT_SECRET".into(),
            secret.into(),
        ),
        (
            "PAPERFEED_AUTH__PROVIDERS__GITHUB__AUTHORIZATION_ENDPOINT".into(),
            format!("{}/github/authorize", fake.base),
        ),
        (
            "PAPERFEED_AUTH__PROVIDERS__GITHUB__TOKEN_ENDPOINT".into(),
            format!("{}/github/token", fake.base),
        ),
        (
            "PAPERFEED_AUTH__PROVIDERS__GITHUB__API_URL".into(),
            format!("{}/github/api", fake.base),
        ),
    ];
    let server = start_server(&env);
    let mut visitor = Visitor::new(&server);
    let login = visitor.get("/login").await;
    assert!(login.body.contains("Sign in with GitHub"), "{}", login.body);

    let round_trip = |visitor: &mut Visitor| {
        let mut visitor = visitor.clone();
        async move {
            let authorize = start(&mut visitor, "github").await;
            assert!(authorize.contains("code_challenge="), "{authorize}");
            assert!(
                authorize.contains("scope=read%3Auser+user%3Aemail"),
                "{authorize}"
            );
            let back = visitor.get_url(&authorize).await;
            let callback = back.headers["location"].to_str().unwrap().to_owned();
            register_secret(&callback);
            let answer = visitor.get_url(&callback).await;
            (visitor, callback, answer)
        }
    };
    let (after, callback, answer) = round_trip(&mut visitor).await;
    visitor = after;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.headers["location"], "/auth/signup");
    let page = visitor.get("/auth/signup").await;
    assert!(page.body.contains(r#"value="octocat""#), "{}", page.body);
    assert!(
        page.body.contains("octocat@example.org"),
        "the verified primary address: {}",
        page.body
    );
    let csrf = visitor.csrf("/auth/signup").await;
    let made = visitor
        .post("/auth/signup", &[("csrf", &csrf), ("username", "octocat")])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);

    // Signed out, the same GitHub account signs in to the same account.
    let csrf = visitor.csrf("/account").await;
    visitor.post("/logout", &[("csrf", &csrf)]).await;
    let (after, _, answer) = round_trip(&mut visitor).await;
    visitor = after;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.headers["location"], "/");
    let account = visitor.get("/account").await;
    assert!(
        account
            .body
            .contains("<h1 id=\"account-title\">octocat</h1>")
    );
    assert!(account.body.contains("GitHub"), "{}", account.body);

    // A spent code under a fresh sign-in: GitHub's "bad_verification_code" is a refusal.
    let authorize = start(&mut visitor, "github").await;
    let state: String = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let code: String = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let answer = visitor
        .get(&format!("/auth/github/callback?code={code}&state={state}"))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("GitHub did not hand out a token"),
        "{}",
        answer.body
    );
}
