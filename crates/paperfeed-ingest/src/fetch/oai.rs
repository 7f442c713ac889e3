//! OAI-PMH `ListRecords` harvesting (`metadataPrefix=arXiv`), one page at a time, so the
//! caller can store each page with its resumption token before asking for the next.

use std::sync::Arc;

use chrono::NaiveDate;
use paperfeed_core::NewPaper;

use super::{FetchError, Fetcher, Rejections, Url, base_url, split_records};
use crate::parse_oai_pmh;

/// A harvester of one OAI-PMH endpoint (its "base URL", e.g. `https://oaipmh.arxiv.org/oai`).
#[derive(Debug, Clone)]
pub struct OaiHarvester {
    fetcher: Arc<Fetcher>,
    base: Url,
}

/// What a fresh harvest asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OaiRequest {
    /// An OAI set (`cs`, `math`, `physics:hep-th`); every record when `None`.
    pub set: Option<String>,
    /// Records changed on or after this day.
    pub from: Option<NaiveDate>,
    /// Records changed on or before this day.
    pub until: Option<NaiveDate>,
}

/// One page of a harvest.
#[derive(Debug)]
pub struct HarvestPage {
    pub url: String,
    pub papers: Vec<NewPaper>,
    pub rejected: Rejections,
    /// Identifiers of records arXiv reports as deleted.
    pub deleted: Vec<String>,
    /// The token for the next page; `None` after the last page (an empty or absent token).
    pub next_token: Option<String>,
    /// Where this page starts in the whole list and how long the list is, when the
    /// repository says.
    pub cursor: Option<u64>,
    pub complete_list_size: Option<u64>,
}

impl OaiHarvester {
    pub fn new(base: &str, fetcher: Arc<Fetcher>) -> Result<Self, FetchError> {
        Ok(Self {
            fetcher,
            base: base_url("OAI-PMH", base)?,
        })
    }

    /// The first page of a harvest.
    pub async fn first_page(&self, request: &OaiRequest) -> Result<HarvestPage, FetchError> {
        let mut url = self.base.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("verb", "ListRecords")
                .append_pair("metadataPrefix", "arXiv");
            if let Some(set) = &request.set {
                q.append_pair("set", set);
            }
            if let Some(from) = request.from {
                q.append_pair("from", &from.to_string());
            }
            if let Some(until) = request.until {
                q.append_pair("until", &until.to_string());
            }
        }
        self.page(url).await
    }

    /// The page a resumption token points to.
    pub async fn next_page(&self, token: &str) -> Result<HarvestPage, FetchError> {
        let mut url = self.base.clone();
        url.query_pairs_mut()
            .append_pair("verb", "ListRecords")
            .append_pair("resumptionToken", token);
        self.page(url).await
    }

    async fn page(&self, url: Url) -> Result<HarvestPage, FetchError> {
        let page = parse_oai_pmh(&self.fetcher.get(&url).await?);
        let (papers, rejected) = split_records(&url, page.parsed)?;
        let token = page.resumption_token;
        Ok(HarvestPage {
            url: url.to_string(),
            papers,
            rejected,
            deleted: page.deleted,
            next_token: token
                .as_ref()
                .filter(|t| !t.is_end())
                .map(|t| t.token.clone()),
            cursor: token.as_ref().and_then(|t| t.cursor),
            complete_list_size: token.as_ref().and_then(|t| t.complete_list_size),
        })
    }
}
