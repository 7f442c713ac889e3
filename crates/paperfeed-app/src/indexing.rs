//! Keeps the search engine in step with the store: feeds the keyword index every paper changed
//! since its watermark, and computes the vectors the store is missing, in small batches so
//! serving never waits for it. `serve` runs [`Indexer::run`] in the background; `reindex` and
//! `search` call the same steps to completion.
//!
//! Nodes sharing one store each keep their own index but compute each vector once: in `serve`
//! only the holder of the store lease [`EMBED_LEASE`] computes missing vectors; the others read
//! the vectors of papers they indexed from the store as they appear.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use paperfeed_core::{ArxivId, Paper};
use paperfeed_search::{KeywordIndex, MODEL_NAME, SearchEngine};
use paperfeed_store::{PaperVector, Store};
use tokio_util::sync::CancellationToken;

/// Papers read from the store per keyword-index commit: big enough that a rebuild makes few
/// segments, small enough to keep a batch of papers a few MB.
const INDEX_BATCH: usize = 5000;

/// The store lease held by the one node (of those sharing a store) that computes vectors.
pub const EMBED_LEASE: &str = "embed";

/// Papers whose vectors a node that does not compute them asks the store for at once.
const FETCH_BATCH: usize = 1000;

/// A failed catch-up is tried again after this long, doubling with each failure up to
/// [`RETRY_MAX`]: the index heals without waiting for the next store write, and a lasting
/// failure (a full disk) is not hammered.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// A keyword index that failed to catch up: how often in a row, and when to try again.
struct Failing {
    attempts: u32,
    next_try: Instant,
}

impl Failing {
    fn after(previous: Option<Failing>) -> Failing {
        let attempts = previous.map_or(1, |f| f.attempts.saturating_add(1));
        let wait = RETRY_FIRST
            .saturating_mul(1 << attempts.saturating_sub(1).min(16))
            .min(RETRY_MAX);
        Failing {
            attempts,
            next_try: Instant::now() + wait,
        }
    }
}

/// Whether the index in `dir` is gone (the folder deleted, emptied or replaced by a file):
/// a tantivy index always has its `meta.json`.
fn index_lost(dir: &Path) -> bool {
    !dir.join("meta.json").is_file()
}

/// How the background loop of `serve` runs.
#[derive(Clone, Debug)]
pub struct IndexingConfig {
    /// How often an idle loop looks for store changes.
    pub interval: Duration,
    /// This process as a lease holder: unique across nodes and restarts.
    pub node: String,
    /// How long the embedding lease lasts unless renewed (the holder renews it every round).
    pub lease: Duration,
    /// The keyword index's folder: a loop that finds it gone recreates it.
    pub index_dir: PathBuf,
}

#[derive(Clone)]
pub struct Indexer {
    pub store: Arc<dyn Store>,
    pub engine: Arc<SearchEngine>,
    pub embed_batch: usize,
}

