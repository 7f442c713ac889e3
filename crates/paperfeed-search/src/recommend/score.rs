//! How [`super::recommend`] scores: a cheap linear pass over every candidate, then the nearest
//! examples and diversity on a shortlist. The constants were tuned on the simulated readers of
//! `paperfeed eval --recommend` (see README).

use std::collections::{HashMap, HashSet};

use paperfeed_core::ArxivId;

use super::rank::{Candidate, MAX_NEAREST, Nearest, Pick, RECENCY_WEIGHT, RankSettings, Term};
use super::{Background, Example, ReaderModel, Source};
use crate::dot;

/// Weights of the relevance parts, each standardised over the candidates first.
const DENSE_WEIGHT: f32 = 1.0;
const TERMS_WEIGHT: f32 = 1.0;
const NEAREST_WEIGHT: f32 = 1.0;
/// Examples averaged for the nearest-examples part (a reader with several interests is close to
/// a few of their papers, not to their mean).
const NEAREST_K: usize = 3;
/// A candidate this close to a "not interested" paper (cosine) starts to lose; each 0.1 above
/// costs `NEGATIVE_SCALE / 10` standard deviations.
const NEGATIVE_FLOOR: f32 = 0.35;
const NEGATIVE_SCALE: f32 = 10.0;
/// Candidates the second pass looks at: at least this many, and ten per asked pick.
const SHORTLIST: usize = 300;
/// How much closeness to an earlier pick costs (standard deviations per unit of cosine), and
/// how much more with full exploration.
const DIVERSITY: f32 = 1.5;
const EXPLORATION_DIVERSITY: f32 = 1.5;
/// Standard deviations of noise at full exploration.
const EXPLORATION_NOISE: f32 = 1.5;
/// Half-life of the recency term when the reader set no window.
const DEFAULT_HALF_LIFE_DAYS: f32 = 30.0;

struct Scored {
    index: usize,
    linear: f32,
    social: f32,
    recency: f32,
    noise: f32,
}

pub(super) fn rank(
    model: &ReaderModel,
    background: &Background,
    candidates: &[Candidate<'_>],
    exclude: &HashSet<ArxivId>,
    settings: &RankSettings,
) -> Vec<Pick> {
    if !model.has_positives() || settings.limit == 0 {
        return Vec::new();
    }
    let own: HashSet<&ArxivId> = model
        .examples()
        .iter()
        .filter_map(|e| match &e.source {
            Source::Paper(id) => Some(id),
            Source::Named { .. } => None,
        })
        .collect();
    let earliest = settings
        .recency_window_days
        .map(|days| settings.today - chrono::Days::new(u64::from(days)));
    let eligible: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let c = &candidates[i];
            !exclude.contains(c.id)
                && !own.contains(c.id)
                && match (earliest, c.date) {
                    (Some(first), Some(date)) => date >= first,
                    (Some(_), None) => false,
                    (None, _) => true,
                }
        })
        .collect();
    if eligible.is_empty() {
        return Vec::new();
    }

    // The linear part: the whitened direction of the positives' mean vector, and their mean
    // terms.
    let direction = model.dense_mean().map(|mean| {
        let mut w = background.direction(&mean, None);
        let norm = dot(&w, &w).sqrt();
        if norm > 0.0 {
            w.iter_mut().for_each(|x| *x /= norm);
        }
        w
    });
    let terms: HashMap<u32, f32> = model.term_mean().into_iter().collect();
    let mut dense = Vec::with_capacity(eligible.len());
    let mut sparse = Vec::with_capacity(eligible.len());
    let mut social = Vec::with_capacity(eligible.len());
    for &i in &eligible {
        let c = &candidates[i];
        dense.push(match &direction {
            Some(w) if w.len() == c.vector.len() => dot(w, c.vector),
            _ => 0.0,
        });
        sparse.push(
            c.terms
                .entries()
                .iter()
                .map(|(b, x)| terms.get(b).map_or(0.0, |w| w * x))
                .sum::<f32>(),
        );
        social.push((c.popularity.max(0.0).ln_1p()) as f32);
    }
    standardise(&mut dense);
    standardise(&mut sparse);
    standardise(&mut social);

    let half_life = settings
        .recency_window_days
        .map_or(DEFAULT_HALF_LIFE_DAYS, |d| (d as f32 / 2.0).max(1.0));
    let social_weight = settings.social_weight.clamp(0.0, 1.0);
    let exploration = settings.exploration.clamp(0.0, 1.0);
    let mut scored: Vec<Scored> = eligible
        .iter()
        .enumerate()
        .map(|(k, &index)| {
            let recency = candidates[index].date.map_or(0.0, |date| {
                let age = (settings.today - date).num_days().max(0) as f32;
                0.5f32.powf(age / half_life)
            });
            Scored {
                index,
                linear: DENSE_WEIGHT * dense[k] + TERMS_WEIGHT * sparse[k],
                social: social[k],
                recency,
                noise: if exploration > 0.0 {
                    EXPLORATION_NOISE * exploration * noise(settings.seed, candidates[index].id)
                } else {
                    0.0
                },
            }
        })
        .collect();
    let base =
        |s: &Scored| s.linear + social_weight * s.social + RECENCY_WEIGHT * s.recency + s.noise;
    let shortlist = SHORTLIST
        .max(settings.limit.saturating_mul(10))
        .min(scored.len());
    if shortlist < scored.len() {
        scored.select_nth_unstable_by(shortlist - 1, |a, b| base(b).total_cmp(&base(a)));
        scored.truncate(shortlist);
    }

    // The second pass: nearest positives and negatives of each shortlisted candidate.
    let positives: Vec<&Example> = model
        .examples()
        .iter()
        .filter(|e| !e.kind.is_negative())
        .collect();
    let negatives: Vec<&Example> = model
        .examples()
        .iter()
        .filter(|e| e.kind.is_negative())
        .collect();
    let mut nearest_parts = Vec::with_capacity(scored.len());
    let mut explanations = Vec::with_capacity(scored.len());
    let mut penalties = Vec::with_capacity(scored.len());
    for s in &scored {
        let c = &candidates[s.index];
        let mut sims: Vec<(f32, &Example)> =
            positives.iter().map(|e| (similarity(e, c), *e)).collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0));
        let k = NEAREST_K.min(sims.len()).max(1);
        let part = sims
            .iter()
            .take(k)
            .map(|(sim, e)| sim * e.kind.weight())
            .sum::<f32>()
            / k as f32;
        nearest_parts.push(part);
        explanations.push(
            sims.iter()
                .take(MAX_NEAREST)
                .map(|(sim, e)| Nearest {
                    source: e.source.clone(),
                    kind: e.kind,
                    similarity: *sim,
                })
                .collect::<Vec<_>>(),
        );
        let closest_negative = negatives
            .iter()
            .map(|e| similarity(e, c))
            .fold(f32::NEG_INFINITY, f32::max);
        penalties.push(NEGATIVE_SCALE * (closest_negative - NEGATIVE_FLOOR).max(0.0));
    }
    standardise(&mut nearest_parts);

    let mut picks: Vec<(Pick, usize)> = scored
        .iter()
        .zip(nearest_parts)
        .zip(explanations)
        .zip(penalties)
        .map(|(((s, near), nearest), penalty)| {
            let model_score = s.linear + NEAREST_WEIGHT * near - penalty;
            let score =
                model_score + social_weight * s.social + RECENCY_WEIGHT * s.recency + s.noise;
            (
                Pick {
                    id: candidates[s.index].id.clone(),
                    score,
                    model: model_score,
                    social: Term {
                        value: s.social,
                        weight: social_weight,
                    },
                    recency: Term {
                        value: s.recency,
                        weight: RECENCY_WEIGHT,
                    },
                    exploration: s.noise,
                    nearest,
                },
                s.index,
            )
        })
        .collect();
    picks.sort_by(|a, b| {
        b.0.score
            .total_cmp(&a.0.score)
            .then_with(|| a.0.id.cmp(&b.0.id))
    });
    diversify(
        picks,
        candidates,
        settings.limit,
        DIVERSITY + EXPLORATION_DIVERSITY * exploration,
    )
}

