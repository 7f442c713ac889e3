//! What the recommender keeps of each reader: their controls (paused, social weight, recency
//! window, exploration, the last reset) and the papers they chose as seeds ("recommend from
//! these"), plus one read of every paper signal they gave (seeds, upvotes, saves, collection
//! membership, "not interested", opened papers) for building their model.
//!
//! The model itself is derived data (rebuilt from these signals by `paperfeed-app`), so the
//! store keeps none of it. Every row belongs to one user and goes with the account; a seed
//! goes with its paper. None of these writes moves `change_seq`: they change no page anybody
//! else sees.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;

use crate::{StoreError, UserId};

/// A reader's recommender controls, as stored. What they mean (and their defaults, for a
/// reader who never changed them) is `paperfeed-app`'s business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecommenderSettings {
    /// Recommendations are off until the reader resumes them.
    pub paused: bool,
    /// How much the social terms (upvotes, trending) weigh, in percent (0–100).
    pub social_weight: u8,
    /// Only papers from the last this many days are picked.
    pub recency_days: u32,
    /// How much of each list explores beyond the reader's known interests, in percent (0–100).
    pub exploration: u8,
    /// The last reset: signals given before it are ignored.
    pub reset_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A paper a reader chose to be recommended from, since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    pub paper: ArxivId,
    pub added_at: DateTime<Utc>,
}

/// What adding a seed did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedAdded {
    Added,
    /// It was a seed already (its first time is kept).
    AlreadyThere,
    /// The store holds no such paper.
    NoSuchPaper,
    /// The reader has as many seeds as allowed; nothing was added.
    Full,
}

/// One signal about one paper: which paper and when the reader gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperSignal {
    pub paper: ArxivId,
    pub at: DateTime<Utc>,
}

/// A paper in one of the reader's collections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectedPaper {
    pub paper: ArxivId,
    pub collection: i64,
    pub collection_name: String,
    pub at: DateTime<Utc>,
}

/// Every paper signal of one reader, read together: each list newest first and at most the
/// `limit` asked (a reader's oldest signals beyond it are left out, so one read stays bounded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReaderSignals {
    /// `None`: the reader never changed a control (nor reset).
    pub settings: Option<RecommenderSettings>,
    pub seeds: Vec<PaperSignal>,
    pub upvotes: Vec<PaperSignal>,
    pub saved: Vec<PaperSignal>,
    pub collected: Vec<CollectedPaper>,
    /// "Not interested".
    pub dismissed: Vec<PaperSignal>,
    /// Papers whose page they opened (a weak signal), with when they first saw them.
    pub opened: Vec<PaperSignal>,
}

/// Storage of the recommender's controls and seeds. Every backend keeps it exactly;
/// `contract/recommender.rs` checks it.
#[async_trait]
pub trait RecommenderStore: Send + Sync + 'static {
    /// `user`'s controls; `None` when they never set any.
    async fn recommender_settings(
        &self,
        user: UserId,
    ) -> Result<Option<RecommenderSettings>, StoreError>;

    /// Replaces `user`'s controls (false when there is no such user).
    async fn set_recommender_settings(
        &self,
        user: UserId,
        settings: &RecommenderSettings,
    ) -> Result<bool, StoreError>;

    /// A reset, in one transaction: `user`'s seeds are forgotten and `settings` (which carry
    /// the new `reset_at`) replace theirs. False when there is no such user.
    async fn reset_recommender(
        &self,
        user: UserId,
        settings: &RecommenderSettings,
    ) -> Result<bool, StoreError>;

    /// Adds `paper` to `user`'s seeds unless it is one already or they have `max`. Atomic:
    /// racing adds never pass `max`.
    async fn add_seed(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
        max: usize,
    ) -> Result<SeedAdded, StoreError>;

    /// False when `paper` was not one of `user`'s seeds.
    async fn remove_seed(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError>;

    /// `user`'s seeds, newest first (ties by id).
    async fn seeds(&self, user: UserId) -> Result<Vec<Seed>, StoreError>;

    /// In one read: `user`'s controls and their paper signals, each list newest first (ties
    /// by id), at most `limit` each.
    async fn reader_signals(&self, user: UserId, limit: usize)
    -> Result<ReaderSignals, StoreError>;
}
