//! What the recommender knows of every paper on the hub, derived from the store and kept in
//! memory: each paper's sparse keyword features, popularity and day, the term statistics (IDF)
//! they are weighed with, and the [`Background`] rankings are measured against. Sentence
//! vectors are not copied: the search engine already holds them.
//!
//! It catches up from the store's change counter like the search index. The first catch-up
//! reads the hub twice: once to count terms, once to weigh each paper's terms with the whole
//! hub's statistics (a paper weighed against the first few hundred papers only would keep the
//! wrong terms). Later papers are weighed as they come; a few hundred papers more or less
//! barely move the statistics.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use chrono::NaiveDate;
use paperfeed_core::{ArxivId, Paper};
use paperfeed_search::SearchEngine;
use paperfeed_search::recommend::{Background, PaperText, SparseVector, TermStats, term_counts};
use paperfeed_store::{Store, StoreError};

/// Papers read from the store at once while catching up.
const BATCH: usize = 2000;
/// Vectors sampled for the background statistics: they settle well before this many.
const BACKGROUND_SAMPLE: usize = 20_000;

/// One paper as the ranking sees it.
#[derive(Clone, Debug)]
pub(crate) struct CorpusPaper {
    pub id: ArxivId,
    pub terms: SparseVector,
    pub popularity: f64,
    /// The day it counts as new: its first featured day, else its arXiv publication.
    pub date: Option<NaiveDate>,
}

/// The papers and statistics; read-locked while a ranking runs.
#[derive(Default)]
pub(crate) struct Papers {
    pub list: Vec<CorpusPaper>,
    by_id: HashMap<ArxivId, usize>,
    /// `(day, index)`: the newest papers are a walk from the end.
    by_date: BTreeSet<(NaiveDate, usize)>,
    pub stats: TermStats,
    pub background: Arc<Background>,
    /// The store change the papers are complete up to.
    watermark: i64,
    /// Whether the first full read is done (before it, rankings would be partial).
    ready: bool,
    /// Vectors in the engine when the background was last built.
    background_vectors: usize,
}

impl Papers {
    pub fn get(&self, id: &ArxivId) -> Option<&CorpusPaper> {
        self.by_id.get(id).map(|&i| &self.list[i])
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The newest day any paper has: what "recent" is counted back from, so that a hub whose
    /// harvest paused (or a test on old data) still has recent papers.
    pub fn newest_day(&self) -> Option<NaiveDate> {
        self.by_date.last().map(|(day, _)| *day)
    }

    /// The newest papers of `from` or later, newest first, at most `limit`.
    pub fn newest_since(
        &self,
        from: NaiveDate,
        limit: usize,
    ) -> impl Iterator<Item = &CorpusPaper> + '_ {
        self.by_date
            .range((from, 0)..)
            .rev()
            .take(limit)
            .map(|(_, i)| &self.list[*i])
    }

    fn put(&mut self, paper: CorpusPaper) {
        let index = match self.by_id.get(&paper.id) {
            Some(&i) => {
                if let Some(day) = self.list[i].date {
                    self.by_date.remove(&(day, i));
                }
                self.list[i] = paper;
                i
            }
            None => {
                self.list.push(paper);
                let i = self.list.len() - 1;
                self.by_id.insert(self.list[i].id.clone(), i);
                i
            }
        };
        if let Some(day) = self.list[index].date {
            self.by_date.insert((day, index));
        }
    }
}

/// The term counts of a paper's title, abstract and listed authors.
pub(crate) fn counts_of(paper: &Paper) -> Vec<(u32, u32)> {
    let authors: Vec<String> = paper.visible_authors().map(|a| a.name.clone()).collect();
    term_counts(&PaperText {
        title: &paper.title,
        abstract_text: &paper.abstract_text,
        authors: &authors,
    })
}

/// A paper as the ranking sees it, its terms (`counts`) weighed with `stats`.
fn corpus_paper(paper: &Paper, counts: &[(u32, u32)], stats: &TermStats) -> CorpusPaper {
    CorpusPaper {
        id: paper.id.clone(),
        terms: stats.weigh(counts),
        popularity: paper.upvotes.max(0) as f64,
        date: paper
            .first_featured()
            .or_else(|| paper.published_at.map(|t| t.date_naive())),
    }
}

/// The corpus and the engine whose vectors go with it.
pub(crate) struct Corpus {
    papers: Arc<RwLock<Papers>>,
    engine: Arc<SearchEngine>,
    /// One catch-up at a time (the loop, a test, the CLI).
    catching_up: tokio::sync::Mutex<()>,
}

