//! Private feed tokens: a secret in a feed's URL that lets a feed reader fetch one of a
//! reader's personal feeds (the Following feed, a saved search) without a session. Generic: the
//! `scope` says which feed (`following`, `search:<id>`); the store keeps only the SHA-256 of
//! the secret, like API tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{StoreError, UserId};

/// One feed token as listed on the account page. The secret itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedToken {
    pub id: i64,
    pub user: UserId,
    /// Which feed it opens: `following`, `search:<id>`; opaque to the store.
    pub scope: String,
    pub created_at: DateTime<Utc>,
    /// When a feed reader last used it, to the minute (see [`FeedTokenStore::feed_token_by_hash`]).
    pub last_used_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait FeedTokenStore: Send + Sync + 'static {
    /// Stores the hash of a new token for `user`'s feed `scope`.
    async fn create_feed_token(
        &self,
        user: UserId,
        scope: String,
        token_hash: String,
        now: DateTime<Utc>,
    ) -> Result<FeedToken, StoreError>;

    /// `user`'s feed tokens, oldest first.
    async fn feed_tokens(&self, user: UserId) -> Result<Vec<FeedToken>, StoreError>;

    /// Deletes one of `user`'s feed tokens; false when they have no such token.
    async fn revoke_feed_token(&self, user: UserId, id: i64) -> Result<bool, StoreError>;

    /// Deletes every token of `user` for `scope` (a saved search deleted); how many.
    async fn revoke_feed_tokens_for_scope(
        &self,
        user: UserId,
        scope: &str,
    ) -> Result<u64, StoreError>;

    /// The token with this hash, and notes its use at `now`: `last_used_at` is written only
    /// when the stored one is a minute or more older, so a busy feed costs at most a write a
    /// minute.
    async fn feed_token_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<FeedToken>, StoreError>;
}
