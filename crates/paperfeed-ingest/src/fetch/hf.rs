//! The Hugging Face daily feed (`/api/daily_papers?date=YYYY-MM-DD`), one day per request.

use std::sync::Arc;

use chrono::NaiveDate;
use paperfeed_core::NewPaper;

use super::{FetchError, Fetcher, Rejections, Url, base_url, endpoint, split_records};
use crate::parse_hf_daily;

/// A mirror of the daily feed of one hub (`https://huggingface.co`).
#[derive(Debug, Clone)]
pub struct HfMirror {
    fetcher: Arc<Fetcher>,
    daily_url: Url,
}

/// The papers featured on one day.
#[derive(Debug)]
pub struct DayPage {
    pub url: String,
    pub day: NaiveDate,
    pub papers: Vec<NewPaper>,
    pub rejected: Rejections,
}

impl HfMirror {
    pub fn new(base: &str, fetcher: Arc<Fetcher>) -> Result<Self, FetchError> {
        let base = base_url("Hugging Face", base)?;
        Ok(Self {
            fetcher,
            daily_url: endpoint(&base, "/api/daily_papers"),
        })
    }

    /// The feed of one day, each paper carrying that day as a featured date with its votes
    /// and comment count.
    pub async fn day(&self, day: NaiveDate) -> Result<DayPage, FetchError> {
        let mut url = self.daily_url.clone();
        url.query_pairs_mut().append_pair("date", &day.to_string());
        let parsed = parse_hf_daily(&self.fetcher.get(&url).await?, Some(day));
        let (papers, rejected) = split_records(&url, parsed)?;
        Ok(DayPage {
            url: url.to_string(),
            day,
            papers,
            rejected,
        })
    }
}
