//! `paperfeed eval` (search): how well each search mode finds a paper from what a reader would
//! type, as MRR@10, recall@10 and the time a search takes.
//!
//! Two query sets come from Hugging Face daily files (`--queries-from`): (P) each paper's AI
//! summary, a one-sentence paraphrase, and (K) three of its AI keywords joined by spaces, what
//! readers actually type. The papers are expected in the store without those fields
//! (`ingest --without-ai`), so only their own title, abstract and authors can match — the
//! situation of a paper the hub has never seen summarised. Without `--queries-from`, the
//! stored papers' own AI summaries are the queries (the older, easier measure).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use paperfeed_core::ArxivId;
use paperfeed_search::{KeywordQuery, SearchEngine, SearchMode};
use paperfeed_store::Store;

use crate::cli::EvalArgs;
use crate::ingest::{Source, expand_paths, feed_date_from_name};
use crate::search_cmd::{bar, ready_engine};
use crate::settings::Settings;

/// AI keywords joined into one K query.
const KEYWORDS_PER_QUERY: usize = 3;
/// Results looked at for MRR and recall.
const DEPTH: usize = 10;
const MODES: [SearchMode; 3] = [
    SearchMode::Keyword,
    SearchMode::Semantic,
    SearchMode::Hybrid,
];

/// Queries that should each find one paper.
struct QuerySet {
    name: &'static str,
    what: &'static str,
    queries: Vec<(ArxivId, String)>,
}

/// One mode's figures over one set.
#[derive(Default)]
struct Score {
    reciprocal_ranks: f64,
    found: usize,
    times: Vec<Duration>,
}

pub async fn eval(settings: &Settings, args: &EvalArgs) -> anyhow::Result<()> {
    let (store, indexer) = ready_engine(settings).await?;
    let stored = stored_papers(&*store).await?;
    let mut sets = if args.queries_from.is_empty() {
        vec![QuerySet {
            name: "stored",
            what: "the stored AI summaries",
            queries: stored
                .into_iter()
                .filter_map(|(id, summary)| summary.map(|s| (id, s)))
                .collect(),
        }]
    } else {
        let stored: HashSet<ArxivId> = stored.into_iter().map(|(id, _)| id).collect();
        queries_from_files(&args.queries_from, &stored)?
    };
    for set in &mut sets {
        set.queries.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(max) = args.max_queries {
            set.queries.truncate(max);
        }
    }
    anyhow::ensure!(
        sets.iter().any(|s| !s.queries.is_empty()),
        "no query to evaluate: no paper in the store has an AI summary, or none of the papers \
         in --queries-from is in the store (ingest them first, e.g. \
         `paperfeed ingest --without-ai ../shared/data/hf_daily_papers`)"
    );
    let engine = Arc::clone(&indexer.engine);
    for set in sets {
        let started = Instant::now();
        let n = set.queries.len();
        let scores = {
            let engine = Arc::clone(&engine);
            let queries = set.queries;
            tokio::task::spawn_blocking(move || score_set(&engine, &queries))
                .await
                .context("evaluation task")?
        };
        println!(
            "({}) {n} queries ({}), target = the paper, top {DEPTH}:",
            set.name, set.what
        );
        println!(
            "{:<10} {:>8} {:>10} {:>8} {:>8}",
            "mode", "MRR@10", "recall@10", "p50 ms", "p99 ms"
        );
        for (mode, mut score) in MODES.iter().zip(scores) {
            score.times.sort();
            println!(
                "{:<10} {:>8.4} {:>10.4} {:>8.2} {:>8.2}",
                mode.as_str(),
                score.reciprocal_ranks / n.max(1) as f64,
                score.found as f64 / n.max(1) as f64,
                millis(percentile(&score.times, 0.50)),
                millis(percentile(&score.times, 0.99)),
            );
        }
        println!("in {:.1} s", started.elapsed().as_secs_f64());
    }
    if let Some(reason) = engine.semantic_off() {
        println!(
            "note: semantic search is off ({reason}); semantic and hybrid fell back to keyword"
        );
    }
    Ok(())
}

