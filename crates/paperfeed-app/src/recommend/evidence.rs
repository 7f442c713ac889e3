//! From what a reader did to the examples their model learns from: which signals count (those
//! after their last reset), what each one is evidence of (a paper, a followed author, a
//! followed organisation or category, a saved search), and how each becomes an example (the
//! paper's vector and terms; an author's term; the centroid of a topic's newest papers; a
//! query's terms and, when the hub has the embedding model, its vector).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, FollowTarget, IndexKind};
use paperfeed_search::recommend::{
    Example, ReaderModel, SignalKind, Source, SparseVector, author_term, query_counts,
};
use paperfeed_store::{Follow, PaperSignal, ReaderSignals, SavedSearch, Store, StoreError};

use super::corpus::Corpus;

/// Newest papers of a followed organisation or category whose centroid stands for it.
const TOPIC_PAPERS: usize = 20;
/// How close (cosine) a paper must be to one the reader dismissed to count as the same work
/// (a second version, a re-post): by sentence vectors, or by keyword terms when either paper
/// has no vector. Papers on the same subject stay well below both.
const NEAR_DUPLICATE_VECTORS: f32 = 0.9;
const NEAR_DUPLICATE_TERMS: f32 = 0.6;

/// An example of a model is known by its source and kind.
pub(crate) type ExampleKey = (Source, SignalKind);

/// What one example was built from, and with what: a paper's example is built again when its
/// vector or terms arrive (the indexer and the corpus may lag behind a reader's signal).
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub evidence: Evidence,
    pub has_vector: bool,
    pub has_terms: bool,
}

/// What an example stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Evidence {
    Paper(ArxivId),
    /// A followed author, by key (`zoe muller`).
    Author(String),
    /// A followed organisation or category.
    Topic {
        kind: IndexKind,
        name: String,
    },
    /// A saved search's query.
    Search {
        query: String,
    },
}

/// One example a model should hold, and when the reader gave it.
#[derive(Clone, Debug)]
pub(crate) struct Wanted {
    pub key: ExampleKey,
    pub evidence: Evidence,
    pub at: DateTime<Utc>,
}

/// The source key of a followed or saved thing, as explanations carry it back.
pub(crate) fn named_key(kind: &str, key: &str) -> String {
    format!("{kind}:{key}")
}

/// What the model should hold for a reader: every signal given after `reset_at`, once per
/// (source, kind), newest first.
pub(crate) fn wanted_of(
    signals: &ReaderSignals,
    follows: &[Follow],
    searches: &[SavedSearch],
    reset_at: Option<DateTime<Utc>>,
) -> Vec<Wanted> {
    let counts = |at: DateTime<Utc>| reset_at.is_none_or(|reset| at >= reset);
    let mut out: Vec<Wanted> = Vec::new();
    let mut keys: HashSet<ExampleKey> = HashSet::new();
    let mut push = |out: &mut Vec<Wanted>, w: Wanted| {
        if counts(w.at) && keys.insert(w.key.clone()) {
            out.push(w);
        }
    };
    let papers: [(&[PaperSignal], SignalKind); 5] = [
        (&signals.seeds, SignalKind::Seed),
        (&signals.saved, SignalKind::Saved),
        (&signals.upvotes, SignalKind::Upvoted),
        (&signals.dismissed, SignalKind::NotInterested),
        (&signals.opened, SignalKind::Opened),
    ];
    for (list, kind) in papers {
        for s in list {
            push(&mut out, paper_wanted(&s.paper, kind, s.at));
        }
    }
    for c in &signals.collected {
        push(
            &mut out,
            paper_wanted(&c.paper, SignalKind::InCollection, c.at),
        );
    }
    for follow in follows {
        let (evidence, kind, label) = match &follow.target {
            FollowTarget::Author(key) => (
                Evidence::Author(key.as_str().to_owned()),
                "author",
                key.to_string(),
            ),
            FollowTarget::Organization(name) => (
                Evidence::Topic {
                    kind: IndexKind::Organization,
                    name: name.clone(),
                },
                "organization",
                name.clone(),
            ),
            FollowTarget::Category(name) => (
                Evidence::Topic {
                    kind: IndexKind::Category,
                    name: name.clone(),
                },
                "category",
                name.clone(),
            ),
            // A saved search counts by being saved (below).
            FollowTarget::SavedSearch(_) => continue,
        };
        push(
            &mut out,
            Wanted {
                key: (
                    Source::Named {
                        key: named_key(kind, &follow.target.key()),
                        label,
                    },
                    SignalKind::Followed,
                ),
                evidence,
                at: follow.created_at,
            },
        );
    }
    for search in searches {
        push(
            &mut out,
            Wanted {
                key: (
                    Source::Named {
                        key: named_key("search", &search.id.0.to_string()),
                        label: search.name.clone(),
                    },
                    SignalKind::SavedSearch,
                ),
                evidence: Evidence::Search {
                    query: search.query.clone(),
                },
                at: search.created_at,
            },
        );
    }
    out
}

fn paper_wanted(id: &ArxivId, kind: SignalKind, at: DateTime<Utc>) -> Wanted {
    Wanted {
        key: (Source::Paper(id.clone()), kind),
        evidence: Evidence::Paper(id.clone()),
        at,
    }
}

