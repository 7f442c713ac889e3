//! Persistence for paperfeed: one [`Store`] trait and its backends. The embedded SQLite backend
//! (`SqliteStore`, feature `sqlite`) is the default; the PostgreSQL backend (`PostgresStore`,
//! feature `postgres`) implements the same contract for several nodes sharing one database.
//! Without either feature the crate is the traits and their types alone, and links no driver:
//! what the web and the application layer depend on. Feature `testing` adds the contract
//! stories every backend must pass (and, with `postgres`, `testing::TestDatabase`).
//!
//! No SQL and no driver type leaves this crate: callers see domain types from
//! `paperfeed-core` and [`StoreError`]. Every write of a batch is one transaction, so a process
//! killed mid-way leaves the store as it was before that batch and a rerun completes the job.

mod accounts;
mod community;
#[cfg(any(test, feature = "testing"))]
mod contract;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod encoding;
mod feed_tokens;
mod follows;
mod for_you_digest;
mod identities;
mod library;
mod mail;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrations;
#[cfg(feature = "postgres")]
mod postgres;
mod recommender;
mod saved_searches;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(all(any(test, feature = "testing"), feature = "postgres"))]
pub mod testing;
mod thumbnails;
pub mod transfer;
mod vector_transfer;
mod visibility;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Featuring, NewPaper, Paper, UpsertOutcome};

pub use accounts::{AccountDeletion, AccountStore, CastVote};
pub use community::{
    ApiToken, Comment, NewComment, NewSession, NewUser, Session, User, UserId, VoteOutcome,
};

#[cfg(any(test, feature = "testing"))]
pub use contract::{
    run_digest_topics_contract, run_mail_contract, run_paper_index_contract, run_store_contract,
};
pub use feed_tokens::{FeedToken, FeedTokenStore};
pub use follows::{
    AccountClaim, Follow, FollowStore, IndexKey, IndexLabel, IndexedPaper, ListingCursor,
    MAX_INDEX_KEYS,
};
pub use for_you_digest::{ForYouDigest, ForYouDigestStore};
pub use identities::{
    Identity, IdentityStore, LinkOutcome, NO_PASSWORD, NewIdentity, SignInWays, UnlinkOutcome,
};
pub use library::{
    Added, Collection, CollectionChange, CollectionEntry, LibraryStore, SavedPaper,
    SavedPaperChange,
};
pub use mail::{
    DeliveryFailure, DigestClaimer, DigestCounts, DigestJob, LiveHolder, MailStore, NewSubscriber,
    Subscriber, SubscriberStatus,
};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresStore, mask_password};
pub use recommender::{
    CollectedPaper, PaperSignal, ReaderSignals, RecommenderSettings, RecommenderStore, Seed,
    SeedAdded,
};
pub use saved_searches::{
    AttemptOutcome, ClaimedDelivery, DeliveryState, NewSavedSearch, SaveOutcome, SavedSearch,
    SavedSearchId, SavedSearchStore, SearchMatch, Webhook, WebhookDelivery,
};
pub use saved_searches::{DigestTopic, SettleMatches};
#[cfg(feature = "sqlite")]
pub use sqlite::{BackupPace, BackupReport, SqliteStore, StoreCheck, StoreCounts};
pub use thumbnails::{
    MAX_THUMBNAIL_BYTES, Thumbnail, ThumbnailFailure, ThumbnailStore, ThumbnailVersion,
};
pub use vector_transfer::{
    ImportedVectors, MISSING_KEPT, SequencedVector, VectorCursor, VectorImport, VectorTransferStore,
};
pub use visibility::{
    Dismissal, Mute, MuteAdded, NewMute, ReaderMarks, SeenMark, SeenReason, SeenReasons,
    VisibilityStore,
};

