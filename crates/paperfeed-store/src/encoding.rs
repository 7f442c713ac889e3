//! Encodings both backends share, so a value written by one reads back the same from the
//! other (and `migrate` copies bytes as they are).

use std::collections::HashSet;

use paperfeed_core::ArxivId;

use crate::{PaperVector, StoreError};

/// `ids` without repeats, in the order they first stand: what a batch read looks up.
pub(crate) fn distinct_ids(ids: &[ArxivId]) -> Vec<&str> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter()
        .map(ArxivId::as_str)
        .filter(|id| seen.insert(*id))
        .collect()
}

/// `ids` as a JSON array (repeats dropped, order kept), for SQLite's `json_each`.
#[cfg(feature = "sqlite")]
pub(crate) fn ids_json(ids: &[ArxivId]) -> Result<String, StoreError> {
    serde_json::to_string(&distinct_ids(ids))
        .map_err(|e| StoreError::Corrupt(format!("paper ids as JSON: {e}")))
}

/// Vectors are stored as little-endian f32s.
pub(crate) fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector row (`paper_embeddings`: paper id, text fingerprint, vector bytes) as both
/// backends read it.
pub(crate) fn paper_vector(
    id: &str,
    text_hash: i64,
    bytes: &[u8],
) -> Result<PaperVector, StoreError> {
    Ok(PaperVector {
        id: ArxivId::parse(id)
            .map_err(|e| StoreError::Corrupt(format!("paper_embeddings.paper_id: {e}")))?,
        text_hash,
        vector: vector_from_bytes(bytes)?,
    })
}

fn vector_from_bytes(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(format!(
            "a stored vector has {} bytes, not a multiple of 4",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A random claim token for a digest job: 128 bits from the OS, hex.
pub(crate) fn claim_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::unavailable_from("no randomness for a claim token", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random id for a digest claimer, never reused (unlike a sequence, which a restored backup
/// can wind back): positive and below 2^62, so it is also the claimer's PostgreSQL advisory
/// lock key and reads back unchanged from `pg_locks` (two unsigned 32-bit halves).
pub(crate) fn claimer_id() -> Result<i64, StoreError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::unavailable_from("no randomness for a claimer id", e))?;
    let id = i64::from_le_bytes(bytes) & ((1 << 62) - 1);
    Ok(id.max(1))
}
