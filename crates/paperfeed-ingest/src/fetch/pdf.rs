//! Papers' PDFs from arXiv (`https://arxiv.org/pdf/{id}`), one per request, for thumbnails.
//! Only bytes: what is done with them is the caller's business.

use std::sync::Arc;

use paperfeed_core::ArxivId;

use super::{FetchError, Fetcher, Url, base_url, endpoint};

/// Where PDFs are fetched from: arXiv's `/pdf/` path, or a mirror of it.
#[derive(Debug, Clone)]
pub struct PdfClient {
    fetcher: Arc<Fetcher>,
    base: Url,
}

impl PdfClient {
    /// `base` is the site (`https://arxiv.org`); `/pdf/{id}` is appended.
    pub fn new(base: &str, fetcher: Arc<Fetcher>) -> Result<Self, FetchError> {
        Ok(Self {
            fetcher,
            base: base_url("PDF", base)?,
        })
    }

    /// The address of `id`'s PDF.
    pub fn url(&self, id: &ArxivId) -> Url {
        endpoint(&self.base, &format!("/pdf/{id}"))
    }

    /// The PDF of `id` (its latest version); an answer that is not a PDF (an HTML page saying
    /// the PDF is not ready) is [`FetchError::BadPage`].
    pub async fn pdf(&self, id: &ArxivId) -> Result<Vec<u8>, FetchError> {
        let url = self.url(id);
        let body = self.fetcher.get(&url).await?;
        if !body.windows(5).take(1024).any(|w| w == b"%PDF-") {
            return Err(FetchError::BadPage {
                url: url.to_string(),
                reason: "the answer is not a PDF".into(),
            });
        }
        Ok(body)
    }
}
