//! `paperfeed serve`: open the store, load the sample into an empty one, serve until a signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use paperfeed_store::{MailStore, Store, WriteMode};
use paperfeed_web::AppState;

use crate::indexer::{Indexer, open_engine};
use crate::ingest::{IngestOptions, ingest};
use crate::sample;
use crate::settings::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
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
    let stats = store.stats().await?;
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
    tokio::spawn(indexer.run(poll, node.clone(), (poll * 30).max(Duration::from_secs(60))));
    crate::harvest::spawn_polling(&store, settings, &node);
    if let (Some(hour), Some(offset)) = (
        settings.mail.schedule_hour,
        crate::settings::parse_utc_offset(&settings.mail.schedule_utc_offset),
    ) {
        tokio::spawn(crate::digest::schedule(
            settings.clone(),
            hour,
            offset,
            node.clone(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(settings.serve.bind)
        .await
        .with_context(|| format!("binding {}", settings.serve.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        store.papers = stats.papers,
        store.featured_days = stats.featured_days,
        "paperfeed listening on http://{addr}"
    );
    // Scripts and tests read this line to learn the port when binding to :0.
    println!("listening on http://{addr}");
    paperfeed_web::serve(
        listener,
        AppState::new(store, engine)
            .with_public_url(settings.serve.public_url.clone())
            .with_community(settings.community())
            .with_mail_links(crate::digest::mail_links(settings, mail_store)?)
            .with_paper_lookup(Arc::new(
                crate::harvest::ArxivLookup::from_settings(settings)
                    .context("setting up arXiv look-ups for submissions")?,
            )),
        shutdown_signal(),
    )
    .await
    .context("serving HTTP")?;
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

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
