//! Ranking candidates for a reader: the model's relevance (a linear part over the sentence
//! vector and the sparse terms, the nearest positives, minus the nearest "not interested"),
//! the social and recency terms the reader weighs, a little seeded exploration, and maximal
//! marginal relevance so that the picks are not near-duplicates of one another. Every pick says
//! why it was picked.

use std::collections::HashSet;

use chrono::NaiveDate;
use paperfeed_core::ArxivId;
use serde::Serialize;

use super::{Background, ReaderModel, SignalKind, Source, SparseVector};

/// One paper that may be recommended. Borrowed: the caller keeps vectors and terms (the
/// engine's vector index, a cache of [`super::TermStats::features`]).
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub id: &'a ArxivId,
    /// The stored sentence vector (unit length).
    pub vector: &'a [f32],
    pub terms: &'a SparseVector,
    /// Upvotes, or the trending score: any non-negative popularity; log-scaled here.
    pub popularity: f64,
    /// The day that counts for recency: featured or published.
    pub date: Option<NaiveDate>,
}

/// The reader's controls, as the page and the API set them.
#[derive(Clone, Debug, PartialEq)]
pub struct RankSettings {
    /// 0..=1: how much popularity counts against the model's relevance.
    pub social_weight: f32,
    /// Only papers of the last this many days (counted back from `today`); `None`: any age.
    pub recency_window_days: Option<u32>,
    /// 0..=1: how far picks may stray from the reader's known interests (seeded noise on the
    /// scores, and more diversity).
    pub exploration: f32,
    /// The day "recent" is counted from.
    pub today: NaiveDate,
    /// Seeds the exploration, so a page is stable on reload: e.g. reader id and day.
    pub seed: u64,
    pub limit: usize,
}

impl RankSettings {
    pub fn new(today: NaiveDate) -> Self {
        Self {
            social_weight: DEFAULT_SOCIAL_WEIGHT,
            recency_window_days: None,
            exploration: 0.0,
            today,
            seed: 0,
            limit: 20,
        }
    }
}

pub const DEFAULT_SOCIAL_WEIGHT: f32 = 0.1;
/// Weight of the recency term (0 for the oldest paper of the window, 1 for today's).
pub const RECENCY_WEIGHT: f32 = 0.25;

/// A weighted term of a pick's score: `weight * value` was added.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Term {
    pub value: f32,
    pub weight: f32,
}

/// A positive example a pick resembles: "because you saved …".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nearest {
    pub source: Source,
    pub kind: SignalKind,
    /// Cosine similarity of the pick to the example (sentence vectors; terms when the example
    /// has no vector).
    pub similarity: f32,
}

/// One recommended paper and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pick {
    pub id: ArxivId,
    /// The final score (what the order before diversity followed).
    pub score: f32,
    /// The model's relevance, standardised over the candidates (0 is an average candidate).
    pub model: f32,
    pub social: Term,
    pub recency: Term,
    /// Seeded exploration noise added (0 without exploration).
    pub exploration: f32,
    /// The most similar positives, closest first (at most [`MAX_NEAREST`]).
    pub nearest: Vec<Nearest>,
}

pub const MAX_NEAREST: usize = 3;

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
    super::score::rank(model, background, candidates, exclude, settings)
}
