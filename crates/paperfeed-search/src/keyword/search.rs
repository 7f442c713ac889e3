//! Running a query plan: the total, the papers pinned first, one page of the ranked or sorted
//! rest, and each hit's highlighted title and snippet.

use std::collections::{HashMap, HashSet};

use paperfeed_core::ArxivId;
use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, Order, Searcher, TantivyDocument};

use super::schema::{self, NEWEST_RANK, VOTES_RANK};
use super::{KeywordIndex, KeywordQuery, SearchError, SortOrder, coverage, highlight};

/// The most hits one page may ask for.
pub const MAX_LIMIT: usize = 100;
/// The deepest offset served; deeper pages would cost a top-k heap that large, and nobody
/// reads result 10 001 by paging.
pub const MAX_OFFSET: usize = 10_000;
/// Papers pinned first by one exact id or title (duplicate titles exist).
const MAX_PINNED_PER_TERM: usize = 5;

/// One page of keyword results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeywordResults {
    /// How many papers match in all, over every page.
    pub total: usize,
    pub hits: Vec<KeywordHit>,
}

/// One matching paper, with its title and a snippet ready to put in a page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeywordHit {
    pub id: ArxivId,
    /// BM25 score under relevance order (higher is better); 0 under date or votes order.
    pub score: f32,
    /// The title, HTML-escaped, with matched words in `<mark>`.
    pub title_html: String,
    /// A window of the abstract around the matched words (its opening when none matched),
    /// escaped and marked the same way.
    pub snippet_html: String,
}

/// Hit titles and snippets are made with these.
struct Highlighters {
    title: Option<highlight::Highlighter>,
    abstract_text: Option<highlight::Highlighter>,
}

impl KeywordIndex {
    /// One page of papers matching `q`. Papers whose arXiv id or exact title is the query
    /// come first, under every sort order, if they pass the filters.
    pub fn search(&self, q: &KeywordQuery) -> Result<KeywordResults, SearchError> {
        self.run(q, true)
    }

    /// [`KeywordIndex::search`] without titles and snippets (their strings are empty): for a
    /// caller that shows only some of the hits, such as hybrid fusion, and marks those with
    /// [`KeywordIndex::mark`]. Marking is most of a hit's cost.
    pub fn search_unmarked(&self, q: &KeywordQuery) -> Result<KeywordResults, SearchError> {
        self.run(q, false)
    }

    /// The marked title and snippet (as in [`KeywordHit`]) of each paper of `ids` that the
    /// index holds, for the words of `q`.
    pub fn mark(
        &self,
        q: &KeywordQuery,
        ids: &[ArxivId],
    ) -> Result<HashMap<ArxivId, (String, String)>, SearchError> {
        let searcher = self.reader.searcher();
        let plan = self.plan(q);
        let highlighters = self.highlighters(&searcher, plan.ranked.as_deref());
        let mut marked = HashMap::with_capacity(ids.len());
        for id in ids {
            let term = schema::id_term(&self.fields, id.as_str());
            let found = searcher
                .search(
                    &TermQuery::new(term, IndexRecordOption::Basic),
                    &TopDocs::with_limit(1).order_by_score(),
                )
                .map_err(SearchError::index("searched"))?;
            for (_, address) in found {
                if let Some(hit) = self.hit(&searcher, address, 0.0, Some(&highlighters))? {
                    marked.insert(hit.id, (hit.title_html, hit.snippet_html));
                }
            }
        }
        Ok(marked)
    }