/// Every stored paper's id with its AI summary, if it has one.
async fn stored_papers(store: &dyn Store) -> anyhow::Result<Vec<(ArxivId, Option<String>)>> {
    let mut papers = Vec::new();
    let mut since = 0;
    loop {
        let page = store.papers_changed_since(since, 1000).await?;
        let Some(last) = page.last().map(|c| c.change_seq) else {
            break;
        };
        since = last;
        papers.extend(page.into_iter().map(|changed| {
            let summary = changed.paper.ai_summary.filter(|s| !s.trim().is_empty());
            (changed.paper.id, summary)
        }));
    }
    Ok(papers)
}

/// The P and K sets of the papers in `paths` that are in the store, each paper once.
fn queries_from_files(
    paths: &[std::path::PathBuf],
    stored: &HashSet<ArxivId>,
) -> anyhow::Result<Vec<QuerySet>> {
    let mut summaries = HashMap::new();
    let mut keywords = HashMap::new();
    let mut rejected = 0u64;
    for source in expand_paths(paths)? {
        let Source::Path(path) = source else {
            anyhow::bail!("--queries-from reads files and folders, not standard input");
        };
        let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let feed_date = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(feed_date_from_name);
        let fatal =
            paperfeed_ingest::read_hf_daily(BufReader::new(file), feed_date, &mut |record| {
                match record {
                    Ok(paper) if stored.contains(&paper.id) => {
                        if let Some(summary) = paper.ai_summary.filter(|s| !s.trim().is_empty()) {
                            summaries.entry(paper.id.clone()).or_insert(summary);
                        }
                        let words: Vec<String> = paper
                            .ai_keywords
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|k| !k.trim().is_empty())
                            .take(KEYWORDS_PER_QUERY)
                            .collect();
                        if words.len() == KEYWORDS_PER_QUERY {
                            keywords.entry(paper.id).or_insert_with(|| words.join(" "));
                        }
                    }
                    Ok(_) => {}
                    Err(_) => rejected += 1,
                }
                ControlFlow::Continue(())
            });
        if let Some(fatal) = fatal {
            eprintln!("{}: read in part: {fatal}", path.display());
        }
    }
    if rejected > 0 {
        eprintln!("{rejected} entries of --queries-from could not be read and were skipped");
    }
    Ok(vec![
        QuerySet {
            name: "P",
            what: "AI summaries, one-sentence paraphrases",
            queries: summaries.into_iter().collect(),
        },
        QuerySet {
            name: "K",
            what: "three AI keywords joined by spaces",
            queries: keywords.into_iter().collect(),
        },
    ])
}

/// Runs every query in every mode; the scores in the order of [`MODES`].
fn score_set(engine: &SearchEngine, queries: &[(ArxivId, String)]) -> Vec<Score> {
    let progress = bar(queries.len() as u64, "evaluating");
    let mut scores: Vec<Score> = MODES.iter().map(|_| Score::default()).collect();
    for (target, text) in queries {
        // The texts are free text: quotes and `field:` words in them are not syntax here.
        let mut query = KeywordQuery::text(text.replace(['"', ':'], " "));
        query.limit = DEPTH;
        for (score, mode) in scores.iter_mut().zip(MODES) {
            let started = Instant::now();
            let rank = engine
                .search(&query, mode)
                .ok()
                .and_then(|r| r.hits.iter().position(|h| &h.id == target));
            score.times.push(started.elapsed());
            if let Some(rank) = rank.filter(|r| *r < DEPTH) {
                score.reciprocal_ranks += 1.0 / (rank + 1) as f64;
                score.found += 1;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    scores
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_sample_at_or_above_the_rank() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&times, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&times, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