/// Everything a node keeps: papers and community ([`Store`]) and the mail outbox
/// ([`MailStore`]), and copying it whole ([`transfer::Transfer`]). What the binary opens;
/// `Arc<dyn Database>` upcasts to each of those traits.
pub trait Database: Store + MailStore + transfer::Transfer {}

impl<T: Store + MailStore + transfer::Transfer> Database for T {}

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
    /// The store cannot answer now (the database is unreachable or busy, the disk refused):
    /// `context` says what failed, in our words; `source` is the error underneath (the
    /// driver's, the system's), kept for whoever walks the chain (`{:#}` in anyhow).
    #[error("the store is unavailable{}", colon_before(.context))]
    Unavailable {
        context: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// A unique value is taken (a user name or email address); `field` names it.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// A row copied into this store was refused (`paperfeed migrate`).
    #[error("{table} row {row} was refused: {reason}")]
    Rejected {
        table: &'static str,
        row: String,
        reason: String,
    },
}

impl StoreError {
    /// [`StoreError::Unavailable`] for a reason of the store's own, with no error underneath.
    pub fn unavailable(context: impl Into<String>) -> Self {
        StoreError::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    /// [`StoreError::Unavailable`] because of `source` (a driver's or the system's error),
    /// while doing `context` (empty when the source says it all).
    pub fn unavailable_from(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        StoreError::Unavailable {
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

impl StoreError {
    /// The message with the causes beneath it, in one line: for logs that keep one string.
    pub fn detail(&self) -> String {
        error_text(self)
    }
}

/// An error with its causes, in one line (a cause already in the text is not repeated):
/// tokio-postgres, for one, keeps the server's message ("ERROR: relation …", "Connection
/// refused") in the source chain, not in its own text.
pub(crate) fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// `": context"`, or nothing when there is no context.
fn colon_before(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!(": {context}")
    }
}

/// A paper as listed on a feed day (defined in core, where the trending order over it lives).
pub use paperfeed_core::FeedEntry;

/// Which featured entries a feed page lists: an optional span of days and submitter, an order,
/// and a window (`offset`, `limit`) into the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedQuery {
    /// Featured days `from..=to`; `None` lists every day.
    pub days: Option<(NaiveDate, NaiveDate)>,
    /// Only entries put on the feed by this user name (exact match).
    pub submitter: Option<String>,
    pub order: FeedOrder,
    pub offset: usize,
    pub limit: usize,
}

/// The order of a feed page. Ties always end by paper id, so pages are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedOrder {
    /// Newest featured day first, then most upvoted (the order of [`Store::featured_between`]).
    Newest,
    /// Most upvoted first, then newest featured day.
    MostUpvoted,
}

/// A paper and the change that last wrote it, for derived data catching up.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangedPaper {
    pub change_seq: i64,
    pub paper: Paper,
}

/// A paper whose title and abstract have no vector yet from a given model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingJob {
    pub id: ArxivId,
    /// The fingerprint of `text`; store it with the vector.
    pub text_hash: i64,
    /// `Paper::embedding_text`.
    pub text: String,
}

/// A computed vector for one paper's text.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperVector {
    pub id: ArxivId,
    pub text_hash: i64,
    pub vector: Vec<f32>,
}

/// Counts for status lines and start-up logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub papers: u64,
    pub featured_days: u64,
    /// The store-wide change counter; grows with every batch that changed something.
    pub change_seq: i64,
}

