//! `paperfeed serve`: open the store, load the sample into an empty one, serve until a signal,
//! then stop in order (see [`crate::shutdown`]): stop accepting, let in-flight requests and
//! background tasks finish within `serve.shutdown_grace_seconds`, exit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use paperfeed_store::{MailStore, Store, WriteMode};
use paperfeed_web::AppState;

use crate::indexer::{Indexer, open_engine};
use crate::ingest::{IngestOptions, ingest};
use crate::sample;
use crate::settings::Settings;
use crate::shutdown::Tasks;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    // First: from here on a signal stops the process in order instead of killing it.
    let stop = crate::shutdown::on_signals()?;
    let database = crate::database::open(settings).await?;
    let mail_store: Arc<dyn MailStore> = database.clone();
    let store: Arc<dyn Store> = database;
    let stats = store.stats().await?;
    if stats.papers == 0 && settings.serve.load_sample {
        tracing::info!("the store is empty: loading the bundled sample (use --no-sample to skip)");
        let options = IngestOptions {
            format: None,
            mode: WriteMode::Commit,
            batch_size: settings.ingest.batch_size,
            show_progress: false,
        };
        let summary = ingest(Arc::clone(&store), sample::sources(), &options)
            .await
            .context("loading the bundled sample")?;
        tracing::info!(%summary, "sample loaded");
    }
    if stop.is_cancelled() {
        tracing::info!("stopped before serving");
        return Ok(());
    }
    let stats = store.stats().await?;
    let metrics = Arc::new(paperfeed_web::Metrics::new().with_digests(
        Arc::clone(&mail_store),
        crate::digest::current_periods(settings),
    ));
    let mut tasks = Tasks::default();
    // The engine opens at once (an empty or stale index is fine); the indexer fills it in the
    // background while the hub already answers.
    let engine = Arc::new(open_engine(settings)?);
    let indexer = Indexer {
        store: Arc::clone(&store),
        engine: Arc::clone(&engine),
        embed_batch: settings.search.embed_batch,
    };
    let poll = Duration::from_secs(settings.search.poll_seconds);
    let node = node_name();
    // A dead holder's lease runs out after 30 polls (at least a minute); the holder renews it
    // every round.
    tasks.spawn(
        "indexer",
        indexer.run(
            poll,
            node.clone(),
            (poll * 30).max(Duration::from_secs(60)),
            stop.clone(),
        ),
    );
    crate::harvest::spawn_polling(&mut tasks, &store, settings, &node, &metrics, &stop);
    if let (Some(hour), Some(offset)) = (
        settings.mail.schedule_hour,
        crate::settings::parse_utc_offset(&settings.mail.schedule_utc_offset),
    ) {
        tasks.spawn(
            "digest scheduler",
            crate::digest::schedule(
                settings.clone(),
                hour,
                offset,
                node.clone(),
                Arc::clone(&metrics),
                stop.clone(),
            ),
        );
    }
    let listener = tokio::net::TcpListener::bind(settings.serve.bind)
        .await
        .with_context(|| format!("binding {}", settings.serve.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let metrics_listener = match settings.serve.metrics_bind {
        Some(bind) => Some(
            tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("binding {bind} (serve.metrics_bind)"))?,
        ),
        None => None,
    };
    tracing::info!(
        store.papers = stats.papers,
        store.featured_days = stats.featured_days,
        "paperfeed listening on http://{addr}"
    );
    let mut state = AppState::new(store, engine)
        .with_metrics(Arc::clone(&metrics))
        .with_public_url(settings.serve.public_url.clone())
        .with_community(settings.community())
        .with_mail_links(crate::digest::mail_links(settings, mail_store)?)
        .with_paper_lookup(Arc::new(
            crate::harvest::ArxivLookup::from_settings(settings)
                .context("setting up arXiv look-ups for submissions")?,
        ));
    let mut metrics_server = None;
    if let Some(listener) = metrics_listener {
        let addr = listener
            .local_addr()
            .context("reading the metrics address")?;
        tracing::info!("metrics on http://{addr}/metrics");
        // Read by tests that bind the metrics listener to :0 (before the line below).
        println!("metrics on http://{addr}/metrics");
        state = state.with_metrics_elsewhere();
        metrics_server = Some(tokio::spawn(paperfeed_web::serve_metrics(
            listener,
            state.clone(),
            stop.clone().cancelled_owned(),
        )));
    }
    // Scripts and tests read this line to learn the port when binding to :0.
    println!("listening on http://{addr}");
    let mut server = tokio::spawn(paperfeed_web::serve(
        listener,
        state,
        stop.clone().cancelled_owned(),
    ));
    tokio::select! {
        result = &mut server => {
            // The server ended without being asked to: stop the rest and say why.
            stop.cancel();
            result.context("the HTTP server task")?.context("serving HTTP")?;
            return Ok(());
        }
        () = stop.cancelled() => {}
    }
    let grace = Duration::from_secs(settings.serve.shutdown_grace_seconds);
    let deadline = Instant::now() + grace;
    tracing::info!(
        grace_seconds = settings.serve.shutdown_grace_seconds,
        "no longer accepting connections; finishing in-flight requests and background tasks"
    );
    let in_flight = || metrics.requests_in_flight();
    let drain_main = crate::shutdown::drain(&mut server, deadline, grace, in_flight, "main");
    let drain_metrics = async {
        match metrics_server.as_mut() {
            Some(s) => crate::shutdown::drain(s, deadline, grace, || 0, "metrics").await,
            None => Some(Ok(())),
        }
    };
    let (main, metrics_result, ()) =
        tokio::join!(drain_main, drain_metrics, tasks.wait_until(deadline));
    for result in [main, metrics_result].into_iter().flatten() {
        if let Err(e) = result {
            tracing::error!(error = %e, "the HTTP server ended with an error");
        }
    }
    tracing::info!("paperfeed stopped");
    Ok(())
}

/// This process's name as a lease holder: unique across nodes and restarts.
fn node_name() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    std::iter::once(format!("{}-", std::process::id()))
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect()
}
