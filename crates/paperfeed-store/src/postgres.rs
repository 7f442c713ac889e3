//! The PostgreSQL backend: for several `paperfeed` nodes sharing one database. A small
//! connection pool per node (deadpool), plain TCP without TLS (`NoTls`: the server is expected on
//! loopback or a private network), migrations applied at open under an advisory lock so two
//! nodes starting at once do not race.
//!
//! Same contract as [`crate::SqliteStore`], with what several writers at once need:
//! - Lock order, everywhere: paper rows (by id when several), then other rows, then the
//!   `store_counters` row last. Writers never wait in a cycle, so there are no deadlocks.
//! - Papers are read `for no key update` before they are merged, so two nodes ingesting the same
//!   paper merge one after the other instead of overwriting each other's merge.
//! - `change_seq` is taken from the single counter row in the writing transaction, not from a
//!   sequence: see `sql::next_change_seq`.
//!
//! This file holds the handle (pool, connecting); the [`Store`](crate::Store) contract is
//! kept in `store.rs` with `papers.rs` (writing batches), `embeddings.rs`, `rows.rs`, `sql.rs`
//! (statements and the change counter) and `migrate.rs`; the outbox in `mail.rs`.

mod accounts;
mod community;
mod embeddings;
mod follows;
mod for_you_digest;
mod identities;
mod library;
mod mail;
mod migrate;
mod papers;
mod recommender;
mod rows;
mod saved_searches;
mod sql;
mod store;
#[cfg(test)]
mod tests;
mod thumbnails;
mod transfer;
mod vector_transfer;
mod visibility;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::{StoreError, error_text};

/// Connections per node.
const POOL_SIZE: usize = 16;

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The URL with any password masked, for messages.
    url: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .finish()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::unavailable_from("", e)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::unavailable_from("no database connection", e)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages and
/// `paperfeed config`. Anything without a password comes back unchanged.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`; the database must
    /// exist) and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let masked = mask_password(url);
        let open_err = |reason: String| StoreError::Open {
            path: masked.clone(),
            reason,
        };
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                open_err(format!("not a PostgreSQL URL: {}", error_text(&e)))
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("paperfeed");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| open_err(error_text(&e)))?;
        let mut client = pool.get().await.map_err(|e| open_err(error_text(&e)))?;
        migrate::migrate(&mut client).await.map_err(|e| match e {
            StoreError::Unavailable { context, source } => {
                let cause = source.as_deref().map(|s| error_text(s));
                let reason: Vec<String> = [Some(context).filter(|c| !c.is_empty()), cause]
                    .into_iter()
                    .flatten()
                    .collect();
                open_err(reason.join(": "))
            }
            other => other,
        })?;
        Ok(Self { pool, url: masked })
    }

    /// The URL with any password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}
