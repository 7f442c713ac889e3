//! A live source → the store: `paperfeed ingest --source arxiv|oai|hf` and the polling loops
//! of `serve` run this same code. Each page goes into the store in one transaction together
//! with the harvest position after it, so a harvest killed mid-way resumes from the last page
//! kept and never loses or repeats one. A page that fails (after the fetcher's retries) stops
//! the run; everything stored before it stays as it was.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use paperfeed_core::{ArxivId, NewPaper, UpsertOutcome};
use paperfeed_ingest::fetch::{
    ArxivClient, FetchError, Fetcher, HfMirror, HttpConfig, OaiHarvester, OaiRequest, Rejections,
    TokioClock,
};
use paperfeed_store::{HarvestPosition, Store, WriteMode};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::metrics::{IngestCounts, Metrics};

/// Rejection reasons logged per run before the rest are only counted.
const REASONS_SHOWN: usize = 20;

/// A live source of papers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// The arXiv API: look-ups by id or a search listing.
    Arxiv,
    /// OAI-PMH ListRecords harvesting (metadataPrefix=arXiv), resumable.
    Oai,
    /// The Hugging Face daily feed, one day per request.
    Hf,
}

impl SourceKind {
    pub const ALL: [SourceKind; 3] = [SourceKind::Arxiv, SourceKind::Oai, SourceKind::Hf];

    /// The source's name in configuration, logs and metrics: `arxiv`, `oai`, `hf`.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Arxiv => "arxiv",
            SourceKind::Oai => "oai",
            SourceKind::Hf => "hf",
        }
    }
}

/// One configured source: where it is, how it is fetched, and what a run asks it for unless
/// the request says otherwise.
#[derive(Clone, Debug)]
pub struct SourceConfig {
    pub kind: SourceKind,
    pub base_url: String,
    pub http: HttpConfig,
    /// arxiv: the search listed.
    pub query: Option<String>,
    /// oai: the set harvested.
    pub set: Option<String>,
    /// arxiv: results per page.
    pub page_size: u64,
    /// arxiv: results listed per run.
    pub max_results: u64,
    /// hf: days mirrored by a first run.
    pub days: u32,
}

/// What one run asks for beyond the configuration (the CLI's flags; polling asks nothing).
#[derive(Clone, Debug, Default)]
pub struct HarvestRequest {
    pub set: Option<String>,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub query: Option<String>,
    pub ids: Vec<ArxivId>,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HarvestSummary {
    pub pages: usize,
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Ids looked up that the source does not know (counted in `rejected` too).
    pub not_found: Vec<ArxivId>,
    /// Why the run stopped early, naming the page.
    pub failure: Option<String>,
}

impl HarvestSummary {
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.failure.is_none()
    }

    /// The records by outcome, as metrics count them.
    pub fn counts(&self) -> IngestCounts {
        IngestCounts {
            new: self.new,
            updated: self.updated,
            unchanged: self.unchanged,
            rejected: self.rejected,
        }
    }

    fn count(&mut self, outcomes: &[UpsertOutcome], rejected: &Rejections, url: &str) {
        self.pages += 1;
        let counts = IngestCounts::of(outcomes);
        self.new += counts.new;
        self.updated += counts.updated;
        self.unchanged += counts.unchanged;
        for e in &rejected.listed {
            self.rejected += 1;
            if self.rejected <= REASONS_SHOWN as u64 {
                tracing::warn!(source.url = url, reason = %e, "record rejected");
            }
        }
        // The parser kept no reason for these.
        self.rejected += rejected.unlisted;
    }
}

impl std::fmt::Display for HarvestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} page{}: {} new, {} updated, {} unchanged, {} rejected",
            self.pages,
            if self.pages == 1 { "" } else { "s" },
            self.new,
            self.updated,
            self.unchanged,
            self.rejected
        )
    }
}

/// Where an unfinished OAI-PMH harvest goes on, and what it was asked for (a token belongs to
/// one request; a different request starts afresh).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct OaiCursor {
    token: String,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
}

