//! Opening the configured database: an SQLite file (the default, `sqlite://PATH`) or a
//! PostgreSQL server (`postgres://…`, for several nodes sharing one database). Every command
//! opens its store here. Reading the URL is the settings' job ([`Location::parse`]).

use std::sync::Arc;

use anyhow::Context as _;
use paperfeed_store::{Database, PostgresStore, SqliteStore, mask_password};

pub use crate::settings::Location;
use crate::settings::Settings;

impl Location {
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