/// Every paper the reader gave any signal on, reset or not: never recommended (they saved,
/// voted, dismissed, opened or seeded it already).
pub(crate) fn signalled_papers(signals: &ReaderSignals) -> HashSet<ArxivId> {
    [
        &signals.seeds,
        &signals.upvotes,
        &signals.saved,
        &signals.dismissed,
        &signals.opened,
    ]
    .into_iter()
    .flatten()
    .map(|s| s.paper.clone())
    .chain(signals.collected.iter().map(|c| c.paper.clone()))
    .collect()
}

/// Whether a paper (its vector, empty when it has none, and its terms) is a near-duplicate of
/// one the reader marked "not interested": hidden with it, whatever its score (the model's
/// penalty makes papers like a dismissed one rarer; this makes the same work leave).
pub(crate) fn near_duplicate_of_dismissed(
    model: &ReaderModel,
    vector: &[f32],
    terms: Option<&SparseVector>,
) -> bool {
    model
        .examples()
        .iter()
        .filter(|e| e.kind.is_negative())
        .any(|e| match &e.vector {
            Some(v) if !vector.is_empty() && v.len() == vector.len() => {
                paperfeed_search::dot(v, vector) >= NEAR_DUPLICATE_VECTORS
            }
            _ => terms.is_some_and(|t| e.terms.dot(t) >= NEAR_DUPLICATE_TERMS),
        })
}

/// A paper's example from what the corpus and the engine hold of it now.
pub(crate) fn paper_example(corpus: &Corpus, id: &ArxivId, key: &ExampleKey) -> (Example, Held) {
    let vector = corpus.engine().with_vectors(|v| v.get(id));
    let terms = corpus
        .read()
        .get(id)
        .map(|p| p.terms.clone())
        .unwrap_or_default();
    let held = Held {
        evidence: Evidence::Paper(id.clone()),
        has_vector: vector.is_some(),
        has_terms: !terms.is_empty(),
    };
    (
        Example {
            source: key.0.clone(),
            kind: key.1,
            vector,
            terms,
        },
        held,
    )
}

/// Whether a paper's example would now be built with more than `held` had.
pub(crate) fn paper_gained(corpus: &Corpus, id: &ArxivId, held: &Held) -> bool {
    (!held.has_vector && corpus.engine().with_vectors(|v| v.contains(id)))
        || (!held.has_terms && corpus.read().get(id).is_some_and(|p| !p.terms.is_empty()))
}

/// The example of one wanted signal. Topics read their newest papers from the store; a saved
/// search's query is embedded (off the async threads) when the hub has the model.
pub(crate) async fn example_of(
    corpus: &Corpus,
    store: &dyn Store,
    wanted: &Wanted,
) -> Result<(Example, Held), StoreError> {
    let key = &wanted.key;
    let held = |has_vector: bool, has_terms: bool| Held {
        evidence: wanted.evidence.clone(),
        has_vector,
        has_terms,
    };
    let (vector, terms) = match &wanted.evidence {
        Evidence::Paper(id) => return Ok(paper_example(corpus, id, key)),
        Evidence::Author(author) => (
            None,
            author_term(author)
                .map(|t| SparseVector::from_weights([(t, 1.0)]))
                .unwrap_or_default(),
        ),
        Evidence::Topic { kind, name } => {
            let newest = store
                .indexed_papers(&[(*kind, name.clone())], None, TOPIC_PAPERS)
                .await?;
            let ids: Vec<ArxivId> = newest.iter().map(|p| p.paper.id.clone()).collect();
            centroid(corpus, &ids)
        }
        Evidence::Search { query } => {
            let terms = corpus.read().stats.weigh(&query_counts(query));
            let vector = match corpus.engine().embedder().cloned() {
                Some(embedder) => {
                    let query = query.clone();
                    tokio::task::spawn_blocking(move || embedder.embed(&[query.as_str()]))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .and_then(|mut v| v.pop())
                }
                None => None,
            };
            (vector, terms)
        }
    };
    let (has_vector, has_terms) = (vector.is_some(), !terms.is_empty());
    Ok((
        Example {
            source: key.0.clone(),
            kind: key.1,
            vector,
            terms,
        },
        held(has_vector, has_terms),
    ))
}

/// The unit-length mean of the papers' vectors and of their terms.
fn centroid(corpus: &Corpus, ids: &[ArxivId]) -> (Option<Vec<f32>>, SparseVector) {
    let vector = corpus.engine().with_vectors(|index| {
        let mut sum: Vec<f32> = Vec::new();
        for v in ids.iter().filter_map(|id| index.get(id)) {
            if sum.is_empty() {
                sum = vec![0.0; v.len()];
            }
            if v.len() == sum.len() {
                sum.iter_mut().zip(&v).for_each(|(s, x)| *s += x);
            }
        }
        unit(sum)
    });
    let papers = corpus.read();
    let terms = SparseVector::from_weights(
        ids.iter()
            .filter_map(|id| papers.get(id))
            .flat_map(|p| p.terms.entries().iter().copied()),
    );
    (vector, terms)
}

/// `v` scaled to unit length; `None` when it is empty or zero.
pub(crate) fn unit(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm <= 1e-9 {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(v)
}
