//! "For you": recommendations that learn from each reader and explain every pick, and "more like
//! this collection". One place for the page, its feed, the API and the CLI.
//!
//! A reader's signals (seeds, saves, collections, upvotes, follows, saved searches, opened
//! papers, "not interested"; only those after their last reset) become the examples of a
//! model (`paperfeed_search::recommend`). Models are derived data, cached per reader in memory
//! ([`cache`]) and brought up to date on each load by the signals that changed since, one
//! example at a time: a new signal costs one example, a reset empties the model, nothing is
//! retrained from scratch. Candidates are the newest papers within the reader's recency window
//! plus the papers nearest to their model (kept with the model); what they already saved,
//! voted, opened, seeded, dismissed or muted, and what they saw, is never picked. The
//! per-paper data ([`corpus`]) catches up from the store like the search index, in the
//! background ([`Recommender::run`]); the sentence vectors are the search engine's.

mod cache;
mod controls;
mod corpus;
mod digest_choice;
mod evidence;
mod reasons;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Paper};
use paperfeed_search::SearchEngine;
use paperfeed_search::recommend::{
    Candidate, Pick, RankSettings, ReaderModel, SignalKind, Source, recommend,
};
use paperfeed_store::{Collection, Store, StoreError, UserId};
use tokio_util::sync::CancellationToken;

pub use controls::{
    Controls, ControlsChange, DEFAULT_EXPLORATION, DEFAULT_RECENCY_DAYS, DEFAULT_SOCIAL_WEIGHT,
    MAX_RECENCY_DAYS, MAX_SEEDS, add_seed, change_controls, controls, remove_seed, reset,
    seed_papers, set_paused,
};
pub use digest_choice::{
    DEFAULT_DIGEST_PICKS, MAX_DIGEST_PICKS, digest_picks, parse_digest_picks, set_digest_picks,
};
pub use reasons::{Because, ScoreTerms, Weighted};

use cache::{ModelCache, Owner};
use corpus::Corpus;
use evidence::{
    Evidence, ExampleKey, Wanted, example_of, paper_gained, signalled_papers, unit, wanted_of,
};

/// Picks one call returns at most, and unless asked otherwise.
pub const MAX_PICKS: usize = 100;
pub const DEFAULT_PICKS: usize = 20;
/// Signals of each kind a model learns from: a reader's newest.
const SIGNAL_LIMIT: usize = 500;
/// The newest papers of the window that are always candidates.
const NEWEST_CANDIDATES: usize = 3000;
/// Papers nearest to the model's centroid, and to each of its newest positives, that are
/// candidates too (on hubs with more papers than [`NEWEST_CANDIDATES`]).
const CENTROID_NEIGHBOURS: usize = 500;
const EXAMPLE_NEIGHBOURS: usize = 30;
const NEIGHBOUR_EXAMPLES: usize = 5;
/// Extra picks asked for, so that the ones hidden afterwards (muted, seen) leave a full list.
const HIDDEN_ROOM: usize = 20;
/// The memory the cached models may take.
const CACHE_BYTES: usize = 64 << 20;

/// Why a recommender use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// Your input: a control out of range.
    #[error("{field} must be {what}")]
    Invalid {
        field: &'static str,
        what: &'static str,
    },
    #[error("paper {0} is not on this hub")]
    NoSuchPaper(ArxivId),
    #[error("you have {MAX_SEEDS} seed papers already; remove one first")]
    TooManySeeds,
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// We failed: a ranking task.
    #[error("ranking failed")]
    Task(#[source] tokio::task::JoinError),
}

impl RecommendError {
    /// Whether the reader's input was refused (safe to show), as opposed to our failure.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, RecommendError::Store(_) | RecommendError::Task(_))
    }
}

/// One recommended paper, why, and the terms of its score.
#[derive(Clone, Debug)]
pub struct ForYouItem {
    pub paper: Paper,
    /// The reader's signals it is nearest to, closest first (may be empty: picked for the
    /// model's direction as a whole, or for exploration).
    pub reasons: Vec<Because>,
    pub terms: ScoreTerms,
}

