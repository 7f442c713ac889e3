//! `paperfeed reindex`, `paperfeed search` and `paperfeed eval`: the search pipeline stages.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use paperfeed_app::indexing::Indexer;
use paperfeed_app::search::{Correcting, Spelling};
use paperfeed_search::{KeywordQuery, MODEL_NAME, SearchMode};
use paperfeed_store::Store;

use crate::cli::SearchArgs;
use crate::indexer::{index_dir, open_engine, vector_dir};
use crate::settings::Settings;

pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Opens the store and the engine, and brings the engine fully up to date: every changed
/// paper indexed, every vector loaded and every missing one computed.
pub(crate) async fn ready_engine(settings: &Settings) -> anyhow::Result<(Arc<dyn Store>, Indexer)> {
    let store: Arc<dyn Store> = crate::database::open(settings).await?;
    let engine = Arc::new(open_engine(settings).await?);
    let indexer = Indexer {
        store: Arc::clone(&store),
        engine,
        embed_batch: settings.search.embed_batch,
    };
    let stats = store.stats().await?;
    let progress = bar(stats.papers, "indexing");
    indexer.catch_up(&|n| progress.inc(n as u64)).await?;
    progress.finish_and_clear();
    // At most one vector a paper.
    let progress = bar(stats.papers, "loading vectors");
    indexer
        .catch_up_vectors(&|n| progress.inc(n as u64))
        .await?;
    progress.finish_and_clear();
    if indexer.engine.embedder().is_some() {
        let backlog = store.count_embedding_backlog(MODEL_NAME).await?;
        let progress = bar(backlog, "embedding");
        indexer.embed_all(&|n| progress.inc(n as u64)).await?;
        progress.finish_and_clear();
    }
    Ok((store, indexer))
}

/// Rebuilds the keyword index and the vector index from the store (stored vectors are read,
/// not computed again; missing ones are computed).
pub async fn reindex(settings: &Settings) -> anyhow::Result<()> {
    for dir in [
        index_dir(&settings.data_dir),
        vector_dir(&settings.data_dir),
    ] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the old index in {}", dir.display()))?;
        }
    }
    let started = Instant::now();
    let (store, indexer) = ready_engine(settings).await?;
    let status = indexer.engine.status();
    let backlog = store.count_embedding_backlog(MODEL_NAME).await?;
    println!(
        "reindexed {} papers, {} vectors{} in {:.1} s",
        status.indexed_papers,
        status.vectors,
        match &status.semantic_off {
            Some(reason) => format!(" (semantic search off: {reason})"),
            None if backlog > 0 => format!(", {backlog} still missing"),
            None => String::new(),
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn search(settings: &Settings, args: &SearchArgs) -> anyhow::Result<()> {
    let mode = SearchMode::parse(&args.mode)
        .with_context(|| format!("--mode {:?}: use keyword, semantic or hybrid", args.mode))?;
    let mut query = KeywordQuery::parse(&args.query).map_err(|e| anyhow::anyhow!("{e}"))?;
    query.limit = args.limit.clamp(1, 100);
    let (store, indexer) = ready_engine(settings).await?;
    let correcting = if args.verbatim {
        Correcting::OfferOnly
    } else {
        Correcting::WhenNothingMatched
    };
    let paperfeed_app::search::Found {
        results,
        papers: rows,
        spelling,
    } = paperfeed_app::search::search_typed(
        Arc::clone(&indexer.engine),
        &*store,
        &args.query,
        query,
        mode,
        correcting,
    )
    .await
    .with_context(|| format!("searching for {:?}", args.query))?;
    // `correction`: the query with misspelt words corrected; `corrected`: whether the results
    // are the correction's (nothing matched the query as given).
    let (correction, corrected) = match &spelling {
        Some(Spelling::DidYouMean(c)) => (Some(c.text.clone()), false),
        Some(Spelling::Corrected { correction, .. }) => (Some(correction.text.clone()), true),
        None => (None, false),
    };
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|(hit, paper)| {
                serde_json::json!({
                    "id": paper.id,
                    "title": paper.title,
                    "score": hit.score,
                    "keyword_rank": hit.keyword_rank,
                    "semantic_rank": hit.semantic_rank,
                    "published_at": paper.published_at,
                    "upvotes": paper.upvotes,
                    "url": paper.id.abs_url(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "mode": results.mode,
                "total": results.total,
                "note": results.note,
                "spelling": correction.as_ref().map(|text| serde_json::json!({
                    "correction": text,
                    "corrected": corrected,
                })),
                "results": json,
            }))?
        );
    } else {
        if let Some(note) = &results.note {
            eprintln!("note: {note}");
        }
        match (&correction, corrected) {
            (Some(text), true) => eprintln!(
                "showing results for {text:?}: nothing matched {:?} (--verbatim searches it as given)",
                args.query
            ),
            (Some(text), false) => eprintln!("did you mean {text:?}?"),
            (None, _) => {}
        }
        for (i, (hit, paper)) in rows.iter().enumerate() {
            println!(
                "{:>2}. {:<16} {:>7.4}  {}",
                i + 1,
                paper.id.to_string(),
                hit.score,
                paper.title
            );
        }
        println!(
            "{} matching, {} search",
            results.total,
            results.mode.as_str()
        );
    }
    Ok(())
}
