//! The search engine of this data directory: where its index lives and how it opens (the
//! model found on disk, or fetched from the Hugging Face Hub on first need: [`crate::model`]).
//! Keeping it caught up with the store is the application layer's
//! ([`paperfeed_app::indexing`]).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use paperfeed_search::{
    Embedder, KeywordIndex, MODEL_NAME, OpenOutcome, SearchEngine, VectorIndex,
};

use crate::settings::{HfHub, Settings};

pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index").join("keyword")
}

/// The vector index's folder (`paperfeed_search::VectorIndex`, on disk).
pub fn vector_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index").join("vectors")
}

/// Opens (or creates, or rebuilds) the keyword index and the vector index, and loads the
/// model, fetching it first when it is nowhere yet; never fails for a missing model, which only
/// turns semantic search off (the reason is logged once, here). The vector index is mapped, not
/// loaded: the indexer appends what the store holds past its watermark. Without a model it
/// still serves similar papers from the stored vectors.
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
    let vector_dir = vector_dir(&settings.data_dir);
    let (vectors, outcome) =
        VectorIndex::open_or_create(&vector_dir, MODEL_NAME, settings.search.exact_vector_limit)
            .with_context(|| format!("opening the vector index in {}", vector_dir.display()))?;
    match outcome {
        OpenOutcome::Fresh => {
            tracing::info!(index.dir = %vector_dir.display(), "created an empty vector index")
        }
        OpenOutcome::Reused => tracing::info!(
            vectors = vectors.len(),
            writable = vectors.is_writable(),
            "opened the vector index"
        ),
        OpenOutcome::Rebuilt { reason } => tracing::warn!(
            index.dir = %vector_dir.display(),
            %reason,
            "the vector index could not be used and is rebuilt from the stored vectors"
        ),
    }
    if !vectors.is_writable() {
        tracing::info!(
            index.dir = %vector_dir.display(),
            "another paperfeed process writes the vector index: searching it as it last committed"
        );
    }
    Ok(SearchEngine::with_vector_index(keyword, embedder, vectors))
}
