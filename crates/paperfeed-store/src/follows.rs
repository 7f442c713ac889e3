//! Follows and the paper index they read: what a reader follows (authors, organisations,
//! categories, saved searches), and `paper_keys`, every paper under each author key, claimed
//! account, organisation and category it has (`paperfeed_core::index_entries`), kept in the
//! transaction that writes the paper. Author, organisation and category pages and the
//! Following feed are range scans of that index, newest first by
//! `paperfeed_core::listing_time`, paged with a [`ListingCursor`].

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::cmp::Reverse;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, FollowTarget, IndexKind, Paper};

use crate::{StoreError, UserId};

/// The most index keys one [`FollowStore::indexed_papers`] read looks up.
pub const MAX_INDEX_KEYS: usize = 1000;

/// One thing a reader follows, since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Follow {
    pub target: FollowTarget,
    pub created_at: DateTime<Utc>,
}

/// Where a newest-first listing stopped: the listing time and id of the last paper shown. The
/// next page is everything strictly older (ties by id, descending).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListingCursor {
    pub at: DateTime<Utc>,
    pub id: ArxivId,
}

/// One index key: a kind and a key (`author` / `zoe muller`).
pub type IndexKey = (IndexKind, String);

/// A paper found through the index, with when it counts as new and the asked keys it is
/// indexed under (in the order asked).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedPaper {
    pub paper: Paper,
    pub at: DateTime<Utc>,
    pub matched: Vec<IndexKey>,
}

/// A label an index key carries, and on how many papers (for authors: each way the name is
/// written; for organisations: their full name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexLabel {
    pub key: String,
    pub label: String,
    pub papers: u64,
}

/// A Hugging Face account that claimed an authorship, and the author key it was claimed under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountClaim {
    pub account: String,
    pub author: String,
}

#[async_trait]
pub trait FollowStore: Send + Sync + 'static {
    /// `user` follows `target` from `now`; false when they already did (nothing changes).
    async fn follow(
        &self,
        user: UserId,
        target: &FollowTarget,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// False when `user` did not follow `target`.
    async fn unfollow(&self, user: UserId, target: &FollowTarget) -> Result<bool, StoreError>;

    /// What `user` follows, newest follow first (ties by kind and key). A stored row that no
    /// longer parses is skipped, never an error: follows are the reader's, not the hub's data.
    async fn follows(&self, user: UserId) -> Result<Vec<Follow>, StoreError>;

    async fn is_following(&self, user: UserId, target: &FollowTarget) -> Result<bool, StoreError>;

    /// Writes the paper-index rows that a big batch of papers left for later (see the SQLite
    /// store's `DEFER_INDEX_FROM`): until this runs, author, organisation and category pages
    /// and the Following feed may miss those papers. Returns how many papers were indexed.
    /// `ingest` calls it when it is done, the indexer of `serve` whenever the store changed.
    /// A backend that always indexes papers as it writes them has nothing to do.
    async fn catch_up_paper_index(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// The papers indexed under any of `keys` (at most [`MAX_INDEX_KEYS`]), newest first
    /// (listing time, then id, both descending), strictly after `before`, at most `limit`,
    /// each once with every asked key it matched. Costs one index range scan per key.
    async fn indexed_papers(
        &self,
        keys: &[IndexKey],
        before: Option<ListingCursor>,
        limit: usize,
    ) -> Result<Vec<IndexedPaper>, StoreError>;

    /// The labels of `keys` of `kind` with how many papers carry each, by key, then most
    /// papers first, then label.
    async fn index_labels(
        &self,
        kind: IndexKind,
        keys: &[String],
    ) -> Result<Vec<IndexLabel>, StoreError>;

    /// The accounts that claimed an authorship under any of the author keys `authors`.
    async fn claims_by_authors(&self, authors: &[String]) -> Result<Vec<AccountClaim>, StoreError>;

    /// Every author key the accounts `accounts` claimed authorships under.
    async fn claims_by_accounts(
        &self,
        accounts: &[String],
    ) -> Result<Vec<AccountClaim>, StoreError>;
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// Each key's newest rows (`paper id`, `at`, key index), at most `limit` per key, merged into
/// the newest `limit` papers with the keys each matched: both backends read per key, then
/// merge here. Complete: a paper among the newest `limit` overall is among the newest `limit`
/// of every key it has.
pub(crate) fn merge_index_rows(
    rows: Vec<(String, DateTime<Utc>, usize)>,
    limit: usize,
) -> Vec<(String, DateTime<Utc>, Vec<usize>)> {
    // Newest first: listing time, then id, both descending.
    type Newest = (Reverse<DateTime<Utc>>, Reverse<String>);
    let mut by_paper: BTreeMap<Newest, Vec<usize>> = BTreeMap::new();
    for (id, at, key) in rows {
        let matched = by_paper.entry((Reverse(at), Reverse(id))).or_default();
        if !matched.contains(&key) {
            matched.push(key);
        }
    }
    by_paper
        .into_iter()
        .take(limit)
        .map(|((Reverse(at), Reverse(id)), mut keys)| {
            keys.sort_unstable();
            (id, at, keys)
        })
        .collect()
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// Pairs papers read by id with the merged rows, in the rows' order (a paper deleted
/// meanwhile is skipped).
pub(crate) fn indexed(
    merged: Vec<(String, DateTime<Utc>, Vec<usize>)>,
    papers: Vec<Paper>,
    keys: &[IndexKey],
) -> Vec<IndexedPaper> {
    let mut papers: std::collections::HashMap<String, Paper> = papers
        .into_iter()
        .map(|p| (p.id.as_str().to_owned(), p))
        .collect();
    merged
        .into_iter()
        .filter_map(|(id, at, matched)| {
            let paper = papers.remove(&id)?;
            Some(IndexedPaper {
                paper,
                at,
                matched: matched
                    .into_iter()
                    .filter_map(|i| keys.get(i).cloned())
                    .collect(),
            })
        })
        .collect()
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// A refusal for too many keys at once.
pub(crate) fn check_key_count(keys: &[IndexKey]) -> Result<(), StoreError> {
    if keys.len() > MAX_INDEX_KEYS {
        return Err(StoreError::unavailable(format!(
            "{} index keys asked at once, over the {MAX_INDEX_KEYS} limit",
            keys.len()
        )));
    }
    Ok(())
}
