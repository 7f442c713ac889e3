//! Search over papers: a keyword index (tantivy, BM25), sentence embeddings computed in Rust
//! (all-MiniLM-L6-v2 on candle), a vector index, and their fusion (a convex combination of
//! their scaled scores).
//!
//! Everything here is derived data: it reads papers handed to it and writes only its own index
//! files, and can always be rebuilt from the store. It never talks to the store or the network.

mod hybrid;
pub mod recommend;
mod vectors;

pub use hybrid::{KEYWORD_SHARE, convex_combination};
pub use vectors::{
    Compacted, DEFAULT_EXACT_LIMIT, Depth, Neighbour, Staged, VectorError, VectorIndex,
    VectorWatermark, dot,
};

mod embed;
pub use embed::{
    EmbedError, Embedder, HF_REPO, MAX_TOKENS, MODEL_FILES, MODEL_NAME, ModelNotFound, locate_model,
};

mod keyword;
pub use keyword::{
    Correction, CorrectionPart, DEFAULT_LIMIT, KeywordHit, KeywordIndex, KeywordQuery,
    KeywordResults, MAX_LIMIT, MAX_OFFSET, OpenOutcome, QueryError, SearchError, SortOrder,
};

mod query_vectors;
pub use query_vectors::QueryVectors;

mod engine;
mod suggest;
pub use engine::{FUSION_DEPTH, SearchEngine, SearchHit, SearchMode, SearchResults, SearchStatus};
pub use suggest::{MAX_SUGGESTIONS, SuggestIndex, SuggestQuery, Suggestion};