impl ForYouItem {
    /// Why it was picked, in one line (a mail, a feed): its nearest signal, or the model's
    /// direction as a whole when none stands out.
    pub fn reason_line(&self) -> String {
        self.reasons.first().map_or_else(
            || "close to your interests as a whole".to_owned(),
            ToString::to_string,
        )
    }
}

/// What the recommender has for a reader.
#[derive(Clone, Debug)]
pub enum ForYou {
    /// The reader paused their recommendations.
    Paused,
    /// Nothing to learn from yet (no signal since the last reset): the page says how to start.
    ColdStart,
    /// The recommender is still reading the hub's papers (just after a start).
    Warming,
    Picks(Vec<ForYouItem>),
}

/// A reader's recommendations and the controls they were made with.
#[derive(Clone, Debug)]
pub struct ForYouPage {
    pub controls: Controls,
    pub result: ForYou,
}

/// The per-paper data and the cached models; one per process, shared by every request.
pub struct Recommender {
    corpus: Corpus,
    cache: ModelCache,
    /// [`NEWEST_CANDIDATES`]; smaller in tests, so that small hubs use neighbours too.
    newest_candidates: usize,
}

impl std::fmt::Debug for Recommender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (models, bytes) = self.cache.usage();
        f.debug_struct("Recommender")
            .field("papers", &self.corpus.read().list.len())
            .field("models", &models)
            .field("model_bytes", &bytes)
            .finish()
    }
}

/// A page size asked for, kept within 1..=[`MAX_PICKS`] (missing: [`DEFAULT_PICKS`]).
pub fn picks_asked(asked: Option<usize>) -> usize {
    asked.unwrap_or(DEFAULT_PICKS).clamp(1, MAX_PICKS)
}

impl Recommender {
    pub fn new(engine: Arc<SearchEngine>) -> Self {
        Self {
            corpus: Corpus::new(engine),
            cache: ModelCache::new(CACHE_BYTES),
            newest_candidates: NEWEST_CANDIDATES,
        }
    }

