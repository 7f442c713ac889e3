//! `paperfeed backup FILE` while `serve` runs, and `paperfeed restore FILE` into an empty data
//! directory: papers, users, API tokens, votes, subscribers and sent digests all come back,
//! and the search index is rebuilt from the restored store.

use reqwest::header;

use crate::community::{PASSWORD, Visitor, run_cli};
use crate::digest::{Sink, paperfeed, run_ok};
use crate::harness::{Server, bin, fixture, ingest, text};

/// The sample's top paper on its latest day, with 163 imported upvotes.
const PAPER: &str = "2608.19880";
/// A paper only the ingested Atom page has (not in the sample).
const INGESTED: &str = "2510.14968";
const ATOM: &str =
    "crates/paperfeed-ingest/tests/fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml";

async fn upvotes(server: &Server, token: Option<&str>, method: reqwest::Method) -> (u16, i64) {
    let http = reqwest::Client::new();
    let mut req = if method == reqwest::Method::GET {
        http.get(server.url(&format!("/api/papers/{PAPER}")))
    } else {
        http.request(method, server.url(&format!("/api/papers/{PAPER}/upvote")))
    };
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let json: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    let n = json["upvotes"]
        .as_i64()
        .or_else(|| json["paper"]["upvotes"].as_i64())
        .unwrap_or_else(|| panic!("no upvotes in {json}"));
    (status, n)
}

