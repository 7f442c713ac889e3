//! How a vector is kept: a sign code (one bit per component: is it above the index's centre?)
//! for the passes over every row, and the components as half floats (IEEE binary16: 11
//! significant bits, so scores differ from float ones by about 1e-5, far below the gaps between
//! neighbours) for scoring the few thousand candidates. Pure functions over slices.

use half::f16;
use half::slice::{HalfBitsSliceExt as _, HalfFloatSliceExt as _};

/// u64 words in the sign code of a `dim`-component vector.
pub(super) fn code_words(dim: usize) -> usize {
    dim.div_ceil(64)
}

/// Bytes of one row of half floats.
pub(super) fn row_bytes(dim: usize) -> usize {
    2 * dim
}

/// Sets bit `i` of `out` (word `i / 64`, bit `i % 64`) when `v[i] > centre[i]`; padding bits
/// stay clear. Centring matters: sentence embeddings share a common direction, and without it
/// many bits would be nearly the same for every paper.
pub(super) fn sign_code(v: &[f32], centre: &[f32], out: &mut [u64]) {
    out.iter_mut().for_each(|w| *w = 0);
    for (i, (x, c)) in v.iter().zip(centre).enumerate() {
        if x > c {
            out[i / 64] |= 1 << (i % 64);
        }
    }
}

/// Codes as stored: little-endian words.
pub(super) fn code_bytes(words: &[u64], out: &mut Vec<u8>) {
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// The number of bits in which a code of `W` words differs from a stored one.
#[inline(always)]
pub(super) fn hamming<const W: usize>(a: &[u64; W], b: &[u8]) -> u32 {
    let mut d = 0;
    for (w, bytes) in a.iter().zip(b.chunks_exact(8)) {
        let word = u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]);
        d += (w ^ word).count_ones();
    }
    d
}

/// Writes one row as stored: each component as a little-endian half float.
pub(super) fn encode_row(v: &[f32], out: &mut Vec<u8>) {
    let mut halves = vec![f16::ZERO; v.len()];
    halves.convert_from_f32_slice(v);
    for h in halves {
        out.extend_from_slice(&h.to_le_bytes());
    }
}

/// Turns stored rows back into floats, reusing its buffers (one per thread).
#[derive(Debug, Default)]
pub(super) struct Decoder {
    bits: Vec<u16>,
    floats: Vec<f32>,
}

impl Decoder {
    /// The components of a row written by [`encode_row`].
    pub(super) fn decode(&mut self, row: &[u8]) -> &[f32] {
        self.bits.clear();
        self.bits.extend(
            row.chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]])),
        );
        self.floats.resize(self.bits.len(), 0.0);
        self.bits
            .reinterpret_cast::<f16>()
            .convert_to_f32_slice(&mut self.floats);
        &self.floats
    }
}

/// The components of a row written by [`encode_row`].
pub(super) fn decode_row(row: &[u8]) -> Vec<f32> {
    Decoder::default().decode(row).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_row_decodes_to_within_a_half_floats_precision() {
        let v: Vec<f32> = (0..37)
            .map(|i| ((i * 7919) % 101) as f32 / 500.0 - 0.1)
            .collect();
        let mut row = Vec::new();
        encode_row(&v, &mut row);
        assert_eq!(row.len(), row_bytes(v.len()));
        for (a, b) in v.iter().zip(decode_row(&row)) {
            assert!((a - b).abs() <= a.abs() / 1024.0 + 1e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn sign_codes_count_the_components_on_the_other_side_of_the_centre() {
        let centre = vec![0.1f32; 70];
        let a: Vec<f32> = (0..70).map(|i| if i < 35 { 1.0 } else { -1.0 }).collect();
        let mut b = a.clone();
        b[0] = -1.0;
        b[69] = 1.0;
        let (mut ca, mut cb) = ([0u64; 2], [0u64; 2]);
        sign_code(&a, &centre, &mut ca);
        sign_code(&b, &centre, &mut cb);
        let mut stored = Vec::new();
        code_bytes(&cb, &mut stored);
        assert_eq!(hamming(&ca, &stored), 2);
        assert_eq!(ca[1] >> 6, 0, "padding bits stay clear");
    }
}
