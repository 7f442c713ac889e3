//! The arXiv API (`/api/query`): look-ups by id (`id_list`) and listings by query
//! (`search_query`, paged with `start`/`max_results` up to `opensearch:totalResults`).

use std::sync::Arc;

use paperfeed_core::{ArxivId, NewPaper};

use super::{FetchError, Fetcher, Rejections, Url, base_url, endpoint, split_records};
use crate::parse_arxiv_atom;

/// Ids per `id_list` request: the API answers up to this many in one page comfortably.
const IDS_PER_REQUEST: usize = 100;

/// A client of the arXiv API at one base URL (`https://export.arxiv.org`).
#[derive(Debug, Clone)]
pub struct ArxivClient {
    fetcher: Arc<Fetcher>,
    query_url: Url,
}

/// One page of a `search_query` listing.
#[derive(Debug)]
pub struct ListingPage {
    pub url: String,
    pub papers: Vec<NewPaper>,
    pub rejected: Rejections,
    /// `opensearch:totalResults`: how many entries the whole query matches.
    pub total_results: u64,
    /// The `start` of the next page; `None` after the last one.
    pub next_start: Option<u64>,
}

impl ArxivClient {
    pub fn new(base: &str, fetcher: Arc<Fetcher>) -> Result<Self, FetchError> {
        let base = base_url("arXiv API", base)?;
        Ok(Self {
            fetcher,
            query_url: endpoint(&base, "/api/query"),
        })
    }

    /// The papers with these ids, as arXiv has them now (latest version). Ids arXiv does not
    /// know are left out; a malformed one makes the API answer an error entry, which fails the
    /// look-up with the API's message.
    pub async fn lookup(&self, ids: &[ArxivId]) -> Result<Vec<NewPaper>, FetchError> {
        let mut papers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_REQUEST) {
            let list = chunk
                .iter()
                .map(ArxivId::as_str)
                .collect::<Vec<_>>()
                .join(",");
            let mut url = self.query_url.clone();
            url.query_pairs_mut()
                .append_pair("id_list", &list)
                .append_pair("max_results", &chunk.len().to_string());
            let page = parse_arxiv_atom(&self.fetcher.get(&url).await?);
            let (found, rejected) = split_records(&url, page.parsed)?;
            if let Some(first) = rejected.listed.first() {
                return Err(FetchError::BadPage {
                    url: url.to_string(),
                    reason: first.to_string(),
                });
            }
            // An unknown id can come back as an empty entry; keep only what was asked.
            papers.extend(found.into_iter().filter(|p| chunk.contains(&p.id)));
        }
        Ok(papers)
    }

    /// One paper by id, or `None` when arXiv does not have it. The shape paper submission
    /// needs (`async fn(&ArxivId) -> Result<Option<NewPaper>, _>`).
    pub async fn lookup_one(&self, id: &ArxivId) -> Result<Option<NewPaper>, FetchError> {
        Ok(self
            .lookup(std::slice::from_ref(id))
            .await?
            .into_iter()
            .next())
    }

    /// One page of a `search_query` listing, newest submissions first. An empty page before
    /// `totalResults` is reached (the API does that when it is struggling) is an error, not
    /// the end, so a harvest never stops early believing it is done.
    pub async fn search_page(
        &self,
        query: &str,
        start: u64,
        max_results: u64,
    ) -> Result<ListingPage, FetchError> {
        let mut url = self.query_url.clone();
        url.query_pairs_mut()
            .append_pair("search_query", query)
            .append_pair("sortBy", "submittedDate")
            .append_pair("sortOrder", "descending")
            .append_pair("start", &start.to_string())
            .append_pair("max_results", &max_results.to_string());
        let page = parse_arxiv_atom(&self.fetcher.get(&url).await?);
        let total = page.total_results;
        let (papers, rejected) = split_records(&url, page.parsed)?;
        let Some(total) = total else {
            return Err(FetchError::BadPage {
                url: url.to_string(),
                reason: "no opensearch:totalResults in the feed".into(),
            });
        };
        let count = papers.len() as u64 + rejected.count();
        if count == 0 && start < total {
            return Err(FetchError::BadPage {
                url: url.to_string(),
                reason: format!("an empty page at start={start} of {total} results"),
            });
        }
        let next = start + count;
        Ok(ListingPage {
            url: url.to_string(),
            papers,
            rejected,
            total_results: total,
            next_start: (count > 0 && next < total).then_some(next),
        })
    }
}
