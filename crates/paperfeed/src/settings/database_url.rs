//! The database URL setting and where it says the store lives. Opening the store is
//! [`crate::database`]'s job; this is only the reading of the URL, checked at start-up.

use std::path::PathBuf;

use paperfeed_store::mask_password;
use serde::{Deserialize, Serialize};

/// A database URL: printed (Debug, `paperfeed config`) with its password masked.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", mask_password(&self.0))
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&mask_password(&self.0))
    }
}

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