fn read_lock(papers: &RwLock<Papers>) -> RwLockReadGuard<'_, Papers> {
    papers.read().unwrap_or_else(PoisonError::into_inner)
}

impl Corpus {
    pub fn new(engine: Arc<SearchEngine>) -> Self {
        Self {
            papers: Arc::default(),
            engine,
            catching_up: tokio::sync::Mutex::new(()),
        }
    }

    pub fn engine(&self) -> &Arc<SearchEngine> {
        &self.engine
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Papers> {
        read_lock(&self.papers)
    }

    /// The papers, for a blocking thread to read-lock.
    pub fn shared(&self) -> Arc<RwLock<Papers>> {
        Arc::clone(&self.papers)
    }

    /// Reads every paper changed since the corpus's watermark; returns how many. The first
    /// call reads the hub twice (see the module's comment).
    pub async fn catch_up(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let _one = self.catching_up.lock().await;
        let first = !self.read().ready;
        if first {
            let stats = count_terms(store).await?;
            self.papers
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .stats = stats;
        }
        let mut done = 0;
        loop {
            let since = self.read().watermark;
            let changed = store.papers_changed_since(since, BATCH).await?;
            let Some(last) = changed.last().map(|c| c.change_seq) else {
                break;
            };
            done += changed.len();
            let papers = Arc::clone(&self.papers);
            // Weighing terms is CPU work: off the async threads, and outside the write lock
            // so rankings go on meanwhile (only this catch-up changes the statistics).
            tokio::task::spawn_blocking(move || {
                let counted: Vec<(Vec<(u32, u32)>, &Paper)> = changed
                    .iter()
                    .map(|c| (counts_of(&c.paper), &c.paper))
                    .collect();
                let entries: Vec<CorpusPaper> = {
                    let papers = read_lock(&papers);
                    counted
                        .iter()
                        .map(|(counts, paper)| corpus_paper(paper, counts, &papers.stats))
                        .collect()
                };
                let mut papers = papers.write().unwrap_or_else(PoisonError::into_inner);
                for ((counts, _), entry) in counted.iter().zip(entries) {
                    if !first {
                        papers.stats.add(counts);
                    }
                    papers.put(entry);
                }
                papers.watermark = last;
            })
            .await
            .map_err(|e| StoreError::unavailable_from("weighing papers' terms", e))?;
        }
        self.papers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .ready = true;
        self.refresh_background().await;
        Ok(done)
    }

    /// Rebuilds the background statistics when the engine holds a tenth more vectors than
    /// when they were last built (or none were built): at start, and as vectors are loaded or
    /// computed, which the store's change counter does not announce.
    pub async fn refresh_background(&self) {
        let vectors = usize::try_from(self.engine.progress().1).unwrap_or(usize::MAX);
        let stats = {
            let papers = self.read();
            let built = papers.background_vectors;
            let first = papers.background.terms.documents() == 0 && papers.stats.documents() > 0;
            if !papers.ready || !(first || vectors > built + built / 10) {
                return;
            }
            papers.stats.clone()
        };
        let engine = Arc::clone(&self.engine);
        let built = tokio::task::spawn_blocking(move || {
            // An even sample over the index (its order is arbitrary, not by date).
            let sample = engine.with_vectors(|index| index.sample(BACKGROUND_SAMPLE));
            Background::new(stats, sample.iter().map(Vec::as_slice))
        })
        .await;
        match built {
            Ok(background) => {
                let mut papers = self.papers.write().unwrap_or_else(PoisonError::into_inner);
                papers.background = Arc::new(background);
                papers.background_vectors = vectors;
            }
            Err(error) => tracing::warn!(%error, "building the recommender's background failed"),
        }
    }
}

/// The term statistics of every paper on the hub, read once through.
async fn count_terms(store: &dyn Store) -> Result<TermStats, StoreError> {
    let mut stats = TermStats::new();
    let mut since = 0;
    loop {
        let changed = store.papers_changed_since(since, BATCH).await?;
        let Some(last) = changed.last().map(|c| c.change_seq) else {
            return Ok(stats);
        };
        stats = tokio::task::spawn_blocking(move || {
            for c in &changed {
                stats.add(&counts_of(&c.paper));
            }
            stats
        })
        .await
        .map_err(|e| StoreError::unavailable_from("counting papers' terms", e))?;
        since = last;
    }
}
