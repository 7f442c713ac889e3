//! Follows and what they show: author pages (name variants merged and explained),
//! organisation and category listings, and the Following feed, which merges everything a
//! reader follows, newest first, each paper once with every reason it is there.
//!
//! Every listing is newest first by `paperfeed_core::listing_time` and paged with a
//! [`ListingCursor`] (the last paper shown); the store reads each key's newest papers from its
//! index, so a page costs one range scan per followed key, however many papers the hub has.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use paperfeed_core::{
    ArxivId, AuthorKey, FollowKind, FollowTarget, IndexKind, Paper, listing_time,
};
use paperfeed_store::{
    Follow, IndexKey, IndexLabel, IndexedPaper, ListingCursor, MAX_INDEX_KEYS, Store, StoreError,
    UserId,
};

/// The most follows one reader keeps.
pub const MAX_FOLLOWS: usize = 500;
/// Papers on one page of a listing unless asked otherwise, and the most asked.
pub const DEFAULT_PAGE: usize = 30;
pub const MAX_PAGE: usize = 100;
/// How far an author's name variants are merged through claimed accounts: at most this many
/// accounts and names, so a page stays one bounded set of reads.
const MAX_MERGED_ACCOUNTS: usize = 20;
const MAX_MERGED_NAMES: usize = 50;

/// Why a follow did not go through.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// Your input: the reader follows [`MAX_FOLLOWS`] things already.
    #[error("you follow {MAX_FOLLOWS} things already; unfollow some first")]
    TooMany,
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// `user` follows `target`; false when they already did.
pub async fn follow(
    store: &dyn Store,
    user: UserId,
    target: &FollowTarget,
    now: DateTime<Utc>,
) -> Result<bool, FollowError> {
    if store.is_following(user, target).await? {
        return Ok(false);
    }
    if store.follows(user).await?.len() >= MAX_FOLLOWS {
        return Err(FollowError::TooMany);
    }
    let added = store.follow(user, target, now).await?;
    tracing::debug!(user.id = user.0, follow.kind = %target.kind(), "followed");
    Ok(added)
}

/// `user` stops following `target`; false when they did not.
pub async fn unfollow(
    store: &dyn Store,
    user: UserId,
    target: &FollowTarget,
) -> Result<bool, FollowError> {
    Ok(store.unfollow(user, target).await?)
}

/// What `user` follows, newest first.
pub async fn follows(store: &dyn Store, user: UserId) -> Result<Vec<Follow>, FollowError> {
    Ok(store.follows(user).await?)
}

/// A page size asked for, kept within 1..=[`MAX_PAGE`] (missing: [`DEFAULT_PAGE`]).
pub fn page_size(asked: Option<usize>) -> usize {
    asked.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// A cursor as it travels in URLs: the listing time in milliseconds since the epoch, `~`, the
/// paper id (`1735732800000~2501.10002`).
pub fn cursor_text(cursor: &ListingCursor) -> String {
    format!("{}~{}", cursor.at.timestamp_millis(), cursor.id)
}

/// The cursor [`cursor_text`] wrote; `None` for anything else.
pub fn parse_cursor(text: &str) -> Option<ListingCursor> {
    let (millis, id) = text.split_once('~')?;
    let at = DateTime::<Utc>::from_timestamp_millis(millis.parse().ok()?)?;
    Some(ListingCursor {
        at,
        id: ArxivId::parse(id).ok()?,
    })
}

/// One page of a listing and where the next one starts (`None`: this was the last).
#[derive(Clone, Debug)]
pub struct Listing {
    pub papers: Vec<IndexedPaper>,
    pub next: Option<ListingCursor>,
}

/// Reads one more than asked to learn whether a next page exists.
async fn listing(
    store: &dyn Store,
    keys: &[IndexKey],
    before: Option<ListingCursor>,
    limit: usize,
) -> Result<Listing, StoreError> {
    let mut papers = store.indexed_papers(keys, before, limit + 1).await?;
    let next = if papers.len() > limit {
        papers.truncate(limit);
        papers.last().map(|p| ListingCursor {
            at: p.at,
            id: p.paper.id.clone(),
        })
    } else {
        None
    };
    Ok(Listing { papers, next })
}

/// One way an author's name is written on this hub's papers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameVariant {
    pub name: String,
    pub key: AuthorKey,
    pub papers: u64,
    /// Why it is merged into the page's author: `None` for the same normalised name, or the
    /// claimed account it shares with the page's author.
    pub via_account: Option<String>,
}

