//! Stored vectors moved in bulk (`paperfeed vectors export|import`): read page by page in id
//! order, and written from a stream of batches in one transaction, so a file of millions of
//! vectors goes in whole or not at all while memory holds one batch. And read in the order
//! they were stored (`embeddings_since`), so a node's vector index reads only what is new.
//!
//! Vectors are derived data tied to the text they were computed from (`papers.text_hash`).
//! An import stores each vector against its paper's current text: the caller vouches that the
//! vectors were computed from it (`paperfeed-app` checks a sample against the encoder). None of
//! these writes moves `change_seq`; every write of vectors (an import, or
//! `Store::put_embeddings`) takes the next value of the vector counter (`embedding_seq`), which
//! each row it writes carries.

use async_trait::async_trait;
use paperfeed_core::ArxivId;
use tokio::sync::mpsc;

use crate::{PaperVector, StoreError};

/// How many ids the store lacked an import keeps by name (the rest are only counted).
pub const MISSING_KEPT: usize = 20;

/// One message of an import: a batch of (paper, vector) pairs, or the word to commit them all.
#[derive(Debug)]
pub enum VectorImport {
    Batch(Vec<(ArxivId, Vec<f32>)>),
    /// Everything sent before is kept. A channel closed without it rolls everything back.
    Commit,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportedVectors {
    /// Vectors stored (new or replacing an older one from the same model).
    pub stored: u64,
    /// Ids the store has no paper for: skipped.
    pub missing: u64,
    /// The first [`MISSING_KEPT`] of them, in the order received.
    pub first_missing: Vec<ArxivId>,
    /// False when the channel closed without [`VectorImport::Commit`]: nothing was kept.
    pub committed: bool,
}

impl ImportedVectors {
    pub(crate) fn note_missing(&mut self, id: &ArxivId) {
        self.missing += 1;
        if self.first_missing.len() < MISSING_KEPT {
            self.first_missing.push(id.clone());
        }
    }
}

/// A stored vector with the number of the write that stored it.
#[derive(Clone, Debug, PartialEq)]
pub struct SequencedVector {
    /// The vector counter's value taken by the write that stored this row; later writes have
    /// higher ones.
    pub seq: i64,
    pub vector: PaperVector,
}

/// Where a reader of [`VectorTransferStore::embeddings_since`] stands: the write (`seq`) and,
/// within it, the last paper read (a write may hold millions of rows: an import).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorCursor {
    pub seq: i64,
    pub id: ArxivId,
}

impl SequencedVector {
    /// The cursor just past this row.
    pub fn cursor(&self) -> VectorCursor {
        VectorCursor {
            seq: self.seq,
            id: self.vector.id.clone(),
        }
    }
}

#[async_trait]
pub trait VectorTransferStore: Send + Sync + 'static {
    /// Stored vectors from `model` that match their paper's current text, by id, the ids after
    /// `after` (from the first when `None`), at most `limit`: an export reads them page by page.
    async fn embeddings_page(
        &self,
        model: &str,
        after: Option<ArxivId>,
        limit: usize,
    ) -> Result<Vec<PaperVector>, StoreError>;

    /// Stored vectors from `model` in the order they were stored, by (`seq`, paper id), those
    /// after `after` (from the first when `None`), at most `limit`: how each node's vector
    /// index catches up from its watermark. A paper appears once, with its latest vector; a
    /// vector whose paper's text changed since is returned too (the vector computed for the new
    /// text replaces it later, with a higher `seq`).
    async fn embeddings_since(
        &self,
        model: &str,
        after: Option<VectorCursor>,
        limit: usize,
    ) -> Result<Vec<SequencedVector>, StoreError>;

    /// Stores every batch received on `batches` as vectors from `model` of the papers' current
    /// texts, replacing older ones, in one transaction committed when [`VectorImport::Commit`]
    /// arrives; if the channel closes before it, nothing is kept. Ids the store has no paper for
    /// are skipped and reported. The store's writer is held until the end (on SQLite, other
    /// writes wait).
    async fn import_embeddings(
        &self,
        model: &str,
        batches: mpsc::Receiver<VectorImport>,
    ) -> Result<ImportedVectors, StoreError>;
}
