//! Live sources → store: `paperfeed ingest --source arxiv|oai|hf` and the polling loop of
//! `serve` run this same code. Each page goes into the store in one transaction together with
//! the harvest position after it, so a harvest killed mid-way resumes from the last page kept
//! and never loses or repeats one. A page that fails (after the fetcher's retries) stops the
//! run; everything stored before it stays as it was.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use paperfeed_core::{ArxivId, NewPaper, UpsertOutcome};
use paperfeed_ingest::fetch::{
    ArxivClient, Clock, Fetcher, HfMirror, HttpConfig, OaiHarvester, OaiRequest, Rejections,
    TokioClock,
};
use paperfeed_store::{HarvestPosition, Store, WriteMode};
use serde::{Deserialize, Serialize};

use crate::cli::SourceKind;
use crate::settings::{Settings, SourceSettings};

/// Rejection reasons printed per run before the rest are only counted.
const REASONS_SHOWN: usize = 20;

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
    /// Why the run stopped early, naming the page.
    pub failure: Option<String>,
}

impl HarvestSummary {
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.failure.is_none()
    }

    fn count(&mut self, outcomes: &[UpsertOutcome], rejected: &Rejections, url: &str) {
        self.pages += 1;
        for o in outcomes {
            match o {
                UpsertOutcome::New => self.new += 1,
                UpsertOutcome::Updated => self.updated += 1,
                UpsertOutcome::Unchanged => self.unchanged += 1,
            }
        }
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

fn fetcher(
    settings: &Settings,
    source: &SourceSettings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Fetcher>> {
    let config = HttpConfig {
        user_agent: settings.sources.user_agent.clone(),
        timeout: Duration::from_secs(source.timeout_seconds),
        politeness_gap: Duration::from_secs_f64(source.politeness_seconds),
        retries: source.retries,
        max_body_bytes: source.max_response_bytes,
        ..HttpConfig::default()
    };
    Ok(Arc::new(Fetcher::new(config, clock)?))
}

/// Runs one harvest of `kind` as configured, with the request's overrides.
pub async fn harvest(
    store: Arc<dyn Store>,
    settings: &Settings,
    kind: SourceKind,
    request: &HarvestRequest,
    mode: WriteMode,
) -> anyhow::Result<HarvestSummary> {
    let source = settings.sources.get(kind);
    let fetcher = fetcher(settings, source, Arc::new(TokioClock::default()))?;
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
        // A fetch failure ends the run with what was stored so far kept; a store failure is
        // an error of the run itself.
        match e.downcast::<paperfeed_ingest::fetch::FetchError>() {
            Ok(fetch) => {
                let mut failure = fetch.to_string();
                if matches!(fetch, paperfeed_ingest::fetch::FetchError::TooLarge { .. }) {
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
            eprintln!("not found on arXiv: {id}");
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
        source: &SourceSettings,
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
            eprintln!("resuming the arXiv listing at start={first}");
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
                eprintln!(
                    "resuming the OAI-PMH harvest of set {} at token {}",
                    set.as_deref().unwrap_or("*"),
                    cursor.token
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

/// The polling loops of `serve`: one per source with `poll = true`, each running the same
/// harvest as `paperfeed ingest --source …` every `interval_minutes`, the first at start-up.
/// Several nodes on one database poll a source once per interval between them: a run first
/// takes the store lease `poll:<source>` for the interval (its holder renews it; a dead
/// holder's lease runs out).
/// Once `stop` is cancelled a loop ends, dropping a harvest in progress: every page stored so
/// far is stored with its position, so the next start resumes after it.
pub fn spawn_polling(
    tasks: &mut crate::shutdown::Tasks,
    store: &Arc<dyn Store>,
    settings: &Settings,
    node: &str,
    metrics: &Arc<paperfeed_web::Metrics>,
    stop: &tokio_util::sync::CancellationToken,
) {
    for kind in SourceKind::ALL {
        let source = settings.sources.get(kind);
        if !source.poll {
            continue;
        }
        let store = Arc::clone(store);
        let settings = settings.clone();
        let node = node.to_owned();
        let metrics = Arc::clone(metrics);
        let stop = stop.clone();
        let every = Duration::from_secs(source.interval_minutes.saturating_mul(60));
        tracing::info!(
            source = kind.name(),
            interval_minutes = source.interval_minutes,
            "polling a live source"
        );
        tasks.spawn(format!("{} polling", kind.name()), async move {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = stop.cancelled() => break,
                }
                let now = chrono::Utc::now();
                let until = chrono::Duration::from_std(every)
                    .ok()
                    .and_then(|d| now.checked_add_signed(d))
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
                let lease = format!("poll:{}", kind.name());
                match store.try_lease(&lease, &node, until, now).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!(source = kind.name(), "another node polls this interval");
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(source = kind.name(), error = %e, "poll skipped: no lease");
                        continue;
                    }
                }
                let request = HarvestRequest::default();
                let run = harvest(
                    Arc::clone(&store),
                    &settings,
                    kind,
                    &request,
                    WriteMode::Commit,
                );
                let result = tokio::select! {
                    result = run => result,
                    () = stop.cancelled() => {
                        tracing::info!(
                            source = kind.name(),
                            "poll interrupted by shutdown; the next start resumes after the last stored page"
                        );
                        break;
                    }
                };
                match result {
                    Ok(summary) => {
                        metrics.record_ingest_counts(
                            kind.name(),
                            summary.new,
                            summary.updated,
                            summary.unchanged,
                            summary.rejected,
                        );
                        match &summary.failure {
                            None => tracing::info!(source = kind.name(), %summary, "poll done"),
                            Some(reason) => tracing::warn!(
                                source = kind.name(),
                                %summary,
                                %reason,
                                "poll stopped early; the next one resumes"
                            ),
                        }
                    }
                    Err(e) => {
                        tracing::error!(source = kind.name(), error = %format!("{e:#}"), "poll failed")
                    }
                }
            }
            tracing::info!(source = kind.name(), "polling stopped");
        });
    }
}

/// Paper submission's look-up of papers not yet in the store: the arXiv API client, as polite
/// as harvesting but without its retries.
pub struct ArxivLookup(ArxivClient);

impl ArxivLookup {
    /// The configured arXiv source, made for the request path: one attempt, bounded by the
    /// submission's own deadline, and no waiting out a long `Retry-After`. Someone is waiting
    /// for the answer, and a failed lookup is answered "try again" (503) at once rather than
    /// retried with backoff for minutes as harvests do.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let source = settings.sources.get(SourceKind::Arxiv);
        let deadline = paperfeed_app::submit::LOOKUP_DEADLINE;
        let config = HttpConfig {
            user_agent: settings.sources.user_agent.clone(),
            timeout: Duration::from_secs(source.timeout_seconds).min(deadline),
            politeness_gap: Duration::from_secs_f64(source.politeness_seconds),
            retries: 0,
            max_retry_after: deadline,
            ..HttpConfig::default()
        };
        let fetcher = Arc::new(Fetcher::new(config, Arc::new(TokioClock::default()))?);
        Ok(Self(ArxivClient::new(&source.base_url, fetcher)?))
    }
}

#[async_trait::async_trait]
impl paperfeed_app::submit::PaperLookup for ArxivLookup {
    async fn lookup(
        &self,
        id: &paperfeed_core::ArxivId,
    ) -> Result<Option<paperfeed_core::NewPaper>, paperfeed_app::submit::LookupError> {
        self.0.lookup_one(id).await.map_err(Into::into)
    }
}
