//! Saved searches: a reader's search kept by name, the papers it matched after it was saved
//! (each pair recorded once, by the matcher that runs after every indexer pass), and its
//! optional webhook with one delivery row per (hook, paper). What a query means is the search
//! engine's business; the store keeps the text as typed.
//!
//! A search is also a digest topic (unless the reader turned that off): the reader's digest
//! reads each such search's matches not yet settled ([`SavedSearchStore::digest_matches`]) and
//! settles them in the transaction that records the digest sent
//! ([`crate::MailStore::finish_digest_with_matches`]), so a match is carried by one digest
//! only, and a digest that never went out settles nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;

use crate::{StoreError, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SavedSearchId(pub i64);

/// A search to save. `mode` and `sort` are the names the search page takes (`hybrid`,
/// `newest`, …), checked by the caller.
#[derive(Clone, Debug)]
pub struct NewSavedSearch {
    pub user: UserId,
    pub name: String,
    pub query: String,
    pub mode: String,
    pub sort: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedSearch {
    pub id: SavedSearchId,
    pub user: UserId,
    pub name: String,
    pub query: String,
    pub mode: String,
    pub sort: String,
    /// The store's `change_seq` when it was saved: only papers changed later are new matches.
    pub created_seq: i64,
    pub created_at: DateTime<Utc>,
    /// Its webhook's target, if it has one.
    pub webhook_url: Option<String>,
    /// Whether its new matches go into the reader's digest.
    pub in_digest: bool,
}

/// What saving a search did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved(SavedSearch),
    /// The reader already has a search by this name (names compare case-insensitively).
    NameTaken,
    /// The reader already has `max` saved searches.
    TooMany,
}

/// A paper one saved search matched, found by the matcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchMatch {
    pub search: SavedSearchId,
    pub paper: ArxivId,
}

/// One saved search as a digest topic: the matches a digest is about to account for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestTopic {
    pub search: SavedSearch,
    /// The newest of its unsettled matches, at most as many as asked.
    pub papers: Vec<ArxivId>,
    /// Its unsettled matches in all (`papers` among them).
    pub unsettled: u64,
    /// The latest matcher pass among them: every one was found through it or earlier.
    pub found_through: i64,
}

impl DigestTopic {
    /// What recording the digest settles for this search: every match counted here.
    pub fn settle(&self) -> SettleMatches {
        SettleMatches {
            search: self.search.id,
            found_through: self.found_through,
        }
    }
}

/// Adds one row of a [`SavedSearchStore::digest_matches`] read (a search, one of its papers,
/// how many it has unsettled, the pass they were found through) to `topics`: both backends
/// read the rows grouped by search, papers in order.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn gather_topic(
    topics: &mut Vec<DigestTopic>,
    search: SavedSearch,
    paper: ArxivId,
    unsettled: i64,
    found_through: i64,
) {
    match topics.last_mut() {
        Some(topic) if topic.search.id == search.id => topic.papers.push(paper),
        _ => topics.push(DigestTopic {
            search,
            papers: vec![paper],
            unsettled: u64::try_from(unsettled).unwrap_or(0),
            found_through,
        }),
    }
}

/// Matches a sent digest accounts for: those of `search` not yet settled and found through
/// `found_through` or earlier (shown, summed up as "and N more", or left out because the
/// reader muted, dismissed or was already mailed them). They are never offered again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettleMatches {
    pub search: SavedSearchId,
    pub found_through: i64,
}

/// A saved search's webhook. The secret is kept as given: the hub signs with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub search: SavedSearchId,
    pub url: String,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// To send at `next_attempt_at` (or being sent, claimed until then).
    Pending,
    Delivered,
    /// Given up after the last allowed attempt.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One (hook, paper) delivery as the delivery log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub hook: i64,
    pub search: SavedSearchId,
    pub paper: ArxivId,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A delivery claimed for sending: the row (its `attempts` already counts this attempt), its
