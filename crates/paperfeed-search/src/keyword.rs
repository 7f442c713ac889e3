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

mod filter_check;
mod highlight;
mod query;
mod schema;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use paperfeed_core::{ArxivId, Paper};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::directory::{Directory, INDEX_WRITER_LOCK, MmapDirectory};
use tantivy::indexer::NoMergePolicy;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TokenStream;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    TantivyError, Term,
};

pub use query::{DEFAULT_LIMIT, KeywordQuery, QueryError, SortOrder};

use query::{Piece, day_number, pieces};
use schema::{Fields, NEWEST_RANK, VOTES_RANK};

/// The most hits one page may ask for.
pub const MAX_LIMIT: usize = 100;
/// The deepest offset served; deeper pages would cost a top-k heap that large, and nobody
/// reads result 10 001 by paging.
pub const MAX_OFFSET: usize = 10_000;

/// Title matches count this many times an abstract or author match.
const TITLE_BOOST: f32 = 3.0;
/// Distinct terms kept per field from one query: a pasted abstract still searches well, and a
/// pasted book cannot build a query of a million clauses.
const MAX_TERMS_PER_FIELD: usize = 64;
/// Phrases kept from one query, for the same reason.
const MAX_PHRASES: usize = 16;
/// Papers pinned first by one exact id or title (duplicate titles exist).
const MAX_PINNED_PER_TERM: usize = 5;
/// Indexing memory; tantivy flushes a segment when it is used up.
const WRITER_BYTES: usize = 64_000_000;
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

/// One page of keyword results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeywordResults {
    /// How many papers match in all, over every page.
    pub total: usize,
    pub hits: Vec<KeywordHit>,
}

