//! Recommendations for one reader: a model learned from what they saved, upvoted, put in
//! collections, seeded, followed, opened and dismissed, over the stored sentence vectors and
//! sparse keyword features; ranking with the reader's social, recency and exploration settings,
//! diversity, and the reasons for every pick.
//!
//! Pure and I/O-free: the caller hands in the examples (a reader's signals, or a collection's
//! papers for "more like this collection"), the candidates and what to leave out.
//!
//! - [`TermStats`] (document frequencies) and [`Background`] (the hub's papers as a whole) are
//!   derived from all papers and shared by every reader;
//! - [`ReaderModel`] is one reader's examples and running sums: [`ReaderModel::add`] and
//!   [`ReaderModel::remove`] update it in time proportional to one example;
//! - [`recommend`] ranks candidates: a linear pass (whitened centroid of the positives' vectors,
//!   their mean tf-idf terms) over all, then the nearest positives and negatives and maximal
//!   marginal relevance on a shortlist.

mod background;
mod model;
mod rank;
mod score;
mod terms;

pub use background::Background;
pub use model::{Example, ReaderModel, SignalKind, Source};
pub use rank::{
    Candidate, DEFAULT_SOCIAL_WEIGHT, MAX_NEAREST, Nearest, Pick, RECENCY_WEIGHT, RankSettings,
    Term, recommend,
};
pub use terms::{
    MAX_TERMS, PaperText, SparseVector, TERM_BUCKETS, TermStats, author_term, query_counts,
    term_counts,
};
