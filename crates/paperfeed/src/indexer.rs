//! Keeps the search engine in step with the store: feeds the keyword index every paper changed
//! since its watermark, and computes the vectors the store is missing, in small batches so
//! serving never waits for it. `serve` runs [`Indexer::run`] in the background; `reindex` and
//! `search` call the same steps to completion.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::ProgressBar;
use paperfeed_search::{
    Embedder, KeywordIndex, MODEL_NAME, OpenOutcome, SearchEngine, locate_model,
};
use paperfeed_store::{PaperVector, Store};
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

/// Papers read from the store per keyword-index commit: big enough that a rebuild makes few
/// segments, small enough to keep a batch of papers a few MB.
const INDEX_BATCH: usize = 5000;

pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index").join("keyword")
}

/// Opens (or creates, or rebuilds) the index and loads the model; never fails for a missing
/// model, which only turns semantic search off (the reason is logged once, here).
pub fn open_engine(settings: &Settings) -> anyhow::Result<SearchEngine> {
    let dir = index_dir(&settings.data_dir);
    let (keyword, outcome) = KeywordIndex::open_or_create(&dir)
        .with_context(|| format!("opening the search index in {}", dir.display()))?;
    match outcome {
        OpenOutcome::Fresh => {
            tracing::info!(index.dir = %dir.display(), "created an empty search index")
        }
        OpenOutcome::Reused => {}
        OpenOutcome::Rebuilt { reason } => tracing::warn!(
            index.dir = %dir.display(),
            %reason,
            "the search index could not be used and is rebuilt from the store"
        ),
    }
    let embedder = locate_model(
        settings.search.model_dir.as_deref(),
        &settings.data_dir,
        crate::settings::hf_hub_cache().as_deref(),
    )
    .map_err(|e| e.to_string())
    .and_then(|dir| {
        Embedder::load(&dir)
            .map_err(|e| format!("the model in {} could not be loaded: {e}", dir.display()))
    });
    match &embedder {
        Ok(_) => tracing::info!(model = MODEL_NAME, "semantic search is on"),
        Err(reason) => tracing::warn!(%reason, "semantic search is off; keyword search works"),
    }
    Ok(SearchEngine::new(
        keyword,
        embedder,
        settings.search.exact_vector_limit,
    ))
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
    pub async fn catch_up(&self, progress: &ProgressBar) -> anyhow::Result<usize> {
        self.catch_up_until(progress, &CancellationToken::new())
            .await
    }

    /// [`Indexer::catch_up`], stopping between batches once `stop` is cancelled (each batch is
    /// committed as it is indexed, so stopping there leaves nothing unwritten; the rest is
    /// indexed at the next start).
    async fn catch_up_until(
        &self,
        progress: &ProgressBar,
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
            let n = papers.len();
            let engine = Arc::clone(&self.engine);
            tokio::task::spawn_blocking(move || engine.index_papers(&papers, last))
                .await
                .context("indexing task")?
                .context("indexing papers")?;
            done += n;
            commits += 1;
            progress.inc(n as u64);
        }
    }

    /// Loads every stored vector into the engine. Returns how many.
    pub async fn load_vectors(&self) -> anyhow::Result<usize> {
        let stored = self
            .store
            .embeddings(MODEL_NAME)
            .await
            .context("reading stored vectors")?;
        let n = stored.len();
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || {
            engine.add_vectors(stored.into_iter().map(|v| (v.id, v.vector)));
        })
        .await
        .context("vector loading task")?;
        Ok(n)
    }

    /// Computes one batch of missing vectors. Returns how many (0: none missing, or no model).
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
        Ok(n)
    }

    /// Computes every missing vector.
    pub async fn embed_all(&self, progress: &ProgressBar) -> anyhow::Result<usize> {
        let mut done = 0;
        loop {
            let n = self.embed_some().await?;
            if n == 0 {
                return Ok(done);
            }
            done += n;
            progress.inc(n as u64);
        }
    }

    /// The background loop of `serve`: catch up, then compute vectors a batch at a time,
    /// checking the store's change counter between batches; idle polls every `interval`.
    /// Once `stop` is cancelled it finishes the batch in hand (indexed and committed, or
    /// vectors computed and stored) and returns.
    pub async fn run(self, interval: Duration, stop: CancellationToken) {
        match self.load_vectors().await {
            Ok(n) => tracing::info!(vectors = n, "loaded stored vectors"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "loading stored vectors failed"),
        }
        let mut seen_seq = i64::MIN;
        let mut reported_backlog = false;
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
                tracing::info!("indexer stopped: every batch it took is committed");
                return;
            }
            let seq = self.store.change_seq().await.unwrap_or(seen_seq);
            if seq != seen_seq {
                match self.catch_up_until(&ProgressBar::hidden(), &stop).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(papers = n, "search index caught up"),
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "indexing failed"),
                }
                seen_seq = seq;
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
}

/// True on every twentieth batch, so progress is logged without flooding the log.
fn every_twentieth_batch(n: usize) -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static BATCHES: AtomicUsize = AtomicUsize::new(0);
    n > 0 && BATCHES.fetch_add(1, Ordering::Relaxed).is_multiple_of(20)
}