/// An author page: the names merged into it and why, and a page of papers.
#[derive(Clone, Debug)]
pub struct AuthorPage {
    pub key: AuthorKey,
    /// The name most papers use.
    pub display_name: String,
    pub variants: Vec<NameVariant>,
    /// Hugging Face accounts that claimed an authorship under these names.
    pub accounts: Vec<String>,
    pub listing: Listing,
}

/// The author keys merged with `key`: itself, and the names its claimed accounts used, with
/// the account that links each.
async fn merged_authors(
    store: &dyn Store,
    keys: &[String],
) -> Result<(Vec<String>, BTreeMap<String, String>), StoreError> {
    let mut accounts: Vec<String> = store
        .claims_by_authors(keys)
        .await?
        .into_iter()
        .map(|c| c.account)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    accounts.truncate(MAX_MERGED_ACCOUNTS);
    let mut via: BTreeMap<String, String> = BTreeMap::new();
    if !accounts.is_empty() {
        for claim in store.claims_by_accounts(&accounts).await? {
            if !keys.contains(&claim.author) && via.len() < MAX_MERGED_NAMES {
                via.entry(claim.author).or_insert(claim.account);
            }
        }
    }
    Ok((accounts, via))
}

/// The author page of `key`; `None` when no paper on the hub lists that name.
pub async fn author_page(
    store: &dyn Store,
    key: &AuthorKey,
    before: Option<ListingCursor>,
    limit: usize,
) -> Result<Option<AuthorPage>, StoreError> {
    let own = vec![key.as_str().to_owned()];
    let (accounts, via) = merged_authors(store, &own).await?;
    let all_keys: Vec<String> = own.iter().chain(via.keys()).cloned().collect();
    let labels = store.index_labels(IndexKind::Author, &all_keys).await?;
    if !labels.iter().any(|l| l.key == key.as_str()) {
        return Ok(None);
    }
    let variants: Vec<NameVariant> = labels
        .iter()
        .filter_map(
            |IndexLabel {
                 key: k,
                 label,
                 papers,
             }| {
                Some(NameVariant {
                    name: label.clone(),
                    key: AuthorKey::from_slug(&k.replace(' ', "-"))?,
                    papers: *papers,
                    via_account: via.get(k).cloned(),
                })
            },
        )
        .collect();
    let display_name = variants
        .iter()
        .filter(|v| v.via_account.is_none())
        .max_by_key(|v| v.papers)
        .map_or_else(|| key.to_string(), |v| v.name.clone());
    let index_keys: Vec<IndexKey> = all_keys
        .into_iter()
        .map(|k| (IndexKind::Author, k))
        .collect();
    let listing = listing(store, &index_keys, before, limit).await?;
    Ok(Some(AuthorPage {
        key: key.clone(),
        display_name,
        variants,
        accounts,
        listing,
    }))
}

/// An organisation's or a category's page: its label (an organisation's full name) and a page
/// of papers. Empty papers on the first page: nothing on the hub is listed under it.
#[derive(Clone, Debug)]
pub struct TopicPage {
    pub name: String,
    pub label: Option<String>,
    pub listing: Listing,
}

/// The papers listed under organisation or category `name`.
pub async fn topic_page(
    store: &dyn Store,
    kind: IndexKind,
    name: &str,
    before: Option<ListingCursor>,
    limit: usize,
) -> Result<TopicPage, StoreError> {
    let keys = [(kind, name.to_owned())];
    let listing = listing(store, &keys, before, limit).await?;
    let label = listing.papers.iter().find_map(|p| match kind {
        IndexKind::Organization => p
            .paper
            .organization
            .as_ref()
            .and_then(|o| o.fullname.clone()),
        _ => None,
    });
    Ok(TopicPage {
        name: name.to_owned(),
        label,
        listing,
    })
}

