//! The search engine of this data directory: where its index lives and how it opens (the
//! model found on disk, or fetched from the Hugging Face Hub on first need: [`crate::model`]).
//! Keeping it caught up with the store is the application layer's
//! ([`paperfeed_app::indexing`]).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use paperfeed_search::{Embedder, KeywordIndex, MODEL_NAME, OpenOutcome, SearchEngine};

use crate::settings::{HfHub, Settings};

pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index").join("keyword")
}

/// Opens (or creates, or rebuilds) the index and loads the model, fetching it first when it is
/// nowhere yet; never fails for a missing model, which only turns semantic search off (the
/// reason is logged once, here).
pub async fn open_engine(settings: &Settings) -> anyhow::Result<SearchEngine> {
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
    let embedder = crate::model::ensure(settings, &HfHub::from_env())
        .await
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
