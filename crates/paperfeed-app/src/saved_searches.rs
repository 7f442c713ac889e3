//! Saved searches: a reader keeps a search (query + filters + mode + sort, exactly as the
//! search page takes them) by name, reads its matching papers (its feed, the API, the
//! Following feed), and is told of new matches (digest, webhook).
//!
//! What "matches" means: the papers the query's words and filters select (keyword
//! matching, as the search box's keyword mode does), newest first. The saved mode and sort only
//! matter when the search is opened again on the search page: semantic similarity has no
//! cut-off, so it cannot say which new paper "matches".
//!
//! New matches are found by [`match_new_papers`], which the indexer runs after every pass:
//! the papers changed since the matcher's cursor (a store counter) go into a small in-memory
//! keyword index, and every saved search runs against that index only — cheap however big the
//! hub, one query per saved search per pass. A paper counts for a search only if it changed
//! after the search was saved; each (search, paper) pair is recorded once, and a delivery for
//! the search's webhook is queued in the same transaction (see [`webhooks`]). The reader's
//! digest carries each new match once, in a section per search ([`crate::digests::topics`]),
//! unless the reader took the search out of it ([`set_in_digest`]).

pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paperfeed_core::Paper;
use paperfeed_search::{
    KeywordIndex, KeywordQuery, MAX_LIMIT, MAX_OFFSET, SearchEngine, SearchMode, SortOrder,
};
use paperfeed_store::{
    NewSavedSearch, SaveOutcome, SavedSearch, SavedSearchId, SearchMatch, Store, StoreError, UserId,
};

use crate::search::{SearchError, search};

/// Saved searches one reader may keep.
pub const MAX_SAVED_SEARCHES: usize = 50;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Papers a saved search's feed and matches list at most.
pub const MATCHES_LIMIT: usize = 50;
/// Papers the matcher reads from the store per step.
const MATCH_BATCH: usize = 2000;

/// Why a saved-search use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SavedSearchError {
    /// Your input: the name is empty or too long.
    #[error("name: a name must be 1 to {MAX_NAME_CHARS} characters long")]
    InvalidName,
    /// Your input: the reader has a search by this name.
    #[error("name: you already have a saved search called {0:?}")]
    NameTaken(String),
    /// Your input: the reader has as many as allowed.
    #[error("you can keep at most {MAX_SAVED_SEARCHES} saved searches: delete one first")]
    TooMany,
    /// Your input: the query does not parse, is empty or too long; the reason.
    #[error("q: {0}")]
    InvalidQuery(String),
    /// Your input: an unknown mode or sort.
    #[error("{field}: {value:?} is not one of {allowed}")]
    InvalidChoice {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// Your input: no such saved search of this reader.
    #[error("no such saved search")]
    NotFound,
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// We failed: the search.
    #[error("searching")]
    Search(#[from] SearchError),
}

impl SavedSearchError {
    /// Whether it is the caller's input (safe to show) rather than our failure.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            SavedSearchError::Store(_) | SavedSearchError::Search(_)
        )
    }
}

/// A search as the search page takes it (`q`, `mode`, `sort`), checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpec {
    pub query: String,
    pub mode: SearchMode,
    pub sort: SortOrder,
}

impl SearchSpec {
    /// Checks `q`, `mode` (empty: hybrid) and `sort` (empty: relevance) as `/papers` does.
    pub fn parse(q: &str, mode: &str, sort: &str) -> Result<SearchSpec, SavedSearchError> {
        let query = q.trim();
        if query.is_empty() {
            return Err(SavedSearchError::InvalidQuery(
                "an empty search matches everything: type what to look for".into(),
            ));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(SavedSearchError::InvalidQuery(format!(
                "a saved query is at most {MAX_QUERY_CHARS} characters long"
            )));
        }
        KeywordQuery::parse(query).map_err(|e| SavedSearchError::InvalidQuery(e.to_string()))?;
        let mode =
            SearchMode::parse(mode.trim()).ok_or_else(|| SavedSearchError::InvalidChoice {
                field: "mode",
                value: mode.to_owned(),
                allowed: "keyword, semantic, hybrid",
            })?;
        let sort = match sort.trim() {
            "" => SortOrder::Relevance,
            s => SortOrder::parse(s).ok_or_else(|| SavedSearchError::InvalidChoice {
                field: "sort",
                value: sort.to_owned(),
                allowed: "relevance, newest, votes",
            })?,
        };
        Ok(SearchSpec {
            query: query.to_owned(),
            mode,
            sort,
        })
    }

