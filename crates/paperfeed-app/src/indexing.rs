//! Keeps the search engine in step with the store: feeds the keyword index every paper changed
//! since its watermark, and computes the vectors the store is missing, in small batches so
//! serving never waits for it. `serve` runs [`Indexer::run`] in the background; `reindex` and
//! `search` call the same steps to completion.
//!
//! Nodes sharing one store each keep their own index but compute each vector once: in `serve`
//! only the holder of the store lease [`EMBED_LEASE`] computes missing vectors and stores them.
//! Every node (the holder too) feeds its vector index from the store alone: the vectors stored
//! after the index's watermark, in the order they were stored (`embeddings_since`), appended
//! to the index on disk, so a start reads only what is new.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use paperfeed_core::Paper;
use paperfeed_search::{KeywordIndex, MODEL_NAME, SearchEngine, VectorError, VectorWatermark};
use paperfeed_store::{PaperVector, Store, VectorCursor};
use tokio_util::sync::CancellationToken;

/// Papers read from the store per keyword-index commit: big enough that a rebuild makes few
/// segments, small enough to keep a batch of papers a few MB.
const INDEX_BATCH: usize = 5000;

/// The store lease held by the one node (of those sharing a store) that computes vectors.
pub const EMBED_LEASE: &str = "embed";

