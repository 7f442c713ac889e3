//! `paperfeed thumbnails`: the first page of papers' PDFs as the thumbnails cards show. Off by
//! default — nothing is fetched unless an operator runs this — and it reads PDFs from a folder
//! the operator fills (`--from-dir`, files named by arXiv id) and/or fetches them from arXiv
//! (`--fetch`) through the same polite fetcher as harvests (`sources.user_agent`, the arXiv
//! source's politeness gap, timeout and retries), one PDF at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use paperfeed_app::thumbnails::{
    PageRenderer, PdfError, PdfSource, RenderedPage, ThumbnailRequest, make_thumbnails,
};
use paperfeed_core::ArxivId;
use paperfeed_ingest::fetch::{FetchError, Fetcher, HttpConfig, PdfClient, TokioClock};
use paperfeed_store::Store;

use crate::cli::{SourceKind, ThumbnailsArgs};
use crate::settings::Settings;

/// The renderer of `paperfeed-thumbnails` (hayro, pure Rust).
struct Hayro;

impl PageRenderer for Hayro {
    fn render(&self, pdf: &[u8]) -> Result<RenderedPage, String> {
        paperfeed_thumbnails::render_first_page(pdf)
            .map(|r| RenderedPage {
                png: r.png,
                width: r.width,
                height: r.height,
            })
            .map_err(|e| e.to_string())
    }
}

/// PDFs an operator put in a folder: `2608.19880.pdf`, or for old-style ids
/// `hep-th_9901001.pdf` (the `/` as `_`). Only regular files, at most the renderer's cap.
struct Folder(PathBuf);

/// The file name of `id`'s PDF in a folder.
pub fn pdf_file_name(id: &ArxivId) -> String {
    format!("{}.pdf", id.as_str().replace('/', "_"))
}

#[async_trait::async_trait]
impl PdfSource for Folder {
    async fn pdf(&self, id: &ArxivId) -> Result<Vec<u8>, PdfError> {
        let path = self.0.join(pdf_file_name(id));
        let max = paperfeed_thumbnails::MAX_PDF_BYTES;
        tokio::task::spawn_blocking(move || read_capped(&path, max))
            .await
            .map_err(|e| PdfError::Unavailable(format!("reading a PDF: {e}")))?
    }
}

fn read_capped(path: &Path, max: usize) -> Result<Vec<u8>, PdfError> {
    use std::io::Read as _;
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PdfError::Missing(format!("{shown} does not exist")));
        }
        Err(e) => return Err(PdfError::Refused(format!("{shown}: {e}"))),
    };
    if !meta.is_file() {
        return Err(PdfError::Refused(format!("{shown} is not a regular file")));
    }
    let file = std::fs::File::open(path).map_err(|e| PdfError::Refused(format!("{shown}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| PdfError::Refused(format!("{shown}: {e}")))?;
    if bytes.len() > max {
        return Err(PdfError::Refused(format!(
            "{shown} is larger than the {} MiB read",
            max >> 20
        )));
    }
    Ok(bytes)
}

/// arXiv's `/pdf/{id}`.
struct Arxiv(PdfClient);

#[async_trait::async_trait]
impl PdfSource for Arxiv {
    async fn pdf(&self, id: &ArxivId) -> Result<Vec<u8>, PdfError> {
        self.0.pdf(id).await.map_err(|e| match e {
            FetchError::Unavailable { .. } | FetchError::Setup(_) => {
                PdfError::Unavailable(e.to_string())
            }
            other => PdfError::Refused(other.to_string()),
        })
    }
}

/// The folder first, then arXiv.
struct Sources(Vec<Box<dyn PdfSource>>);

#[async_trait::async_trait]
impl PdfSource for Sources {
    async fn pdf(&self, id: &ArxivId) -> Result<Vec<u8>, PdfError> {
        let mut last = PdfError::Missing("no source".into());
        for source in &self.0 {
            match source.pdf(id).await {
                Err(e @ PdfError::Missing(_)) => last = e,
                other => return other,
            }
        }
        Err(last)
    }
}

pub async fn thumbnails(settings: &Settings, args: &ThumbnailsArgs) -> anyhow::Result<bool> {
    let mut sources: Vec<Box<dyn PdfSource>> = Vec::new();
    if let Some(dir) = &args.from_dir {
        anyhow::ensure!(dir.is_dir(), "--from-dir {}: not a folder", dir.display());
        sources.push(Box::new(Folder(dir.clone())));
    }
    if args.fetch {
        let arxiv = settings.sources.get(SourceKind::Arxiv);
        let config = HttpConfig {
            user_agent: settings.sources.user_agent.clone(),
            timeout: Duration::from_secs(arxiv.timeout_seconds),
            politeness_gap: Duration::from_secs_f64(arxiv.politeness_seconds),
            retries: arxiv.retries,
            max_body_bytes: paperfeed_thumbnails::MAX_PDF_BYTES as u64,
            ..HttpConfig::default()
        };
        let fetcher = Arc::new(Fetcher::new(config, Arc::new(TokioClock::default()))?);
        sources.push(Box::new(Arxiv(PdfClient::new(
            &args.pdf_base_url,
            fetcher,
        )?)));
    }
    anyhow::ensure!(
        !sources.is_empty(),
        "say where the PDFs come from: --from-dir DIR (files named like 2608.19880.pdf) and/or \
         --fetch (from arXiv, politely, one at a time)"
    );
    let ids = args
        .ids
        .iter()
        .map(|raw| ArxivId::parse(raw).with_context(|| format!("{raw:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store: Arc<dyn Store> = crate::database::open(settings).await?;
    let request = ThumbnailRequest {
        ids,
        limit: args.limit,
        retry_failed: args.retry_failed,
        render_deadline: Duration::from_secs(args.render_seconds),
        now: chrono::Utc::now(),
    };
    let report = make_thumbnails(&*store, &Sources(sources), Arc::new(Hayro), &request).await?;
    for id in &report.made {
        println!("made {id}");
    }
    for (id, why) in &report.failed {
        println!("failed {id}: {why}");
    }
    for id in &report.missing {
        println!("no PDF for {id}");
    }
    for id in &report.unknown {
        println!("unknown paper {id}");
    }
    let (kept, failed) = store.thumbnail_counts().await?;
    println!(
        "{} made, {} failed, {} without a PDF, {} unknown; the hub keeps {kept} thumbnails ({failed} papers failed)",
        report.made.len(),
        report.failed.len(),
        report.missing.len(),
        report.unknown.len()
    );
    if let Some(why) = &report.stopped {
        eprintln!("stopped early: {why}");
    }
    Ok(report.stopped.is_none() && report.unknown.is_empty())
}
