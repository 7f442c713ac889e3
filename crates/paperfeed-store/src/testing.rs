//! Test support (feature `testing`): a fresh PostgreSQL database per test, dropped at the end
//! even when the test fails. The server is `PAPERFEED_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); with none reachable, tests outside CI say loudly
//! that they were skipped, and in CI (`CI` set) they fail.

use std::time::Duration;

use tokio_postgres::NoTls;

/// The variable naming the server (any database on it) that test databases are made on.
pub const TEST_DATABASE_URL_VAR: &str = "PAPERFEED_TEST_DATABASE_URL";
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database made for one test; dropped (`with (force)`) when this value is.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Makes a fresh, uniquely named database. `None` (after printing `SKIPPED: …` to stderr)
    /// when no server answers, unless `CI` is set: then it panics, since CI must run these tests.
    pub async fn create() -> Option<Self> {
        // PAPERFEED_TEST_POSTGRES_URL: the name the style notes use.
        let admin_url = [TEST_DATABASE_URL_VAR, "PAPERFEED_TEST_POSTGRES_URL"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned());
        let masked = crate::mask_password(&admin_url);
        let client = match admin_client(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                let e = crate::error_text(&e);
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL is required in CI, but {masked} did not answer: {e}"
                );
                eprintln!(
                    "SKIPPED: no PostgreSQL at {masked} ({e}); set {TEST_DATABASE_URL_VAR} to run \
                     the PostgreSQL tests"
                );
                return None;
            }
        };
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).ok()?;
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("paperfeed_t_{}_{suffix}", std::process::id());
        if let Err(e) = client
            .batch_execute(&format!("create database \"{name}\""))
            .await
        {
            panic!(
                "creating test database {name} on {masked}: {}",
                crate::error_text(&e)
            );
        }
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    /// The URL of the fresh database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime (or while a test panics): a thread of its own, with a
        // runtime of its own, does the async work.
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = admin_client(&admin_url)
                    .await
                    .map_err(|e| crate::error_text(&e))?;
                client
                    .batch_execute(&format!("drop database if exists \"{name}\" with (force)"))
                    .await
                    .map_err(|e| crate::error_text(&e))
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    format!("{scheme}://{authority}/{name}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_test_database_url_keeps_the_server_and_names_the_new_database() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }
}