    /// The spec of a stored search (a stored value that no longer parses falls back to the
    /// defaults rather than failing).
    pub fn of(search: &SavedSearch) -> SearchSpec {
        SearchSpec {
            query: search.query.clone(),
            mode: SearchMode::parse(&search.mode).unwrap_or(SearchMode::Hybrid),
            sort: SortOrder::parse(&search.sort).unwrap_or(SortOrder::Relevance),
        }
    }

    /// The search page's address for it (`/papers?q=…&mode=…&sort=…`), query-encoded by
    /// `encode`.
    pub fn href(&self, encode: impl Fn(&str) -> String) -> String {
        let mut href = format!("/papers?q={}", encode(&self.query));
        if self.mode != SearchMode::Hybrid {
            href.push_str("&mode=");
            href.push_str(self.mode.as_str());
        }
        if self.sort != SortOrder::Relevance {
            href.push_str("&sort=");
            href.push_str(self.sort.as_str());
        }
        href
    }

    /// Its keyword query, newest first (what "matching papers" lists).
    fn matching_query(&self) -> KeywordQuery {
        let mut query = KeywordQuery::parse(&self.query)
            .unwrap_or_else(|_| KeywordQuery::text(self.query.replace('"', " ")));
        query.sort = SortOrder::Newest;
        query.offset = 0;
        query
    }
}

/// A name, trimmed: 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn search_name(raw: &str) -> Result<String, SavedSearchError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(SavedSearchError::InvalidName);
    }
    Ok(name.to_owned())
}

/// Saves `spec` as `user`'s search `name`.
pub async fn save_search(
    store: &dyn Store,
    user: UserId,
    name: &str,
    spec: &SearchSpec,
    now: DateTime<Utc>,
) -> Result<SavedSearch, SavedSearchError> {
    let name = search_name(name)?;
    let outcome = store
        .save_search(
            NewSavedSearch {
                user,
                name: name.clone(),
                query: spec.query.clone(),
                mode: spec.mode.as_str().to_owned(),
                sort: spec.sort.as_str().to_owned(),
                created_at: now,
            },
            MAX_SAVED_SEARCHES,
        )
        .await?;
    match outcome {
        SaveOutcome::Saved(saved) => {
            tracing::debug!(user.id = user.0, search.id = saved.id.0, "search saved");
            Ok(saved)
        }
        SaveOutcome::NameTaken => Err(SavedSearchError::NameTaken(name)),
        SaveOutcome::TooMany => Err(SavedSearchError::TooMany),
    }
}

/// The reader's saved searches, by name.
pub async fn saved_searches(
    store: &dyn Store,
    user: UserId,
) -> Result<Vec<SavedSearch>, SavedSearchError> {
    Ok(store.saved_searches(user).await?)
}

/// One of the reader's saved searches.
pub async fn saved_search(
    store: &dyn Store,
    user: UserId,
    id: SavedSearchId,
) -> Result<SavedSearch, SavedSearchError> {
    store
        .saved_search(user, id)
        .await?
        .ok_or(SavedSearchError::NotFound)
}

/// Renames one of the reader's saved searches.
pub async fn rename_search(
    store: &dyn Store,
    user: UserId,
    id: SavedSearchId,
    name: &str,
) -> Result<(), SavedSearchError> {
    let name = search_name(name)?;
    match store.rename_saved_search(user, id, name.clone()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(SavedSearchError::NotFound),
        Err(StoreError::Conflict { .. }) => Err(SavedSearchError::NameTaken(name)),
        Err(e) => Err(e.into()),
    }
}

/// Puts one of the reader's saved searches in their digest, or takes it out; returns it as it
/// now stands. Taken out, its new matches wait: put back, the next digest carries them.
pub async fn set_in_digest(
    store: &dyn Store,
    user: UserId,
    id: SavedSearchId,
    in_digest: bool,
) -> Result<SavedSearch, SavedSearchError> {
    if !store.set_search_in_digest(user, id, in_digest).await? {
        return Err(SavedSearchError::NotFound);
    }
    tracing::debug!(
        user.id = user.0,
        search.id = id.0,
        search.in_digest = in_digest,
        "saved search's digest choice set"
    );
    saved_search(store, user, id).await
}

