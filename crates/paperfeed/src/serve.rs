//! `paperfeed serve`: open the store, load the sample into an empty one, serve until a signal,
//! then stop in order (see [`crate::shutdown`]): stop accepting, let in-flight requests and
//! background tasks finish within `serve.shutdown_grace_seconds`, exit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use paperfeed_app::indexing::{Indexer, IndexingConfig};
use paperfeed_store::{MailStore, SqliteStore, Store, StoreCheck, WriteMode};
use paperfeed_web::AppState;

use crate::indexer::open_engine;
use crate::ingest::{IngestOptions, ingest};
use crate::sample;
use crate::settings::Settings;
use crate::shutdown::Tasks;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    // First: from here on a signal stops the process in order instead of killing it.
    let stop = crate::shutdown::on_signals()?;
    check_store(settings).await?;
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
            without_ai: false,
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
    let job_metrics: Arc<dyn paperfeed_app::metrics::Metrics> = metrics.clone();
    let mut tasks = Tasks::default();
    // The engine opens at once (an empty or stale index is fine); the indexer fills it in the
    // background while the hub already answers. Only the first start of a hub without the
    // model waits, for its download from the Hugging Face Hub; a signal cuts that short (the
    // file being fetched is not kept).
    let engine = tokio::select! {
        engine = open_engine(settings) => Arc::new(engine?),
        () = stop.cancelled() => {
            tracing::info!("stopped before serving");
            return Ok(());
        }
    };
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
            IndexingConfig {
                interval: poll,
                node: node.clone(),
                lease: (poll * 30).max(Duration::from_secs(60)),
                index_dir: crate::indexer::index_dir(&settings.data_dir),
            },
            stop.clone(),
        ),
    );
    crate::harvest::spawn_polling(&mut tasks, &store, settings, &node, &job_metrics, &stop);
    tasks.spawn(
        "webhook sender",
        paperfeed_app::saved_searches::webhooks::run(
            Arc::clone(&store),
            webhook_config(settings),
            Duration::from_secs(settings.webhooks.poll_seconds.max(1)),
            stop.clone(),
        ),
    );
    let limits = connection_limits(settings);
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
        .with_private_webhook_targets(settings.webhooks.allow_private_targets)
        .with_sign_in(
            paperfeed_app::identity::SignIn::new(settings.auth.identity_config()?)
                .context("setting up sign-in through identity providers")?,
        )
        .with_mail_links(crate::digest::mail_links(settings, mail_store)?)
        .with_paper_lookup(Arc::new(
            crate::harvest::ArxivLookup::from_settings(settings)
                .context("setting up arXiv look-ups for submissions")?,
        ));
    // The recommender reads the hub's papers in the background, as the indexer does; until
    // its first pass is done, "for you" says it is warming up.
    tasks.spawn(
        "recommender",
        Arc::clone(&state.recommender).run(Arc::clone(&state.store), poll, stop.clone()),
    );
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
                Arc::clone(&state.recommender),
                Arc::clone(&job_metrics),
                stop.clone(),
            ),
        );
    }
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
            limits,
            stop.clone().cancelled_owned(),
        )));
    }
    // Scripts and tests read this line to learn the port when binding to :0.
    println!("listening on http://{addr}");
    let mut server = tokio::spawn(paperfeed_web::serve(
        listener,
        state,
        limits,
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

/// Refuses to serve from a damaged SQLite store (a quick check bounded by
/// `serve.store_check_seconds`): pages reading the damaged parts would fail, and the search
/// index could not be filled. PostgreSQL checks its own pages.
async fn check_store(settings: &Settings) -> anyhow::Result<()> {
    let crate::database::Location::Sqlite(path) =
        crate::database::Location::parse(settings.database_url())?
    else {
        return Ok(());
    };
    let limit = Duration::from_secs(settings.serve.store_check_seconds);
    if !path.is_file() || limit.is_zero() {
        return Ok(());
    }
    let started = Instant::now();
    let file = path.clone();
    let check = tokio::task::spawn_blocking(move || SqliteStore::quick_check(&file, limit))
        .await
        .context("the store check task")?
        .with_context(|| format!("checking the store {}", path.display()))?;
    match check {
        StoreCheck::Sound => tracing::info!(
            duration_ms = started.elapsed().as_millis() as u64,
            "store checked: sound"
        ),
        StoreCheck::Unfinished => tracing::warn!(
            limit_seconds = limit.as_secs(),
            "the store check did not finish within serve.store_check_seconds; serving without it"
        ),
        StoreCheck::Damaged(problems) => anyhow::bail!(
            "the store {} is damaged, so it is not served (SQLite's quick_check: {}). Restore \
             the last backup into a new data directory with `paperfeed --data-dir NEW_DIR \
             restore BACKUP_FILE` and serve that (docs/operations.md, \"Backup and restore\")",
            path.display(),
            problems.join("; ")
        ),
    }
    Ok(())
}

/// File descriptors kept for what is not a client connection: the store and its journal, the
/// index segments, the model, logs, outgoing connections to sources and mail servers.
const RESERVED_FILES: u64 = 256;

/// The connection limits from the settings, with `max_connections` lowered to what the
/// open-files limit leaves room for (after raising the soft limit to the hard one): beyond
/// that, accepting fails and every client suffers, not only the newest.
fn connection_limits(settings: &Settings) -> paperfeed_web::ConnectionLimits {
    let wanted = settings.serve.max_connections;
    let mut max_connections = wanted;
    match raise_open_files_limit() {
        Ok(files) => {
            let room =
                usize::try_from(files.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(usize::MAX);
            if room < wanted {
                tracing::warn!(
                    open_files_limit = files,
                    serve.max_connections = wanted,
                    connections = room,
                    "the open-files limit leaves room for fewer connections than \
                     serve.max_connections: serving at most {room} at once (raise the hard \
                     limit, e.g. LimitNOFILE= in the systemd unit or `ulimit -Hn`)"
                );
                max_connections = room;
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            "the open-files limit could not be read or raised; serving at most \
             serve.max_connections connections"
        ),
    }
    paperfeed_web::ConnectionLimits {
        header_read_timeout: Duration::from_secs(settings.serve.header_read_timeout_seconds),
        idle_timeout: Duration::from_secs(settings.serve.idle_timeout_seconds),
        max_connections,
    }
}

/// Raises the soft open-files limit to the hard one (the soft one is often 1024, which a
/// thousand idle clients use up); returns the limit now in force.
fn raise_open_files_limit() -> std::io::Result<u64> {
    let before = rlimit::Resource::NOFILE.get()?.0;
    let now = rlimit::increase_nofile_limit(u64::MAX)?;
    if now > before {
        tracing::info!(from = before, to = now, "raised the open-files limit");
    }
    Ok(now)
}

/// This process's name as a lease holder: unique across nodes and restarts.
fn node_name() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    std::iter::once(format!("{}-", std::process::id()))
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect()
}

/// `[webhooks]` → the sender's config, papers in the API's shape.
fn webhook_config(settings: &Settings) -> paperfeed_app::saved_searches::webhooks::WebhookConfig {
    let w = &settings.webhooks;
    let mut config = paperfeed_app::saved_searches::webhooks::WebhookConfig::new(Arc::new(
        paperfeed_web::paper_json,
    ));
    config.allow_private_targets = w.allow_private_targets;
    config.timeout = Duration::from_secs(w.timeout_seconds.max(1));
    config.max_attempts = w.max_attempts.max(1);
    config.first_retry = Duration::from_secs(w.first_retry_seconds.max(1));
    config
}