/// Why a paper is on a reader's Following feed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// An author followed by key, and the name as this paper lists it.
    Author {
        key: AuthorKey,
        name: String,
    },
    Organization {
        name: String,
        label: String,
    },
    Category {
        name: String,
    },
    /// A saved search, by id and name.
    SavedSearch {
        id: i64,
        name: String,
    },
}

impl Reason {
    /// What is followed, for links and the API.
    pub fn target(&self) -> FollowTarget {
        match self {
            Reason::Author { key, .. } => FollowTarget::Author(key.clone()),
            Reason::Organization { name, .. } => FollowTarget::Organization(name.clone()),
            Reason::Category { name } => FollowTarget::Category(name.clone()),
            Reason::SavedSearch { id, .. } => FollowTarget::SavedSearch(*id),
        }
    }

    /// What is followed, as the reason names it ("Zoë Müller", "Google", "cs.CL").
    pub fn subject(&self) -> &str {
        match self {
            Reason::Author { name, .. } => name,
            Reason::Organization { label, .. } => label,
            Reason::Category { name } => name,
            Reason::SavedSearch { name, .. } => name,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Reason::Author { .. } => "author you follow",
            Reason::Organization { .. } => "organisation you follow",
            Reason::Category { .. } => "category you follow",
            Reason::SavedSearch { .. } => "matches your search",
        };
        write!(f, "{what}: {}", self.subject())
    }
}

/// A paper on the Following feed with every reason it is there.
#[derive(Clone, Debug)]
pub struct FollowingItem {
    pub paper: Paper,
    pub at: DateTime<Utc>,
    pub reasons: Vec<Reason>,
}

/// One page of the Following feed.
#[derive(Clone, Debug)]
pub struct FollowingPage {
    pub items: Vec<FollowingItem>,
    pub next: Option<ListingCursor>,
    /// How many things the reader follows (zero: the page explains how to follow).
    pub follows: usize,
}

/// The reason index key `matched` gives `paper`, for the follow it came from.
fn reason_for(
    paper: &Paper,
    matched: &IndexKey,
    followed_author: Option<&String>,
) -> Option<Reason> {
    match matched.0 {
        IndexKind::Author | IndexKind::Account => {
            let followed = followed_author.unwrap_or(&matched.1);
            let key = AuthorKey::from_slug(&followed.replace(' ', "-"))?;
            let name = paper
                .visible_authors()
                .find(|a| AuthorKey::from_name(&a.name).is_some_and(|k| k.as_str() == matched.1))
                .map_or_else(|| key.to_string(), |a| a.name.clone());
            Some(Reason::Author { key, name })
        }
        IndexKind::Organization => Some(Reason::Organization {
            name: matched.1.clone(),
            label: paper
                .organization
                .as_ref()
                .and_then(|o| o.fullname.clone())
                .unwrap_or_else(|| matched.1.clone()),
        }),
        IndexKind::Category => Some(Reason::Category {
            name: matched.1.clone(),
        }),
    }
}

/// The papers a followed saved search matches (its newest, as the search engine finds them):
/// the edge asks [`saved_search_matches`] for them and hands them here.
#[derive(Clone, Debug)]
pub struct SearchMatches {
    pub id: i64,
    pub name: String,
    pub papers: Vec<Paper>,
}

/// The saved searches among `follows`, by id: which searches the edge should run.
pub fn followed_searches(follows: &[Follow]) -> Vec<i64> {
    follows
        .iter()
        .filter_map(|f| match f.target {
            FollowTarget::SavedSearch(id) => Some(id),
            _ => None,
        })
        .collect()
}

