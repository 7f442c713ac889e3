//! Persistence for paperfeed: one [`Store`] trait and its backends. The embedded SQLite backend
//! ([`SqliteStore`]) is the default; a PostgreSQL backend implements the same contract.
//!
//! No SQL and no driver type leaves this crate: callers see domain types from
//! `paperfeed-core` and [`StoreError`]. Every write of a batch is one transaction, so a process
//! killed mid-way leaves the store as it was before that batch and a rerun completes the job.

mod contract;
mod sqlite;

use async_trait::async_trait;
use chrono::NaiveDate;
use paperfeed_core::{ArxivId, NewPaper, Paper, UpsertOutcome};

pub use contract::run_store_contract;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} could not be opened: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the store's schema is newer ({found}) than this paperfeed understands ({known}); upgrade paperfeed"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// A paper as listed on a feed day.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEntry {
    /// The featured day this entry is listed under.
    pub day: NaiveDate,
    pub paper: Paper,
}

/// Counts for status lines and start-up logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub papers: u64,
    pub featured_days: u64,
    /// The store-wide change counter; grows with every batch that changed something.
    pub change_seq: i64,
}

/// Whether a write batch is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    Commit,
    /// Runs the whole batch, reports what it would do, and rolls it back.
    DryRun,
}

/// The storage contract. Backends must keep it exactly; `run_store_contract` checks it.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Merges each record into the stored paper (see `paperfeed_core::merge`) in one
    /// transaction and reports, in order, what happened to each.
    async fn upsert_papers(
        &self,
        batch: Vec<NewPaper>,
        mode: WriteMode,
    ) -> Result<Vec<UpsertOutcome>, StoreError>;

    async fn get_paper(&self, id: &ArxivId) -> Result<Option<Paper>, StoreError>;

    /// Papers featured on days `from..=to`, newest day first, then most upvoted, then by id.
    async fn featured_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FeedEntry>, StoreError>;

    /// The nearest featured day strictly before `day`.
    async fn featured_day_before(&self, day: NaiveDate) -> Result<Option<NaiveDate>, StoreError>;

    /// The nearest featured day strictly after `day`.
    async fn featured_day_after(&self, day: NaiveDate) -> Result<Option<NaiveDate>, StoreError>;

    async fn latest_featured_day(&self) -> Result<Option<NaiveDate>, StoreError>;

    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// The store-wide change counter alone: cheap enough to ask on every request, so that
    /// caches of derived views (rendered pages, ETags) know when they are stale, even when
    /// another process or node wrote.
    async fn change_seq(&self) -> Result<i64, StoreError>;
}
