//! The keyword index: BM25 over titles (boosted), abstracts, authors and arXiv ids, on
//! tantivy, with filters, three sort orders and highlighted snippets.
//!
//! The index lives in a folder of its own and is derived data: a missing, damaged or
//! incompatible index is deleted and built again empty (the caller is told, and re-feeds every
//! paper), never a reason to stop. The caller keeps it current by feeding the papers changed
//! since [`KeywordIndex::watermark`] and committing with the new watermark, which is saved in
//! the same commit as the documents, so the two can never disagree after a crash. A full
//! rebuild ends with [`KeywordIndex::compact`].
//!
//! Queries are built term by term from the parsed [`KeywordQuery`]; user text never reaches
//! tantivy's own query parser, whose syntax (`+`, `-`, `:`, `[`, `~` …) it would trip on.

mod coverage;
mod filter_check;
mod highlight;
mod plan;
mod query;
mod schema;
mod search;
mod spelling;

use std::fmt;
use std::path::{Path, PathBuf};

use paperfeed_core::Paper;
use serde::{Deserialize, Serialize};
use tantivy::directory::error::LockError;
use tantivy::directory::{Directory, INDEX_WRITER_LOCK, MmapDirectory};
use tantivy::indexer::NoMergePolicy;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyError};

pub use query::{DEFAULT_LIMIT, KeywordQuery, QueryError, SortOrder};
pub use search::{KeywordHit, KeywordResults, MAX_LIMIT, MAX_OFFSET};
pub use spelling::{Correction, CorrectionPart};

use schema::Fields;

/// Indexing memory per indexing thread; tantivy flushes a segment when it is used up.
const WRITER_BYTES: usize = 64_000_000;
/// Papers in one upsert from which it is a bulk write (a rebuild, a big ingest), indexed by
/// up to `BULK_THREADS` threads.
const BULK_PAPERS: usize = 1000;
const BULK_THREADS: usize = 2;
/// Stored documents are compressed in blocks of this size, and showing a hit decompresses
/// its whole block: a page of 20 hits from 16 KiB blocks (tantivy's default) spent ~0.2 ms
/// decompressing. 4 KiB blocks cost 10% more disk and a quarter of that time.
const DOCSTORE_BLOCK_BYTES: usize = 4_096;

/// Why the keyword index failed. Messages are safe to show; the tantivy or I/O error behind
/// one (which may name files) is its `source`, for logs.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the keyword index is being written by another paperfeed process")]
    Locked,
    #[error("the keyword index could not be {action}")]
    Index {
        action: &'static str,
        #[source]
        source: TantivyError,
    },
    #[error("the keyword index folder could not be {action}")]
    Folder {
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl SearchError {
    fn index(action: &'static str) -> impl FnOnce(TantivyError) -> SearchError {
        move |source| match source {
            TantivyError::LockFailure(LockError::LockBusy, _) => SearchError::Locked,
            source => SearchError::Index { action, source },
        }
    }

    fn folder(action: &'static str) -> impl FnOnce(std::io::Error) -> SearchError {
        move |source| SearchError::Folder { action, source }
    }
}

/// What [`KeywordIndex::open_or_create`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenOutcome {
    /// There was no index: an empty one was created. Feed it every paper.
    Fresh,
    /// The index was opened as it was; feed it what changed since its watermark.
    Reused,
    /// The index could not be used and was replaced by an empty one. Feed it every paper;
    /// `reason` says what was wrong, for the log.
    Rebuilt { reason: String },
}

/// What is saved with every commit.
#[derive(Serialize, Deserialize)]
struct CommitPayload {
    watermark: i64,
}

/// A keyword index over papers, on disk or in memory.
pub struct KeywordIndex {
    index: Index,
    reader: IndexReader,
    /// Created on the first write, so a process that only searches never takes the lock; and
    /// its indexing threads.
    writer: Option<(IndexWriter, usize)>,
    fields: Fields,
    watermark: i64,
}

impl fmt::Debug for KeywordIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeywordIndex")
            .field("papers", &self.len())
            .field("watermark", &self.watermark)
            .finish_non_exhaustive()
    }
}

