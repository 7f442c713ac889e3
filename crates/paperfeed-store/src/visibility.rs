//! What a reader does not want to see, and what they have seen: mutes (author, keyword,
//! category, as `paperfeed_core::MuteKind`), papers dismissed as "not interested", and seen
//! marks with their reasons. Every row belongs to one user and goes with the account.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, MuteKind};

use crate::{StoreError, UserId};

/// A mute as kept: the reader's text and when they added it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mute {
    pub id: i64,
    pub kind: MuteKind,
    /// As the reader typed it (trimmed).
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// A mute to add: `key` is its normalised form (`paperfeed_core::check_mute`); a reader keeps
/// one mute per kind and key.
#[derive(Clone, Debug)]
pub struct NewMute {
    pub kind: MuteKind,
    pub text: String,
    pub key: String,
    pub created_at: DateTime<Utc>,
}

/// What adding a mute did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MuteAdded {
    Added(Mute),
    /// The reader already had this mute (same kind and key): it is kept as it was.
    AlreadyThere(Mute),
    /// The reader has as many mutes as allowed; nothing was added.
    Full,
}

/// A paper dismissed as "not interested".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dismissal {
    pub paper: ArxivId,
    pub dismissed_at: DateTime<Utc>,
}

/// Why a paper counts as seen by a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeenReason {
    /// They opened its page.
    Opened,
    Voted,
    Saved,
    Dismissed,
    /// It was in a digest mailed to them.
    Mailed,
}

impl SeenReason {
    pub const ALL: [SeenReason; 5] = [
        SeenReason::Opened,
        SeenReason::Voted,
        SeenReason::Saved,
        SeenReason::Dismissed,
        SeenReason::Mailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SeenReason::Opened => "opened",
            SeenReason::Voted => "voted",
            SeenReason::Saved => "saved",
            SeenReason::Dismissed => "dismissed",
            SeenReason::Mailed => "mailed",
        }
    }

    /// The bit this reason takes in [`SeenReasons`] (and in the stored `reasons` column).
    fn bit(self) -> u8 {
        match self {
            SeenReason::Opened => 1,
            SeenReason::Voted => 2,
            SeenReason::Saved => 4,
            SeenReason::Dismissed => 8,
            SeenReason::Mailed => 16,
        }
    }
}

/// The reasons a paper was seen, together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeenReasons(u8);

impl SeenReasons {
    pub fn of(reason: SeenReason) -> Self {
        SeenReasons(reason.bit())
    }

    /// From the stored bits; unknown bits are dropped.
    pub fn from_bits(bits: i64) -> Self {
        let known = SeenReason::ALL.iter().fold(0, |all, r| all | r.bit());
        SeenReasons(u8::try_from(bits & i64::from(known)).unwrap_or(0))
    }

    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    pub fn contains(self, reason: SeenReason) -> bool {
        self.0 & reason.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The reasons in [`SeenReason::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = SeenReason> {
        SeenReason::ALL
            .into_iter()
            .filter(move |r| self.contains(*r))
    }
}

/// A seen mark: when the paper was first seen, and every reason since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenMark {
    pub paper: ArxivId,
    pub reasons: SeenReasons,
    pub first_seen_at: DateTime<Utc>,
}

/// What one read tells about a reader and a list of papers: all their mutes, and which of
/// those papers they dismissed or saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReaderMarks {
    /// Oldest first.
    pub mutes: Vec<Mute>,
    pub dismissed: HashSet<ArxivId>,
    pub seen: HashMap<ArxivId, SeenReasons>,
}

/// Mutes, dismissals and seen marks. A paper the store lacks is never dismissed or marked.
#[async_trait]
pub trait VisibilityStore: Send + Sync + 'static {
    /// Adds a mute unless the reader has one of the same kind and key (then it is handed back
    /// unchanged) or already has `max` mutes. Atomic: racing adds never pass `max`.
    async fn add_mute(
        &self,
        user: UserId,
        mute: NewMute,
        max: usize,
    ) -> Result<MuteAdded, StoreError>;

    /// Removes one of `user`'s mutes; false when they have no such mute.
    async fn remove_mute(&self, user: UserId, id: i64) -> Result<bool, StoreError>;

    /// `user`'s mutes, oldest first.
    async fn mutes(&self, user: UserId) -> Result<Vec<Mute>, StoreError>;

    /// Dismisses `paper` ("not interested") and marks it seen (dismissed), in one transaction.
    /// Idempotent (the first time is kept); false when there is no such paper.
    async fn dismiss_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Takes a dismissal back (the seen mark stays); false when there was none.
    async fn undismiss_paper(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError>;

    /// `user`'s dismissed papers, most recent first, at most `limit`.
    async fn dismissed_papers(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<Vec<Dismissal>, StoreError>;

    /// Marks `papers` seen by `user` for `reason`: a paper seen before keeps its first time and
    /// gains the reason. Papers the store lacks are skipped. Idempotent.
    async fn mark_seen(
        &self,
        user: UserId,
        papers: &[ArxivId],
        reason: SeenReason,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// `user`'s seen marks, most recently first seen first, at most `limit`.
    async fn seen_papers(&self, user: UserId, limit: usize) -> Result<Vec<SeenMark>, StoreError>;

    /// In one read: `user`'s mutes, and which of `papers` they dismissed or saw.
    async fn reader_marks(
        &self,
        user: UserId,
        papers: &[ArxivId],
    ) -> Result<ReaderMarks, StoreError>;

    /// The user whose account has this email address (any case): how a digest subscriber is
    /// known as a reader.
    async fn user_id_by_email(&self, email: &str) -> Result<Option<UserId>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_reasons_gather_bits_and_drop_unknown_ones() {
        let both = SeenReasons::from_bits(
            SeenReasons::of(SeenReason::Opened).bits() | SeenReasons::of(SeenReason::Mailed).bits(),
        );
        assert!(both.contains(SeenReason::Opened));
        assert!(both.contains(SeenReason::Mailed));
        assert!(!both.contains(SeenReason::Voted));
        assert_eq!(
            both.iter().collect::<Vec<_>>(),
            [SeenReason::Opened, SeenReason::Mailed]
        );
        assert!(SeenReasons::from_bits(1 << 20).is_empty());
    }
}