/// Vectors read from the store per append to the vector index (about 13 MB of floats).
const VECTOR_PAGE: usize = 8192;

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
        self.catch_up_until(progress, &CancellationToken::new())
            .await
    }

    /// [`Indexer::catch_up`], stopping between
    /// batches once `stop` is cancelled (each batch is committed as it is indexed, so stopping
    /// there leaves nothing unwritten; the rest is indexed at the next start).
    async fn catch_up_until(
        &self,
        progress: &(dyn Fn(usize) + Send + Sync),
        stop: &CancellationToken,
    ) -> anyhow::Result<usize> {
        // The store's own derived index (papers by author, organisation and category) first: a
        // big ingest leaves it for one sorted pass. A failure (a store busy beyond its timeout,
        // a full disk) is tried again at the next pass and keeps nothing else from being indexed.
        if let Err(error) = self.store.catch_up_paper_index().await {
            tracing::warn!(error = %error.detail(), "writing the paper index failed; tried again at the next pass");
        }
        let mut done = 0;
        let mut commits = 0;
        let mut changed = self
            .store
            .papers_changed_since(self.engine.watermark(), INDEX_BATCH)
            .await
            .context("reading changed papers")?;
        loop {
            if stop.is_cancelled() {
                return Ok(done);
            }
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
            let papers: Vec<_> = std::mem::take(&mut changed)
                .into_iter()
                .map(|c| c.paper)
                .collect();
            let n = papers.len();
            let engine = Arc::clone(&self.engine);
            // The next batch is read from the store while this one is indexed.
            let (indexed, next) = tokio::join!(
                tokio::task::spawn_blocking(move || engine.index_papers(&papers, last)),
                self.store.papers_changed_since(last, INDEX_BATCH),
            );
            indexed
                .context("indexing task")?
                .context("indexing papers")?;
            changed = next.context("reading changed papers")?;
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

    /// Appends to the engine's vector index every vector the store holds after the index's
    /// watermark, in the order they were stored, a page at a time, each page committed with
    /// the watermark of its last row: an index on disk that is stopped (or killed) goes on
    /// from there next time, and a start reads only what was stored since. Returns how many
    /// vectors were appended; `progress` is told each page's. An index another process writes
    /// is left to that process (nothing appended here).
    pub async fn catch_up_vectors(
        &self,
        progress: &(dyn Fn(usize) + Send + Sync),
    ) -> anyhow::Result<usize> {
        let mut done = 0;
        loop {
            let after = self.engine.vector_watermark().map(|w| VectorCursor {
                seq: w.seq,
                id: w.id,
            });
            let page = self
                .store
                .embeddings_since(MODEL_NAME, after, VECTOR_PAGE)
                .await
                .context("reading stored vectors")?;
            let Some(last) = page.last() else {
                return Ok(done);
            };
            let watermark = VectorWatermark {
                seq: last.seq,
                id: last.vector.id.clone(),
            };
            let n = page.len();
            let items: Vec<_> = page
                .into_iter()
                .map(|v| (v.vector.id, v.vector.vector))
                .collect();
            let engine = Arc::clone(&self.engine);
            let appended =
                tokio::task::spawn_blocking(move || engine.append_vectors(items, Some(watermark)))
                    .await
                    .context("vector indexing task")?;
            match appended {
                Ok(refused) if refused > 0 => {
                    tracing::warn!(
                        refused,
                        "stored vectors of another length or not finite skipped"
                    );
                }
                Ok(_) => {}
                Err(VectorError::Locked) => {
                    tracing::debug!("the vector index is written by another process");
                    return Ok(done);
                }
                Err(e) => return Err(e).context("appending to the vector index"),
            }
            done += n;
            progress(n);
        }
    }

    /// Computes one batch of missing vectors, stores them, and appends them to the index.
    /// Returns how many (0: none missing, or no model).
    pub async fn embed_some(&self) -> anyhow::Result<usize> {
        let Some(embedder) = self.engine.embedder().cloned() else {
            return Ok(0);
        };
        let jobs = self
            .store
            .embedding_backlog(MODEL_NAME, self.embed_batch)
            .await
            .context("reading the embedding backlog")?;
        if jobs.is_empty() {
            return Ok(0);
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
        let n = computed.len();
        self.store
            .put_embeddings(MODEL_NAME, computed)
            .await
            .context("storing vectors")?;
        // The index reads them back from the store, in the order every node reads them.
        self.catch_up_vectors(&|_| {}).await?;
        Ok(n)
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
    /// [`EMBED_LEASE`] (taken and renewed each round, for `config.lease`); every round, the
    /// vectors stored since the vector index's watermark (by this node, another node or an
    /// import) are appended to it, and a vector index whose folder is gone is recreated and
    /// refilled from the store. Once `stop` is cancelled it finishes the batch in hand
    /// (indexed and committed, or vectors computed and stored), gives the lease up so another
    /// node takes over at once, and returns.
    pub async fn run(self, config: IndexingConfig, stop: CancellationToken) {
        let IndexingConfig {
            interval,
            node,
            lease,
            index_dir,
        } = config;
        // Only what was stored since the index on disk was last committed.
        match self.catch_up_vectors(&|_| {}).await {
            Ok(n) => tracing::info!(
                vectors = n,
                indexed = self.engine.progress().1,
                "vector index caught up"
            ),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "loading stored vectors failed"),
        }
        // Until this is done, suggestions offer only papers indexed since the start.
        match self.load_suggestions().await {
            Ok(n) => tracing::info!(papers = n, "loaded suggestions"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "loading suggestions failed"),
        }
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
                let caught_up = match self.recreate_if_lost(&index_dir).await {
                    Ok(()) => self.catch_up_until(&|_| {}, &stop).await,
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
            // What another node computed, an import stored, or a failed round left behind.
            if let Err(e) = self.follow_stored_vectors().await {
                tracing::error!(error = %format!("{e:#}"), "reading stored vectors failed");
            }
            if !holder {
                // Another node computes (or no model here).
                idle(interval).await;
                continue;
            }
            match self.embed_some().await {
                Ok(0) => {
                    if reported_backlog {
                        tracing::info!("all papers have vectors");
                        reported_backlog = false;
                    }
                    idle(interval).await;
                }
                Ok(n) => {
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

    /// Recreates the vector index when its folder is gone, then appends what the store holds
    /// after its watermark.
    async fn follow_stored_vectors(&self) -> anyhow::Result<()> {
        if self.engine.vectors_lost() {
            let engine = Arc::clone(&self.engine);
            tokio::task::spawn_blocking(move || engine.reopen_vectors())
                .await
                .context("vector index recreation task")?
                .context("recreating the lost vector index")?;
            tracing::warn!(
                "the vector index folder was gone: recreated it; refilling it from the store"
            );
        }
        let n = self.catch_up_vectors(&|_| {}).await?;
        if n > 0 {
            // This node's own vectors are appended as it stores them (`embed_some`).
            tracing::info!(
                vectors = n,
                "appended vectors stored by another node or an import"
            );
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
