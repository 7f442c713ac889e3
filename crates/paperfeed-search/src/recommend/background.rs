//! What a reader's model is measured against: the hub's papers as a whole. The document
//! frequencies of terms (the IDF) and the mean and spread of the sentence vectors, so that the
//! model learns what sets the reader's papers apart from papers in general rather than what
//! every paper shares. Derived data the app builds at start and refreshes now and then; a
//! reader's model does not depend on it (only the ranking does), so a refresh needs no retraining.

use serde::{Deserialize, Serialize};

use super::TermStats;

/// Ridge added to the vectors' covariance before inverting: keeps directions in which papers
/// barely vary from dominating.
const SHRINKAGE: f32 = 0.1;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Background {
    pub terms: TermStats,
    vectors: VectorStats,
}

/// Mean of the hub's sentence vectors and the inverse of their (shrunk) covariance: the
/// whitening that turns "mean of the reader's papers minus mean of all papers" into a linear
/// discriminant (LDA with one covariance shared by every reader, so training a reader costs a
/// matrix-vector product).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct VectorStats {
    dim: usize,
    mean: Vec<f32>,
    /// Row-major `dim × dim`; empty when there were too few vectors.
    precision: Vec<f32>,
}

impl Background {
    /// From the hub's term statistics and its papers' vectors (all of them, or a sample of a
    /// few tens of thousands: the statistics settle quickly). Vectors of another length than
    /// the first are skipped.
    pub fn new<'a>(terms: TermStats, vectors: impl IntoIterator<Item = &'a [f32]>) -> Self {
        Self {
            terms,
            vectors: VectorStats::from_vectors(vectors),
        }
    }

    /// The dense direction of a reader whose positives average `mean` (and negatives
    /// `negative`): `precision · (mean − negatives or hub mean)`. Without statistics, the plain
    /// difference.
    pub(crate) fn direction(&self, mean: &[f32], against: Option<&[f32]>) -> Vec<f32> {
        let base: Vec<f32> = match against {
            Some(other) if other.len() == mean.len() => other.to_vec(),
            _ if self.vectors.mean.len() == mean.len() => self.vectors.mean.clone(),
            _ => vec![0.0; mean.len()],
        };
        let diff: Vec<f32> = mean.iter().zip(&base).map(|(a, b)| a - b).collect();
        let d = self.vectors.dim;
        if d != mean.len() || self.vectors.precision.len() != d * d {
            return diff;
        }
        (0..d)
            .map(|row| crate::dot(&self.vectors.precision[row * d..(row + 1) * d], &diff))
            .collect()
    }
}

impl VectorStats {
    fn from_vectors<'a>(vectors: impl IntoIterator<Item = &'a [f32]>) -> Self {
        let mut dim = 0;
        let mut n = 0usize;
        let mut sum: Vec<f64> = Vec::new();
        let mut outer: Vec<f64> = Vec::new();
        for v in vectors {
            if dim == 0 {
                dim = v.len();
                sum = vec![0.0; dim];
                outer = vec![0.0; dim * dim];
            }
            if v.len() != dim || dim == 0 {
                continue;
            }
            n += 1;
            for i in 0..dim {
                let vi = f64::from(v[i]);
                sum[i] += vi;
                let row = &mut outer[i * dim..(i + 1) * dim];
                for j in 0..=i {
                    row[j] += vi * f64::from(v[j]);
                }
            }
        }
        if n == 0 {
            return Self::default();
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        let precision = if n > dim {
            // Covariance (lower triangle filled above), shrunk towards its average variance.
            let mut cov = vec![0.0f64; dim * dim];
            for i in 0..dim {
                for j in 0..=i {
                    let c = outer[i * dim + j] / n as f64 - mean[i] * mean[j];
                    cov[i * dim + j] = c;
                    cov[j * dim + i] = c;
                }
            }
            let average_variance = (0..dim).map(|i| cov[i * dim + i]).sum::<f64>() / dim as f64;
            for i in 0..dim {
                cov[i * dim + i] += f64::from(SHRINKAGE) * average_variance.max(1e-12);
            }
            invert_spd(&cov, dim)
                .map(|p| p.into_iter().map(|x| x as f32).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Self {
            dim,
            mean: mean.into_iter().map(|x| x as f32).collect(),
            precision,
        }
    }
}

/// Inverse of a symmetric positive definite matrix by Cholesky; `None` when it is not.
fn invert_spd(a: &[f64], n: usize) -> Option<Vec<f64>> {
    // a = L Lᵀ
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    // L⁻¹ (lower triangular), then a⁻¹ = L⁻ᵀ L⁻¹.
    let mut inv_l = vec![0.0f64; n * n];
    for i in 0..n {
        inv_l[i * n + i] = 1.0 / l[i * n + i];
        for j in 0..i {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * n + k] * inv_l[k * n + j];
            }
            inv_l[i * n + j] = s / l[i * n + i];
        }
    }
    let mut inv = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = 0.0;
            for k in i..n {
                s += inv_l[k * n + i] * inv_l[k * n + j];
            }
            inv[i * n + j] = s;
            inv[j * n + i] = s;
        }
    }
    Some(inv)
}
