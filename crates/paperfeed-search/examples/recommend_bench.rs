//! The recommender at hub scale: ranking 100 000 candidates for a reader with 200 signals, and
//! updating the model after one more signal.
//!
//! usage: `cargo run --release -p paperfeed-search --example recommend_bench [PAPERS] [ROUNDS]`
//! (defaults 100 000 papers, 50 rounds).
//!
//! Candidates are synthesised from the real vectors of `tests/fixtures/recommend_vectors.json`
//! (the fixture days' papers as our encoder embeds them): each is the normalised sum of two real
//! vectors plus a little seeded noise, so vectors spread like real ones; its terms are those of
//! a real paper. Prints `key: value` lines.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use paperfeed_core::ArxivId;
use paperfeed_search::recommend::{
    Background, Candidate, Example, RankSettings, ReaderModel, SignalKind, Source, SparseVector,
    TermStats, recommend,
};

#[derive(serde::Deserialize)]
struct Stored {
    vector: Vec<f32>,
}

/// SplitMix64: seeded, so every run ranks the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let papers: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let rounds: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(50);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/recommend_vectors.json"
    );
    let real: Vec<Stored> = serde_json::from_slice(&std::fs::read(path)?)?;
    let mut rng = Rng(17);

    // Terms: random words of a made-up vocabulary with Zipf-like frequencies, 40 to 64 a paper,
    // weighted by a term statistics object built over all of them (as the app does).
    let mut stats = TermStats::new();
    let mut counts = Vec::with_capacity(papers);
    for _ in 0..papers {
        let n = 40 + rng.below(25);
        let mut c: Vec<(u32, u32)> = (0..n)
            .map(|_| {
                let r = rng.below(1 << 16) as u32;
                ((r * r) >> 12, 1 + rng.below(3) as u32)
            })
            .collect();
        c.sort_unstable_by_key(|e| e.0);
        c.dedup_by_key(|e| e.0);
        stats.add(&c);
        counts.push(c);
    }
    let terms: Vec<SparseVector> = counts.iter().map(|c| stats.weigh(c)).collect();
    let dim = real[0].vector.len();
    let vectors: Vec<Vec<f32>> = (0..papers)
        .map(|_| {
            let (a, b) = (
                &real[rng.below(real.len())].vector,
                &real[rng.below(real.len())].vector,
            );
            let mut v: Vec<f32> = (0..dim).map(|k| a[k] + b[k] + 0.05 * rng.unit()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect();
    let ids: Vec<ArxivId> = (0..papers)
        .map(|i| {
            ArxivId::parse(&format!(
                "25{:02}.{:05}",
                1 + i / 99_999 % 12,
                i % 99_999 + 1
            ))
        })
        .collect::<Result<_, _>>()?;
    let today = NaiveDate::from_ymd_opt(2026, 8, 21).ok_or("date")?;
    let dates: Vec<NaiveDate> = (0..papers)
        .map(|_| today - Days::new(rng.below(730) as u64))
        .collect();
    let popularity: Vec<f64> = (0..papers)
        .map(|_| (rng.below(1000) as f64).powi(2) / 1e4)
        .collect();

    let started = Instant::now();
    let sample = 20_000.min(papers);
    let background = Background::new(stats, vectors.iter().take(sample).map(Vec::as_slice));
    println!(
        "background_ms: {:.0} ({sample} vectors)",
        started.elapsed().as_secs_f64() * 1e3
    );

    let kinds = [
        SignalKind::Saved,
        SignalKind::Upvoted,
        SignalKind::InCollection,
        SignalKind::Opened,
        SignalKind::Seed,
    ];
    let example = |i: usize, kind: SignalKind| Example {
        source: Source::Paper(ids[i].clone()),
        kind,
        vector: Some(vectors[i].clone()),
        terms: terms[i].clone(),
    };
    let signals: Vec<Example> = (0..200)
        .map(|k| {
            let kind = if k % 20 == 19 {
                SignalKind::NotInterested
            } else {
                kinds[k % kinds.len()]
            };
            example(rng.below(papers), kind)
        })
        .collect();
    let started = Instant::now();
    let model = ReaderModel::from_examples(signals);
    println!(
        "train_200_signals_ms: {:.2}",
        started.elapsed().as_secs_f64() * 1e3
    );

    let mut adds = Vec::new();
    let mut growing = model.clone();
    for _ in 0..100 {
        let next = example(rng.below(papers), SignalKind::Saved);
        let started = Instant::now();
        growing.add(next);
        adds.push(started.elapsed().as_secs_f64() * 1e3);
    }
    adds.sort_by(f64::total_cmp);
    println!(
        "add_one_signal_ms: p50 {:.3} p99 {:.3} (model of 200..300 signals)",
        percentile(&adds, 0.5),
        percentile(&adds, 0.99)
    );

    let candidates: Vec<Candidate<'_>> = (0..papers)
        .map(|i| Candidate {
            id: &ids[i],
            vector: &vectors[i],
            terms: &terms[i],
            popularity: popularity[i],
            date: Some(dates[i]),
        })
        .collect();
    let exclude: HashSet<ArxivId> = (0..500).map(|_| ids[rng.below(papers)].clone()).collect();
    for (label, window) in [("all", None), ("window_30d", Some(30))] {
        let mut times = Vec::new();
        let mut settings = RankSettings::new(today);
        settings.recency_window_days = window;
        let mut picks = 0;
        for round in 0..rounds {
            settings.seed = round as u64;
            settings.exploration = if round % 2 == 0 { 0.0 } else { 0.3 };
            let started = Instant::now();
            picks = recommend(&model, &background, &candidates, &exclude, &settings).len();
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "rank_{label}_ms: p50 {:.1} p99 {:.1} ({papers} candidates, 200 signals, {picks} picks)",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    Ok(())
}