impl Indexer {
    /// Feeds the keyword index everything changed since its watermark. Returns how many
    /// papers were (re)indexed. A catch-up of several commits (a rebuild, a big ingest) ends
    /// with the index compacted, since searches visit every segment it left.
    /// `progress` is told how many papers each batch indexed.
    pub async fn catch_up(
        &self,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> anyhow::Result<usize> {
        self.catch_up_seeing(progress, &mut |_| {}, &CancellationToken::new())
            .await
    }

    /// [`Indexer::catch_up`], showing `seen` every paper indexed, and stopping between
    /// batches once `stop` is cancelled (each batch is committed as it is indexed, so stopping
    /// there leaves nothing unwritten; the rest is indexed at the next start).
    async fn catch_up_seeing(
        &self,
        progress: &(dyn Fn(usize) + Send + Sync),
        seen: &mut (dyn FnMut(&Paper) + Send),
        stop: &CancellationToken,
    ) -> anyhow::Result<usize> {
        let mut done = 0;
        let mut commits = 0;
        loop {
            if stop.is_cancelled() {
                return Ok(done);
            }
            let since = self.engine.watermark();
            let changed = self
                .store
                .papers_changed_since(since, INDEX_BATCH)
                .await
                .context("reading changed papers")?;
            let Some(last) = changed.last().map(|c| c.change_seq) else {
                if commits > 1 {
                    let engine = Arc::clone(&self.engine);
                    tokio::task::spawn_blocking(move || engine.compact())
                        .await
                        .context("compacting task")?
                        .context("compacting the search index")?;
                }
                return Ok(done);
            };
            let papers: Vec<_> = changed.into_iter().map(|c| c.paper).collect();
            papers.iter().for_each(&mut *seen);
            let n = papers.len();
            let engine = Arc::clone(&self.engine);
            tokio::task::spawn_blocking(move || engine.index_papers(&papers, last))
                .await
                .context("indexing task")?
                .context("indexing papers")?;
            done += n;
            commits += 1;
            progress(n);
        }
    }

    /// Feeds the engine's suggestions (titles, authors, categories while typing) every paper
    /// its keyword index already held when this process opened it; papers indexed from then
    /// on reach them as they are indexed. Nothing to do for an index built from empty. Returns
    /// how many papers were fed.
    pub async fn load_suggestions(&self) -> anyhow::Result<usize> {
        let up_to = self.engine.watermark();
        let mut since = 0;
        let mut done = 0;
        while since < up_to {
            let changed = self
                .store
                .papers_changed_since(since, INDEX_BATCH)
                .await
                .context("reading papers for suggestions")?;
            let Some(last) = changed.last().map(|c| c.change_seq) else {
                break;
            };
            since = last;
            let papers: Vec<Paper> = changed
                .into_iter()
                .filter(|c| c.change_seq <= up_to)
                .map(|c| c.paper)
                .collect();
            done += papers.len();
            let engine = Arc::clone(&self.engine);
            tokio::task::spawn_blocking(move || engine.feed_suggestions(&papers))
                .await
                .context("suggestion loading task")?;
        }
        Ok(done)
    }

    /// Loads every stored vector into the engine. Returns which papers got one, for which text.
    pub async fn load_vectors(&self) -> anyhow::Result<Vec<(ArxivId, i64)>> {
        let stored = self
            .store
            .embeddings(MODEL_NAME)
            .await
            .context("reading stored vectors")?;
        self.add_to_engine(stored).await
    }

    /// Hands vectors to the engine; returns which papers got one, for which text.
    async fn add_to_engine(&self, stored: Vec<PaperVector>) -> anyhow::Result<Vec<(ArxivId, i64)>> {
        let held = stored.iter().map(|v| (v.id.clone(), v.text_hash)).collect();
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || {
            engine.add_vectors(stored.into_iter().map(|v| (v.id, v.vector)));
        })
        .await
        .context("vector loading task")?;
        Ok(held)
    }

    /// Computes one batch of missing vectors. Returns how many (0: none missing, or no model).
    pub async fn embed_some(&self) -> anyhow::Result<usize> {
        Ok(self.embed_batch().await?.len())
    }

    /// Computes one batch of missing vectors; returns which papers got one, for which text.
    async fn embed_batch(&self) -> anyhow::Result<Vec<(ArxivId, i64)>> {
        let Some(embedder) = self.engine.embedder().cloned() else {
            return Ok(Vec::new());
        };
        let jobs = self
            .store
            .embedding_backlog(MODEL_NAME, self.embed_batch)
            .await
            .context("reading the embedding backlog")?;
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<String> = jobs.iter().map(|j| j.text.clone()).collect();
        let vectors = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await
        .context("embedding task")?
        .context("embedding papers")?;
        let computed: Vec<PaperVector> = jobs
            .into_iter()
            .zip(vectors)
            .map(|(job, vector)| PaperVector {
                id: job.id,
                text_hash: job.text_hash,
                vector,
            })
            .collect();
        let held: Vec<(ArxivId, i64)> = computed
            .iter()
            .map(|v| (v.id.clone(), v.text_hash))
            .collect();
        let engine = Arc::clone(&self.engine);
        let vectors: Vec<_> = computed
            .iter()
            .map(|v| (v.id.clone(), v.vector.clone()))
            .collect();
        tokio::task::spawn_blocking(move || engine.add_vectors(vectors))
            .await
            .context("vector indexing task")?;
        self.store
            .put_embeddings(MODEL_NAME, computed)
            .await
            .context("storing vectors")?;
        Ok(held)
    }