/// Where the harvest of one live source stands, kept beside the papers it brought in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HarvestPosition {
    /// Where an unfinished harvest goes on (an OAI-PMH resumption token, an API offset);
    /// opaque to the store. `None`: no harvest in flight.
    pub cursor: Option<String>,
    /// The last day a finished harvest covered, where the next one may start.
    pub last_day: Option<NaiveDate>,
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
pub trait Store:
    LibraryStore
    + VisibilityStore
    + FollowStore
    + FeedTokenStore
    + SavedSearchStore
    + AccountStore
    + RecommenderStore
    + ForYouDigestStore
    + ThumbnailStore
    + IdentityStore
    + VectorTransferStore
    + Send
    + Sync
    + 'static
{
    /// Merges each record into the stored paper (see `paperfeed_core::merge`) in one
    /// transaction and reports, in order, what happened to each.
    async fn upsert_papers(
        &self,
        batch: Vec<NewPaper>,
        mode: WriteMode,
    ) -> Result<Vec<UpsertOutcome>, StoreError>;

    /// [`Store::upsert_papers`], and in the same transaction records where the harvest of
    /// `source` stands after this batch: papers and position are kept together or not at all,
    /// so a harvest killed mid-way resumes after the last batch kept, losing and repeating
    /// nothing. A dry run keeps neither.
    async fn upsert_harvest_batch(
        &self,
        source: &str,
        batch: Vec<NewPaper>,
        position: HarvestPosition,
        mode: WriteMode,
    ) -> Result<Vec<UpsertOutcome>, StoreError>;

    /// The position last recorded for `source`, if any.
    async fn harvest_position(&self, source: &str) -> Result<Option<HarvestPosition>, StoreError>;

    async fn get_paper(&self, id: &ArxivId) -> Result<Option<Paper>, StoreError>;

    /// The stored papers among `ids`, in the order of `ids`: ids with no paper are skipped, an
    /// id given twice comes once (where it first stands). One read for the whole batch, however
    /// many ids (a page of search hits, a digest's candidates).
    async fn get_papers(&self, ids: &[ArxivId]) -> Result<Vec<Paper>, StoreError>;

    /// Papers featured on days `from..=to`, newest day first, then most upvoted, then by id.
    async fn featured_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FeedEntry>, StoreError>;

    /// One window of featured entries (one entry per paper and featured day), filtered and
    /// ordered as `query` says.
    async fn featured_page(&self, query: FeedQuery) -> Result<Vec<FeedEntry>, StoreError>;

    /// Papers by id, descending (newest arXiv ids first), strictly after the cursor `before`
    /// when given, at most `limit`. Paging with the last id seen as the next cursor visits
    /// every paper once, even while new papers are added.
    async fn papers_page(
        &self,
        before: Option<ArxivId>,
        limit: usize,
    ) -> Result<Vec<Paper>, StoreError>;

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

    /// Papers written after change `since` (exclusive), in change order: about `limit`, but
    /// a page always ends with a whole change (every paper of its last `change_seq`), so a
    /// caller can page with the last `change_seq` it saw as its next `since`. Derived data
    /// (the search index) pages through this from its watermark.
    async fn papers_changed_since(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<ChangedPaper>, StoreError>;

    /// Papers whose current text has no vector from `model`, at most `limit`, by id.
    async fn embedding_backlog(
        &self,
        model: &str,
        limit: usize,
    ) -> Result<Vec<EmbeddingJob>, StoreError>;

    /// How many papers [`Store::embedding_backlog`] would return without a limit.
    async fn count_embedding_backlog(&self, model: &str) -> Result<u64, StoreError>;

    /// Stores vectors from `model`, replacing older ones. A vector whose `text_hash` no longer
    /// matches the paper (its text changed meanwhile) is dropped: it would be stale.
    async fn put_embeddings(
        &self,
        model: &str,
        vectors: Vec<PaperVector>,
    ) -> Result<(), StoreError>;

    /// Every stored vector from `model` that matches its paper's current text.
    async fn embeddings(&self, model: &str) -> Result<Vec<PaperVector>, StoreError>;

    /// The stored vectors from `model` of the papers `ids` that match their current text, by
    /// id: how a node that does not compute vectors picks up those another node computed.
    async fn embeddings_of(
        &self,
        model: &str,
        ids: &[ArxivId],
    ) -> Result<Vec<PaperVector>, StoreError>;

    // --- Community. Every write below that changes what a page shows (votes, comments,
    // featurings) moves `change_seq` in its own transaction, so caches refresh.

    /// Adds a user; [`StoreError::Conflict`] names `username` or `email` when taken (names and
    /// emails compare without regard to case).
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;

    /// The user with this name (any case).
    async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// Replaces a user's password hash and ends every session of theirs except `keep`
    /// (the hash of the session that asked), in one transaction.
    async fn set_password_hash(
        &self,
        user: UserId,
        password_hash: String,
        keep: Option<String>,
    ) -> Result<(), StoreError>;

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;

    /// The live session with this id hash (expired ones are not found), with its user.
    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError>;

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;

    /// Stores the hash of a new API token named `name` for `user`.
    async fn create_api_token(
        &self,
        user: UserId,
        name: String,
        token_hash: String,
    ) -> Result<ApiToken, StoreError>;

    async fn api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError>;

    /// Deletes one of `user`'s tokens; false when they have no such token.
    async fn revoke_api_token(&self, user: UserId, token_id: i64) -> Result<bool, StoreError>;

    async fn user_by_api_token(&self, token_hash: &str) -> Result<Option<User>, StoreError>;

    /// Casts (`up`) or withdraws `user`'s vote on a paper. Idempotent: a second identical
    /// call changes nothing. `None` when there is no such paper.
    async fn set_vote(
        &self,
        user: UserId,
        paper: &ArxivId,
        up: bool,
    ) -> Result<Option<VoteOutcome>, StoreError>;

    /// Whether `user` has voted for `paper`.
    async fn has_voted(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError>;

    /// Adds a comment; `None` when there is no such paper.
    async fn add_comment(&self, comment: NewComment) -> Result<Option<Comment>, StoreError>;

    /// A paper's comments, oldest first, hidden ones included (marked).
    async fn comments(&self, paper: &ArxivId) -> Result<Vec<Comment>, StoreError>;

    async fn comment(&self, id: i64) -> Result<Option<Comment>, StoreError>;

    /// Replaces the body of comment `id` if `author` wrote it; false otherwise.
    async fn edit_comment(&self, id: i64, author: UserId, body: String)
    -> Result<bool, StoreError>;

    /// Deletes comment `id` if `author` wrote it; false otherwise.
    async fn delete_comment(&self, id: i64, author: UserId) -> Result<bool, StoreError>;

    /// Hides or shows comment `id` (a moderator's act); false when there is no such comment.
    async fn set_comment_hidden(&self, id: i64, hidden: bool) -> Result<bool, StoreError>;

    /// Features a stored paper on `featuring.date`; false when there is no such paper.
    async fn feature_paper(
        &self,
        paper: &ArxivId,
        featuring: Featuring,
    ) -> Result<bool, StoreError>;

    // --- Leases: work that must run once across nodes sharing this store (periodic jobs).

    /// Takes or renews the lease `name` for `holder` until `until`: granted when nobody holds
    /// it, when the holder's lease ran out by `now`, or when `holder` already holds it. False
    /// when someone else holds it. Atomic: of several nodes asking at once, one gets it.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives up the lease `name` if `holder` holds it; false when it does not.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::StoreError;
    use std::error::Error as _;

    #[test]
    fn an_unavailable_store_keeps_the_error_underneath_as_its_source() {
        let cause = std::io::Error::other("disk said no");
        let err = StoreError::unavailable_from("locking the claimer file", cause);
        assert_eq!(
            err.to_string(),
            "the store is unavailable: locking the claimer file"
        );
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("disk said no")
        );
        assert_eq!(
            err.detail(),
            "the store is unavailable: locking the claimer file: disk said no",
            "logs that keep one string keep the cause"
        );
        let bare = StoreError::unavailable_from("", std::io::Error::other("busy"));
        assert_eq!(bare.to_string(), "the store is unavailable");
        assert!(
            StoreError::unavailable("a reason of its own")
                .source()
                .is_none()
        );
    }
}