    fn run(&self, q: &KeywordQuery, marked: bool) -> Result<KeywordResults, SearchError> {
        let searcher = self.reader.searcher();
        let fail = SearchError::index("searched");
        let plan = self.plan(q);
        let Some(matcher) = &plan.matcher else {
            return Ok(KeywordResults {
                total: 0,
                hits: Vec::new(),
            });
        };
        let total = searcher.search(matcher.as_ref(), &Count).map_err(fail)?;
        let limit = q.limit.min(MAX_LIMIT);
        let offset = q.offset.min(MAX_OFFSET);
        if limit == 0 || offset >= total {
            return Ok(KeywordResults {
                total,
                hits: Vec::new(),
            });
        }

        let mut pinned: Vec<DocAddress> = Vec::new();
        for term in &plan.exact {
            let query = plan.filtered(Box::new(TermQuery::new(
                term.clone(),
                IndexRecordOption::Basic,
            )));
            let found = searcher
                .search(
                    query.as_ref(),
                    &TopDocs::with_limit(MAX_PINNED_PER_TERM).order_by_score(),
                )
                .map_err(SearchError::index("searched"))?;
            for (_, address) in found {
                if !pinned.contains(&address) {
                    pinned.push(address);
                }
            }
        }

        let window = offset + limit + pinned.len();
        let ranked = match (&plan.ranked, plan.sort) {
            (Some(ranked), SortOrder::Relevance) => {
                let coverage = self.coverage(&searcher, &plan.words);
                let depth = match coverage {
                    Some(_) => window.max(coverage::DEPTH),
                    None => window,
                };
                let mut found = searcher
                    .search(
                        ranked.as_ref(),
                        &TopDocs::with_limit(depth).order_by_score(),
                    )
                    .map_err(SearchError::index("searched"))?;
                if let Some(coverage) = coverage {
                    coverage.rerank(self, &searcher, &mut found)?;
                }
                found
            }
            (_, sort) => {
                let key = if sort == SortOrder::Votes {
                    VOTES_RANK
                } else {
                    NEWEST_RANK
                };
                searcher
                    .search(
                        matcher.as_ref(),
                        &TopDocs::with_limit(window).order_by_fast_field::<i64>(key, Order::Desc),
                    )
                    .map_err(SearchError::index("searched"))?
                    .into_iter()
                    .map(|(_, address)| (0.0, address))
                    .collect()
            }
        };

        // Pinned papers keep their BM25 score for callers that fuse rankings; they come first
        // whatever it is.
        let relevance = plan.sort == SortOrder::Relevance;
        let mut scores: HashMap<DocAddress, f32> = ranked.iter().map(|(s, a)| (*a, *s)).collect();
        if let Some(ranked) = plan.ranked.as_ref().filter(|_| relevance)
            && pinned.iter().any(|a| !scores.contains_key(a))
        {
            // Pinned papers below the ranked window: their BM25 score from one search of the
            // ranked query limited to the exact terms (not `Weight::explain`, which trips a
            // debug assertion of tantivy's on a query part that matches nothing).
            let exact = plan.exact_clauses();
            let only_pinned = BooleanQuery::new(vec![
                (Occur::Must, ranked.box_clone()),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(
                        Box::new(BooleanQuery::new(exact)),
                        0.0,
                    )),
                ),
            ]);
            let found = searcher
                .search(
                    &only_pinned,
                    &TopDocs::with_limit(pinned.len()).order_by_score(),
                )
                .map_err(SearchError::index("searched"))?;
            for (score, address) in found {
                scores.entry(address).or_insert(score);
            }
        }
        let mut page: Vec<(f32, DocAddress)> = Vec::with_capacity(window);
        for &address in &pinned {
            let score = if relevance {
                scores.get(&address).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            page.push((score, address));
        }
        let pinned: HashSet<DocAddress> = pinned.into_iter().collect();
        page.extend(
            ranked
                .into_iter()
                .filter(|(_, address)| !pinned.contains(address)),
        );

        let highlighters = marked.then(|| self.highlighters(&searcher, plan.ranked.as_deref()));
        let mut hits = Vec::with_capacity(limit);
        for (score, address) in page.into_iter().skip(offset).take(limit) {
            if let Some(hit) = self.hit(&searcher, address, score, highlighters.as_ref())? {
                hits.push(hit);
            }
        }
        Ok(KeywordResults { total, hits })
    }

    fn highlighters(&self, searcher: &Searcher, ranked: Option<&dyn Query>) -> Highlighters {
        let Some(ranked) = ranked else {
            return Highlighters {
                title: None,
                abstract_text: None,
            };
        };
        Highlighters {
            // One fragment as long as any title: the whole title is shown.
            title: highlight::highlighter(searcher, ranked, self.fields.title, usize::MAX / 2),
            abstract_text: highlight::highlighter(
                searcher,
                ranked,
                self.fields.abstract_text,
                highlight::SNIPPET_BYTES,
            ),
        }
    }

    fn hit(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        score: f32,
        highlighters: Option<&Highlighters>,
    ) -> Result<Option<KeywordHit>, SearchError> {
        let doc: TantivyDocument = searcher.doc(address).map_err(SearchError::index("read"))?;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let stored_id = text(self.fields.id);
        let Ok(id) = ArxivId::parse(&stored_id) else {
            // Only ids that parsed are ever indexed; skip rather than fail the page.
            tracing::warn!(paper.id = %stored_id, "keyword index holds an unreadable id");
            return Ok(None);
        };
        let Some(highlighters) = highlighters else {
            return Ok(Some(KeywordHit {
                id,
                score,
                title_html: String::new(),
                snippet_html: String::new(),
            }));
        };
        let title = text(self.fields.title);
        let abstract_text = text(self.fields.abstract_text);
        Ok(Some(KeywordHit {
            id,
            score,
            title_html: highlight::title_html(highlighters.title.as_ref(), &title),
            snippet_html: highlight::snippet_html(
                highlighters.abstract_text.as_ref(),
                &abstract_text,
            ),
        }))
    }
}