/// One matching paper, with its title and a snippet ready to put in a page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeywordHit {
    pub id: ArxivId,
    /// BM25 score under relevance order (higher is better); 0 under date or votes order.
    pub score: f32,
    /// The title, HTML-escaped, with matched words in `<mark>`.
    pub title_html: String,
    /// A window of the abstract around the matched words (its opening when none matched),
    /// escaped and marked the same way.
    pub snippet_html: String,
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
    /// Created on the first write, so a process that only searches never takes the lock.
    writer: Option<IndexWriter>,
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
        if self.writer.is_none() {
            // One indexing thread: every commit makes one segment per thread, and the
            // indexer commits often; and on a small server the other cores are serving.
            let writer = self
                .index
                .writer_with_num_threads(1, WRITER_BYTES)
                .map_err(SearchError::index("opened for writing"))?;
            self.writer = Some(writer);
        }
        self.writer.as_mut().ok_or(SearchError::Locked)
    }

    /// Adds papers, replacing any already indexed under the same id. Searches see them after
    /// the next [`KeywordIndex::commit`].
    pub fn upsert(&mut self, papers: &[Paper]) -> Result<(), SearchError> {
        let fields = self.fields;
        let writer = self.writer()?;
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
        if let Some(writer) = self.writer.take() {
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
            if let Some(writer) = self.writer.take() {
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

    /// One page of papers matching `q`. Papers whose arXiv id or exact title is the query
    /// come first, under every sort order, if they pass the filters.
    pub fn search(&self, q: &KeywordQuery) -> Result<KeywordResults, SearchError> {
        let searcher = self.reader.searcher();
        let fail = SearchError::index("searched");
        let plan = self.plan(q);
        let Some(matcher) = &plan.matcher else {
            return Ok(KeywordResults {
                total: 0,
                hits: Vec::new(),
            });
        };
        let total = searcher.search(matcher.as_ref(), &Count).map_err(fail)?;
        let limit = q.limit.min(MAX_LIMIT);
        let offset = q.offset.min(MAX_OFFSET);
        if limit == 0 || offset >= total {
            return Ok(KeywordResults {
                total,
                hits: Vec::new(),
            });
        }

        let mut pinned: Vec<DocAddress> = Vec::new();
        for term in &plan.exact {
            let query = plan.filtered(Box::new(TermQuery::new(
                term.clone(),
                IndexRecordOption::Basic,
            )));
            let found = searcher
                .search(
                    query.as_ref(),
                    &TopDocs::with_limit(MAX_PINNED_PER_TERM).order_by_score(),
                )
                .map_err(SearchError::index("searched"))?;
            for (_, address) in found {
                if !pinned.contains(&address) {
                    pinned.push(address);
                }
            }
        }

        let window = offset + limit + pinned.len();
        let ranked = match (&plan.ranked, plan.sort) {
            (Some(ranked), SortOrder::Relevance) => searcher
                .search(
                    ranked.as_ref(),
                    &TopDocs::with_limit(window).order_by_score(),
                )
                .map_err(SearchError::index("searched"))?,
            (_, sort) => {
                let key = if sort == SortOrder::Votes {
                    VOTES_RANK
                } else {
                    NEWEST_RANK
                };
                searcher
                    .search(
                        matcher.as_ref(),
                        &TopDocs::with_limit(window).order_by_fast_field::<i64>(key, Order::Desc),
                    )
                    .map_err(SearchError::index("searched"))?
                    .into_iter()
                    .map(|(_, address)| (0.0, address))
                    .collect()
            }
        };

        // Pinned papers keep their BM25 score for callers that fuse rankings; they come first
        // whatever it is.
        let relevance = plan.sort == SortOrder::Relevance;
        let mut scores: HashMap<DocAddress, f32> = ranked.iter().map(|(s, a)| (*a, *s)).collect();
        if let Some(ranked) = plan.ranked.as_ref().filter(|_| relevance)
            && pinned.iter().any(|a| !scores.contains_key(a))
        {
            // Pinned papers below the ranked window: their BM25 score from one search of the
            // ranked query limited to the exact terms (not `Weight::explain`, which trips a
            // debug assertion of tantivy's on a query part that matches nothing).
            let exact: Vec<(Occur, Box<dyn Query>)> = plan
                .exact
                .iter()
                .map(|term| {
                    let q: Box<dyn Query> =
                        Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic));
                    (Occur::Should, q)
                })
                .collect();
            let only_pinned = BooleanQuery::new(vec![
                (Occur::Must, ranked.box_clone()),
                (
                    Occur::Must,
                    Box::new(ConstScoreQuery::new(
                        Box::new(BooleanQuery::new(exact)),
                        0.0,
                    )),
                ),
            ]);
            let found = searcher
                .search(
                    &only_pinned,
                    &TopDocs::with_limit(pinned.len()).order_by_score(),
                )
                .map_err(SearchError::index("searched"))?;
            for (score, address) in found {
                scores.entry(address).or_insert(score);
            }
        }
        let mut page: Vec<(f32, DocAddress)> = Vec::with_capacity(window);
        for &address in &pinned {
            let score = if relevance {
                scores.get(&address).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            page.push((score, address));
        }
        let pinned: HashSet<DocAddress> = pinned.into_iter().collect();
        page.extend(
            ranked
                .into_iter()
                .filter(|(_, address)| !pinned.contains(address)),
        );

        let generators = self.generators(&searcher, plan.ranked.as_deref());
        let mut hits = Vec::with_capacity(limit);
        for (score, address) in page.into_iter().skip(offset).take(limit) {
            if let Some(hit) = self.hit(&searcher, address, score, &generators)? {
                hits.push(hit);
            }
        }
        Ok(KeywordResults { total, hits })
    }
}

/// A [`KeywordQuery`] turned into tantivy queries.
struct Plan {
    /// Filters, each a must-match clause that adds nothing to the score.
    filters: Vec<Box<dyn Query>>,
    /// BM25 over the words and phrases, filtered; `None` when the text has nothing to rank by.
    ranked: Option<Box<dyn Query>>,
    /// Every paper on any page: the ranked query, or an exact id or title, filtered; for blank
    /// text, everything the filters let through. `None` when nothing can match.
    matcher: Option<Box<dyn Query>>,
    /// Ids and the exact-title key from the text, whose papers are pinned first.
    exact: Vec<Term>,
    /// The order actually used: relevance needs words to rank by, else it is newest first.
    sort: SortOrder,
}

impl Plan {
    fn filtered(&self, query: Box<dyn Query>) -> Box<dyn Query> {
        if self.filters.is_empty() {
            return query;
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(self.filters.len() + 1);
        clauses.push((Occur::Must, query));
        for filter in &self.filters {
            clauses.push((Occur::Must, filter.box_clone()));
        }
        Box::new(BooleanQuery::new(clauses))
    }
}

/// Hit titles and snippets are made with these.
struct Generators {
    title: Option<SnippetGenerator>,
    abstract_text: Option<SnippetGenerator>,
}

impl KeywordIndex {
    fn plan(&self, q: &KeywordQuery) -> Plan {
        let filters = self.filters(q);
        let mut plan = Plan {
            filters,
            ranked: None,
            matcher: None,
            exact: Vec::new(),
            sort: q.sort,
        };
        if q.text.trim().is_empty() {
            let everything: Box<dyn Query> = Box::new(AllQuery);
            plan.matcher = Some(plan.filtered(everything));
            if plan.sort == SortOrder::Relevance {
                plan.sort = SortOrder::Newest;
            }
            return plan;
        }

        let pieces = pieces(&q.text);
        let ids = arxiv_ids(&q.text, &pieces);
        plan.exact = ids
            .iter()
            .map(|id| schema::id_term(&self.fields, id.as_str()))
            .collect();
        if let Some(key) = schema::title_key(&q.text) {
            plan.exact
                .push(Term::from_field_text(self.fields.title_key, &key));
        }

        let ranked = self.ranked_text(&pieces, &ids);
        let mut any: Vec<(Occur, Box<dyn Query>)> = plan
            .exact
            .iter()
            .map(|term| {
                let query: Box<dyn Query> =
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic));
                (Occur::Should, query)
            })
            .collect();
        if let Some(ranked) = &ranked {
            any.push((Occur::Should, ranked.box_clone()));
        }
        plan.matcher = match any.len() {
            0 => None,
            1 => any.pop().map(|(_, only)| plan.filtered(only)),
            _ => Some(plan.filtered(Box::new(BooleanQuery::new(any)))),
        };
        plan.ranked = ranked.map(|ranked| plan.filtered(ranked));
        if plan.ranked.is_none() && plan.sort == SortOrder::Relevance {
            plan.sort = SortOrder::Newest;
        }
        plan
    }

    /// BM25 over the free text: every word is optional (papers matching more of them, and
    /// rarer ones, rank higher), every phrase is required. Kept a flat union of term queries
    /// when there are no phrases, so tantivy can skip blocks that cannot reach the top (WAND).
    fn ranked_text(&self, pieces: &[Piece<'_>], ids: &[ArxivId]) -> Option<Box<dyn Query>> {
        let f = &self.fields;
        let scored = [
            (f.title, TITLE_BOOST),
            (f.abstract_text, 1.0),
            (f.authors, 1.0),
        ];
        let words: Vec<&str> = pieces
            .iter()
            .filter_map(|piece| match piece {
                Piece::Word(word) => Some(*word),
                Piece::Phrase(_) => None,
            })
            .collect();
        let words = words.join(" ");
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in scored {
            let mut seen = BTreeSet::new();
            for (_, token) in self.analyze(field, &words) {
                if seen.len() >= MAX_TERMS_PER_FIELD {
                    break;
                }
                if seen.insert(token.clone()) {
                    let term = Term::from_field_text(field, &token);
                    clauses.push((Occur::Should, boosted(term_query(term), boost)));
                }
            }
        }
        for id in ids {
            let term = schema::id_term(f, id.as_str());
            clauses.push((Occur::Should, term_query(term)));
        }
        let phrases = pieces.iter().filter_map(|piece| match piece {
            Piece::Phrase(phrase) => Some(*phrase),
            Piece::Word(_) => None,
        });
        for phrase in phrases.take(MAX_PHRASES) {
            // A phrase of stop words only ("to be or not to be") says nothing the prose
            // analyzer keeps; requiring it would match nothing, so it is left out.
            if self.analyze(f.title, phrase).is_empty() {
                continue;
            }
            let alternatives: Vec<(Occur, Box<dyn Query>)> = scored
                .iter()
                .filter_map(|&(field, boost)| {
                    let query = self.phrase_query(field, phrase)?;
                    Some((Occur::Should, boosted(query, boost)))
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// The tokens of `text` as `field` indexes them, with their positions.
    fn analyze(&self, field: Field, text: &str) -> Vec<(usize, String)> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(field) else {
            return Vec::new();
        };
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        while let Some(token) = stream.next() {
            tokens.push((token.position, token.text.clone()));
        }
        tokens
    }

    /// `text` as a phrase in `field`: a term query for one token, none for no token.
    fn phrase_query(&self, field: Field, text: &str) -> Option<Box<dyn Query>> {
        let mut tokens = self.analyze(field, text);
        tokens.truncate(MAX_TERMS_PER_FIELD);
        let first = tokens.first().map_or(0, |(position, _)| *position);
        let mut terms: Vec<(usize, Term)> = tokens
            .into_iter()
            .map(|(position, token)| (position - first, Term::from_field_text(field, &token)))
            .collect();
        match terms.len() {
            0 => None,
            1 => terms.pop().map(|(_, term)| term_query(term)),
            _ => Some(Box::new(PhraseQuery::new_with_offset(terms))),
        }
    }

    fn filters(&self, q: &KeywordQuery) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        if let Some(author) = &q.author {
            // No words left (`author:"!!"`) means no author can match, not "any author".
            let query = self
                .phrase_query(f.authors, author)
                .unwrap_or_else(|| Box::new(EmptyQuery));
            filters.push(query);
        }
        if let Some(category) = &q.category {
            filters.push(self.category_filter(category));
        }
        if let Some((from, to)) = q.published {
            filters.push(day_range(f.published, from, to));
        }
        if let Some((from, to)) = q.featured {
            filters.push(day_range(f.featured, from, to));
        }
        filters
            .into_iter()
            .map(|filter| Box::new(ConstScoreQuery::new(filter, 0.0)) as Box<dyn Query>)
            .collect()
    }

    /// `cs.CL` exactly (any case); `cs.*` or `cs*` for the archive; `cs` for the archive or
    /// a category named just that (`hep-th`).
    fn category_filter(&self, category: &str) -> Box<dyn Query> {
        let field = self.fields.categories;
        let term = |text: &str| term_query(Term::from_field_text(field, text));
        let category = schema::category_term(category);
        if let Some(archive) = category
            .strip_suffix(".*")
            .or_else(|| category.strip_suffix('*'))
        {
            return term(&format!("{archive}.*"));
        }
        if category.contains('.') {
            return term(&category);
        }
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, term(&category)),
            (Occur::Should, term(&format!("{category}.*"))),
        ]))
    }

    fn generators(&self, searcher: &Searcher, ranked: Option<&dyn Query>) -> Generators {
        let Some(ranked) = ranked else {
            return Generators {
                title: None,
                abstract_text: None,
            };
        };
        Generators {
            // One fragment as long as any title: the whole title is shown.
            title: highlight::generator(searcher, ranked, self.fields.title, usize::MAX / 2),
            abstract_text: highlight::generator(
                searcher,
                ranked,
                self.fields.abstract_text,
                highlight::SNIPPET_BYTES,
            ),
        }
    }

    fn hit(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        score: f32,
        generators: &Generators,
    ) -> Result<Option<KeywordHit>, SearchError> {
        let doc: TantivyDocument = searcher.doc(address).map_err(SearchError::index("read"))?;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let stored_id = text(self.fields.id);
        let Ok(id) = ArxivId::parse(&stored_id) else {
            // Only ids that parsed are ever indexed; skip rather than fail the page.
            tracing::warn!(paper.id = %stored_id, "keyword index holds an unreadable id");
            return Ok(None);
        };
        let title = text(self.fields.title);
        let abstract_text = text(self.fields.abstract_text);
        Ok(Some(KeywordHit {
            id,
            score,
            title_html: highlight::title_html(generators.title.as_ref(), &title),
            snippet_html: highlight::snippet_html(
                generators.abstract_text.as_ref(),
                &abstract_text,
            ),
        }))
    }
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        query
    } else {
        Box::new(BoostQuery::new(query, boost))
    }
}

fn day_range(field: Field, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Box<dyn Query> {
    if from > to {
        // Parsing refuses these; a query built by hand gets the empty answer it describes.
        return Box::new(EmptyQuery);
    }
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_i64(field, day_number(from))),
        Bound::Included(Term::from_field_i64(field, day_number(to))),
    ))
}

/// arXiv ids named in the text, in any accepted form: the whole text (`arXiv: 2403.06634`)
/// or any one word of it (`see 2403.06634v2`).
fn arxiv_ids(text: &str, pieces: &[Piece<'_>]) -> Vec<ArxivId> {
    let mut ids: Vec<ArxivId> = Vec::new();
    let candidates = std::iter::once(text.trim()).chain(pieces.iter().map(|piece| match piece {
        Piece::Word(word) | Piece::Phrase(word) => *word,
    }));
    for candidate in candidates {
        // Ids are short; parsing every word of a pasted abstract is cheap but pointless.
        if candidate.len() > 80 {
            continue;
        }
        if let Ok(id) = ArxivId::parse(candidate)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}
