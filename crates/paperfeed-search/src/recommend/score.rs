//! How [`super::recommend`] scores: a cheap linear pass over every candidate, then the nearest
//! examples and diversity on a shortlist. The constants were tuned on the simulated readers of
//! `paperfeed eval --recommend` (see README).

use std::collections::HashSet;

use paperfeed_core::ArxivId;

use super::rank::{Candidate, MAX_NEAREST, Nearest, Pick, RECENCY_WEIGHT, RankSettings, Term};
use super::{Background, Example, ReaderModel, Source};
use crate::dot;

/// Weights of the relevance parts, each standardised over the candidates first. On the
/// simulated readers the terms' discriminant carries the ranking (authors and topic phrases);
/// the sentence vectors add a little; the nearest positives, added to the score, lowered recall
/// on both sets, so they only explain (a reader with one strong interest among many still sees
/// it: the linear part is a sum over every positive).
const DENSE_WEIGHT: f32 = 0.1;
const TERMS_WEIGHT: f32 = 1.0;
const NEAREST_WEIGHT: f32 = 0.0;
/// Examples averaged for the nearest-examples part (a reader with several interests is close to
/// a few of their papers, not to their mean).
const NEAREST_K: usize = 3;
/// A candidate this close to a "not interested" paper (cosine) starts to lose; each 0.1 above
/// costs `NEGATIVE_SCALE / 10` standard deviations.
const NEGATIVE_FLOOR: f32 = 0.35;
const NEGATIVE_SCALE: f32 = 10.0;
/// Candidates the second pass looks at: at least this many, and five per asked pick.
const SHORTLIST: usize = 100;
/// Maximal marginal relevance: a pick's value is `LAMBDA · standing − (1 − LAMBDA) · closeness`,
/// its standing 1 for the best of the shortlist down to 0 for the last (ranks, not scores: one
/// outstanding score must not make everything else look alike), closeness the cosine to the
/// closest pick already taken; full exploration lowers `LAMBDA` by `EXPLORATION_LAMBDA`.
const LAMBDA: f32 = 0.75;
/// Closeness (cosine of the sentence vectors, or of the tf-idf terms) from which a candidate
/// counts as a near-duplicate of a pick already taken (the same work under two ids, two versions
/// of one paper, a paper and its companion with the same name in the title): it waits until
/// every other shortlisted candidate has been taken, however high it scored.
const DUPLICATE_DENSE: f32 = 0.9;
const DUPLICATE_TERMS: f32 = 0.35;
const EXPLORATION_LAMBDA: f32 = 0.2;
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

/// Ranks `candidates` for the model, leaving out `exclude` (what the reader has seen, voted,
/// saved or dismissed: the app knows) and every example's own paper, and returns at most
/// `settings.limit` picks, diverse, each explained. Empty when the model has no positive.
pub fn recommend(
    model: &ReaderModel,
    background: &Background,
    candidates: &[Candidate<'_>],
    exclude: &HashSet<ArxivId>,
    settings: &RankSettings,
) -> Vec<Pick> {
    rank(model, background, candidates, exclude, settings)
}

fn rank(
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
    // One weight per term bucket, looked up by index (hashing 100 000 candidates' terms
    // through a map cost more than all the rest).
    let term_weights = background.term_weights(&model.term_mean());
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
                .map(|&(b, x)| term_weights.get(b as usize).map_or(0.0, |w| w * x))
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
        .max(settings.limit.saturating_mul(5))
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
        let top = MAX_NEAREST.max(NEAREST_K).min(sims.len());
        if top > 0 && top < sims.len() {
            sims.select_nth_unstable_by(top - 1, |a, b| b.0.total_cmp(&a.0));
            sims.truncate(top);
        }
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
        LAMBDA - EXPLORATION_LAMBDA * exploration,
    )
}

/// Maximal marginal relevance: repeatedly takes the pick whose scaled score, less its closeness
/// to the closest pick already taken, weighed by `lambda`, is highest.
fn diversify(
    ranked: Vec<(Pick, usize)>,
    candidates: &[Candidate<'_>],
    limit: usize,
    lambda: f32,
) -> Vec<Pick> {
    // `ranked` is best first: standing by position.
    let n = ranked.len().max(2) as f32;
    let mut left: Vec<(Pick, usize, f32)> = ranked
        .into_iter()
        .enumerate()
        .map(|(rank, (pick, index))| (pick, index, 1.0 - rank as f32 / (n - 1.0)))
        .collect();
    let mut closest = vec![0.0f32; left.len()];
    let mut duplicate = vec![false; left.len()];
    let mut taken = Vec::with_capacity(limit.min(left.len()));
    while taken.len() < limit && !left.is_empty() {
        // Standing and closeness lie in [0, 1]: a near-duplicate's value is below everyone's.
        let value = |i: usize| {
            lambda * left[i].2
                - (1.0 - lambda) * closest[i].max(0.0)
                - if duplicate[i] { 2.0 } else { 0.0 }
        };
        let best = (0..left.len())
            .max_by(|&a, &b| {
                value(a)
                    .total_cmp(&value(b))
                    .then_with(|| left[b].0.id.cmp(&left[a].0.id))
            })
            .unwrap_or(0);
        let (pick, index, _) = left.swap_remove(best);
        closest.swap_remove(best);
        duplicate.swap_remove(best);
        let chosen = &candidates[index];
        for (i, (_, other, _)) in left.iter().enumerate() {
            let other = &candidates[*other];
            let dense = if other.vector.len() == chosen.vector.len() {
                dot(other.vector, chosen.vector)
            } else {
                0.0
            };
            let terms = other.terms.dot(chosen.terms);
            closest[i] = closest[i].max(dense).max(terms);
            duplicate[i] |= dense >= DUPLICATE_DENSE || terms >= DUPLICATE_TERMS;
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