    /// Computes every missing vector; `progress` is told how many each batch computed.
    pub async fn embed_all(
        &self,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> anyhow::Result<usize> {
        let mut done = 0;
        loop {
            let n = self.embed_some().await?;
            if n == 0 {
                return Ok(done);
            }
            done += n;
            progress(n);
        }
    }

    /// The background loop of `serve`: catch up, then compute vectors a batch at a time,
    /// checking the store's change counter between batches; idle polls every `interval`.
    /// A catch-up that fails is retried with backoff (see [`RETRY_FIRST`]) without waiting
    /// for the next store write, and the engine says why meanwhile
    /// ([`SearchEngine::problem`], shown by `/readyz`); an index whose folder `index_dir` is
    /// gone is recreated and refilled from the store.
    /// Vectors are computed only while this node (`config.node`) holds the store lease
    /// [`EMBED_LEASE`] (taken and renewed each round, for `config.lease`); otherwise the vectors of
    /// papers it indexed are read from the store as the holder stores them. Once `stop` is
    /// cancelled it finishes the batch in hand (indexed and committed, or vectors computed and
    /// stored), gives the lease up so another node takes over at once, and returns.
    pub async fn run(self, config: IndexingConfig, stop: CancellationToken) {
        let IndexingConfig {
            interval,
            node,
            lease,
            index_dir,
        } = config;
        // The text each vector in the engine was computed from, by paper.
        let mut held: HashMap<ArxivId, i64> = HashMap::new();
        match self.load_vectors().await {
            Ok(loaded) => {
                tracing::info!(vectors = loaded.len(), "loaded stored vectors");
                held.extend(loaded);
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"), "loading stored vectors failed"),
        }
        // Until this is done, suggestions offer only papers indexed since the start.
        match self.load_suggestions().await {
            Ok(n) => tracing::info!(papers = n, "loaded suggestions"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "loading suggestions failed"),
        }
        // Papers indexed whose current text has no vector in the engine (yet).
        let mut pending: BTreeSet<ArxivId> = BTreeSet::new();
        let mut seen_seq = i64::MIN;
        let mut failing: Option<Failing> = None;
        let mut reported_backlog = false;
        let mut computing = false;
        let idle = |wait: Duration| {
            let stop = stop.clone();
            async move {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => {}
                }
            }
        };
        loop {
            if stop.is_cancelled() {
                if computing && let Err(e) = self.store.release_lease(EMBED_LEASE, &node).await {
                    tracing::warn!(error = %e, lease = EMBED_LEASE, "giving up the lease failed");
                }
                tracing::info!("indexer stopped: every batch it took is committed");
                return;
            }
            let seq = self.store.change_seq().await.unwrap_or(seen_seq);
            let due = match &failing {
                None => seq != seen_seq || index_lost(&index_dir),
                Some(f) => Instant::now() >= f.next_try,
            };
            if due {
                let mut seen = |paper: &Paper| {
                    if held.get(&paper.id) != Some(&paper.text_fingerprint()) {
                        pending.insert(paper.id.clone());
                    }
                };
                let caught_up = match self.recreate_if_lost(&index_dir).await {
                    Ok(()) => self.catch_up_seeing(&|_| {}, &mut seen, &stop).await,
                    Err(e) => Err(e),
                };
                match caught_up {
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(papers = n, "search index caught up");
                        }
                        if failing.take().is_some() {
                            tracing::info!("the search index is updated again");
                            self.engine.set_problem(None);
                        }
                        seen_seq = seq;
                        // The pass's papers against every saved search: new matches reach
                        // feeds, digests and webhooks after this one pass.
                        self.match_saved_searches().await;
                    }
                    Err(e) => {
                        // The store change is not marked seen: it is indexed on a later try.
                        let next = Failing::after(failing.take());
                        let wait = next.next_try.saturating_duration_since(Instant::now());
                        tracing::error!(
                            error = %format!("{e:#}"),
                            attempts = next.attempts,
                            retry_in_seconds = wait.as_secs_f64().round(),
                            "indexing failed; retrying"
                        );
                        // The outermost context only: fixed words, no file names, since
                        // readiness probes show it.
                        self.engine.set_problem(Some(e.to_string()));
                        failing = Some(next);
                    }
                }
            }
            let holder = self.engine.embedder().is_some() && self.take_lease(&node, lease).await;
            if holder != computing {
                computing = holder;
                if holder {
                    tracing::info!(lease = EMBED_LEASE, "this node computes missing vectors");
                }
            }
            if !holder {
                // Another node computes (or no model here): pick up what it stored.
                if let Err(e) = self.fetch_pending(&mut pending, &mut held).await {
                    tracing::error!(error = %format!("{e:#}"), "reading computed vectors failed");
                }
                idle(interval).await;
                continue;
            }
            match self.embed_batch().await {
                Ok(computed) if computed.is_empty() => {
                    if reported_backlog {
                        tracing::info!("all papers have vectors");
                        reported_backlog = false;
                    }
                    // What another node computed before this one took the lease.
                    if let Err(e) = self.fetch_pending(&mut pending, &mut held).await {
                        tracing::error!(error = %format!("{e:#}"), "reading computed vectors failed");
                    }
                    idle(interval).await;
                }
                Ok(computed) => {
                    let n = computed.len();
                    for (id, hash) in computed {
                        pending.remove(&id);
                        held.insert(id, hash);
                    }
                    if !reported_backlog || every_twentieth_batch(n) {
                        let left = self
                            .store
                            .count_embedding_backlog(MODEL_NAME)
                            .await
                            .unwrap_or(0);
                        tracing::info!(computed = n, left, "computing vectors");
                    }
                    reported_backlog = true;
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "computing vectors failed");
                    idle(interval * 5).await;
                }
            }
        }
    }

    /// Records the new matches of saved searches among the papers changed since the
    /// matcher's cursor (see `saved_searches::match_new_papers`); a failure is logged and
    /// the changes are matched on the next pass.
    async fn match_saved_searches(&self) {
        match crate::saved_searches::match_new_papers(&*self.store, chrono::Utc::now()).await {
            Ok(report) if !report.new_matches.is_empty() => tracing::info!(
                papers = report.papers,
                matches = report.new_matches.len(),
                "saved searches matched new papers"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "matching saved searches failed");
            }
        }
    }

    /// Recreates the keyword index when its folder `dir` is gone, and puts the new, empty
    /// one in the engine (the catch-up that follows refills it from the store).
    async fn recreate_if_lost(&self, dir: &Path) -> anyhow::Result<()> {
        if !index_lost(dir) {
            return Ok(());
        }
        let folder = dir.to_owned();
        let (keyword, _) =
            tokio::task::spawn_blocking(move || KeywordIndex::open_or_create(&folder))
                .await
                .context("index recreation task")?
                .context("recreating the lost search index")?;
        self.engine.replace_keyword(keyword);
        tracing::warn!(
            index.dir = %dir.display(),
            "the search index folder was gone: recreated it; refilling it from the store"
        );
        Ok(())
    }

    /// Takes or renews [`EMBED_LEASE`] for `node`; false when another node holds it (or the
    /// store does not answer: then nobody computes this round, which is safe).
    async fn take_lease(&self, node: &str, lease: Duration) -> bool {
        let now = chrono::Utc::now();
        let until = chrono::Duration::from_std(lease)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now);
        match self.store.try_lease(EMBED_LEASE, node, until, now).await {
            Ok(granted) => granted,
            Err(e) => {
                tracing::error!(error = %e, lease = EMBED_LEASE, "taking the lease failed");
                false
            }
        }
    }

    /// Reads the stored vectors of up to [`FETCH_BATCH`] pending papers into the engine.
    /// Papers still without one stay pending (at the back, so all get their turn).
    async fn fetch_pending(
        &self,
        pending: &mut BTreeSet<ArxivId>,
        held: &mut HashMap<ArxivId, i64>,
    ) -> anyhow::Result<()> {
        if pending.is_empty() || self.engine.embedder().is_none() {
            return Ok(());
        }
        let ids: Vec<ArxivId> = pending.iter().take(FETCH_BATCH).cloned().collect();
        let stored = self
            .store
            .embeddings_of(MODEL_NAME, &ids)
            .await
            .context("reading vectors computed by another node")?;
        let found = self.add_to_engine(stored).await?;
        if !found.is_empty() {
            tracing::info!(
                vectors = found.len(),
                "read vectors computed by another node"
            );
        }
        for (id, hash) in found {
            pending.remove(&id);
            held.insert(id, hash);
        }
        Ok(())
    }
}

/// True on every twentieth batch, so progress is logged without flooding the log.
fn every_twentieth_batch(n: usize) -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static BATCHES: AtomicUsize = AtomicUsize::new(0);
    n > 0 && BATCHES.fetch_add(1, Ordering::Relaxed).is_multiple_of(20)
}

#[cfg(test)]
mod tests;