/// Deletes one of the reader's saved searches (with its matches, webhook and delivery log).
pub async fn delete_search(
    store: &dyn Store,
    user: UserId,
    id: SavedSearchId,
) -> Result<(), SavedSearchError> {
    if store.delete_saved_search(user, id).await? {
        // Its private feed addresses die with it.
        let scope = crate::feed_tokens::FeedScope::SavedSearch(id.0).to_string();
        store.revoke_feed_tokens_for_scope(user, &scope).await?;
        Ok(())
    } else {
        Err(SavedSearchError::NotFound)
    }
}

/// The papers `search` matches, newest first, at most `limit` (capped at [`MATCHES_LIMIT`]):
/// what its feed, the API and the Following feed list. Runs on the shared search index, so a
/// paper is there as soon as the indexer has indexed it.
pub async fn matching_papers(
    engine: Arc<SearchEngine>,
    store: &dyn Store,
    search_: &SavedSearch,
    limit: usize,
) -> Result<Vec<Paper>, SavedSearchError> {
    let mut query = SearchSpec::of(search_).matching_query();
    query.limit = limit.clamp(1, MATCHES_LIMIT);
    let found = search(engine, store, query, SearchMode::Keyword).await?;
    Ok(found.papers.into_iter().map(|(_, paper)| paper).collect())
}

/// What one matcher run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchReport {
    /// Changed papers looked at.
    pub papers: usize,
    /// New (search, paper) pairs recorded.
    pub new_matches: Vec<SearchMatch>,
}

/// Finds the new matches of every saved search among the papers changed since the matcher's
/// cursor, records them (queuing webhook deliveries) and moves the cursor, a batch at a time.
/// Another node doing the same meanwhile is noticed (the cursor moved) and left to it.
pub async fn match_new_papers(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> anyhow::Result<MatchReport> {
    use anyhow::Context as _;
    let mut report = MatchReport::default();
    let searches = store
        .searches_to_match()
        .await
        .context("reading saved searches")?;
    let latest = store.change_seq().await.context("reading change_seq")?;
    let mut cursor = store
        .match_cursor()
        .await
        .context("reading the matcher's cursor")?;
    // Nothing before the oldest search's creation can be new to any search: skip it unread.
    let floor = searches
        .iter()
        .map(|s| s.created_seq)
        .min()
        .unwrap_or(latest);
    if cursor < floor {
        let to = floor.min(latest);
        if store
            .record_matches(cursor, to, Vec::new(), now)
            .await
            .context("moving the matcher's cursor")?
            .is_none()
        {
            return Ok(report);
        }
        cursor = to;
    }
    loop {
        let changed = store
            .papers_changed_since(cursor, MATCH_BATCH)
            .await
            .context("reading changed papers")?;
        let Some(to) = changed.last().map(|c| c.change_seq) else {
            return Ok(report);
        };
        report.papers += changed.len();
        let seqs: HashMap<_, _> = changed
            .iter()
            .map(|c| (c.paper.id.clone(), c.change_seq))
            .collect();
        let papers: Vec<Paper> = changed.into_iter().map(|c| c.paper).collect();
        let searches_ = searches.clone();
        let found = tokio::task::spawn_blocking(move || match_batch(&papers, &searches_, &seqs))
            .await
            .context("matching task")?
            .context("matching saved searches")?;
        match store
            .record_matches(cursor, to, found, now)
            .await
            .context("recording matches")?
        {
            Some(fresh) => report.new_matches.extend(fresh),
            None => return Ok(report),
        }
        cursor = to;
    }
}

/// Runs every search against an in-memory index of `papers`; a paper counts for a search
/// only if it changed after the search was saved.
fn match_batch(
    papers: &[Paper],
    searches: &[SavedSearch],
    seqs: &HashMap<paperfeed_core::ArxivId, i64>,
) -> Result<Vec<SearchMatch>, paperfeed_search::SearchError> {
    let mut found = Vec::new();
    if searches.is_empty() || papers.is_empty() {
        return Ok(found);
    }
    let mut index = KeywordIndex::in_memory()?;
    index.upsert(papers)?;
    index.commit(0)?;
    for saved in searches {
        let mut query = SearchSpec::of(saved).matching_query();
        query.limit = MAX_LIMIT;
        while let Ok(page) = index.search(&query) {
            let n = page.hits.len();
            for hit in page.hits {
                if seqs
                    .get(&hit.id)
                    .is_some_and(|seq| *seq > saved.created_seq)
                {
                    found.push(SearchMatch {
                        search: saved.id,
                        paper: hit.id,
                    });
                }
            }
            if n < query.limit || query.offset + n >= MAX_OFFSET {
                break;
            }
            query.offset += n;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
