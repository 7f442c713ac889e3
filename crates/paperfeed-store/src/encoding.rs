//! Encodings both backends share, so a value written by one reads back the same from the
//! other (and `migrate` copies bytes as they are).

use crate::StoreError;

/// Vectors are stored as little-endian f32s.
pub(crate) fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn vector_from_bytes(bytes: &[u8]) -> Result<Vec<f32>, StoreError> {
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
        .map_err(|e| StoreError::Unavailable(format!("no randomness for a claim token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random id for a digest claimer, never reused (unlike a sequence, which a restored backup
/// can wind back): positive and below 2^62, so it is also the claimer's PostgreSQL advisory
/// lock key and reads back unchanged from `pg_locks` (two unsigned 32-bit halves).
pub(crate) fn claimer_id() -> Result<i64, StoreError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("no randomness for a claimer id: {e}")))?;
    let id = i64::from_le_bytes(bytes) & ((1 << 62) - 1);
    Ok(id.max(1))
}
