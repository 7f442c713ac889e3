//! Opening the configured database: an SQLite file (the default, `sqlite://PATH`) or a
//! PostgreSQL server (`postgres://…`, for several nodes sharing one database). Every command
//! opens its store here.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use paperfeed_store::{Database, PostgresStore, SqliteStore, mask_password};

use crate::settings::Settings;

/// Where a store lives, parsed from a database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// `sqlite://PATH` (`sqlite:///abs/path` or `sqlite://relative/path`) or
    /// `postgres://user@host:port/db` (also `postgresql://`).
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            anyhow::ensure!(
                !path.is_empty(),
                "database URL {url:?} names no file: write sqlite://PATH"
            );
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        anyhow::bail!(
            "database URL {:?} is neither sqlite://PATH nor postgres://user@host:port/database",
            mask_password(url)
        )
    }

    /// Opens (creating an SQLite file if needed) and migrates the store.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Database>> {
        let database: Arc<dyn Database> = match self {
            Location::Sqlite(path) => {
                let path = path.clone();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                    .await
                    .context("opening the SQLite store")??;
                Arc::new(store)
            }
            Location::Postgres(url) => Arc::new(PostgresStore::connect(url).await?),
        };
        Ok(database)
    }
}

/// The store of the configured `database_url`: what every command works on.
pub async fn open(settings: &Settings) -> anyhow::Result<Arc<dyn Database>> {
    let url = settings.database_url();
    Location::parse(url)?
        .open()
        .await
        .with_context(|| format!("opening the store at {}", mask_password(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_name_a_backend_and_bad_ones_are_refused_without_their_password() {
        assert_eq!(
            Location::parse("sqlite:///var/lib/paperfeed/store.sqlite3").unwrap(),
            Location::Sqlite(PathBuf::from("/var/lib/paperfeed/store.sqlite3"))
        );
        assert_eq!(
            Location::parse("sqlite://data/store.sqlite3").unwrap(),
            Location::Sqlite(PathBuf::from("data/store.sqlite3"))
        );
        assert_eq!(
            Location::parse("postgres://u@127.0.0.1/db").unwrap(),
            Location::Postgres("postgres://u@127.0.0.1/db".into())
        );
        let err = Location::parse("mysql://u:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mysql://u:***@h/db"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(Location::parse("sqlite://").is_err());
    }
}
