//! Making paper thumbnails: for each paper asked for (or, when none is named, the latest
//! featured papers that have none yet), its PDF from a [`PdfSource`] — an operator's folder,
//! arXiv through the polite fetcher — rendered by a [`PageRenderer`] and kept in the store.
//! A paper whose PDF is refused or does not render is recorded as failed with why, so later
//! runs leave it alone unless told to retry; a PDF a folder simply lacks is skipped; a source
//! that cannot be reached stops the run (the next run picks up where it stopped).
//!
//! Nothing here runs unless an operator asks (`paperfeed thumbnails`): fetching PDFs is off by
//! default.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;
use paperfeed_store::{Store, StoreError, Thumbnail, ThumbnailFailure};

/// Why a source has no PDF for a paper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// This source does not have it (a folder without the file): nothing is recorded.
    #[error("no PDF: {0}")]
    Missing(String),
    /// The source refused it or sent something else: recorded as the paper's failure.
    #[error("{0}")]
    Refused(String),
    /// The source cannot be reached now: the run stops, nothing is recorded.
    #[error("{0}")]
    Unavailable(String),
}

/// Where PDFs come from.
#[async_trait]
pub trait PdfSource: Send + Sync {
    async fn pdf(&self, id: &ArxivId) -> Result<Vec<u8>, PdfError>;
}

/// A first page drawn as PNG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPage {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// What draws a PDF's first page (the binary plugs in `paperfeed-thumbnails`).
pub trait PageRenderer: Send + Sync + 'static {
    /// The first page, or why not, in words safe to store.
    fn render(&self, pdf: &[u8]) -> Result<RenderedPage, String>;
}

/// What to make.
#[derive(Debug, Clone)]
pub struct ThumbnailRequest {
    /// These papers; when empty, up to `limit` featured papers without a thumbnail.
    pub ids: Vec<ArxivId>,
    pub limit: usize,
    /// Also papers that failed before.
    pub retry_failed: bool,
    /// Longest one rendering may take; past it the paper is recorded as failed.
    pub render_deadline: Duration,
    /// The time recorded on what is made.
    pub now: DateTime<Utc>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct ThumbnailReport {
    pub made: Vec<ArxivId>,
    pub failed: Vec<(ArxivId, String)>,
    /// Papers the source has no PDF for.
    pub missing: Vec<ArxivId>,
    /// Named papers the store does not have.
    pub unknown: Vec<ArxivId>,
    /// Why the run stopped early, when it did.
    pub stopped: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes the thumbnails `request` asks for; see the module's documentation.
pub async fn make_thumbnails(
    store: &dyn Store,
    source: &dyn PdfSource,
    renderer: Arc<dyn PageRenderer>,
    request: &ThumbnailRequest,
) -> Result<ThumbnailReport, ThumbnailError> {
    let ids = if request.ids.is_empty() {
        store
            .papers_needing_thumbnails(request.limit, request.retry_failed)
            .await?
    } else {
        request.ids.clone()
    };
    let mut report = ThumbnailReport::default();
    for id in ids {
        if store.get_paper(&id).await?.is_none() {
            report.unknown.push(id);
            continue;
        }
        let pdf = match source.pdf(&id).await {
            Ok(pdf) => pdf,
            Err(PdfError::Missing(_)) => {
                report.missing.push(id);
                continue;
            }
            Err(PdfError::Refused(why)) => {
                fail(store, &mut report, id, why, request.now).await?;
                continue;
            }
            Err(PdfError::Unavailable(why)) => {
                report.stopped = Some(why);
                break;
            }
        };
        let renderer = Arc::clone(&renderer);
        let job = tokio::task::spawn_blocking(move || renderer.render(&pdf));
        let rendered = match tokio::time::timeout(request.render_deadline, job).await {
            Ok(Ok(Ok(page))) => page,
            Ok(Ok(Err(why))) => {
                fail(store, &mut report, id, why, request.now).await?;
                continue;
            }
            Ok(Err(_)) => {
                fail(
                    store,
                    &mut report,
                    id,
                    "the renderer failed".into(),
                    request.now,
                )
                .await?;
                continue;
            }
            Err(_) => {
                let why = format!(
                    "rendering took longer than {} s",
                    request.render_deadline.as_secs()
                );
                fail(store, &mut report, id, why, request.now).await?;
                continue;
            }
        };
        let thumbnail = Thumbnail {
            image: rendered.png,
            width: rendered.width,
            height: rendered.height,
            made_at: request.now,
        };
        match store.put_thumbnail(&id, &thumbnail).await {
            Ok(_) => report.made.push(id),
            Err(StoreError::Rejected { reason, .. }) => {
                fail(store, &mut report, id, reason, request.now).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

async fn fail(
    store: &dyn Store,
    report: &mut ThumbnailReport,
    id: ArxivId,
    reason: String,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tracing::warn!(paper.id = %id, %reason, "no thumbnail");
    store
        .record_thumbnail_failure(&ThumbnailFailure {
            paper: id.clone(),
            reason: reason.clone(),
            at,
        })
        .await?;
    report.failed.push((id, reason));
    Ok(())
}