impl KeywordIndex {
    /// Opens the index in `dir`, creating it when missing, and replacing it with an empty one
    /// when it is damaged or was built by an incompatible version. `dir` must belong to the
    /// index alone: a rebuild deletes everything in it. Nothing is logged here; the outcome
    /// says what happened and why, for the caller to log once.
    pub fn open_or_create(dir: &Path) -> Result<(KeywordIndex, OpenOutcome), SearchError> {
        std::fs::create_dir_all(dir).map_err(SearchError::folder("created"))?;
        let has_meta = dir.join("meta.json").exists();
        if !has_meta {
            let empty = std::fs::read_dir(dir)
                .map_err(SearchError::folder("read"))?
                .next()
                .is_none();
            if empty {
                return Ok((Self::create(dir)?, OpenOutcome::Fresh));
            }
            let reason = "the folder holds files but no index metadata (meta.json)".to_owned();
            return Self::rebuild(dir, reason);
        }
        // Tantivy trusts its own files and may panic on damaged ones rather than return an
        // error. The index is derived data, so a panic while opening it is one more reason to
        // rebuild, not to stop the server.
        let opened =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::open_existing(dir)));
        match opened {
            Ok(Ok(index)) => Ok((index, OpenOutcome::Reused)),
            Ok(Err(reason)) => Self::rebuild(dir, reason),
            Err(_) => Self::rebuild(dir, "opening it failed unexpectedly".to_owned()),
        }
    }

    /// An empty index in memory, for tests and one-off runs.
    pub fn in_memory() -> Result<KeywordIndex, SearchError> {
        let (schema, fields) = schema::build_schema();
        let index = Index::create_in_ram(schema);
        Self::from_index(index, fields, 0).map_err(SearchError::index("created"))
    }

    fn create(dir: &Path) -> Result<KeywordIndex, SearchError> {
        let (schema, fields) = schema::build_schema();
        let directory = MmapDirectory::open(dir)
            .map_err(|e| SearchError::index("created")(TantivyError::from(e)))?;
        let settings = tantivy::IndexSettings {
            docstore_blocksize: DOCSTORE_BLOCK_BYTES,
            ..tantivy::IndexSettings::default()
        };
        let index =
            Index::create(directory, schema, settings).map_err(SearchError::index("created"))?;
        Self::from_index(index, fields, 0).map_err(SearchError::index("created"))
    }

    /// Opens an index that is there, or says why it cannot be used.
    fn open_existing(dir: &Path) -> Result<KeywordIndex, String> {
        let index =
            Index::open_in_dir(dir).map_err(|e| format!("its files could not be read ({e})"))?;
        let (schema, fields) = schema::build_schema();
        if index.schema() != schema {
            return Err("it was built by another version of paperfeed (its fields differ)".into());
        }
        let damaged = index
            .validate_checksum()
            .map_err(|e| format!("its files could not be checked ({e})"))?;
        if !damaged.is_empty() {
            let mut names: Vec<PathBuf> = damaged.into_iter().collect();
            names.sort();
            return Err(format!("damaged files: {names:?}"));
        }
        let metas = index
            .load_metas()
            .map_err(|e| format!("its metadata could not be read ({e})"))?;
        let watermark = match metas.payload {
            None => 0,
            Some(payload) => {
                serde_json::from_str::<CommitPayload>(&payload)
                    .map_err(|e| format!("its saved watermark is unreadable ({e})"))?
                    .watermark
            }
        };
        Self::from_index(index, fields, watermark)
            .map_err(|e| format!("its segments could not be opened ({e})"))
    }

    fn rebuild(dir: &Path, reason: String) -> Result<(KeywordIndex, OpenOutcome), SearchError> {
        // Deleting an index another process is writing would pull it from under that
        // process: refuse while its writer lock is held.
        {
            let directory = MmapDirectory::open(dir)
                .map_err(|e| SearchError::index("checked")(TantivyError::from(e)))?;
            let _lock = directory
                .acquire_lock(&INDEX_WRITER_LOCK)
                .map_err(|e| SearchError::index("locked")(TantivyError::from(e)))?;
        }
        for entry in std::fs::read_dir(dir).map_err(SearchError::folder("read"))? {
            let path = entry.map_err(SearchError::folder("read"))?.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(SearchError::folder("cleared"))?;
        }
        Ok((Self::create(dir)?, OpenOutcome::Rebuilt { reason }))
    }

    fn from_index(index: Index, fields: Fields, watermark: i64) -> tantivy::Result<KeywordIndex> {
        schema::register_tokenizers(index.tokenizers());
        // Manual: this process reloads after its own commits; nothing else writes the index.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(KeywordIndex {
            index,
            reader,
            writer: None,
            fields,
            watermark,
        })
    }

    /// Papers searchable now (committed).
    pub fn len(&self) -> usize {
        usize::try_from(self.reader.searcher().num_docs()).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The watermark saved by the last commit; 0 for an index never committed.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, SearchError> {
        self.writer_with_threads(1)
    }

    /// The writer, with at least `threads` indexing threads: one for the indexer's usual small
    /// commits (every commit makes a segment per thread, and on a small server the other cores
    /// are serving), up to [`BULK_THREADS`] for a batch of a rebuild or a big ingest, which the
    /// single thread made the slowest stage of. A writer with fewer is replaced between commits
    /// (a caller upserts and commits together, so none of its documents is pending; its
    /// background merges of small segments are dropped). One with more is kept until
    /// [`KeywordIndex::compact`] releases it, which a bulk catch-up ends with: going back to one
    /// thread would wait for its merges while searches wait for the index.
    fn writer_with_threads(&mut self, threads: usize) -> Result<&mut IndexWriter, SearchError> {
        if self.writer.as_ref().is_some_and(|(_, t)| *t < threads) {
            self.writer = None;
        }
        if self.writer.is_none() {
            let writer = self
                .index
                .writer_with_num_threads(threads, WRITER_BYTES * threads)
                .map_err(SearchError::index("opened for writing"))?;
            self.writer = Some((writer, threads));
        }
        self.writer
            .as_mut()
            .map(|(writer, _)| writer)
            .ok_or(SearchError::Locked)
    }

    /// Adds papers, replacing any already indexed under the same id. Searches see them after
    /// the next [`KeywordIndex::commit`].
    pub fn upsert(&mut self, papers: &[Paper]) -> Result<(), SearchError> {
        let fields = self.fields;
        let threads = if papers.len() >= BULK_PAPERS {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(BULK_THREADS))
        } else {
            1
        };
        let writer = self.writer_with_threads(threads)?;
        let mut result = Ok(());
        for paper in papers {
            writer.delete_term(schema::id_term(&fields, paper.id.as_str()));
            if let Err(e) = writer.add_document(schema::document(&fields, paper)) {
                result = Err(SearchError::index("written")(e));
                break;
            }
        }
        if result.is_err() {
            // The writer's threads are gone; a fresh writer next time starts from the last
            // commit, and the watermark (not advanced) makes the caller feed these again.
            self.writer = None;
        }
        result
    }

    /// Makes every upsert since the last commit durable and searchable, saving `watermark`
    /// with them: after a crash, the index and its watermark are both from one commit.
    pub fn commit(&mut self, watermark: i64) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&CommitPayload { watermark }).map_err(|e| {
            SearchError::index("committed")(TantivyError::SystemError(e.to_string()))
        })?;
        let writer = self.writer()?;
        let committed = writer.prepare_commit().and_then(|mut prepared| {
            prepared.set_payload(&payload);
            prepared.commit()
        });
        if let Err(e) = committed {
            self.writer = None;
            return Err(SearchError::index("committed")(e));
        }
        self.watermark = watermark;
        self.reader.reload().map_err(SearchError::index("reloaded"))
    }

    /// Merges the whole index into one segment, waits for it, and releases the writer: what a
    /// full rebuild does before it exits. An index fed in many small commits is left in many
    /// segments, and every search visits each of them (a 100 000-paper rebuild in commits of
    /// 1 000 answered 2–3× slower until compacted). Searches keep working meanwhile.
    pub fn compact(&mut self) -> Result<(), SearchError> {
        let fail = SearchError::index("compacted");
        // Background merges first: a segment they are merging cannot be merged again.
        if let Some((writer, _)) = self.writer.take() {
            writer.wait_merging_threads().map_err(fail)?;
        }
        let segments = self
            .index
            .searchable_segment_ids()
            .map_err(SearchError::index("compacted"))?;
        if segments.len() > 1 {
            let writer = self.writer()?;
            writer.set_merge_policy(Box::new(NoMergePolicy));
            writer
                .merge(&segments)
                .wait()
                .map_err(SearchError::index("compacted"))?;
            if let Some((writer, _)) = self.writer.take() {
                writer
                    .wait_merging_threads()
                    .map_err(SearchError::index("compacted"))?;
            }
        }
        self.reader.reload().map_err(SearchError::index("reloaded"))
    }

    /// How many segments searches visit; one after [`KeywordIndex::compact`].
    pub fn segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }
}
