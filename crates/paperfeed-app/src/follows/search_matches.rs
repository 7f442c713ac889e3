//! The saved searches' part of the Following feed: each search's newest keyword matches.
//!
//! Running every saved search on every load of the feed cost most of its time (a reader with
//! ten searches: ten searches of the whole index, each with its hits' snippets). What a
//! keyword search finds changes only when the index does, so each query's newest matches are
//! kept ([`NewestMatches`]) under the index's generation
//! (`SearchEngine::keyword_generation`, raised by every commit): a paper the indexer has just
//! taken in is found on the first load after its pass, as when the searches ran each time.
//! Only ids and listing times are kept; the papers a page shows are read fresh from the store,
//! so votes and names are as current as the rest of the page.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use lru::LruCache;
use paperfeed_core::{ArxivId, Paper, listing_time};
use paperfeed_search::SearchEngine;
use paperfeed_store::{ListingCursor, Store, StoreError, UserId};

use super::SearchMatches;

/// How many of a saved search's newest matches join the Following feed.
pub const SEARCH_PAPERS: usize = 30;
/// Queries whose matches are kept at most, unless told otherwise. One costs at most a few
/// kilobytes (a query of at most 500 characters, [`SEARCH_PAPERS`] ids and times).
pub const DEFAULT_QUERIES: usize = 2048;

/// One query's newest matches, newest first, with their listing times.
type Newest = Arc<[(ArxivId, DateTime<Utc>)]>;

/// Saved queries' newest matches, each kept under the keyword index's generation it was
/// found at; least recently used first out past a number of queries.
pub struct NewestMatches {
    kept: Mutex<LruCache<String, (u64, Newest)>>,
}

impl std::fmt::Debug for NewestMatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewestMatches")
            .field("queries", &self.len())
            .finish()
    }
}

impl Default for NewestMatches {
    fn default() -> Self {
        Self::with_capacity(NonZeroUsize::new(DEFAULT_QUERIES).unwrap_or(NonZeroUsize::MIN))
    }
}

impl NewestMatches {
    /// Keeps the matches of at most `queries` queries.
    pub fn with_capacity(queries: NonZeroUsize) -> Self {
        Self {
            kept: Mutex::new(LruCache::new(queries)),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, LruCache<String, (u64, Newest)>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queries kept now.
    pub fn len(&self) -> usize {
        self.kept().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, query: &str, generation: u64) -> Option<Newest> {
        let mut kept = self.kept();
        match kept.get(query) {
            Some((at, newest)) if *at == generation => Some(Arc::clone(newest)),
            _ => None,
        }
    }

    fn put(&self, query: &str, generation: u64, newest: Newest) {
        self.kept().put(query.to_owned(), (generation, newest));
    }
}

/// The newest matches of each of `user`'s saved searches that can be on the Following page
/// of `limit` papers after `before`, for [`super::following_feed`]: a saved search is followed
/// by being saved (following one explicitly changes nothing more). Each search's newest
/// [`SEARCH_PAPERS`] matches come from `kept` when the index has not changed since they were
/// found, else from the engine (off the async threads); a search that fails is left out (and
/// logged) rather than taking the whole feed down. Of all those, only the `limit + 1` newest
/// after `before` can make the page (the followed authors' papers can only push them further
/// down), so only their papers are read: one store read.
pub async fn saved_search_matches(
    engine: Arc<SearchEngine>,
    kept: &NewestMatches,
    store: &dyn Store,
    user: UserId,
    before: Option<&ListingCursor>,
    limit: usize,
) -> Result<Vec<SearchMatches>, StoreError> {
    // Read before searching: what is found is then never older than the generation it is
    // kept under.
    let generation = engine.keyword_generation();
    let mut read: HashMap<ArxivId, Paper> = HashMap::new();
    let mut searches = Vec::new();
    for search in store.saved_searches(user).await? {
        if let Some(newest) = kept.get(&search.query, generation) {
            searches.push((search, newest));
            continue;
        }
        match crate::saved_searches::matching_papers(
            Arc::clone(&engine),
            store,
            &search,
            SEARCH_PAPERS,
        )
        .await
        {
            Ok(papers) => {
                let newest: Newest = papers
                    .iter()
                    .map(|p| (p.id.clone(), listing_time(p)))
                    .collect();
                kept.put(&search.query, generation, Arc::clone(&newest));
                read.extend(papers.into_iter().map(|p| (p.id.clone(), p)));
                searches.push((search, newest));
            }
            Err(error) => {
                tracing::warn!(search.id = search.id.0, error = %error, "a saved search left out of the Following feed");
            }
        }
    }

    // Newest first (listing time, then id, both descending), as the feed orders them.
    let mut candidates: Vec<(DateTime<Utc>, &ArxivId)> = searches
        .iter()
        .flat_map(|(_, newest)| newest.iter())
        .filter(|(id, at)| before.is_none_or(|c| (*at, id) < (c.at, &c.id)))
        .map(|(id, at)| (*at, id))
        .collect();
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    let mut wanted: HashSet<&ArxivId> = HashSet::new();
    for (_, id) in candidates {
        if wanted.len() > limit {
            break;
        }
        wanted.insert(id);
    }
    let missing: Vec<ArxivId> = wanted
        .iter()
        .filter(|id| !read.contains_key(**id))
        .map(|id| (*id).clone())
        .collect();
    if !missing.is_empty() {
        read.extend(
            store
                .get_papers(&missing)
                .await?
                .into_iter()
                .map(|p| (p.id.clone(), p)),
        );
    }
    Ok(searches
        .iter()
        .map(|(search, newest)| SearchMatches {
            id: search.id.0,
            name: search.name.clone(),
            // A paper gone from the store since it was found is left out, as a search does.
            papers: newest
                .iter()
                .filter(|(id, _)| wanted.contains(id))
                .filter_map(|(id, _)| read.get(id).cloned())
                .collect(),
        })
        .collect())
}
