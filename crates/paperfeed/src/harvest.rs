//! Live sources as configured: the typed source configs the application layer's harvest
//! ([`paperfeed_app::harvest`]) runs on, built from the settings; the polling loops of `serve`;
//! and the arXiv look-up paper submission uses.

use std::sync::Arc;
use std::time::Duration;

pub use paperfeed_app::harvest::HarvestRequest;
use paperfeed_app::harvest::{HarvestSummary, SourceConfig};
use paperfeed_app::metrics::Metrics;
use paperfeed_ingest::fetch::{ArxivClient, Fetcher, HttpConfig, TokioClock};
use paperfeed_store::{Store, WriteMode};

use crate::cli;
use crate::settings::Settings;

/// The source `kind` as configured.
pub fn source_config(settings: &Settings, kind: cli::SourceKind) -> SourceConfig {
    let source = settings.sources.get(kind);
    SourceConfig {
        kind,
        base_url: source.base_url.clone(),
        http: HttpConfig {
            user_agent: settings.sources.user_agent.clone(),
            timeout: Duration::from_secs(source.timeout_seconds),
            politeness_gap: Duration::from_secs_f64(source.politeness_seconds),
            retries: source.retries,
            max_body_bytes: source.max_response_bytes,
            ..HttpConfig::default()
        },
        query: source.query.clone(),
        set: source.set.clone(),
        page_size: source.page_size,
        max_results: source.max_results,
        days: source.days,
    }
}

/// `paperfeed ingest --source …`: one harvest of `kind` as configured, with the request's
/// overrides; ids the source does not know are named on stderr.
pub async fn harvest(
    store: Arc<dyn Store>,
    settings: &Settings,
    kind: cli::SourceKind,
    request: &HarvestRequest,
    mode: WriteMode,
) -> anyhow::Result<HarvestSummary> {
    let source = source_config(settings, kind);
    let summary = paperfeed_app::harvest::harvest(store, &source, request, mode).await?;
    for id in &summary.not_found {
        eprintln!("not found on arXiv: {id}");
    }
    Ok(summary)
}

/// The polling loops of `serve`: one per source with `poll = true`, each running
/// [`paperfeed_app::harvest::poll`] every `interval_minutes`, the first at start-up.
pub fn spawn_polling(
    tasks: &mut crate::shutdown::Tasks,
    store: &Arc<dyn Store>,
    settings: &Settings,
    node: &str,
    metrics: &Arc<dyn Metrics>,
    stop: &tokio_util::sync::CancellationToken,
) {
    for kind in cli::SourceKind::ALL {
        let source = settings.sources.get(kind);
        if !source.poll {
            continue;
        }
        let every = Duration::from_secs(source.interval_minutes.saturating_mul(60));
        tracing::info!(
            source = kind.name(),
            interval_minutes = source.interval_minutes,
            "polling a live source"
        );
        tasks.spawn(
            format!("{} polling", kind.name()),
            paperfeed_app::harvest::poll(
                Arc::clone(store),
                source_config(settings, kind),
                every,
                node.to_owned(),
                Arc::clone(metrics),
                stop.clone(),
            ),
        );
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
        let source = settings.sources.get(cli::SourceKind::Arxiv);
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