    /// Reads the papers changed since the last catch-up (all of them the first time); returns
    /// how many.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<usize, StoreError> {
        self.corpus.catch_up(store).await
    }

    /// Whether the first catch-up is done.
    pub fn is_ready(&self) -> bool {
        self.corpus.read().is_ready()
    }

    /// The background loop of `serve`: catch up now, then whenever the store's change counter
    /// moved, looking every `interval`, until `stop`; between, the background statistics follow
    /// the vectors the indexer loads. A failed catch-up is logged and tried again at the next
    /// look.
    pub async fn run(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        interval: Duration,
        stop: CancellationToken,
    ) {
        let mut seen = None;
        loop {
            match store.change_seq().await {
                Ok(seq) if Some(seq) != seen => match self.catch_up(&*store).await {
                    Ok(n) => {
                        seen = Some(seq);
                        if n > 0 {
                            tracing::debug!(recommender.papers = n, "recommender caught up");
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %error.detail(), "recommender catch-up failed");
                    }
                },
                Ok(_) => self.corpus.refresh_background().await,
                Err(error) => {
                    tracing::warn!(error = %error.detail(), "recommender could not read the store");
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Up to `limit` papers for `user`, each explained, as their controls say.
    pub async fn for_you(
        &self,
        store: &dyn Store,
        user: UserId,
        limit: usize,
    ) -> Result<ForYouPage, RecommendError> {
        let limit = limit.clamp(1, MAX_PICKS);
        let (signals, follows, searches) = tokio::try_join!(
            store.reader_signals(user, SIGNAL_LIMIT),
            store.follows(user),
            store.saved_searches(user),
        )?;
        let controls = Controls::of(signals.settings.as_ref());
        let page = |result| ForYouPage { controls, result };
        if controls.paused {
            return Ok(page(ForYou::Paused));
        }
        let wanted = wanted_of(&signals, &follows, &searches, controls.reset_at);
        if !wanted.iter().any(|w| !w.key.1.is_negative()) {
            // Nothing to learn from: the model (if any) is not needed until a signal comes.
            self.cache.forget(Owner::Reader(user));
            return Ok(page(ForYou::ColdStart));
        }
        if !self.is_ready() {
            return Ok(page(ForYou::Warming));
        }
        let (model, neighbours) = self.update(Owner::Reader(user), store, &wanted).await?;
        let today = self.today();
        let settings = RankSettings {
            social_weight: f32::from(controls.social_weight) / 100.0,
            recency_window_days: Some(controls.recency_days),
            exploration: f32::from(controls.exploration) / 100.0,
            today,
            // Stable on reload, different tomorrow.
            seed: (user.0 as u64) << 32 ^ u64::from(today.num_days_from_ce().unsigned_abs()),
            limit: limit + HIDDEN_ROOM,
        };
        let picks = self
            .rank(model, neighbours, signalled_papers(&signals), settings)
            .await?;
        let items = self.items(store, Some(user), &picks, true, limit).await?;
        Ok(page(ForYou::Picks(items)))
    }

    /// Up to `limit` papers like those of `collection` (which the caller showed the viewer),
    /// each explained, any age; what a signed-in viewer dismissed or muted is left out.
    pub async fn more_like_collection(
        &self,
        store: &dyn Store,
        collection: &Collection,
        viewer: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<ForYouItem>, RecommendError> {
        let limit = limit.clamp(1, MAX_PICKS);
        let wanted: Vec<Wanted> = store
            .collection_papers(collection.id)
            .await?
            .into_iter()
            .take(SIGNAL_LIMIT)
            .map(|entry| Wanted {
                key: (Source::Paper(entry.paper.clone()), SignalKind::InCollection),
                evidence: Evidence::Paper(entry.paper),
                at: entry.added_at,
            })
            .collect();
        if wanted.is_empty() || !self.is_ready() {
            return Ok(Vec::new());
        }
        let (model, neighbours) = self
            .update(Owner::Collection(collection.id), store, &wanted)
            .await?;
        let mut settings = RankSettings::new(self.today());
        settings.seed = collection.id as u64;
        settings.limit = limit + HIDDEN_ROOM;
        let picks = self
            .rank(model, neighbours, HashSet::new(), settings)
            .await?;
        self.items(store, viewer, &picks, false, limit).await
    }

    /// The day recency counts back from: the newest day a paper on the hub has (not the
    /// clock's, so a hub whose harvest paused still has recent papers), else today.
    fn today(&self) -> NaiveDate {
        self.corpus
            .read()
            .newest_day()
            .unwrap_or_else(|| Utc::now().date_naive())
    }

    /// Brings the owner's cached model up to `wanted`: examples no longer wanted leave, new
    /// ones are added, papers whose vector or terms arrived since are built again. Only what
    /// changed costs anything; when the model changed, its neighbours are found again.
    async fn update(
        &self,
        owner: Owner,
        store: &dyn Store,
        wanted: &[Wanted],
    ) -> Result<(Arc<ReaderModel>, Arc<Vec<ArxivId>>), RecommendError> {
        let slot = self.cache.entry(owner);
        let mut entry = slot.lock().await;
        let keys: HashSet<&ExampleKey> = wanted.iter().map(|w| &w.key).collect();
        let gone: Vec<ExampleKey> = entry
            .held
            .keys()
            .filter(|k| !keys.contains(k))
            .cloned()
            .collect();
        let mut changed = !gone.is_empty();
        for key in gone {
            Arc::make_mut(&mut entry.model).remove(&key.0, key.1);
            entry.held.remove(&key);
        }
        // New positives with a vector: their own neighbours become candidates at once.
        let mut new_positives: Vec<(Vec<f32>, usize)> = Vec::new();
        for w in wanted {
            let build = match (entry.held.get(&w.key), &w.evidence) {
                (None, _) => true,
                (Some(held), Evidence::Paper(id)) => paper_gained(&self.corpus, id, held),
                (Some(held), evidence) => held.evidence != *evidence,
            };
            if build {
                let (example, held) = example_of(&self.corpus, store, w).await?;
                if let Some(v) = example
                    .vector
                    .as_ref()
                    .filter(|_| !example.kind.is_negative())
                {
                    new_positives.push((v.clone(), EXAMPLE_NEIGHBOURS));
                }
                Arc::make_mut(&mut entry.model).add(example);
                entry.held.insert(w.key.clone(), held);
                changed = true;
            }
        }
        if changed && self.corpus.read().list.len() > self.newest_candidates {
            entry.generation += 1;
            let all = neighbour_queries(&entry.model, wanted);
            if entry.neighbours.is_empty() {
                // The model's first build: found now, so the first page has them.
                entry.neighbours = Arc::new(self.nearest(all).await?);
            } else {
                if !new_positives.is_empty() {
                    let mut ids = (*entry.neighbours).clone();
                    for id in self.nearest(new_positives).await? {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    entry.neighbours = Arc::new(ids);
                }
                // The centroid moved: its neighbours are found again off the request's path
                // (a few vector searches), for the next load.
                self.refresh_neighbours(Arc::clone(&slot), entry.generation, all);
            }
        }
        if changed {
            tracing::debug!(
                recommender.examples = entry.model.examples().len(),
                "recommender model updated"
            );
        }
        self.cache.measured(owner, &entry);
        Ok((Arc::clone(&entry.model), Arc::clone(&entry.neighbours)))
    }

    /// The papers nearest to each query vector (`k` each), once each, off the async threads.
    async fn nearest(
        &self,
        queries: Vec<(Vec<f32>, usize)>,
    ) -> Result<Vec<ArxivId>, RecommendError> {
        let engine = Arc::clone(self.corpus.engine());
        tokio::task::spawn_blocking(move || nearest_to(&engine, &queries))
            .await
            .map_err(RecommendError::Task)
    }

    /// Finds the neighbours of `queries` in the background and gives them to the entry in
    /// `slot`, unless its model changed again meanwhile (a later refresh is on its way).
    fn refresh_neighbours(
        &self,
        slot: Arc<tokio::sync::Mutex<cache::Entry>>,
        generation: u64,
        queries: Vec<(Vec<f32>, usize)>,
    ) {
        let engine = Arc::clone(self.corpus.engine());
        tokio::spawn(async move {
            let Ok(ids) = tokio::task::spawn_blocking(move || nearest_to(&engine, &queries)).await
            else {
                return;
            };
            let mut entry = slot.lock().await;
            if entry.generation == generation {
                entry.neighbours = Arc::new(ids);
            }
        });
    }

    /// Ranks the newest papers of the window and the model's neighbours (off the async
    /// threads: a linear pass over a few thousand candidates).
    async fn rank(
        &self,
        model: Arc<ReaderModel>,
        neighbours: Arc<Vec<ArxivId>>,
        exclude: HashSet<ArxivId>,
        settings: RankSettings,
    ) -> Result<Vec<Pick>, RecommendError> {
        let papers = self.corpus.shared();
        let engine = Arc::clone(self.corpus.engine());
        let newest_candidates = self.newest_candidates;
        tokio::task::spawn_blocking(move || {
            let papers = papers
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let from = settings.recency_window_days.map_or(NaiveDate::MIN, |days| {
                settings.today - chrono::Days::new(u64::from(days))
            });
            let mut ids: HashSet<&ArxivId> = HashSet::new();
            let newest = papers.newest_since(from, newest_candidates);
            let near = neighbours.iter().filter_map(|id| papers.get(id));
            let chosen: Vec<_> = newest.chain(near).filter(|p| ids.insert(&p.id)).collect();
            // The candidates' vectors, read from the index once (a few thousand rows).
            let vectors: Vec<Vec<f32>> = engine.with_vectors(|index| {
                chosen
                    .iter()
                    .map(|p| index.get(&p.id).unwrap_or_default())
                    .collect()
            });
            let candidates: Vec<Candidate<'_>> = chosen
                .iter()
                .zip(&vectors)
                .map(|(p, vector)| Candidate {
                    id: &p.id,
                    vector,
                    terms: &p.terms,
                    popularity: p.popularity,
                    date: p.date,
                })
                .collect();
            let picks = recommend(&model, &papers.background, &candidates, &exclude, &settings);
            let vector_of: HashMap<&ArxivId, &[f32]> = chosen
                .iter()
                .zip(&vectors)
                .map(|(p, v)| (&p.id, v.as_slice()))
                .collect();
            let near = |id: &ArxivId| {
                let vector = vector_of.get(id).copied().unwrap_or(&[]);
                let terms = papers.get(id).map(|p| &p.terms);
                evidence::near_duplicate_of_dismissed(&model, vector, terms)
            };
            picks.into_iter().filter(|p| !near(&p.id)).collect()
        })
        .await
        .map_err(RecommendError::Task)
    }

    /// The picks' papers with their reasons, without what the viewer dismissed or muted (and,
    /// with `hide_seen`, saw), at most `limit`.
    async fn items(
        &self,
        store: &dyn Store,
        viewer: Option<UserId>,
        picks: &[Pick],
        hide_seen: bool,
        limit: usize,
    ) -> Result<Vec<ForYouItem>, RecommendError> {
        let pick_ids: Vec<ArxivId> = picks.iter().map(|p| p.id.clone()).collect();
        let mut wanted = pick_ids.clone();
        wanted.extend(reasons::named_papers(picks));
        let papers: HashMap<ArxivId, Paper> = store
            .get_papers(&wanted)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let titles: HashMap<ArxivId, String> = papers
            .iter()
            .map(|(id, p)| (id.clone(), p.title.clone()))
            .collect();
        let filter = match viewer {
            Some(user) => {
                crate::visibility::ReaderFilter::load(store, user, &pick_ids, hide_seen).await?
            }
            None => crate::visibility::ReaderFilter::none(),
        };
        Ok(picks
            .iter()
            .filter_map(|pick| {
                let paper = papers.get(&pick.id)?;
                filter.why_hidden(paper).is_none().then(|| ForYouItem {
                    paper: paper.clone(),
                    reasons: reasons::reasons_of(pick, paper, &titles),
                    terms: ScoreTerms::of(pick),
                })
            })
            .take(limit)
            .collect())
    }
}

/// The searches that find a model's neighbours: its positives' weighted centroid, and each of
/// its newest positive papers.
fn neighbour_queries(model: &ReaderModel, wanted: &[Wanted]) -> Vec<(Vec<f32>, usize)> {
    let mut queries: Vec<(Vec<f32>, usize)> = Vec::new();
    let positives = || model.examples().iter().filter(|e| !e.kind.is_negative());
    let mut sum: Vec<f32> = Vec::new();
    for e in positives() {
        if let Some(v) = &e.vector {
            if sum.is_empty() {
                sum = vec![0.0; v.len()];
            }
            if v.len() == sum.len() {
                let w = e.kind.weight();
                sum.iter_mut().zip(v).for_each(|(s, x)| *s += w * x);
            }
        }
    }
    if let Some(centroid) = unit(sum) {
        queries.push((centroid, CENTROID_NEIGHBOURS));
    }
    let mut newest: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| !w.key.1.is_negative() && matches!(w.evidence, Evidence::Paper(_)))
        .collect();
    newest.sort_by_key(|w| std::cmp::Reverse(w.at));
    for w in newest.into_iter().take(NEIGHBOUR_EXAMPLES) {
        let vector = positives()
            .find(|e| e.source == w.key.0 && e.kind == w.key.1)
            .and_then(|e| e.vector.clone());
        if let Some(v) = vector {
            queries.push((v, EXAMPLE_NEIGHBOURS));
        }
    }
    queries
}

/// The papers nearest to each query (`k` each), once each, in query order. Blocking.
fn nearest_to(engine: &SearchEngine, queries: &[(Vec<f32>, usize)]) -> Vec<ArxivId> {
    engine.with_vectors(|index| {
        let mut seen = HashSet::new();
        queries
            .iter()
            .flat_map(|(q, k)| index.nearest(q, *k, None))
            .map(|n| n.id)
            .filter(|id| seen.insert(id.clone()))
            .collect()
    })
}
