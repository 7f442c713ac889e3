//! The Rust embedder against sentence-transformers: `tests/fixtures/minilm_reference.json` holds
//! vectors computed once by the Python original (`scripts/make-embedding-fixture.py`) for real
//! abstracts, including ones past the 256-token limit and ones with TeX.
//!
//! Needs the model files: `scripts/fetch-model` puts them in `<workspace>/target/models/`, or set
//! `PAPERFEED_MODEL_DIR`. Without them these tests fail under CI (env `CI` set) and are skipped,
//! loudly, elsewhere.

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::path::{Path, PathBuf};

use paperfeed_search::{EmbedError, Embedder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    text: String,
    vector: Vec<f32>,
}

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PAPERFEED_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/models/all-MiniLM-L6-v2")
        });
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "model not found in {}: CI must run scripts/fetch-model first",
            dir.display()
        );
    }
    eprintln!("\n*** SKIPPED: model not found, run scripts/fetch-model ***\n");
    None
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn references() -> Vec<Reference> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn vectors_match_sentence_transformers_to_cosine_0_999() {
    let Some(dir) = model_dir() else { return };
    let embedder = Embedder::load(&dir).unwrap();
    assert_eq!(embedder.dim(), 384);
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let vectors = embedder.embed(&texts).unwrap();

    let mut min = f32::MAX;
    for (r, v) in refs.iter().zip(&vectors) {
        let c = cosine(&r.vector, v);
        assert!(
            c >= 0.999,
            "cosine {c} for {:?}",
            &r.text[..r.text.len().min(60)]
        );
        min = min.min(c);
    }
    println!("parity: {} texts, minimum cosine {min:.6}", refs.len());
}

#[test]
fn a_batch_gives_the_same_vectors_as_one_text_at_a_time() {
    let Some(dir) = model_dir() else { return };
    let embedder = Embedder::load(&dir).unwrap();
    let refs = references();
    let texts: Vec<&str> = refs.iter().take(6).map(|r| r.text.as_str()).collect();
    let batch = embedder.embed(&texts).unwrap();
    for (text, b) in texts.iter().zip(&batch) {
        let single = embedder.embed(&[text]).unwrap().remove(0);
        let diff = single
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-5, "batch and single differ by {diff}");
    }
}

#[test]
fn empty_input_and_empty_text_embed_without_error() {
    let Some(dir) = model_dir() else { return };
    let embedder = Embedder::load(&dir).unwrap();
    assert!(embedder.embed(&[]).unwrap().is_empty());
    let v = embedder.embed(&["", "  "]).unwrap();
    assert_eq!(v.len(), 2);
    for v in v {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
}

#[test]
fn corrupt_weights_are_an_error_naming_the_file() {
    let Some(dir) = model_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.join(f), tmp.path().join(f)).unwrap();
    }
    // A download cut short: the header promises more data than the file has.
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(tmp.path().join("model.safetensors"), &weights[..4096]).unwrap();
    let err = Embedder::load(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, EmbedError::InvalidFile { path, .. } if path.ends_with("model.safetensors")),
        "{err}"
    );
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    std::fs::remove_file(tmp.path().join("model.safetensors")).unwrap();
    let err = Embedder::load(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, EmbedError::MissingFile { path } if path.ends_with("model.safetensors"))
    );
}