fn sent_mails(sink: &Sink) -> usize {
    sink.received().values().map(Vec::len).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_serving_restores_papers_accounts_votes_subscribers_and_sent_digests()
{
    let mail = tempfile::tempdir().unwrap();
    let Some(sink) = Sink::start(mail.path(), &[]) else {
        return;
    };
    // A live hub: the sample, one more ingested page, two users with tokens who upvoted, a
    // confirmed subscriber who got the day's digest.
    let server = Server::start();
    let data = server.data_dir().to_owned();
    let atom = fixture(ATOM);
    assert!(ingest(&data, &[atom.to_str().unwrap()]).status.success());
    let mut tokens = Vec::new();
    for name in ["ada", "bob"] {
        let email = format!("--email={name}@example.org");
        run_cli(
            &data,
            &["user", "add", name, &email, "--password-stdin"],
            &format!("{PASSWORD}\n"),
        );
        tokens.push(
            run_cli(&data, &["token", "create", name], "")
                .trim()
                .to_owned(),
        );
    }
    let (_, imported) = upvotes(&server, None, reqwest::Method::GET).await;
    for token in &tokens {
        let (status, _) = upvotes(&server, Some(token), reqwest::Method::POST).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        upvotes(&server, None, reqwest::Method::GET).await.1,
        imported + 2
    );
    run_ok(paperfeed(
        &data,
        &sink,
        &["subscriber", "add", "reader@example.test", "--confirmed"],
    ));
    run_ok(paperfeed(
        &data,
        &sink,
        &["subscriber", "add", "later@example.test"],
    ));
    let out = run_ok(paperfeed(
        &data,
        &sink,
        &["digest", "run", "--date", "2026-08-21"],
    ));
    assert!(out.contains("this run sent 1"), "{out}");
    assert_eq!(sent_mails(&sink), 1);

    // The backup, with the server still running.
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("hub.sqlite3");
    let out = run_ok(paperfeed(&data, &sink, &["backup", file.to_str().unwrap()]));
    assert!(out.contains("backed up"), "{out}");
    assert!(
        out.contains("2 users, 2 API tokens, 2 votes")
            && out.contains("2 subscribers, 1 digests sent"),
        "{out}"
    );
    assert!(out.contains("mail-signing.key"), "{out}");
    let again = paperfeed(&data, &sink, &["backup", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "an existing backup is not overwritten"
    );
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        server.get("/healthz").await.0,
        200,
        "the server kept serving"
    );

    // Restoring: never over a hub that has data, never from a file that is not a store.
    let refused = bin()
        .arg("--data-dir")
        .arg(&data)
        .args(["restore", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is not empty"),
        "{}",
        text(&refused.stderr)
    );
    let not_a_store = backups.path().join("notes.txt");
    std::fs::write(&not_a_store, "not a database, just words ".repeat(200)).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let bad = bin()
        .arg("--data-dir")
        .arg(fresh.path().join("hub"))
        .args(["restore", not_a_store.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("not a SQLite database"),
        "{}",
        text(&bad.stderr)
    );
    assert!(!fresh.path().join("hub").exists(), "nothing written");

    let restored_dir = tempfile::tempdir().unwrap();
    let out = run_ok(paperfeed(
        restored_dir.path(),
        &sink,
        &["restore", file.to_str().unwrap()],
    ));
    assert!(out.contains("rebuilt from the store"), "{out}");
    assert!(out.contains("restored the mail signing key"), "{out}");
    assert_eq!(
        std::fs::read(restored_dir.path().join("mail-signing.key")).unwrap(),
        std::fs::read(data.join("mail-signing.key")).unwrap()
    );
    drop(server);

    // The restored hub: same papers, same accounts and tokens, the votes counted once.
    let restored = Server::start_with(&["--no-sample"], restored_dir);
    let (status, _) = restored.get(&format!("/papers/{INGESTED}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        upvotes(&restored, None, reqwest::Method::GET).await.1,
        imported + 2
    );
    for token in &tokens {
        let (status, n) = upvotes(&restored, Some(token), reqwest::Method::POST).await;
        assert_eq!(
            (status, n),
            (200, imported + 2),
            "the token works; its vote was kept"
        );
    }
    let mut ada = Visitor::new(&restored);
    assert_eq!(ada.log_in("ada", PASSWORD).await.status, 303);
    assert_eq!(ada.get("/account").await.status, 200, "logged in");

    // Search answers from the index rebuilt from the restored store.
    restored.wait_for_index(false).await;
    let (status, html) = restored
        .get("/papers?q=Retrieval-Based+Demonstration+Decomposer")
        .await;
    assert_eq!(status, 200);
    assert!(html.contains(INGESTED), "{html}");

    // The digest for the same day is not sent twice; the pending subscriber is still pending.
    let out = run_ok(paperfeed(
        restored.data_dir(),
        &sink,
        &["digest", "run", "--date", "2026-08-21"],
    ));
    assert!(out.contains("queued 0 new jobs"), "{out}");
    assert_eq!(sent_mails(&sink), 1, "no second digest for the same period");
}

/// The snapshot holds password hashes and mail addresses: only its owner may read it, like
/// the signing key beside it, whatever the umask (022 here, which made it 0644).
#[cfg(unix)]
#[test]
fn a_backup_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let data = tempfile::tempdir().unwrap();
    let atom = fixture(ATOM);
    assert!(
        ingest(data.path(), &[atom.to_str().unwrap()])
            .status
            .success()
    );
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("hub.sqlite3");
    for force in [false, true] {
        let mut cmd = bin();
        cmd.arg("--data-dir")
            .arg(data.path())
            .args(["backup", file.to_str().unwrap()]);
        if force {
            // Replacing a world-readable file leaves an owner-only one.
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            cmd.arg("--force");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "backup mode {mode:o} (force: {force})");
    }
}

/// A damaged page in the store file: `serve` refuses it at start, naming the damage and
/// `restore`, instead of serving 500s and an empty index while it says it is ready.
#[test]
fn serve_refuses_a_store_with_a_damaged_page_and_points_to_restore() {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let data = tempfile::tempdir().unwrap();
    let atom = fixture(ATOM);
    assert!(
        ingest(data.path(), &[atom.to_str().unwrap()])
            .status
            .success()
    );
    let copy = tempfile::tempdir().unwrap();
    let store = copy.path().join("paperfeed.sqlite3");
    std::fs::copy(data.path().join("paperfeed.sqlite3"), &store).unwrap();
    // Pages 2 to 5 (b-tree pages of the first tables) overwritten with noise.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .unwrap();
    file.seek(SeekFrom::Start(4096)).unwrap();
    file.write_all(&[0xA5; 4 * 4096]).unwrap();
    drop(file);
    let out = bin()
        .arg("--data-dir")
        .arg(copy.path())
        .args(["serve", "--bind", "127.0.0.1:0", "--no-sample"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "served a damaged store: {stderr}");
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert!(stderr.contains("quick_check"), "{stderr}");
    assert!(
        stderr.contains("paperfeed --data-dir NEW_DIR restore"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("listening on"));
    // The original is sound and served.
    let out = bin()
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--bind", "127.0.0.1:0", "--no-sample"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = out;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("listening on"), "{line}");
}
