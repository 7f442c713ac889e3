//! Paper thumbnails: the first page of a paper's PDF as a small PNG, made by
//! `paperfeed thumbnails` and shown on cards. Derived data: a paper without one shows a
//! placeholder, and deleting them all loses nothing the hub cannot make again.
//!
//! A paper whose PDF could not be had or rendered is remembered as failed (with why), so a
//! later run does not fetch it again unless asked to retry. Writes here do not move
//! `change_seq`: a kept page picks a new thumbnail up when it is rendered again (at most a
//! minute later, `page_cache::MAX_AGE`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;

use crate::StoreError;

/// The largest image kept, in bytes; a renderer's output above it is refused.
pub const MAX_THUMBNAIL_BYTES: usize = 512 * 1024;

/// A thumbnail as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    /// PNG bytes.
    pub image: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub made_at: DateTime<Utc>,
}

/// Which papers have a thumbnail, and since when (the version in its address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThumbnailVersion {
    pub paper: ArxivId,
    pub made_at: DateTime<Utc>,
}

/// A paper for which no thumbnail could be made, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThumbnailFailure {
    pub paper: ArxivId,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Storage of thumbnails. Every backend keeps it exactly; `contract/thumbnails.rs` checks it.
#[async_trait]
pub trait ThumbnailStore: Send + Sync + 'static {
    /// Keeps `thumbnail` for `paper` (replacing an earlier one or a failure). False when there
    /// is no such paper (nothing written). An image over [`MAX_THUMBNAIL_BYTES`] is refused
    /// as a conflict.
    async fn put_thumbnail(
        &self,
        paper: &ArxivId,
        thumbnail: &Thumbnail,
    ) -> Result<bool, StoreError>;

    /// Remembers that no thumbnail could be made for `paper` (replacing an earlier failure;
    /// an existing thumbnail is kept). False when there is no such paper.
    async fn record_thumbnail_failure(
        &self,
        failure: &ThumbnailFailure,
    ) -> Result<bool, StoreError>;

    /// The thumbnail of `paper`, if one was made.
    async fn thumbnail(&self, paper: &ArxivId) -> Result<Option<Thumbnail>, StoreError>;

    /// Of `papers`, those with a thumbnail, in the order asked, each once: one read for a page
    /// of cards.
    async fn thumbnail_versions(
        &self,
        papers: &[ArxivId],
    ) -> Result<Vec<ThumbnailVersion>, StoreError>;

    /// Up to `limit` featured papers with neither a thumbnail nor (unless `retry_failed`) a
    /// failure, latest featured day first, then by id.
    async fn papers_needing_thumbnails(
        &self,
        limit: usize,
        retry_failed: bool,
    ) -> Result<Vec<ArxivId>, StoreError>;

    /// How many thumbnails are kept and how many papers failed, for `/status` and the CLI.
    async fn thumbnail_counts(&self) -> Result<(u64, u64), StoreError>;
}

/// The refusal of an image over [`MAX_THUMBNAIL_BYTES`].
pub(crate) fn too_large(paper: &ArxivId, bytes: usize) -> StoreError {
    StoreError::Rejected {
        table: "paper_thumbnails",
        row: paper.to_string(),
        reason: format!("the image has {bytes} bytes; at most {MAX_THUMBNAIL_BYTES} are kept"),
    }
}