/// Runs one harvest of `source`, with the request's overrides. A page the source fails to
/// give ends the run with what was stored so far kept ([`HarvestSummary::failure`]); a store
/// that fails is an error of the run.
pub async fn harvest(
    store: Arc<dyn Store>,
    source: &SourceConfig,
    request: &HarvestRequest,
    mode: WriteMode,
) -> anyhow::Result<HarvestSummary> {
    let kind = source.kind;
    let fetcher = Arc::new(Fetcher::new(
        source.http.clone(),
        Arc::new(TokioClock::default()),
    )?);
    let run = Run {
        store,
        mode,
        base: source.base_url.clone(),
    };
    let mut summary = HarvestSummary::default();
    let result = match kind {
        SourceKind::Arxiv => {
            let client = ArxivClient::new(&source.base_url, fetcher)?;
            if request.ids.is_empty() {
                let query = request
                    .query
                    .clone()
                    .or_else(|| source.query.clone())
                    .context("no arXiv query: pass --query or set sources.arxiv.query")?;
                run.arxiv_listing(&client, &query, source, &mut summary)
                    .await
            } else {
                run.arxiv_lookup(&client, &request.ids, &mut summary).await
            }
        }
        SourceKind::Oai => {
            let harvester = OaiHarvester::new(&source.base_url, fetcher)?;
            let set = request.set.clone().or_else(|| source.set.clone());
            run.oai(&harvester, set, request, &mut summary).await
        }
        SourceKind::Hf => {
            let mirror = HfMirror::new(&source.base_url, fetcher)?;
            run.hf(&mirror, request, source.days, &mut summary).await
        }
    };
    if let Err(e) = result {
        match e.downcast::<FetchError>() {
            Ok(fetch) => {
                let mut failure = fetch.to_string();
                if matches!(fetch, FetchError::TooLarge { .. }) {
                    failure.push_str(&format!(
                        " (the limit is sources.{}.max_response_bytes)",
                        kind.name()
                    ));
                }
                summary.failure = Some(failure);
            }
            Err(other) => return Err(other),
        }
    }
    tracing::info!(
        source = kind.name(),
        harvest.pages = summary.pages,
        harvest.new = summary.new,
        harvest.updated = summary.updated,
        harvest.rejected = summary.rejected,
        "harvest finished"
    );
    Ok(summary)
}

struct Run {
    store: Arc<dyn Store>,
    mode: WriteMode,
    base: String,
}

impl Run {
    async fn store_page(
        &self,
        key: &str,
        papers: Vec<NewPaper>,
        position: HarvestPosition,
        url: &str,
    ) -> anyhow::Result<Vec<UpsertOutcome>> {
        self.store
            .upsert_harvest_batch(key, papers, position, self.mode)
            .await
            .with_context(|| format!("storing the papers of {url}"))
    }

    async fn arxiv_lookup(
        &self,
        client: &ArxivClient,
        ids: &[ArxivId],
        summary: &mut HarvestSummary,
    ) -> anyhow::Result<()> {
        let papers = client.lookup(ids).await?;
        for id in ids.iter().filter(|id| !papers.iter().any(|p| p.id == **id)) {
            summary.not_found.push(id.clone());
            summary.rejected += 1;
        }
        let outcomes = self
            .store
            .upsert_papers(papers, self.mode)
            .await
            .context("storing looked-up papers")?;
        summary.count(&outcomes, &Rejections::default(), &self.base);
        Ok(())
    }

