//! Writes `tests/fixtures/recommend_vectors.json`, the real sentence vectors the recommender's
//! tests rank: every paper of the four Hugging Face fixture days of `paperfeed-ingest`
//! embedded as the indexer embeds them (title and abstract), plus, for the first few, a
//! near-duplicate: the same title with the first two thirds of the abstract (a paper's
//! shortened version, as a re-submission or a workshop version reads).
//!
//! usage: `cargo run --release -p paperfeed-search --example recommend_fixture MODEL_DIR`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use paperfeed_core::{ArxivId, Paper, embedding_text, merge};
use paperfeed_ingest::parse_hf_daily;
use paperfeed_search::Embedder;

/// Papers that get a near-duplicate.
const NEAR_DUPLICATES: usize = 6;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model_dir = std::env::args()
        .nth(1)
        .ok_or("usage: recommend_fixture MODEL_DIR")?;
    let embedder = Embedder::load(&PathBuf::from(model_dir))?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut merged: BTreeMap<ArxivId, Paper> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("../paperfeed-ingest/tests/fixtures"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files {
        let day: Option<NaiveDate> = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok());
        let parsed = parse_hf_daily(&std::fs::read(&path)?, day);
        for record in parsed.records.into_iter().flatten() {
            let paper = merge(merged.get(&record.id), record);
            merged.insert(paper.id.clone(), paper);
        }
    }
    let papers: Vec<Paper> = merged.into_values().collect();
    let mut texts: Vec<String> = papers.iter().map(Paper::embedding_text).collect();
    for paper in papers.iter().take(NEAR_DUPLICATES) {
        let words: Vec<&str> = paper.abstract_text.split_whitespace().collect();
        let shortened = words[..words.len() * 2 / 3].join(" ");
        texts.push(embedding_text(&paper.title, &shortened));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs)?;
    let round = |v: &Vec<f32>| -> Vec<f64> {
        v.iter()
            .map(|x| (f64::from(*x) * 1e5).round() / 1e5)
            .collect()
    };
    let mut out = Vec::new();
    for (i, vector) in vectors.iter().enumerate() {
        let (id, near_duplicate_of) = if i < papers.len() {
            (papers[i].id.to_string(), None)
        } else {
            let of = &papers[i - papers.len()].id;
            (format!("{of}-shortened"), Some(of.to_string()))
        };
        out.push(serde_json::json!({
            "id": id,
            "near_duplicate_of": near_duplicate_of,
            "vector": round(vector),
        }));
    }
    let path = root.join("tests/fixtures/recommend_vectors.json");
    std::fs::write(&path, serde_json::to_string(&out)?)?;
    println!("{} vectors to {}", out.len(), path.display());
    Ok(())
}
