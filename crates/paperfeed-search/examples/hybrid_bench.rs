//! Hybrid search at scale: a 100 000-paper corpus synthesised from the real Hugging Face papers
//! (see `corpus/mod.rs`), its keyword index, a vector per paper, and hybrid queries timed end to
//! end: parsing, embedding the query with all-MiniLM-L6-v2, the keyword search, the vector
//! search (sign codes then exact scoring above the exact limit) and the fusion. Also prints this process's memory with
//! everything loaded: what `serve` holds for search at that size.
//!
//! usage: `cargo run --release -p paperfeed-search --example hybrid_bench MODEL_DIR [PAPERS]
//! [QUERIES] [REAL_VECTORS]` (defaults 100 000 papers, 300 queries, 600 real papers embedded).
//!
//! Vectors: embedding 100 000 abstracts takes hours on two cores, so REAL_VECTORS real papers are
//! embedded with the model, and each synthetic paper gets the normalised sum of the vectors of
//! the real papers its title was cut from (a real one picked at random when those were not
//! embedded) plus a little seeded noise: vectors spread like real ones, with neighbours, and
//! all different.

mod corpus;

use std::path::PathBuf;
use std::time::Instant;

use corpus::{
    Error, Rng, load_average, parse, percentile, queries, real_papers, rss_mb, synthesise_traced,
};
use paperfeed_core::ArxivId;
use paperfeed_search::{DEFAULT_EXACT_LIMIT, Embedder, KeywordIndex, SearchEngine, SearchMode};

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let Some(model_dir) = args.get(1).map(PathBuf::from) else {
        return Err("usage: hybrid_bench MODEL_DIR [PAPERS] [QUERIES] [REAL_VECTORS]".into());
    };
    let arg = |i: usize, default: usize| -> Result<usize, Error> {
        Ok(args
            .get(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let papers = arg(2, 100_000)?;
    let query_count = arg(3, 300)?;
    let real_vectors = arg(4, 600)?;

    let real = real_papers()?;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let corpus = synthesise_traced(&real, papers, &mut rng)?;
    println!(
        "corpus: {} papers synthesised from {} real ones",
        corpus.len(),
        real.len()
    );

    let embedder = Embedder::load(&model_dir)?;
    let started = Instant::now();
    let sample: Vec<String> = real
        .iter()
        .take(real_vectors)
        .map(|p| p.embedding_text())
        .collect();
    let refs: Vec<&str> = sample.iter().map(String::as_str).collect();
    let real_vecs = embedder.embed(&refs)?;
    println!(
        "embedded {} real papers in {:.1} s ({:.1} docs/s)",
        real_vecs.len(),
        started.elapsed().as_secs_f64(),
        real_vecs.len() as f64 / started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut keyword = KeywordIndex::in_memory()?;
    for (batch, chunk) in (1..).zip(corpus.chunks(5_000)) {
        let papers: Vec<_> = chunk.iter().map(|s| s.paper.clone()).collect();
        keyword.upsert(&papers)?;
        keyword.commit(batch)?;
    }
    keyword.compact()?;
    println!("keyword index: {:.1} s", started.elapsed().as_secs_f64());

    let mut noise = Rng(0x9E37_79B9_7F4A_7C15);
    let vectors: Vec<(ArxivId, Vec<f32>)> = corpus
        .iter()
        .map(|s| {
            let of = |i: usize, rng: &mut Rng| -> &Vec<f32> {
                real_vecs
                    .get(i)
                    .unwrap_or_else(|| &real_vecs[rng.below(real_vecs.len())])
            };
            let (a, b) = (of(s.head, &mut noise), of(s.tail, &mut noise));
            let v = a
                .iter()
                .zip(b)
                .map(|(x, y)| x + y + ((noise.next() % 2001) as f32 - 1000.0) * 2e-5)
                .collect();
            (s.paper.id.clone(), normalised(v))
        })
        .collect();
    let texts: Vec<String> = queries(
        &corpus.iter().map(|s| s.paper.clone()).collect::<Vec<_>>(),
        query_count,
        &mut rng,
    )
    .into_iter()
    .map(|(_, q)| q)
    .collect();
    drop(corpus);

    let engine = SearchEngine::new(keyword, Ok(embedder), DEFAULT_EXACT_LIMIT);
    let started = Instant::now();
    engine.add_vectors(vectors);
    let status = engine.status();
    println!(
        "vector index: {} vectors, approximate (sign codes): {}, built in {:.1} s",
        status.vectors,
        status.approximate_vectors,
        started.elapsed().as_secs_f64()
    );
    let (rss, peak) = rss_mb();
    println!("memory with index, vectors and model loaded: RSS {rss:.0} MB (peak {peak:.0} MB)");

    println!(
        "load average (1 min) before the queries: {}",
        load_average()
    );
    for text in texts.iter().take(20) {
        engine.search(&parse(text), SearchMode::Hybrid)?;
    }
    let mut times = Vec::with_capacity(texts.len());
    let mut fused = 0usize;
    for text in &texts {
        let started = Instant::now();
        let results = engine.search(&parse(text), SearchMode::Hybrid)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        fused += usize::from(results.mode == SearchMode::Hybrid);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "hybrid queries: {} ({} fused; sorted or filter-only ones list keyword matches)",
        times.len(),
        fused
    );
    println!(
        "hybrid latency ms (query embedding included): p50 {:.2}  p90 {:.2}  p99 {:.2}",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99)
    );
    Ok(())
}