/// A page of `user`'s Following feed: the papers of every author, organisation and category
/// they follow (authors merged through claimed accounts as on their pages) and of the followed
/// saved searches' `matches`, newest first, each once with every reason, strictly after
/// `before`.
pub async fn following_feed(
    store: &dyn Store,
    user: UserId,
    matches: &[SearchMatches],
    before: Option<ListingCursor>,
    limit: usize,
) -> Result<FollowingPage, StoreError> {
    let follows = store.follows(user).await?;
    let mut keys: Vec<IndexKey> = Vec::new();
    let mut authors: Vec<String> = Vec::new();
    for follow in &follows {
        let Some(kind) = follow.target.kind().index_kind() else {
            continue;
        };
        if follow.target.kind() == FollowKind::Author {
            authors.push(follow.target.key());
        }
        keys.push((kind, follow.target.key()));
    }
    // Names merged through a claimed account count as the followed author.
    let mut merged_into: BTreeMap<String, String> = BTreeMap::new();
    if !authors.is_empty() {
        let claims = store.claims_by_authors(&authors).await?;
        let accounts: Vec<String> = claims.iter().map(|c| c.account.clone()).collect();
        let mut followed_by_account: BTreeMap<&str, &str> = BTreeMap::new();
        for claim in &claims {
            followed_by_account
                .entry(&claim.account)
                .or_insert(&claim.author);
        }
        if !accounts.is_empty() {
            for claim in store.claims_by_accounts(&accounts).await? {
                if authors.contains(&claim.author) || merged_into.contains_key(&claim.author) {
                    continue;
                }
                if let Some(followed) = followed_by_account.get(claim.account.as_str()) {
                    merged_into.insert(claim.author.clone(), (*followed).to_owned());
                    keys.push((IndexKind::Author, claim.author));
                }
            }
        }
    }
    keys.truncate(MAX_INDEX_KEYS);
    let found = store
        .indexed_papers(&keys, before.clone(), limit + 1)
        .await?;
    // Newest first (listing time, then id, both descending), each paper once.
    let mut merged: BTreeMap<
        (std::cmp::Reverse<DateTime<Utc>>, std::cmp::Reverse<ArxivId>),
        FollowingItem,
    > = BTreeMap::new();
    for found in found {
        let reasons = found
            .matched
            .iter()
            .filter_map(|m| reason_for(&found.paper, m, merged_into.get(&m.1)))
            .collect();
        let key = (
            std::cmp::Reverse(found.at),
            std::cmp::Reverse(found.paper.id.clone()),
        );
        merged.insert(
            key,
            FollowingItem {
                paper: found.paper,
                at: found.at,
                reasons,
            },
        );
    }
    for search in matches {
        for paper in &search.papers {
            let at = listing_time(paper);
            let after_cursor = before
                .as_ref()
                .is_none_or(|c| (at, &paper.id) < (c.at, &c.id));
            if !after_cursor {
                continue;
            }
            let reason = Reason::SavedSearch {
                id: search.id,
                name: search.name.clone(),
            };
            merged
                .entry((std::cmp::Reverse(at), std::cmp::Reverse(paper.id.clone())))
                .or_insert_with(|| FollowingItem {
                    paper: paper.clone(),
                    at,
                    reasons: Vec::new(),
                })
                .reasons
                .push(reason);
        }
    }
    let mut items: Vec<FollowingItem> = merged.into_values().take(limit + 1).collect();
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|i| ListingCursor {
            at: i.at,
            id: i.paper.id.clone(),
        })
    } else {
        None
    };
    for item in &mut items {
        item.reasons.sort();
        item.reasons.dedup_by(|a, b| a.target() == b.target());
    }
    Ok(FollowingPage {
        items,
        next,
        follows: follows.len(),
    })
}

mod search_matches;
#[cfg(test)]
mod tests;

pub use search_matches::{NewestMatches, SEARCH_PAPERS, saved_search_matches};

/// Takes out of `page` what `user` muted or dismissed ("not interested") and, with
/// `hide_seen`, what they have seen, as their day pages do; returns how many went. One store
/// read for the page; `cache` keeps what matching needs between requests.
pub async fn without_hidden(
    store: &dyn Store,
    cache: &std::sync::Arc<crate::visibility::FilterCache>,
    user: UserId,
    page: &mut FollowingPage,
    hide_seen: bool,
) -> Result<usize, StoreError> {
    let ids: Vec<ArxivId> = page.items.iter().map(|i| i.paper.id.clone()).collect();
    let filter =
        crate::visibility::ReaderFilter::load_cached(store, cache, user, &ids, hide_seen).await?;
    let before = page.items.len();
    page.items.retain(|i| filter.why_hidden(&i.paper).is_none());
    Ok(before - page.items.len())
}
