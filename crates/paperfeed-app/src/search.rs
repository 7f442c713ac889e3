//! Searching papers: the engine ranks (off the async threads), the store supplies the ranked
//! papers in one batch read. The search page, the search feeds and the API run it.
//!
//! [`search_typed`] also looks at how the query was spelt: a query with a misspelt word that
//! finds fewer papers than its correction offers the correction ("did you mean"), and one
//! that finds nothing at all is answered with the correction's results, saying so. Feeds and
//! saved searches use [`search`], which searches exactly what was saved.

use std::sync::Arc;

use paperfeed_core::{ArxivId, Paper};
use paperfeed_search::{
    Correction, KeywordQuery, SearchEngine, SearchHit, SearchMode, SearchResults,
};
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
    /// What was done about misspelt words ([`search_typed`] only).
    pub spelling: Option<Spelling>,
}

/// What a search did about a misspelt query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// The results are for what was typed; the correction finds more ("did you mean …").
    DidYouMean(Correction),
    /// Nothing matched what was typed (`typed`): the results are the correction's
    /// ("showing results for …; search instead for …").
    Corrected {
        correction: Correction,
        typed: String,
    },
}

impl Spelling {
    /// The corrected query, whichever was done with it.
    pub fn correction(&self) -> &Correction {
        match self {
            Spelling::DidYouMean(correction) | Spelling::Corrected { correction, .. } => correction,
        }
    }
}

/// Whether a search may answer with its correction's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correcting {
    /// When nothing matched what was typed and the correction finds papers, answer with
    /// those; otherwise offer it.
    WhenNothingMatched,
    /// Only offer it: the results are always for what was typed ("search instead for", the
    /// JSON API, whose answers keep meaning what was asked).
    OfferOnly,
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
    read_papers(store, results, None).await
}

/// [`search`] for a query as the reader typed it (`typed`, from which `query` was parsed, or
/// read as plain words): with its spelling looked at (see the module documentation).
pub async fn search_typed(
    engine: Arc<SearchEngine>,
    store: &dyn Store,
    typed: &str,
    query: KeywordQuery,
    mode: SearchMode,
    correcting: Correcting,
) -> Result<Found, SearchError> {
    let span = tracing::Span::current();
    let typed = typed.to_owned();
    let (results, spelling) = tokio::task::spawn_blocking(move || {
        span.in_scope(|| rank_spelled(&engine, &typed, &query, mode, correcting))
    })
    .await
    .map_err(SearchError::Task)?
    .map_err(SearchError::Engine)?;
    read_papers(store, results, spelling).await
}

/// The engine's ranking for `query`, or for its correction, and what was done about spelling.
fn rank_spelled(
    engine: &SearchEngine,
    typed: &str,
    query: &KeywordQuery,
    mode: SearchMode,
    correcting: Correcting,
) -> Result<(SearchResults, Option<Spelling>), paperfeed_search::SearchError> {
    let results = engine.search(query, mode)?;
    let Some(correction) = engine.correct(typed) else {
        return Ok((results, None));
    };
    // The correction changes free words only, so its filters are the query's.
    let Ok(parsed) = KeywordQuery::parse(&correction.text) else {
        return Ok((results, None));
    };
    let corrected = KeywordQuery {
        text: parsed.text,
        ..query.clone()
    };
    // "Finds" is judged by keyword matches: semantic search always has nearest papers.
    let typed_total = if results.mode == SearchMode::Keyword {
        results.total
    } else {
        engine.keyword_total(query)?
    };
    // Words the index lacks (or holds in a paper or two, beside a far commoner neighbour) are
    // what makes the query find less; free words are optional, so the correction finds at
    // least as many papers unless a filter or phrase leaves it none.
    let corrected_total = engine.keyword_total(&corrected)?;
    if corrected_total == 0 || corrected_total < typed_total {
        return Ok((results, None));
    }
    if typed_total == 0 && correcting == Correcting::WhenNothingMatched {
        let results = engine.search(&corrected, mode)?;
        let spelling = Spelling::Corrected {
            correction,
            typed: typed.to_owned(),
        };
        return Ok((results, Some(spelling)));
    }
    Ok((results, Some(Spelling::DidYouMean(correction))))
}

/// The ranked hits' papers, in rank order, from one store read.
async fn read_papers(
    store: &dyn Store,
    results: SearchResults,
    spelling: Option<Spelling>,
) -> Result<Found, SearchError> {
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
    Ok(Found {
        results,
        papers,
        spelling,
    })
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

    #[tokio::test]
    async fn a_misspelt_query_is_corrected_when_nothing_matched_and_offered_otherwise() {
        let (_dir, store) = sqlite_store().await;
        let papers = vec![
            paper("2605.00001", "Turbine wakes", "Wakes behind a turbine."),
            paper("2605.00002", "Turbine blades", "Blades of a turbine."),
            paper("2605.00003", "Glaciers", "Ice moving slowly."),
        ];
        let ids: Vec<ArxivId> = papers.iter().map(|p| p.id.clone()).collect();
        store
            .upsert_papers(papers, WriteMode::Commit)
            .await
            .unwrap();
        let engine = Arc::new(SearchEngine::new(
            KeywordIndex::in_memory().unwrap(),
            Err("no model in tests".into()),
            DEFAULT_EXACT_LIMIT,
        ));
        engine
            .index_papers(&store.get_papers(&ids).await.unwrap(), 1)
            .unwrap();
        let run = |typed: &'static str, correcting: Correcting| {
            let engine = engine.clone();
            let store = &store;
            async move {
                let query = KeywordQuery::parse(typed).unwrap();
                search_typed(engine, store, typed, query, SearchMode::Hybrid, correcting)
                    .await
                    .unwrap()
            }
        };

        // Nothing matches "turbnie": the correction's papers, saying so.
        let found = run("turbnie", Correcting::WhenNothingMatched).await;
        let Some(Spelling::Corrected { correction, typed }) = &found.spelling else {
            panic!("{:?}", found.spelling);
        };
        assert_eq!(
            (correction.text.as_str(), typed.as_str()),
            ("turbine", "turbnie")
        );
        assert_eq!(found.papers.len(), 2);

        // Asked for what was typed: nothing, and the offer.
        let found = run("turbnie", Correcting::OfferOnly).await;
        assert!(found.papers.is_empty());
        assert_eq!(
            found
                .spelling
                .map(|s| s.correction().text.clone())
                .as_deref(),
            Some("turbine")
        );

        // Something matches, the correction finds more: the offer only.
        let found = run("glaciers turbnie", Correcting::WhenNothingMatched).await;
        assert_eq!(found.papers.len(), 1);
        assert!(
            matches!(&found.spelling, Some(Spelling::DidYouMean(c)) if c.text == "glaciers turbine"),
            "{:?}",
            found.spelling
        );

        // Words the index knows: nothing to say.
        let found = run("turbine", Correcting::WhenNothingMatched).await;
        assert_eq!((found.papers.len(), found.spelling), (2, None));
    }
}
