//! Embedding throughput of [`paperfeed_search::Embedder`], for `scripts/bench-embed`.
//!
//! usage: `embed_bench MODEL_DIR TEXTS_JSON [ROUNDS]` where TEXTS_JSON is a JSON array of strings;
//! with `EMBED_BENCH_VECTORS=PATH` it also writes the vectors there (a JSON array of arrays).
//! Prints documents/s over all texts (best of ROUNDS, default 2), the latency of one short query
//! (median of 50, at query precision, as search embeds it) and how close query precision is to
//! document precision on the texts' titles, as `key: value` lines the script reads.

use std::path::PathBuf;
use std::time::Instant;

use paperfeed_search::Embedder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model_dir, texts_path, rest @ ..] = args.as_slice() else {
        return Err("usage: embed_bench MODEL_DIR TEXTS_JSON [ROUNDS]".into());
    };
    let rounds: usize = rest.first().map(|r| r.parse()).transpose()?.unwrap_or(2);
    let texts: Vec<String> = serde_json::from_slice(&std::fs::read(texts_path)?)?;
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();

    let started = Instant::now();
    let embedder = Embedder::load(&PathBuf::from(model_dir))?;
    println!("load_ms: {:.0}", started.elapsed().as_secs_f64() * 1e3);

    // Warm-up: first-touch of weights and thread pool start-up are not throughput.
    embedder.embed(&texts[..texts.len().min(8)])?;

    let (mut best, mut best_cpu) = (f64::MAX, f64::MAX);
    for _ in 0..rounds.max(1) {
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let vectors = embedder.embed(&texts)?;
        best = best.min(started.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - cpu);
        assert_eq!(vectors.len(), texts.len());
        // EMBED_BENCH_VECTORS=PATH: the vectors as JSON, for the script to compare with
        // sentence-transformers'.
        if let Ok(path) = std::env::var("EMBED_BENCH_VECTORS") {
            std::fs::write(path, serde_json::to_vec(&vectors)?)?;
        }
    }
    println!("docs: {}", texts.len());
    println!("docs_per_s: {:.1}", texts.len() as f64 / best);
    // Per second of CPU over all threads: what a busy machine does not hide.
    println!("docs_per_cpu_s: {:.1}", texts.len() as f64 / best_cpu);

    let query = "vision transformers for image segmentation";
    let mut times: Vec<f64> = (0..50)
        .map(|_| {
            let started = Instant::now();
            embedder
                .embed_query(query)
                .map(|_| started.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    times.sort_by(f64::total_cmp);
    println!("query_ms: {:.2}", times[times.len() / 2]);

    // Query precision against document precision, on the texts' titles (query-like lengths).
    let titles: Vec<&str> = texts
        .iter()
        .map(|t| t.split_once(". ").map_or(*t, |(title, _)| title))
        .collect();
    let exact = embedder.embed(&titles)?;
    let mut cosines = Vec::with_capacity(titles.len());
    for (title, e) in titles.iter().zip(&exact) {
        let q = embedder.embed_query(title)?;
        cosines.push(q.iter().zip(e).map(|(a, b)| a * b).sum::<f32>());
    }
    let min = cosines.iter().copied().fold(f32::INFINITY, f32::min);
    let mean = cosines.iter().sum::<f32>() / cosines.len().max(1) as f32;
    println!("query_precision_cosine_min: {min:.5}");
    println!("query_precision_cosine_mean: {mean:.5}");
    Ok(())
}

/// CPU time this process has used (user + system, all threads), from /proc/self/stat in clock
/// ticks of 10 ms: coarse, so rounds should take seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}
