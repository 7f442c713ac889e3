//! A reader's library: saved papers (with reading state and a private note) and named
//! collections, private unless their owner makes them public. Every row belongs to a user and
//! goes with them (`on delete cascade`); a paper's rows go with the paper.
//!
//! Writes move the store's change counter (not the papers'): pages and their ETags depend on
//! it, and a reader's pages show their library.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, ReadingState};

use crate::{StoreError, UserId};

/// A paper in a reader's library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedPaper {
    pub paper: ArxivId,
    pub saved_at: DateTime<Utc>,
    pub state: ReadingState,
    /// The reader's Markdown as typed; empty when there is none.
    pub note: String,
    pub updated_at: DateTime<Utc>,
}

/// A change to a saved paper: what is `None` stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedPaperChange {
    pub state: Option<ReadingState>,
    pub note: Option<String>,
}

/// A named list of papers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    pub id: i64,
    pub owner: UserId,
    pub name: String,
    /// Readable by anyone at its address (and its feeds); otherwise by its owner only.
    pub public: bool,
    /// How many papers it holds.
    pub papers: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a collection: what is `None` stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectionChange {
    pub name: Option<String>,
    pub public: Option<bool>,
}

/// A paper in a collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionEntry {
    pub paper: ArxivId,
    pub added_at: DateTime<Utc>,
}

/// What adding one paper to a collection did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    Added,
    AlreadyThere,
    /// The store holds no such paper.
    NoSuchPaper,
}

#[async_trait]
pub trait LibraryStore: Send + Sync + 'static {
    /// Saves a paper to `user`'s library (to read, no note). `None` when there is no such
    /// paper; `Some(false)` when it was saved already (nothing changes).
    async fn save_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError>;

    /// Removes a paper from `user`'s library, with its note; false when it was not there.
    async fn unsave_paper(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError>;

    async fn saved_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
    ) -> Result<Option<SavedPaper>, StoreError>;

    /// `user`'s saved papers, newest saved first (ties by id, descending), only those in
    /// `state` when given.
    async fn saved_papers(
        &self,
        user: UserId,
        state: Option<ReadingState>,
    ) -> Result<Vec<SavedPaper>, StoreError>;

    /// Which of `ids` `user` has saved, in the order of `ids`. One read for the batch.
    async fn saved_among(&self, user: UserId, ids: &[ArxivId]) -> Result<Vec<ArxivId>, StoreError>;

    async fn count_saved(&self, user: UserId) -> Result<u64, StoreError>;

    /// Changes the reading state and/or note of a saved paper; false when it is not saved.
    async fn update_saved_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        change: SavedPaperChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// A new private collection of `user`'s.
    async fn create_collection(
        &self,
        user: UserId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<Collection, StoreError>;

    /// `user`'s collections, by name (then id).
    async fn collections(&self, user: UserId) -> Result<Vec<Collection>, StoreError>;

    /// Collection `id`, whoever owns it (callers decide who may see it).
    async fn collection(&self, id: i64) -> Result<Option<Collection>, StoreError>;

    /// Renames or publishes/unpublishes `user`'s collection `id`; false when they have none.
    async fn update_collection(
        &self,
        user: UserId,
        id: i64,
        change: CollectionChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Deletes `user`'s collection `id` and its list (not the papers); false when they have none.
    async fn delete_collection(&self, user: UserId, id: i64) -> Result<bool, StoreError>;

    /// Adds papers to `user`'s collection `id` in one transaction, reporting each in order.
    /// `None` when the collection is not theirs.
    async fn add_to_collection(
        &self,
        user: UserId,
        id: i64,
        papers: &[ArxivId],
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<Added>>, StoreError>;

    /// Removes a paper from `user`'s collection `id`; false when it was not in it.
    async fn remove_from_collection(
        &self,
        user: UserId,
        id: i64,
        paper: &ArxivId,
    ) -> Result<bool, StoreError>;

    /// The papers of collection `id`, latest added first (ties by id, descending).
    async fn collection_papers(&self, id: i64) -> Result<Vec<CollectionEntry>, StoreError>;

    /// The ids of `user`'s collections holding `paper`.
    async fn collections_with_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
    ) -> Result<Vec<i64>, StoreError>;
}
