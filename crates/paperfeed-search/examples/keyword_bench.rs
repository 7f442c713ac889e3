//! Keyword index at scale: builds an index of a corpus synthesised from the real Hugging Face
//! papers and times typical queries against it.
//!
//! usage: `cargo run --release -p paperfeed-search --example keyword_bench [PAPERS] [QUERIES]
//! [BATCH]` (defaults 100 000 papers, 1 000 queries, and a commit per 1 000 papers as
//! `paperfeed reindex` does). The real papers are read from `PAPERFEED_SHARED_DATA` (else
//! `<workspace>/../shared/data`), folder `hf_daily_papers`.
//!
//! The corpus is not copies: each synthetic paper takes its title from two real titles (the
//! head of one, the tail of another), its abstract from sentences of several real abstracts,
//! authors from the pool of real names, a date spread over 2023–2026 and an arXiv id of that
//! month. So term statistics are the real ones, and every document is different. Seeded:
//! the same corpus and queries every run.

mod corpus;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use corpus::{
    BEST_OF, Error, Rng, load_average, parse, percentile, process_cpu_seconds, queries,
    real_papers, synthesise,
};
use paperfeed_search::{KeywordIndex, OpenOutcome};

fn folder_bytes(dir: &Path) -> Result<u64, Error> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let papers: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let query_count: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1_000);
    let batch: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1_000);

    let real = real_papers()?;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let corpus = synthesise(&real, papers, &mut rng)?;
    let text_mb = corpus
        .iter()
        .map(|p| p.title.len() + p.abstract_text.len())
        .sum::<usize>() as f64
        / 1e6;
    println!(
        "corpus: {} papers synthesised from {} real ones ({text_mb:.0} MB of titles and abstracts)",
        corpus.len(),
        real.len()
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("keyword");
    let started = Instant::now();
    let (mut index, outcome) = KeywordIndex::open_or_create(&path)?;
    if outcome != OpenOutcome::Fresh {
        return Err(format!("expected a fresh index, got {outcome:?}").into());
    }
    // As `paperfeed reindex` feeds it: a commit per batch of papers read from the store.
    for (batch_number, batch) in (1..).zip(corpus.chunks(batch.max(1))) {
        index.upsert(batch)?;
        index.commit(batch_number)?;
    }
    let built = started.elapsed();
    let segments = index.segments();
    index.compact()?;
    let compacted = started.elapsed();
    println!(
        "build: {:.1} s to searchable ({:.0} papers/s, {segments} segments), {:.1} s compacted \
         into {}",
        built.as_secs_f64(),
        corpus.len() as f64 / built.as_secs_f64(),
        compacted.as_secs_f64(),
        index.segments()
    );
    println!(
        "index size: {:.0} MB on disk",
        folder_bytes(&path)? as f64 / 1e6
    );
    drop(index);

    let started = Instant::now();
    let (index, outcome) = KeywordIndex::open_or_create(&path)?;
    println!(
        "reopen: {:.0} ms ({outcome:?}, checksums verified), {} papers",
        started.elapsed().as_secs_f64() * 1e3,
        index.len()
    );

    let queries = queries(&corpus, query_count, &mut rng);
    println!(
        "load average (1 min) before the queries: {}",
        load_average()
    );
    // Warm-up: page cache and lazily opened structures are not per-query cost.
    for (_, input) in queries.iter().take(200) {
        index.search(&parse(input))?;
    }
    let mut all: Vec<f64> = Vec::with_capacity(queries.len());
    let mut by_kind: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut hits = 0usize;
    let mut exact_first = (0usize, 0usize);
    let cpu_before = process_cpu_seconds();
    for (kind, input) in &queries {
        let started = Instant::now();
        let results = index.search(&parse(input))?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        all.push(ms);
        by_kind.entry(kind).or_default().push(ms);
        hits += usize::from(!results.hits.is_empty());
        if *kind == "exact id" || *kind == "exact title" {
            exact_first.1 += 1;
            let first = results.hits.first().map(|hit| hit.id.as_str());
            let expected = corpus
                .iter()
                .filter(|p| p.title == *input || p.id.as_str() == input)
                .any(|p| Some(p.id.as_str()) == first);
            exact_first.0 += usize::from(expected);
        }
    }
    let cpu_ms_per_query = match (cpu_before, process_cpu_seconds()) {
        (Some(before), Some(after)) => (after - before) * 1e3 / queries.len().max(1) as f64,
        _ => f64::NAN,
    };
    // Other agents share this machine's two cores, so one timing may include waiting for a
    // core. The best of a few runs of each query is closer to what it costs on a quiet
    // machine (slightly optimistic: repeats find their doc-store blocks cached).
    let mut best: Vec<f64> = Vec::with_capacity(queries.len());
    for (_, input) in &queries {
        let mut best_ms = f64::MAX;
        for _ in 0..BEST_OF {
            let started = Instant::now();
            index.search(&parse(input))?;
            best_ms = best_ms.min(started.elapsed().as_secs_f64() * 1e3);
        }
        best.push(best_ms);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "queries: {} (parse + search + titles and snippets of the first 20), {} with hits, \
         exact id/title first in {}/{}",
        all.len(),
        hits,
        exact_first.0,
        exact_first.1
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN),
        all.iter().sum::<f64>() / all.len().max(1) as f64
    );
    println!("cpu ms per query (mean, whole process): {cpu_ms_per_query:.2}");
    best.sort_by(f64::total_cmp);
    println!(
        "best of {BEST_OF} ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  (each query run {BEST_OF} times)",
        percentile(&best, 0.5),
        percentile(&best, 0.9),
        percentile(&best, 0.99)
    );
    for (kind, mut times) in by_kind {
        times.sort_by(f64::total_cmp);
        println!(
            "  {kind:<16} n={:<4} p50 {:.2}  p90 {:.2}",
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.9)
        );
    }
    Ok(())
}