/// Maximal marginal relevance: repeatedly takes the pick whose score, less `diversity` times
/// its closeness to the closest pick already taken, is highest.
fn diversify(
    ranked: Vec<(Pick, usize)>,
    candidates: &[Candidate<'_>],
    limit: usize,
    diversity: f32,
) -> Vec<Pick> {
    let mut left = ranked;
    let mut closest = vec![f32::NEG_INFINITY; left.len()];
    let mut taken = Vec::with_capacity(limit.min(left.len()));
    while taken.len() < limit && !left.is_empty() {
        let best = (0..left.len())
            .max_by(|&a, &b| {
                let value = |i: usize| left[i].0.score - diversity * closest[i].max(0.0);
                value(a)
                    .total_cmp(&value(b))
                    .then_with(|| left[b].0.id.cmp(&left[a].0.id))
            })
            .unwrap_or(0);
        let (pick, index) = left.swap_remove(best);
        closest.swap_remove(best);
        let chosen = candidates[index].vector;
        for (i, (_, other)) in left.iter().enumerate() {
            let v = candidates[*other].vector;
            if v.len() == chosen.len() {
                closest[i] = closest[i].max(dot(v, chosen));
            }
        }
        taken.push(pick);
    }
    taken
}

/// Cosine similarity of an example and a candidate: their sentence vectors when both have one,
/// else their terms.
fn similarity(example: &Example, candidate: &Candidate<'_>) -> f32 {
    match &example.vector {
        Some(v) if v.len() == candidate.vector.len() => dot(v, candidate.vector),
        _ => example.terms.dot(candidate.terms),
    }
}

/// In place: minus the mean, over the standard deviation (left centred when all are equal).
fn standardise(values: &mut [f32]) {
    if values.is_empty() {
        return;
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let sd = var.sqrt();
    values
        .iter_mut()
        .for_each(|v| *v = if sd > 1e-9 { (*v - mean) / sd } else { 0.0 });
}

/// Deterministic noise in [-1, 1) from the seed and the paper (SplitMix64 over FNV of the id).
fn noise(seed: u64, id: &ArxivId) -> f32 {
    let mut h = paperfeed_core::fingerprint(id.as_str()) as u64 ^ seed;
    h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    ((h >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}
