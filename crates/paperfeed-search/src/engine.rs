//! The search engine as the rest of the hub sees it: one object holding the keyword index, the
//! vectors and (when the model could be loaded) the embedder, answering keyword, semantic and
//! hybrid queries and "similar papers". It is fed by its caller (papers changed since its
//! watermark, computed vectors); it never reads the store itself.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use paperfeed_core::{ArxivId, Paper};
use serde::Serialize;

use crate::suggest::{SuggestIndex, SuggestQuery, Suggestion};
use crate::{
    Embedder, KEYWORD_SHARE, KeywordIndex, KeywordQuery, QueryVectors, SearchError, SortOrder,
    VectorError, VectorIndex, VectorWatermark, convex_combination,
};

/// How many candidates each side contributes to a fused ranking.
pub const FUSION_DEPTH: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Keyword,
    Semantic,
    Hybrid,
}

impl SearchMode {
    pub fn parse(name: &str) -> Option<SearchMode> {
        match name.trim().to_ascii_lowercase().as_str() {
            "keyword" | "bm25" => Some(SearchMode::Keyword),
            "semantic" | "vector" => Some(SearchMode::Semantic),
            "hybrid" | "" => Some(SearchMode::Hybrid),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Keyword => "keyword",
            SearchMode::Semantic => "semantic",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

/// One ranked paper. `title_html`/`snippet_html` are escaped HTML with `<mark>`ed matches
/// when the keyword side found the paper; callers render the paper themselves otherwise.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchHit {
    pub id: ArxivId,
    pub score: f32,
    pub keyword_rank: Option<usize>,
    pub semantic_rank: Option<usize>,
    pub title_html: Option<String>,
    pub snippet_html: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchResults {
    /// Matching papers over all pages (for fused rankings: the fused candidates).
    pub total: usize,
    pub hits: Vec<SearchHit>,
    /// The mode that actually ran: semantic and hybrid fall back to keyword when semantic
    /// search is off or a non-relevance sort was asked for.
    pub mode: SearchMode,
    /// Why semantic search did not take part, when it was asked for and did not.
    pub note: Option<String>,
}

/// What the status page and logs show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SearchStatus {
    pub indexed_papers: usize,
    pub watermark: i64,
    pub vectors: usize,
    pub approximate_vectors: bool,
    /// `None` when semantic search is on; otherwise why it is off.
    pub semantic_off: Option<String>,
}

pub struct SearchEngine {
    keyword: RwLock<KeywordIndex>,
    vectors: RwLock<VectorIndex>,
    /// Held by whoever writes the vector index (stage, publish, commit, compaction), so that
    /// searches wait only for the publish, which does no I/O.
    vector_writer: Mutex<()>,
    embedder: Option<Arc<Embedder>>,
    /// Query vectors kept between searches.
    query_vectors: QueryVectors,
    semantic_off: Option<String>,
    /// The keyword watermark and the vector count, mirrored outside the locks (see
    /// [`SearchEngine::progress`]).
    indexed_up_to: AtomicI64,
    vector_count: AtomicU64,
    /// Papers searchable in the keyword index, mirrored for the same reason (metrics).
    document_count: AtomicU64,
    /// Moves with every change of what keyword searches can find (see
    /// [`SearchEngine::keyword_generation`]).
    keyword_generation: AtomicU64,
    /// Why the keyword index cannot be kept up to date right now (set by its feeder while it
    /// retries), for readiness probes.
    problem: RwLock<Option<String>>,
    /// Titles, authors and categories to suggest while typing, fed with the keyword index.
    suggestions: RwLock<SuggestIndex>,
}

impl std::fmt::Debug for SearchEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchEngine")
            .field("semantic", &self.embedder.is_some())
            .finish()
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl SearchEngine {
    /// `embedder` is the loaded model or the reason there is none (shown to users and logged).
    /// Vectors are kept in memory (see [`SearchEngine::with_vector_index`]).
    pub fn new(
        keyword: KeywordIndex,
        embedder: Result<Embedder, String>,
        exact_vector_limit: usize,
    ) -> Self {
        Self::with_vector_index(keyword, embedder, VectorIndex::new(exact_vector_limit))
    }

    /// [`SearchEngine::new`] over a vector index of the caller's (on disk: see
    /// [`VectorIndex::open_or_create`]).
    pub fn with_vector_index(
        keyword: KeywordIndex,
        embedder: Result<Embedder, String>,
        vectors: VectorIndex,
    ) -> Self {
        let (embedder, semantic_off) = match embedder {
            Ok(e) => (Some(Arc::new(e)), None),
            Err(reason) => (None, Some(reason)),
        };
        let indexed_up_to = AtomicI64::new(keyword.watermark());
        let document_count = AtomicU64::new(keyword.len() as u64);
        let vector_count = AtomicU64::new(vectors.len() as u64);
        Self {
            keyword: RwLock::new(keyword),
            vectors: RwLock::new(vectors),
            vector_writer: Mutex::new(()),
            embedder,
            query_vectors: QueryVectors::default(),
            semantic_off,
            indexed_up_to,
            vector_count,
            document_count,
            keyword_generation: AtomicU64::new(0),
            problem: RwLock::new(None),
            suggestions: RwLock::new(SuggestIndex::default()),
        }
    }

    /// Puts `keyword` in place of the index searched until now: after the index folder was
    /// lost, a fresh one (watermark 0) that its feeder then fills from the store.
    pub fn replace_keyword(&self, keyword: KeywordIndex) {
        let mut current = write(&self.keyword);
        *current = keyword;
        self.indexed_up_to
            .store(current.watermark(), Ordering::Release);
        self.document_count
            .store(current.len() as u64, Ordering::Release);
        self.keyword_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Records why the keyword index cannot be updated (`None`: it can again).
    pub fn set_problem(&self, problem: Option<String>) {
        *write(&self.problem) = problem;
    }

    /// Why the keyword index cannot be updated now, if it cannot.
    pub fn problem(&self) -> Option<String> {
        read(&self.problem).clone()
    }

    pub fn embedder(&self) -> Option<&Arc<Embedder>> {
        self.embedder.as_ref()
    }

    pub fn semantic_off(&self) -> Option<&str> {
        self.semantic_off.as_deref()
    }

    /// The store change up to which the keyword index is complete.
    pub fn watermark(&self) -> i64 {
        read(&self.keyword).watermark()
    }

    /// Indexes papers (new or changed) and records that the index is complete up to
    /// `watermark`, in one commit.
    pub fn index_papers(&self, papers: &[Paper], watermark: i64) -> Result<(), SearchError> {
        let mut keyword = write(&self.keyword);
        keyword.upsert(papers)?;
        // While tantivy's threads index the documents (the commit waits for them), and before
        // the new watermark shows: whoever sees the index caught up sees suggestions for the
        // same papers.
        self.feed_suggestions(papers);
        keyword.commit(watermark)?;
        self.indexed_up_to
            .store(keyword.watermark(), Ordering::Release);
        self.document_count
            .store(keyword.len() as u64, Ordering::Release);
        self.keyword_generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Adds papers to the suggestions alone: what a process whose keyword index was already
    /// built feeds at start (indexed papers reach them through [`SearchEngine::index_papers`]).
    pub fn feed_suggestions(&self, papers: &[Paper]) {
        write(&self.suggestions).upsert(papers);
    }

    /// Up to `limit` titles, authors and categories for what is typed in the search box (see
    /// [`crate::SuggestIndex::suggest`]); none while the suggestions are being filled.
    pub fn suggest(&self, typed: &str, limit: usize) -> Vec<Suggestion> {
        let query = SuggestQuery::parse(typed);
        read(&self.suggestions).suggest(&query, limit)
    }

    /// Papers whose titles can be suggested now.
    pub fn suggestible_papers(&self) -> usize {
        read(&self.suggestions).len()
    }

    /// A number that changes whenever what keyword searches find may change (each commit of
    /// papers, a compaction, a replaced index) and not otherwise: keyword results kept under it stay exactly
    /// right until it moves. Lock-free. It is raised only once the change is searchable, so a
    /// result computed after reading it is never older than what it names.
    pub fn keyword_generation(&self) -> u64 {
        self.keyword_generation.load(Ordering::Acquire)
    }

    /// Papers searchable in the keyword index now; lock-free like [`SearchEngine::progress`].
    pub fn indexed_documents(&self) -> u64 {
        self.document_count.load(Ordering::Acquire)
    }

    /// What searches can return depends on: the store change the keyword index is complete up
    /// to, and how many vectors are loaded. The same on every node that has caught up, and
    /// lock-free, so callers may ask on every request (HTTP validators) even while a commit or
    /// compaction holds the index.
    pub fn progress(&self) -> (i64, u64) {
        (
            self.indexed_up_to.load(Ordering::Acquire),
            self.vector_count.load(Ordering::Acquire),
        )
    }

    /// Merges the keyword index into one segment (see [`KeywordIndex::compact`]).
    pub fn compact(&self) -> Result<(), SearchError> {
        let mut keyword = write(&self.keyword);
        keyword.compact()?;
        // Papers tied in a sort order may come in another order once merged.
        self.keyword_generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Where the vector index stands in the store's vectors (`None`: before the first).
    pub fn vector_watermark(&self) -> Option<VectorWatermark> {
        read(&self.vectors).watermark().cloned()
    }

    /// Appends vectors (new papers, or replacing a paper's vector) and records that the index
    /// holds the store's vectors up to `watermark` (when given), durably when the index is on
    /// disk. Returns how many were refused (another length than the index's, or not finite).
    /// Searches go on meanwhile, but for a moment without I/O when the rows are published;
    /// a compaction, when due, runs here too. Blocking: call it from a blocking thread.
    ///
    /// An index another process writes is read-only ([`VectorError::Locked`]) until that
    /// process lets it go; it is then opened again, with what the other process added.
    pub fn append_vectors(
        &self,
        items: Vec<(ArxivId, Vec<f32>)>,
        watermark: Option<VectorWatermark>,
    ) -> Result<usize, VectorError> {
        let _writer = self
            .vector_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let reopened = read(&self.vectors).reopen_writable();
        if let Some(reopened) = reopened {
            let (index, outcome) = reopened?;
            tracing::info!(?outcome, "the vector index is writable again");
            self.replace_vectors_locked(index);
        }
        let staged = read(&self.vectors).stage(items, Vec::new(), watermark)?;
        let refused = staged.refused;
        {
            let mut vectors = write(&self.vectors);
            vectors.publish(staged)?;
            self.vector_count
                .store(vectors.len() as u64, Ordering::Release);
        }
        read(&self.vectors).commit()?;
        if read(&self.vectors).needs_compaction() {
            let started = std::time::Instant::now();
            let compacted = read(&self.vectors).compacted()?;
            let mut vectors = write(&self.vectors);
            vectors.install(compacted)?;
            tracing::info!(
                vectors = vectors.len(),
                duration_ms = started.elapsed().as_millis() as u64,
                "compacted the vector index"
            );
        }
        Ok(refused)
    }

    /// Adds or replaces computed vectors without moving the watermark: for an index in memory
    /// (tests, benchmarks, one-off runs). A failure (only an index on disk can fail) is
    /// logged; see [`SearchEngine::append_vectors`].
    pub fn add_vectors(&self, items: impl IntoIterator<Item = (ArxivId, Vec<f32>)>) {
        if let Err(error) = self.append_vectors(items.into_iter().collect(), None) {
            tracing::error!(error = %error, "adding vectors failed");
        }
    }

    /// Whether the vector index's folder was lost (see [`VectorIndex::is_lost`]).
    pub fn vectors_lost(&self) -> bool {
        read(&self.vectors).is_lost()
    }

    /// Opens the vector index again from its folder and searches it from now on: after its
    /// folder was lost, a fresh one (no watermark) that its feeder then fills from the store.
    /// Blocking.
    pub fn reopen_vectors(&self) -> Result<crate::OpenOutcome, VectorError> {
        let _writer = self
            .vector_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (index, outcome) = read(&self.vectors).reopened()?;
        self.replace_vectors_locked(index);
        Ok(outcome)
    }

    fn replace_vectors_locked(&self, vectors: VectorIndex) {
        let mut current = write(&self.vectors);
        *current = vectors;
        self.vector_count
            .store(current.len() as u64, Ordering::Release);
    }

    /// The folder of the vector index, when it is on disk.
    pub fn vector_dir(&self) -> Option<std::path::PathBuf> {
        read(&self.vectors).dir().map(std::path::Path::to_path_buf)
    }

    pub fn status(&self) -> SearchStatus {
        let keyword = read(&self.keyword);
        let vectors = read(&self.vectors);
        SearchStatus {
            indexed_papers: keyword.len(),
            watermark: keyword.watermark(),
            vectors: vectors.len(),
            approximate_vectors: vectors.is_approximate(),
            semantic_off: self.semantic_off.clone(),
        }
    }

    /// Runs `f` over the vector index, read-locked meanwhile (keep it short: vectors being
    /// published wait): how the recommender reads candidates' vectors ([`VectorIndex::get`])
    /// and neighbours.
    pub fn with_vectors<R>(&self, f: impl FnOnce(&VectorIndex) -> R) -> R {
        f(&read(&self.vectors))
    }

    /// The `k` papers nearest in meaning to `id`, by their stored vectors.
    pub fn similar(&self, id: &ArxivId, k: usize) -> Vec<crate::Neighbour> {
        let vectors = read(&self.vectors);
        match vectors.get(id) {
            Some(v) => vectors.nearest(&v, k, Some(id)),
            None => Vec::new(),
        }
    }

    /// Answers a query. Blocking (it may embed the query text): call it from a blocking
    /// thread in async code.
    pub fn search(
        &self,
        query: &KeywordQuery,
        mode: SearchMode,
    ) -> Result<SearchResults, SearchError> {
        let mut note = None;
        let mut mode = mode;
        if mode != SearchMode::Keyword {
            if self.semantic_off.is_some() {
                // The reason names files and folders of the host: it goes to the log and the
                // status page, not into every search page.
                note = Some(
                    "semantic search is off (no embedding model is loaded): showing keyword matches"
                        .to_owned(),
                );
                mode = SearchMode::Keyword;
            } else if query.text.trim().is_empty() {
                mode = SearchMode::Keyword;
            } else if query.sort != SortOrder::Relevance {
                // Semantic similarity has no natural cut-off to sort within, so date and vote
                // orders list the keyword matches.
                note = Some(format!(
                    "sorted by {}: showing keyword matches",
                    query.sort.as_str()
                ));
                mode = SearchMode::Keyword;
            }
        }
        if mode == SearchMode::Keyword {
            let keyword = read(&self.keyword);
            let results = if query.highlight {
                keyword.search(query)?
            } else {
                keyword.search_unmarked(query)?
            };
            let hits = results
                .hits
                .into_iter()
                .enumerate()
                .map(|(i, h)| SearchHit {
                    id: h.id,
                    score: h.score,
                    keyword_rank: Some(query.offset + i + 1),
                    semantic_rank: None,
                    title_html: query.highlight.then_some(h.title_html),
                    snippet_html: query.highlight.then_some(h.snippet_html),
                })
                .collect();
            return Ok(SearchResults {
                total: results.total,
                hits,
                mode,
                note,
            });
        }

        let semantic = match self.semantic_candidates(query) {
            Ok(found) => found,
            Err(reason) => {
                // A failed query embedding costs the semantic half, not the search.
                tracing::warn!(%reason, "semantic half of a search failed");
                note = Some(format!("semantic search failed for this query: {reason}"));
                mode = SearchMode::Keyword;
                Vec::new()
            }
        };
        if mode == SearchMode::Keyword {
            return self.search(query, SearchMode::Keyword).map(|mut r| {
                r.note = note;
                r
            });
        }
        let keyword = if mode == SearchMode::Hybrid {
            let mut q = query.clone();
            q.offset = 0;
            q.limit = FUSION_DEPTH;
            // Unmarked: only the page's hits are marked, below.
            read(&self.keyword).search_unmarked(&q)?.hits
        } else {
            Vec::new()
        };
        let keyword_scored: Vec<(ArxivId, f32)> =
            keyword.iter().map(|h| (h.id.clone(), h.score)).collect();
        let semantic_scored: Vec<(ArxivId, f32)> = semantic
            .iter()
            .map(|n| (n.id.clone(), n.similarity))
            .collect();
        let fused = convex_combination(&keyword_scored, &semantic_scored, KEYWORD_SHARE);
        let total = fused.len();
        let page: Vec<(ArxivId, f32)> = fused
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect();
        // Keyword matches shown get their words marked, as in keyword mode; papers found only
        // by meaning are shown plain.
        let matched: Vec<ArxivId> = page
            .iter()
            .filter(|(id, _)| keyword_scored.iter().any(|(k, _)| k == id))
            .map(|(id, _)| id.clone())
            .collect();
        let mut marks = if query.highlight {
            read(&self.keyword).mark(query, &matched)?
        } else {
            std::collections::HashMap::new()
        };
        let hits = page
            .into_iter()
            .map(|(id, score)| {
                let kw = keyword_scored.iter().position(|(k, _)| *k == id);
                let sem = semantic_scored.iter().position(|(s, _)| *s == id);
                let (title_html, snippet_html) = marks.remove(&id).unzip();
                SearchHit {
                    id,
                    score,
                    keyword_rank: kw.map(|i| i + 1),
                    semantic_rank: sem.map(|i| i + 1),
                    title_html,
                    snippet_html,
                }
            })
            .collect();
        Ok(SearchResults {
            total,
            hits,
            mode,
            note,
        })
    }

    /// `typed` (what was typed in the search box, filters included) with its misspelt words
    /// corrected against the keyword index's vocabulary, or `None` when there is nothing to
    /// correct (see [`crate::Correction`]).
    pub fn correct(&self, typed: &str) -> Option<crate::Correction> {
        read(&self.keyword).correct(typed)
    }

    /// How many papers the keyword side matches for `query` (its page ignored).
    pub fn keyword_total(&self, query: &KeywordQuery) -> Result<usize, SearchError> {
        let mut q = query.clone();
        q.offset = 0;
        q.limit = 0;
        Ok(read(&self.keyword).search(&q)?.total)
    }

    /// The papers nearest to the query text that also pass the query's filters.
    fn semantic_candidates(&self, query: &KeywordQuery) -> Result<Vec<crate::Neighbour>, String> {
        let Some(embedder) = &self.embedder else {
            return Ok(Vec::new());
        };
        let vector = self
            .query_vectors
            .get_or_embed(&query.text, |text| embedder.embed_query(text))
            .map_err(|e| format!("embedding the query: {e}"))?;
        let has_filters = query.author.is_some()
            || query.category.is_some()
            || query.published.is_some()
            || query.featured.is_some();
        // Over-fetch when filters will drop some.
        let depth = if has_filters {
            FUSION_DEPTH * 5
        } else {
            FUSION_DEPTH
        };
        let mut neighbours = read(&self.vectors).nearest(&vector, depth, None);
        if has_filters {
            let ids: Vec<ArxivId> = neighbours.iter().map(|n| n.id.clone()).collect();
            let passes = read(&self.keyword)
                .passes_filters(query, &ids)
                .map_err(|e| e.to_string())?;
            neighbours = neighbours
                .into_iter()
                .zip(passes)
                .filter_map(|(n, ok)| ok.then_some(n))
                .collect();
        }
        neighbours.truncate(FUSION_DEPTH);
        Ok(neighbours)
    }
}