    async fn arxiv_listing(
        &self,
        client: &ArxivClient,
        query: &str,
        source: &SourceConfig,
        summary: &mut HarvestSummary,
    ) -> anyhow::Result<()> {
        let key = format!("arxiv {} query={query}", self.base);
        let known = self.store.harvest_position(&key).await?.unwrap_or_default();
        let first = known
            .cursor
            .as_deref()
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0);
        if first > 0 {
            tracing::info!(start = first, "resuming the arXiv listing");
        }
        let mut start = first;
        loop {
            let page = client.search_page(query, start, source.page_size).await?;
            let next = page
                .next_start
                .filter(|n| n.saturating_sub(first) < source.max_results);
            let position = HarvestPosition {
                cursor: next.map(|n| n.to_string()),
                last_day: if next.is_some() {
                    known.last_day
                } else {
                    Some(Utc::now().date_naive())
                },
            };
            let outcomes = self
                .store_page(&key, page.papers, position, &page.url)
                .await?;
            summary.count(&outcomes, &page.rejected, &page.url);
            match next {
                Some(n) => start = n,
                None => return Ok(()),
            }
        }
    }

    async fn oai(
        &self,
        harvester: &OaiHarvester,
        set: Option<String>,
        request: &HarvestRequest,
        summary: &mut HarvestSummary,
    ) -> anyhow::Result<()> {
        let key = format!("oai {} set={}", self.base, set.as_deref().unwrap_or("*"));
        let known = self.store.harvest_position(&key).await?.unwrap_or_default();
        let from = request.from.or(known.last_day);
        let in_flight = known
            .cursor
            .as_deref()
            .and_then(|c| serde_json::from_str::<OaiCursor>(c).ok())
            .filter(|c| c.from == from && c.until == request.until);
        let mut page = match &in_flight {
            Some(cursor) => {
                tracing::info!(
                    set = set.as_deref().unwrap_or("*"),
                    token = %cursor.token,
                    "resuming the OAI-PMH harvest"
                );
                harvester.next_page(&cursor.token).await?
            }
            None => {
                let request = OaiRequest {
                    set: set.clone(),
                    from,
                    until: request.until,
                };
                harvester.first_page(&request).await?
            }
        };
        loop {
            let cursor = page
                .next_token
                .as_ref()
                .map(|token| {
                    serde_json::to_string(&OaiCursor {
                        token: token.clone(),
                        from,
                        until: request.until,
                    })
                })
                .transpose()?;
            let position = HarvestPosition {
                last_day: if cursor.is_some() {
                    known.last_day
                } else {
                    Some(request.until.unwrap_or_else(|| Utc::now().date_naive()))
                },
                cursor,
            };
            if !page.deleted.is_empty() {
                tracing::info!(
                    source.url = %page.url,
                    harvest.deleted = page.deleted.len(),
                    "records deleted upstream are kept here"
                );
            }
            let outcomes = self
                .store_page(&key, page.papers, position, &page.url)
                .await?;
            summary.count(&outcomes, &page.rejected, &page.url);
            match page.next_token {
                Some(token) => page = harvester.next_page(&token).await?,
                None => return Ok(()),
            }
        }
    }

    async fn hf(
        &self,
        mirror: &HfMirror,
        request: &HarvestRequest,
        days: u32,
        summary: &mut HarvestSummary,
    ) -> anyhow::Result<()> {
        let key = format!("hf {}", self.base);
        let today = Utc::now().date_naive();
        let until = request.until.unwrap_or(today);
        let from = match request.from {
            Some(from) => from,
            // Votes and comments keep changing for a while: the last day mirrored is read
            // again.
            None => match self.store.harvest_position(&key).await? {
                Some(HarvestPosition {
                    last_day: Some(day),
                    ..
                }) => day,
                _ => until - chrono::Days::new(u64::from(days.max(1) - 1)),
            },
        };
        anyhow::ensure!(from <= until, "--from {from} is after --until {until}");
        let mut day = from;
        while day <= until {
            let page = mirror.day(day).await?;
            let position = HarvestPosition {
                cursor: None,
                last_day: Some(day),
            };
            let outcomes = self
                .store_page(&key, page.papers, position, &page.url)
                .await?;
            summary.count(&outcomes, &page.rejected, &page.url);
            day = day + chrono::Days::new(1);
        }
        Ok(())
    }
}

/// One polling loop of `serve`: the same harvest as `paperfeed ingest --source …` every
/// `every`, the first at once. Several nodes on one database poll a source once per interval
/// between them: a run first takes the store lease `poll:<source>` for the interval (its
/// holder renews it; a dead holder's lease runs out). Once `stop` is cancelled the loop ends,
/// dropping a harvest in progress: every page stored so far is stored with its position, so
/// the next start resumes after it.
pub async fn poll(
    store: Arc<dyn Store>,
    source: SourceConfig,
    every: Duration,
    node: String,
    metrics: Arc<dyn Metrics>,
    stop: CancellationToken,
) {
    let name = source.kind.name();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => break,
        }
        let now = Utc::now();
        let until = chrono::Duration::from_std(every)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
        let lease = poll_lease(source.kind);
        match store.try_lease(&lease, &node, until, now).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(source = name, "another node polls this interval");
                continue;
            }
            Err(e) => {
                tracing::error!(source = name, error = %e, "poll skipped: no lease");
                continue;
            }
        }
        let request = HarvestRequest::default();
        let run = harvest(Arc::clone(&store), &source, &request, WriteMode::Commit);
        let result = tokio::select! {
            result = run => result,
            () = stop.cancelled() => {
                tracing::info!(
                    source = name,
                    "poll interrupted by shutdown; the next start resumes after the last stored page"
                );
                break;
            }
        };
        match result {
            Ok(summary) => {
                metrics.record_ingest(name, summary.counts());
                match &summary.failure {
                    None => tracing::info!(source = name, %summary, "poll done"),
                    Some(reason) => tracing::warn!(
                        source = name,
                        %summary,
                        %reason,
                        "poll stopped early; the next one resumes"
                    ),
                }
            }
            Err(e) => {
                tracing::error!(source = name, error = %format!("{e:#}"), "poll failed")
            }
        }
    }
    tracing::info!(source = name, "polling stopped");
}

/// The store lease the polling nodes share for one source: `poll:oai`.
pub fn poll_lease(kind: SourceKind) -> String {
    format!("poll:{}", kind.name())
}

#[cfg(test)]
mod tests;
