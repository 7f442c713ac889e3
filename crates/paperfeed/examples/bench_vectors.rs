//! Stand-in sentence vectors for benchmarks (`scripts/bench-recommend`): computing real
//! all-MiniLM-L6-v2 vectors for 100 000 papers takes hours on a small machine, and a speed
//! benchmark needs vectors of the right length and some structure, not their meaning. Each
//! paper without a vector gets a random projection of its words (384 dimensions, unit length):
//! papers sharing words get similar vectors. Stored as the model's vectors, for the current text.
//!
//! usage: cargo run --release --example bench_vectors -- DATA_DIR

use std::path::PathBuf;

use paperfeed_search::MODEL_NAME;
use paperfeed_store::{PaperVector, SqliteStore, Store};

const DIM: usize = 384;
const BATCH: usize = 5000;

/// SplitMix64: the word's hash spread over the dimensions.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn projection(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; DIM];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let mut state = paperfeed_core::fingerprint(&word.to_lowercase()) as u64;
        for x in v.iter_mut() {
            *x += if next(&mut state) & 1 == 0 { 1.0 } else { -1.0 };
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: bench_vectors DATA_DIR"))?;
    let store = SqliteStore::open(&dir.join("paperfeed.sqlite3"))?;
    let mut done = 0;
    loop {
        let jobs = store.embedding_backlog(MODEL_NAME, BATCH).await?;
        if jobs.is_empty() {
            break;
        }
        let vectors: Vec<PaperVector> = jobs
            .into_iter()
            .map(|job| PaperVector {
                vector: projection(&job.text),
                id: job.id,
                text_hash: job.text_hash,
            })
            .collect();
        done += vectors.len();
        store.put_embeddings(MODEL_NAME, vectors).await?;
    }
    println!("{done} stand-in vectors stored");
    Ok(())
}
