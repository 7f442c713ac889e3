//! What the store keeps about one account as a whole: read back for "download my data", and
//! removed for "delete my account".

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;

use crate::{Comment, StoreError, UserId};

/// A vote `user` cast, as "download my data" lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CastVote {
    pub paper: ArxivId,
    pub at: DateTime<Utc>,
}

/// What deleting an account removed or anonymised, for the page that confirms it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountDeletion {
    /// Votes withdrawn: the papers' counts went down by one each.
    pub votes_withdrawn: u64,
    /// Comments deleted (visible ones also leave their paper's comment count).
    pub comments_deleted: u64,
    /// Featured days the account had submitted: the papers stay on the feed of that day, the
    /// account's name is taken off them.
    pub submissions_anonymised: u64,
    /// Whether a digest subscription under the account's email address was removed (with its
    /// queued mail and its record of papers mailed).
    pub subscription_removed: bool,
}

/// Reading and removing one account's data. Every table that holds a reader's data references
/// `users` with `on delete cascade`, so [`AccountStore::delete_user`] removes it all with the
/// account; the counts and names other readers see are adjusted in the same transaction.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The user with this id.
    async fn user_by_id(&self, user: UserId) -> Result<Option<crate::User>, StoreError>;

    /// The papers `user` voted for, oldest vote first.
    async fn votes_by(&self, user: UserId) -> Result<Vec<CastVote>, StoreError>;

    /// The comments `user` wrote, oldest first, hidden ones included.
    async fn comments_by(&self, user: UserId) -> Result<Vec<Comment>, StoreError>;

    /// Deletes the account and everything that is only theirs, in one transaction: sessions,
    /// API tokens, votes (each paper's count goes down), comments (each paper's visible count
    /// goes down), the digest subscription under their email, and every personal table
    /// (cascade). Featured days they submitted stay, without their name. Moves `change_seq`
    /// for every paper whose page changes. `None` when there is no such user.
    async fn delete_user(&self, user: UserId) -> Result<Option<AccountDeletion>, StoreError>;
}