/// hook and its search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: WebhookDelivery,
    pub hook: Webhook,
    pub search: SavedSearch,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered {
        status: i64,
    },
    /// Failed; tried again at `retry_at`, or given up when `None`.
    Failed {
        status: Option<i64>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Storage of saved searches, their matches and webhooks. Every backend keeps it exactly;
/// `contract/saved_searches.rs` checks it.
#[async_trait]
pub trait SavedSearchStore: Send + Sync + 'static {
    /// Saves a search unless the name is taken or the reader has `max` already.
    async fn save_search(&self, new: NewSavedSearch, max: usize)
    -> Result<SaveOutcome, StoreError>;

    /// The reader's saved searches by name (case-insensitively).
    async fn saved_searches(&self, user: UserId) -> Result<Vec<SavedSearch>, StoreError>;

    /// One of the reader's saved searches.
    async fn saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
    ) -> Result<Option<SavedSearch>, StoreError>;

    /// Renames one; false when the reader has no such search; `Conflict { field: "name" }`
    /// when the name is taken.
    async fn rename_saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
        name: String,
    ) -> Result<bool, StoreError>;

    /// Deletes one with its matches, webhook and deliveries; false when there was none.
    async fn delete_saved_search(
        &self,
        user: UserId,
        id: SavedSearchId,
    ) -> Result<bool, StoreError>;

    /// Every saved search of every reader: what the matcher checks the papers of a pass
    /// against (at most 50 per reader, so a few per reader in practice).
    async fn searches_to_match(&self) -> Result<Vec<SavedSearch>, StoreError>;

    /// How far (in `change_seq`) the matcher has looked.
    async fn match_cursor(&self) -> Result<i64, StoreError>;

    /// Records what the matcher found in the changes after `from` up to `to`, in one
    /// transaction, if the cursor still stands at `from` (else another node did it: nothing
    /// is written and `None` comes back). Each (search, paper) pair is kept once; for each
    /// new pair whose search has a webhook, a pending delivery due at `now` is written. The
    /// cursor moves to `to`, and the new pairs are marked found through it (what
    /// [`SettleMatches`] counts by). Returns the pairs that were new.
    async fn record_matches(
        &self,
        from: i64,
        to: i64,
        matches: Vec<SearchMatch>,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<SearchMatch>>, StoreError>;

    /// Turns one of the reader's searches on or off as a digest topic; false when the reader
    /// has no such search.
    async fn set_search_in_digest(
        &self,
        user: UserId,
        id: SavedSearchId,
        in_digest: bool,
    ) -> Result<bool, StoreError>;

    /// The reader's digest topics: each of their searches that is in the digest and has
    /// matches not yet settled, by name (case-insensitively), with at most `per_search` of
    /// those matches (newest pass first, then paper id descending), how many there are in all,
    /// and the pass they were found through. Read at one instant, so settling
    /// ([`DigestTopic::settle`]) covers exactly the matches counted here.
    async fn digest_matches(
        &self,
        user: UserId,
        per_search: usize,
    ) -> Result<Vec<DigestTopic>, StoreError>;

    /// Sets (or replaces) the webhook of one of the reader's searches; `None` when the
    /// reader has no such search. Replacing keeps the delivery log of the old target.
    async fn set_webhook(
        &self,
        user: UserId,
        search: SavedSearchId,
        url: String,
        secret: String,
        now: DateTime<Utc>,
    ) -> Result<Option<Webhook>, StoreError>;

    /// Removes the webhook of one of the reader's searches (and its deliveries).
    async fn delete_webhook(&self, user: UserId, search: SavedSearchId)
    -> Result<bool, StoreError>;

    /// Claims up to `limit` pending deliveries due at `now`: each one's `attempts` grows by one
    /// and its `next_attempt_at` moves to `lease_until`, so no other sender takes it meanwhile
    /// (a sender that dies leaves it to be tried again then).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records how an attempt of a claimed delivery ended, at `at`.
    async fn finish_delivery(
        &self,
        id: i64,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The reader's latest deliveries (all their searches), newest first, at most `limit`.
    async fn webhook_deliveries(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
}
