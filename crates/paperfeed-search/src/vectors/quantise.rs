//! How a vector is kept: a sign code (one bit per component: is it above the index's centre?)
//! for the first, coarse pass over every row, and int8 components with one scale per row for
//! scoring the candidates that pass. Pure functions over slices; the loops are written so LLVM
//! vectorises them inside [`super::kernels`].

/// u64 words in the sign code of a `dim`-component vector.
pub(super) fn code_words(dim: usize) -> usize {
    dim.div_ceil(64)
}

/// Bytes of one row of int8 components: the scale (f32, little-endian) then `dim` bytes.
pub(super) fn row_bytes(dim: usize) -> usize {
    4 + dim
}

/// Sets bit `i` of `out` (word `i / 64`, bit `i % 64`) when `v[i] > centre[i]`; padding bits
/// stay clear. Centring first matters: sentence embeddings share a common direction, and
/// without it most bits would be the same for every paper.
pub(super) fn sign_code(v: &[f32], centre: &[f32], out: &mut [u64]) {
    out.iter_mut().for_each(|w| *w = 0);
    for (i, (x, c)) in v.iter().zip(centre).enumerate() {
        if x > c {
            out[i / 64] |= 1 << (i % 64);
        }
    }
}

/// Quantises `v` into `out` (symmetric: `v[i] ≈ scale × out[i]`, `scale = max|v[i]| / 127`)
/// and returns the scale; 0 for a zero vector.
pub(super) fn quantise(v: &[f32], out: &mut [i8]) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        out.iter_mut().for_each(|q| *q = 0);
        return 0.0;
    }
    let inverse = 127.0 / max;
    for (q, x) in out.iter_mut().zip(v) {
        // In range by construction: |x × 127 / max| ≤ 127.
        *q = (x * inverse).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}

/// Writes one row as the rows file keeps it: scale, then the components.
pub(super) fn encode_row(v: &[f32], out: &mut Vec<u8>) {
    let mut q = vec![0i8; v.len()];
    let scale = quantise(v, &mut q);
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend(q.iter().map(|&c| c.to_ne_bytes()[0]));
}

/// The scale and the components of a row written by [`encode_row`].
pub(super) fn split_row(row: &[u8]) -> (f32, &[u8]) {
    let (scale, components) = row.split_at(4);
    let scale = f32::from_le_bytes([scale[0], scale[1], scale[2], scale[3]]);
    (scale, components)
}

/// The row as floats again (within half a step of what was quantised).
pub(super) fn decode_row(row: &[u8]) -> Vec<f32> {
    let (scale, components) = split_row(row);
    components
        .iter()
        .map(|&c| f32::from(i8::from_ne_bytes([c])) * scale)
        .collect()
}

/// `query · row` for a row written by [`encode_row`]: eight independent accumulators so the
/// loop vectorises (a single running float sum cannot be reordered by the compiler).
#[inline(always)]
pub(super) fn dot_row(query: &[f32], row: &[u8]) -> f32 {
    let (scale, components) = split_row(row);
    let mut acc = [0.0f32; 8];
    let n = query.len().min(components.len());
    let (q8, c8) = (query[..n].chunks_exact(8), components[..n].chunks_exact(8));
    let (q_rest, c_rest) = (q8.remainder(), c8.remainder());
    for (q, c) in q8.zip(c8) {
        for lane in 0..8 {
            acc[lane] += q[lane] * f32::from(i8::from_ne_bytes([c[lane]]));
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (q, &c) in q_rest.iter().zip(c_rest) {
        sum += q * f32::from(i8::from_ne_bytes([c]));
    }
    sum * scale
}

/// The number of bits in which two codes differ.
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

/// Codes as stored: little-endian words.
pub(super) fn code_bytes(words: &[u64], out: &mut Vec<u8>) {
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantised_row_decodes_to_within_half_a_step() {
        let v: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
        let mut row = Vec::new();
        encode_row(&v, &mut row);
        assert_eq!(row.len(), row_bytes(v.len()));
        let back = decode_row(&row);
        let step = v.iter().fold(0.0f32, |m, x| m.max(x.abs())) / 127.0;
        for (a, b) in v.iter().zip(&back) {
            assert!((a - b).abs() <= step / 2.0 + 1e-6, "{a} vs {b}");
        }
        let naive: f32 = v.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((dot_row(&v, &row) - naive).abs() < 1e-4);
    }

    #[test]
    fn a_zero_vector_has_scale_zero_and_scores_zero() {
        let mut row = Vec::new();
        encode_row(&[0.0; 9], &mut row);
        assert_eq!(split_row(&row).0, 0.0);
        assert_eq!(dot_row(&[1.0; 9], &row), 0.0);
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
