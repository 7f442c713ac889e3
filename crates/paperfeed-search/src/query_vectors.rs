//! Query vectors kept between searches: embedding a query costs milliseconds, and the same
//! queries come back (the same search typed again, paged, re-sorted, shared as a link).
//!
//! Keyed by the query text as the model reads it — trimmed, runs of whitespace made one space,
//! lowercased (all-MiniLM-L6-v2 is uncased: its tokenizer lowercases and splits on whitespace,
//! so these texts embed alike) — and bounded twice: at most [`MAX_ENTRIES`] queries and
//! [`MAX_BYTES`] of keys and vectors, least recently used out first. A text longer than
//! [`MAX_KEY_BYTES`] is embedded every time and never kept.

use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;

/// Queries kept at most.
pub const MAX_ENTRIES: usize = 4096;
/// Bytes of keys and vectors kept at most.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Longer query texts are not kept.
pub const MAX_KEY_BYTES: usize = 1024;
/// What an entry costs beyond its key and vector.
const ENTRY_OVERHEAD: usize = 64;

#[derive(Default)]
pub struct QueryVectors {
    inner: Mutex<Kept>,
}

struct Kept {
    vectors: LruCache<String, Arc<[f32]>>,
    bytes: usize,
}

impl Default for Kept {
    fn default() -> Self {
        Self {
            vectors: LruCache::unbounded(),
            bytes: 0,
        }
    }
}

fn cost(key: &str, vector: &[f32]) -> usize {
    key.len() + std::mem::size_of_val(vector) + ENTRY_OVERHEAD
}

/// The cache's key for a query text: what the model reads of it.
pub fn normalise(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(word.chars().flat_map(char::to_lowercase));
    }
    key
}

impl QueryVectors {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The vector of `text`: kept, or made by `embed` and kept.
    pub fn get_or_embed<E>(
        &self,
        text: &str,
        embed: impl FnOnce(&str) -> Result<Vec<f32>, E>,
    ) -> Result<Arc<[f32]>, E> {
        let key = normalise(text);
        if key.len() > MAX_KEY_BYTES {
            return embed(text).map(Arc::from);
        }
        if let Some(found) = self.lock().vectors.get(&key) {
            return Ok(Arc::clone(found));
        }
        // Embedded outside the lock: two searches for one new text may both embed it.
        let vector: Arc<[f32]> = Arc::from(embed(text)?);
        let mut kept = self.lock();
        let size = cost(&key, &vector);
        if let Some(old) = kept.vectors.pop(&key) {
            kept.bytes -= cost(&key, &old);
        }
        while kept.vectors.len() >= MAX_ENTRIES || kept.bytes + size > MAX_BYTES {
            match kept.vectors.pop_lru() {
                Some((k, old)) => kept.bytes -= cost(&k, &old),
                None => break,
            }
        }
        kept.bytes += size;
        kept.vectors.put(key, Arc::clone(&vector));
        Ok(vector)
    }

    /// Queries kept and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let kept = self.lock();
        (kept.vectors.len(), kept.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_the_model_reads_alike_share_one_vector() {
        assert_eq!(
            normalise("  Diffusion\tModels \n for  VIDEO "),
            "diffusion models for video"
        );
        let kept = QueryVectors::default();
        let mut embedded = 0;
        for text in [
            "graph neural networks",
            " Graph  neural NETWORKS",
            "graph neural networks",
        ] {
            let v = kept
                .get_or_embed(text, |t| {
                    embedded += 1;
                    Ok::<_, ()>(vec![t.len() as f32; 384])
                })
                .unwrap();
            assert_eq!(v.len(), 384);
        }
        assert_eq!(embedded, 1, "embedded once");
        assert_eq!(kept.usage().0, 1);
    }

    #[test]
    fn the_cache_stays_within_its_entries_and_bytes_and_keeps_what_is_used() {
        let kept = QueryVectors::default();
        for n in 0..3 * MAX_ENTRIES {
            kept.get_or_embed(&format!("query {n}"), |_| Ok::<_, ()>(vec![0.5; 384]))
                .unwrap();
            // The first query stays in use.
            kept.get_or_embed("query 0", |_| -> Result<Vec<f32>, ()> {
                panic!("query 0 was dropped at {n}")
            })
            .unwrap();
        }
        let (entries, bytes) = kept.usage();
        assert!(
            entries <= MAX_ENTRIES && bytes <= MAX_BYTES,
            "{entries} {bytes}"
        );
        assert!(entries > 1000, "the budget is used: {entries}");
        // A failure is not kept, and a text too long to keep is embedded every time.
        assert!(
            kept.get_or_embed("broken", |_| Err::<Vec<f32>, _>("no"))
                .is_err()
        );
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let mut embedded = 0;
        for _ in 0..2 {
            kept.get_or_embed(&long, |_| {
                embedded += 1;
                Ok::<_, ()>(vec![1.0; 384])
            })
            .unwrap();
        }
        assert_eq!(embedded, 2);
    }
}
