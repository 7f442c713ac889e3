//! Sentence embeddings: `sentence-transformers/all-MiniLM-L6-v2` run in Rust on candle.
//!
//! The model is a 6-layer BERT; a text's vector is the mean of its last hidden states over the
//! real (unpadded) tokens, L2-normalised, exactly as sentence-transformers computes it, so the
//! vectors match the Python reference (see `tests/embedding_parity.rs`).
//!
//! This module reads model files from a directory it is given; it never downloads anything
//! (the binary fetches the model from the Hugging Face Hub into its cache).
//! [`locate_model`] knows the usual places to look.

mod bert;
mod kernels;
mod matmul;

use std::path::{Path, PathBuf};

use candle_core::Device;
use tokenizers::{
    PaddingParams, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use bert::{Bert, Config, Precision};

/// The model this module runs; also the folder name it is looked up under.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The Hugging Face repository of the model, for the cache layout.
pub const HF_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The files read from a model directory. Everything else the directory may hold (pooling
/// config, vocab.txt, ...) is only for sentence-transformers.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// sentence-transformers' `max_seq_length` for this model (`sentence_bert_config.json`).
/// The tokenizer.json shipped with the model says 128 (its fixed padding and truncation);
/// sentence-transformers overrides it to 256 and we must do the same to match its vectors.
pub const MAX_TOKENS: usize = 256;

/// Token budget of one forward pass (texts × padded length). Texts are sorted by length before
/// batching, so a batch pads only to its own longest text; the budget keeps the activations of a
/// batch (the largest is tokens × 1536 floats) a few MB, in cache and off the page-fault path,
/// while leaving the matrix products a thousand rows to be efficient on.
/// (1024 measured a little faster than 2048–8192 on the 2-core machine.)
const BATCH_TOKENS: usize = 1024;

/// Why the model could not be loaded or run. Loading errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("model file {} is missing", path.display())]
    MissingFile { path: PathBuf },
    #[error("cannot read model file {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model file {} is not valid: {reason}", path.display())]
    InvalidFile { path: PathBuf, reason: String },
    #[error("tokenizing failed: {reason}")]
    Tokenize { reason: String },
    #[error("running the model failed: {source}")]
    Inference {
        #[from]
        source: candle_core::Error,
    },
}

/// No complete model directory was found; lists every place looked at and why each failed.
#[derive(Debug, thiserror::Error)]
#[error("model {MODEL_NAME} not found; looked in: {}", tried_list(.tried))]
pub struct ModelNotFound {
    /// Each directory tried, in order, with the reason it was not used.
    pub tried: Vec<(PathBuf, String)>,
}

fn tried_list(tried: &[(PathBuf, String)]) -> String {
    if tried.is_empty() {
        return "nowhere".to_owned();
    }
    tried
        .iter()
        .map(|(dir, why)| format!("{} ({why})", dir.display()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Finds a directory holding the model's files. Tries, in order:
/// 1. `configured` (the binary passes `search.model_dir` / `PAPERFEED_MODEL_DIR`);
/// 2. `<data_dir>/models/all-MiniLM-L6-v2`;
/// 3. the Hugging Face hub cache `hub` (the binary resolves `$HF_HUB_CACHE`, `$HF_HOME/hub` or
///    `~/.cache/huggingface/hub`; `None`: no cache to look in):
///    `models--sentence-transformers--all-MiniLM-L6-v2/snapshots/*`, the snapshot `refs/main`
///    names first.
pub fn locate_model(
    configured: Option<&Path>,
    data_dir: &Path,
    hub: Option<&Path>,
) -> Result<PathBuf, ModelNotFound> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = configured {
        candidates.push(dir.to_path_buf());
    }
    candidates.push(data_dir.join("models").join(MODEL_NAME));
    let mut tried = Vec::new();
    for dir in candidates {
        match missing_file(&dir) {
            None => return Ok(dir),
            Some(why) => tried.push((dir, why)),
        }
    }
    match hub {
        Some(hub) => {
            let repo = hub.join(format!("models--{}", HF_REPO.replace('/', "--")));
            let snapshots = hf_snapshots(&repo);
            if snapshots.is_empty() {
                tried.push((repo.join("snapshots"), "no snapshot".to_owned()));
            }
            for dir in snapshots {
                match missing_file(&dir) {
                    None => return Ok(dir),
                    Some(why) => tried.push((dir, why)),
                }
            }
        }
        None => tried.push((
            PathBuf::from("~/.cache/huggingface/hub"),
            "no Hugging Face cache directory (HF_HUB_CACHE, HF_HOME or HOME unset)".to_owned(),
        )),
    }
    Err(ModelNotFound { tried })
}

/// `None` when `dir` holds every model file, else what is wrong.
fn missing_file(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return Some("no such directory".to_owned());
    }
    MODEL_FILES
        .iter()
        .find(|f| !dir.join(f).is_file())
        .map(|f| format!("no {f}"))
}

/// The snapshot directories of one cached repo: the one `refs/main` points at first, then the
/// others in name order (stable across runs).
fn hf_snapshots(repo: &Path) -> Vec<PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join("snapshots"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if let Ok(main) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let main = main.trim();
        if let Some(pos) = names.iter().position(|n| n == main) {
            let name = names.remove(pos);
            names.insert(0, name);
        }
    }
    names
        .into_iter()
        .map(|n| repo.join("snapshots").join(n))
        .collect()
}

/// all-MiniLM-L6-v2 loaded and ready to embed. Cheap to share behind an `Arc`: `embed` takes
/// `&self`.
pub struct Embedder {
    model: Bert,
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &MODEL_NAME)
            .field("dim", &self.model.hidden())
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from `dir`, which must hold [`MODEL_FILES`].
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        let config_path = dir.join("config.json");
        let config: Config = serde_json::from_slice(&read_file(&config_path)?).map_err(|e| {
            EmbedError::InvalidFile {
                path: config_path.clone(),
                reason: e.to_string(),
            }
        })?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_bytes(read_file(&tokenizer_path)?).map_err(|e| {
            EmbedError::InvalidFile {
                path: tokenizer_path.clone(),
                reason: e.to_string(),
            }
        })?;
        // The file pads and truncates every text to a fixed 128 tokens; sentence-transformers
        // truncates at 256 and pads nothing itself (we pad per batch below).
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| EmbedError::InvalidFile {
                path: tokenizer_path.clone(),
                reason: e.to_string(),
            })?;
        tokenizer.with_padding(None::<PaddingParams>);

        if config.max_position_embeddings < MAX_TOKENS {
            return Err(EmbedError::InvalidFile {
                path: config_path,
                reason: format!(
                    "max_position_embeddings {} is below the {MAX_TOKENS} tokens embedded",
                    config.max_position_embeddings
                ),
            });
        }

        let weights_path = dir.join("model.safetensors");
        let weights = read_file(&weights_path)?;
        let invalid_weights = |reason: String| EmbedError::InvalidFile {
            path: weights_path.clone(),
            reason,
        };
        let tensors = candle_core::safetensors::load_buffer(&weights, &Device::Cpu)
            .map_err(|e| invalid_weights(e.to_string()))?;
        drop(weights);
        let model = Bert::new(&config, tensors).map_err(invalid_weights)?;
        if tokenizer.get_vocab_size(true) > model.vocab() {
            return Err(EmbedError::InvalidFile {
                path: tokenizer_path,
                reason: format!(
                    "vocabulary of {} tokens, the model has {}",
                    tokenizer.get_vocab_size(true),
                    model.vocab()
                ),
            });
        }
        Ok(Embedder { model, tokenizer })
    }

    /// Length of every vector (384 for this model).
    pub fn dim(&self) -> usize {
        self.model.hidden()
    }

    /// One unit-length vector per text, in the order given. Texts longer than [`MAX_TOKENS`]
    /// tokens are embedded from their start, like sentence-transformers does.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_at(texts, Precision::Document)
    }

    /// The vector of a search query: as [`Embedder::embed`] but with every matrix product in
    /// 8 bits where the CPU has AVX-512 VNNI, about three times cheaper. Close to the
    /// document-precision vector (cosine about 0.997), not interchangeable with stored ones.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        Ok(self
            .embed_at(&[text], Precision::Query)?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    fn embed_at(&self, texts: &[&str], precision: Precision) -> Result<Vec<Vec<f32>>, EmbedError> {
        // sentence-transformers strips each text before tokenizing.
        let inputs: Vec<&str> = texts.iter().map(|t| t.trim()).collect();
        let tokenized = match inputs.as_slice() {
            // A search query: `encode_batch` would hand it to rayon's pool and wait.
            [one] => self.tokenizer.encode(*one, true).map(|e| vec![e]),
            _ => self.tokenizer.encode_batch(inputs, true),
        };
        let encodings = tokenized.map_err(|e| EmbedError::Tokenize {
            reason: e.to_string(),
        })?;

        // Longest first, so each batch pads to a length close to all of its members'.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));

        let mut out = vec![Vec::new(); encodings.len()];
        let mut rest = &order[..];
        while !rest.is_empty() {
            // Sorted longest first: the first text sets the padded length of the batch.
            let longest = encodings[rest[0]].get_ids().len().max(1);
            let take = (BATCH_TOKENS / longest).clamp(1, rest.len());
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].get_ids()).collect();
            for ids in &batch {
                if ids.len() > self.model.max_positions() {
                    return Err(EmbedError::Tokenize {
                        reason: format!("{} tokens after truncation", ids.len()),
                    });
                }
                if let Some(id) = ids.iter().find(|&&id| id as usize >= self.model.vocab()) {
                    return Err(EmbedError::Tokenize {
                        reason: format!("token id {id} outside the model's vocabulary"),
                    });
                }
            }
            let vectors = self.model.embed(&batch, precision)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            EmbedError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            EmbedError::ReadFile {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_model_files(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for f in MODEL_FILES {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
    }

    #[test]
    fn locate_model_prefers_the_configured_dir_then_the_data_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let configured = tmp.path().join("configured");
        let data = tmp.path().join("data");
        write_model_files(&data.join("models").join(MODEL_NAME));
        assert_eq!(
            locate_model(None, &data, None).unwrap(),
            data.join("models").join(MODEL_NAME)
        );
        write_model_files(&configured);
        assert_eq!(
            locate_model(Some(&configured), &data, None).unwrap(),
            configured
        );
    }

    #[test]
    fn locate_model_finds_the_hugging_face_cache_snapshot_that_refs_main_names() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp
            .path()
            .join("models--sentence-transformers--all-MiniLM-L6-v2");
        write_model_files(&repo.join("snapshots/aaa"));
        write_model_files(&repo.join("snapshots/bbb"));
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "bbb\n").unwrap();
        let found = locate_model(None, &tmp.path().join("data"), Some(tmp.path())).unwrap();
        assert_eq!(found, repo.join("snapshots/bbb"));
    }

    #[test]
    fn model_not_found_lists_every_place_and_why() {
        let tmp = tempfile::tempdir().unwrap();
        let configured = tmp.path().join("configured");
        std::fs::create_dir_all(&configured).unwrap();
        std::fs::write(configured.join("config.json"), "{}").unwrap();
        let err = locate_model(Some(&configured), tmp.path(), Some(tmp.path())).unwrap_err();
        assert_eq!(err.tried.len(), 3, "{err}");
        let message = err.to_string();
        assert!(
            message.contains("configured (no tokenizer.json)"),
            "{message}"
        );
        assert!(
            message.contains("all-MiniLM-L6-v2 (no such directory)"),
            "{message}"
        );
        assert!(message.contains("snapshots (no snapshot)"), "{message}");
    }

    #[test]
    fn loading_an_empty_dir_names_the_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Embedder::load(tmp.path()).unwrap_err();
        assert!(matches!(&err, EmbedError::MissingFile { path } if path.ends_with("config.json")));
        assert!(err.to_string().contains("config.json is missing"), "{err}");
    }

    #[test]
    fn a_corrupt_config_or_tokenizer_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.json"), "{not json").unwrap();
        let err = Embedder::load(tmp.path()).unwrap_err();
        assert!(
            matches!(&err, EmbedError::InvalidFile { path, .. } if path.ends_with("config.json")),
            "{err}"
        );

        let config = r#"{"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
            "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu",
            "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12}"#;
        std::fs::write(tmp.path().join("config.json"), config).unwrap();
        std::fs::write(tmp.path().join("tokenizer.json"), "[1, 2").unwrap();
        let err = Embedder::load(tmp.path()).unwrap_err();
        assert!(
            matches!(&err, EmbedError::InvalidFile { path, .. } if path.ends_with("tokenizer.json")),
            "{err}"
        );
    }
}
