//! The "for you" digest choice: whether a reader wants their recommendations in their digest
//! mail, and how many. One row per reader who turned it on; it goes with the account.
//!
//! What the picks are is `paperfeed-app`'s business (the recommender, run when the digest is
//! built); once mailed they are recorded like every other paper of the digest, by
//! [`crate::MailStore::finish_digest_with_matches`] in the transaction that records the digest
//! sent, so a pick is mailed once. Writing the choice does not move `change_seq`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{StoreError, UserId};

/// A reader's "for you" digest choice, as stored: on, with this many picks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForYouDigest {
    /// Picks per digest (the store keeps 1–100; the app offers fewer).
    pub picks: u8,
    pub updated_at: DateTime<Utc>,
}

/// Storage of the "for you" digest choice. Every backend keeps it exactly;
/// `contract/for_you_digest.rs` checks it.
#[async_trait]
pub trait ForYouDigestStore: Send + Sync + 'static {
    /// `user`'s choice; `None` when it is off (or was never turned on).
    async fn for_you_digest(&self, user: UserId) -> Result<Option<ForYouDigest>, StoreError>;

    /// Turns it on with `choice` (replacing any earlier one) or, with `None`, off. False when
    /// there is no such user (nothing written).
    async fn set_for_you_digest(
        &self,
        user: UserId,
        choice: Option<&ForYouDigest>,
    ) -> Result<bool, StoreError>;

    /// How many readers have it on: a digest run needs the recommender only when some do.
    async fn count_for_you_digests(&self) -> Result<u64, StoreError>;
}
