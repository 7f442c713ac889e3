//! A reader's model: the labelled examples (what they saved, upvoted, dismissed …) and the
//! running sums that make its linear part, kept so that one more signal costs one update, never
//! a retraining. It is derived data: the app may cache it (it is serialisable) and can always
//! rebuild it from the reader's signals with [`ReaderModel::from_examples`].

use paperfeed_core::ArxivId;
use serde::{Deserialize, Serialize};

use super::SparseVector;

/// What a reader did with a paper (or told the hub), strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// "Recommend from these": chosen by the reader for exactly this.
    Seed,
    Saved,
    InCollection,
    Upvoted,
    /// A followed author, organisation or category, passed in as an example of its own.
    Followed,
    /// A saved search, passed in as an example of its query's text.
    SavedSearch,
    /// Opened the paper's page: a weak signal.
    Opened,
    /// "Not interested": the one negative.
    NotInterested,
}

impl SignalKind {
    /// How much one example of this kind counts, relative to a seed.
    pub fn weight(self) -> f32 {
        match self {
            SignalKind::Seed => 1.0,
            SignalKind::Saved | SignalKind::InCollection => 1.0,
            SignalKind::Upvoted => 0.8,
            SignalKind::Followed | SignalKind::SavedSearch => 0.6,
            SignalKind::Opened => 0.25,
            SignalKind::NotInterested => 1.0,
        }
    }

    pub fn is_negative(self) -> bool {
        self == SignalKind::NotInterested
    }

    /// The word an explanation uses: "because you saved …".
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Seed => "seed",
            SignalKind::Saved => "saved",
            SignalKind::InCollection => "in_collection",
            SignalKind::Upvoted => "upvoted",
            SignalKind::Followed => "followed",
            SignalKind::SavedSearch => "saved_search",
            SignalKind::Opened => "opened",
            SignalKind::NotInterested => "not_interested",
        }
    }
}

/// What an example is: a paper, or something the reader named (a followed author, a saved
/// search) that the app turned into features.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Paper(ArxivId),
    /// `key` identifies it for the app (`author:karpathy`, `search:12`); `label` is what an
    /// explanation shows ("Andrej Karpathy", "diffusion transformers").
    Named {
        key: String,
        label: String,
    },
}

/// One labelled example. `vector` is the paper's stored sentence vector (unit length) or, for
/// a named source, whatever the app has (a saved search's embedded query; `None` for an
/// author); `terms` its sparse features ([`super::TermStats::features`], or a query's or an
/// author's terms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub source: Source,
    pub kind: SignalKind,
    pub vector: Option<Vec<f32>>,
    pub terms: SparseVector,
}

/// A reader's (or a collection's) model. Examples are keyed by (source, kind): the same paper
/// saved and upvoted is two pieces of evidence; adding the same pair again replaces it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReaderModel {
    examples: Vec<Example>,
    /// Σ weight · vector over positives with a vector, and Σ weight.
    dense_sum: Vec<f32>,
    dense_weight: f32,
    /// Σ weight · terms over positives, as a sorted sparse sum, and Σ weight.
    term_sum: Vec<(u32, f32)>,
    term_weight: f32,
    /// The same sums over negatives.
    negative_dense_sum: Vec<f32>,
    negative_dense_weight: f32,
}

impl ReaderModel {
    pub fn new() -> Self {
        Self::default()
    }

    /// A model of these examples (a reader's signals, or a collection's papers as
    /// [`SignalKind::InCollection`] for "more like this collection").
    pub fn from_examples(examples: impl IntoIterator<Item = Example>) -> Self {
        let mut model = Self::new();
        for example in examples {
            model.add(example);
        }
        model
    }

    /// Adds one signal (or replaces the same source's signal of the same kind). Cost: the
    /// example's length, not the model's size.
    pub fn add(&mut self, example: Example) {
        self.remove(&example.source, example.kind);
        self.apply(&example, 1.0);
        self.examples.push(example);
    }

    /// Takes a signal back (unsaved, undismissed …). Returns whether it was there.
    pub fn remove(&mut self, source: &Source, kind: SignalKind) -> bool {
        let Some(at) = self
            .examples
            .iter()
            .position(|e| e.kind == kind && &e.source == source)
        else {
            return false;
        };
        let example = self.examples.swap_remove(at);
        self.apply(&example, -1.0);
        true
    }

    /// Adds (`sign` 1) or subtracts (-1) an example's contribution to the sums.
    fn apply(&mut self, example: &Example, sign: f32) {
        let weight = example.kind.weight() * sign;
        if let Some(vector) = &example.vector {
            let (sum, total) = if example.kind.is_negative() {
                (
                    &mut self.negative_dense_sum,
                    &mut self.negative_dense_weight,
                )
            } else {
                (&mut self.dense_sum, &mut self.dense_weight)
            };
            if sum.len() != vector.len() {
                if sum.iter().any(|x| *x != 0.0) && *total > 0.0 {
                    // A vector of another length (another model): not comparable, skipped.
                    return;
                }
                *sum = vec![0.0; vector.len()];
            }
            sum.iter_mut()
                .zip(vector)
                .for_each(|(s, x)| *s += weight * x);
            *total += weight;
        }
        if !example.kind.is_negative() && !example.terms.is_empty() {
            add_sparse(&mut self.term_sum, example.terms.entries(), weight);
            self.term_weight += weight;
        }
    }

    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// Whether any positive evidence is there (else there is nothing to recommend from).
    pub fn has_positives(&self) -> bool {
        self.examples.iter().any(|e| !e.kind.is_negative())
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// The weighted mean of the positives' vectors, if any has one.
    pub(crate) fn dense_mean(&self) -> Option<Vec<f32>> {
        (self.dense_weight > 1e-6).then(|| {
            self.dense_sum
                .iter()
                .map(|x| x / self.dense_weight)
                .collect()
        })
    }

    /// The weighted mean of the positives' terms.
    pub(crate) fn term_mean(&self) -> Vec<(u32, f32)> {
        if self.term_weight <= 1e-6 {
            return Vec::new();
        }
        self.term_sum
            .iter()
            .filter(|e| e.1.abs() > 1e-6)
            .map(|&(b, w)| (b, w / self.term_weight))
            .collect()
    }
}

/// `sum += weight · terms`, both sorted by bucket.
fn add_sparse(sum: &mut Vec<(u32, f32)>, terms: &[(u32, f32)], weight: f32) {
    let mut merged = Vec::with_capacity(sum.len() + terms.len());
    let (mut i, mut j) = (0, 0);
    while i < sum.len() || j < terms.len() {
        match (sum.get(i), terms.get(j)) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                merged.push((a.0, a.1 + weight * b.1));
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a.0 < b.0 => {
                merged.push(*a);
                i += 1;
            }
            (Some(a), None) => {
                merged.push(*a);
                i += 1;
            }
            (_, Some(b)) => {
                merged.push((b.0, weight * b.1));
                j += 1;
            }
            (None, None) => break,
        }
    }
    merged.retain(|e| e.1.abs() > 1e-7);
    *sum = merged;
}
