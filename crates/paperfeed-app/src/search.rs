//! Searching papers: the engine ranks (off the async threads), the store supplies the ranked
//! papers in one batch read. The search page, the search feeds and the API run it.

use std::sync::Arc;

use paperfeed_core::{ArxivId, Paper};
use paperfeed_search::{KeywordQuery, SearchEngine, SearchHit, SearchMode, SearchResults};
use paperfeed_store::{Store, StoreError};

/// Why a search failed. None of it is the searcher's input: the query was parsed before.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The engine failed.
    #[error("searching")]
    Engine(#[source] paperfeed_search::SearchError),
    /// The blocking task that ran the engine failed.
    #[error("the search task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The store failed reading the hits' papers.
    #[error("reading the papers of the search hits")]
    Store(#[source] StoreError),
}

/// A search's results: the engine's answer (total, mode that ran, note) and its hits' papers,
/// in rank order. A hit whose paper vanished between index and store is left out.
#[derive(Debug)]
pub struct Found {
    pub results: SearchResults,
    pub papers: Vec<(SearchHit, Paper)>,
}

/// Runs `query` in `mode` and reads the hits' papers with one store call.
pub async fn search(
    engine: Arc<SearchEngine>,
    store: &dyn Store,
    query: KeywordQuery,
    mode: SearchMode,
) -> Result<Found, SearchError> {
    // In the caller's span, so what the engine logs carries the request id.
    let span = tracing::Span::current();
    let results =
        tokio::task::spawn_blocking(move || span.in_scope(|| engine.search(&query, mode)))
            .await
            .map_err(SearchError::Task)?
            .map_err(SearchError::Engine)?;
    let ids: Vec<ArxivId> = results.hits.iter().map(|hit| hit.id.clone()).collect();
    // In the order of `ids`, those whose paper vanished between index and store left out.
    let mut stored = store
        .get_papers(&ids)
        .await
        .map_err(SearchError::Store)?
        .into_iter()
        .peekable();
    let mut papers = Vec::with_capacity(results.hits.len());
    for hit in &results.hits {
        if let Some(paper) = stored.next_if(|paper| paper.id == hit.id) {
            papers.push((hit.clone(), paper));
        }
    }
    Ok(Found { results, papers })
}

#[cfg(test)]
mod tests {
    use paperfeed_search::{DEFAULT_EXACT_LIMIT, KeywordIndex};
    use paperfeed_store::WriteMode;

    use super::*;
    use crate::test_support::{paper, sqlite_store};

    #[tokio::test]
    async fn results_come_in_rank_order_without_vanished_papers() {
        let (_dir, store) = sqlite_store().await;
        // Three papers on turbines, ranked by how much they say it; the middle one is indexed
        // but gone from the store.
        let strong = paper(
            "2605.00001",
            "Turbine turbine turbines",
            "Turbine blades of a turbine, turbine wakes.",
        );
        let middle = paper("2605.00002", "Turbine wakes", "Wakes behind a turbine.");
        let weak = paper("2605.00003", "Wind farms", "Farms with a turbine or two.");
        let other = paper("2605.00004", "Glaciers", "Ice moving slowly.");
        // In the store in an order unlike the ranking.
        store
            .upsert_papers(
                vec![weak.clone(), other.clone(), strong.clone(), middle.clone()],
                WriteMode::Commit,
            )
            .await
            .unwrap();
        let ids: Vec<ArxivId> = [&strong, &middle, &weak, &other]
            .iter()
            .map(|p| p.id.clone())
            .collect();
        let mut indexed = store.get_papers(&ids).await.unwrap();
        indexed.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(indexed.len(), 4);
        let engine = Arc::new(SearchEngine::new(
            KeywordIndex::in_memory().unwrap(),
            Err("no model in tests".into()),
            DEFAULT_EXACT_LIMIT,
        ));
        engine.index_papers(&indexed, 1).unwrap();

        // The same ranking read from a store that lacks the middle paper.
        let (_dir2, partial) = sqlite_store().await;
        partial
            .upsert_papers(vec![weak, other, strong], WriteMode::Commit)
            .await
            .unwrap();

        let query = KeywordQuery::parse("turbine").unwrap();
        let full = search(engine.clone(), &store, query.clone(), SearchMode::Keyword)
            .await
            .unwrap();
        let ranked: Vec<&str> = full.results.hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ranked, ["2605.00001", "2605.00002", "2605.00003"]);
        let listed: Vec<&str> = full.papers.iter().map(|(_, p)| p.id.as_str()).collect();
        assert_eq!(listed, ranked);

        let found = search(engine, &partial, query, SearchMode::Keyword)
            .await
            .unwrap();
        assert_eq!(found.results.hits.len(), 3, "the engine still ranks it");
        let listed: Vec<&str> = found.papers.iter().map(|(_, p)| p.id.as_str()).collect();
        assert_eq!(listed, ["2605.00001", "2605.00003"]);
        assert!(found.papers.iter().all(|(hit, paper)| hit.id == paper.id));
    }
}
