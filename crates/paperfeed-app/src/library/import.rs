//! Importing a reference list (BibTeX, RIS, or arXiv ids and URLs one per line) into one of a
//! reader's collections. Each entry's arXiv id is read by `paperfeed_core::references`; papers
//! the hub lacks are looked up on arXiv through the [`PaperLookup`] seam submissions use and
//! stored; then all of them join the collection in one transaction. The report says, entry by
//! entry, what was added, what was there already and what could not be read, and why.
//!
//! Bounded: the upload ([`MAX_IMPORT_BYTES`]), the entries read ([`ImportConfig::max_entries`])
//! and the arXiv lookups per import ([`ImportConfig::max_lookups`], each within
//! [`LOOKUP_DEADLINE`]): arXiv asks clients to space their requests, and someone is waiting on
//! the answer. Entries past the lookup limit are reported as such; importing the same file again
//! continues where this one stopped (what is in the collection already is reported as such).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use paperfeed_core::library::MAX_COLLECTION_PAPERS;
use paperfeed_core::references::{ReferenceFormat, read_references};
use paperfeed_core::{ArxivId, NewPaper};
use paperfeed_store::{Added, Store, User, WriteMode};

use super::{LibraryError, own_collection};
use crate::metrics::{IngestCounts, Metrics};
use crate::submit::{LOOKUP_DEADLINE, PaperLookup};

/// The largest upload read, in bytes.
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;

/// How much one import may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportConfig {
    /// Entries read from one upload; the rest are reported as not read.
    pub max_entries: usize,
    /// Papers looked up on arXiv in one import.
    pub max_lookups: usize,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            max_entries: 1000,
            max_lookups: 25,
        }
    }
}

/// What became of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Added to the collection (the paper was on the hub).
    Added,
    /// Looked up on arXiv, stored on the hub and added.
    AddedFromArxiv,
    /// The collection held it already.
    AlreadyThere,
    /// The same paper came earlier in the upload.
    Repeated,
    /// No arXiv id could be read from the entry: why.
    Unreadable(String),
    /// arXiv has no such paper, or could not be asked: why.
    NotFound(String),
    /// Past this import's arXiv lookups; import again to continue.
    NotLookedUp,
    /// The collection is full.
    CollectionFull,
}

impl ImportOutcome {
    pub fn added(&self) -> bool {
        matches!(self, ImportOutcome::Added | ImportOutcome::AddedFromArxiv)
    }

    pub fn already_there(&self) -> bool {
        matches!(self, ImportOutcome::AlreadyThere | ImportOutcome::Repeated)
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        match self {
            ImportOutcome::Added => "added".into(),
            ImportOutcome::AddedFromArxiv => "added (fetched from arXiv)".into(),
            ImportOutcome::AlreadyThere => "already in the collection".into(),
            ImportOutcome::Repeated => "repeated: the same paper came earlier".into(),
            ImportOutcome::Unreadable(why) => format!("not read: {why}"),
            ImportOutcome::NotFound(why) => format!("not added: {why}"),
            ImportOutcome::NotLookedUp => {
                "not added yet: this import's arXiv lookups are used up; import again to continue"
                    .into()
            }
            ImportOutcome::CollectionFull => format!(
                "not added: the collection is full ({MAX_COLLECTION_PAPERS} papers at most)"
            ),
        }
    }
}

/// One entry of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportLine {
    /// Where it stands in the upload: `line 3`, `entry 2 (key) at line 14`.
    pub label: String,
    pub id: Option<ArxivId>,
    pub outcome: ImportOutcome,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub format: ReferenceFormat,
    pub lines: Vec<ImportLine>,
    /// The upload had more entries than were read.
    pub truncated: bool,
}

impl ImportReport {
    fn count(&self, f: impl Fn(&ImportOutcome) -> bool) -> usize {
        self.lines.iter().filter(|l| f(&l.outcome)).count()
    }

    /// Entries added to the collection.
    pub fn added(&self) -> usize {
        self.count(ImportOutcome::added)
    }

    /// Entries the collection held already (or that repeat an earlier one).
    pub fn already_there(&self) -> usize {
        self.count(ImportOutcome::already_there)
    }

    /// Entries neither added nor there already: unreadable, not found, over a limit.
    pub fn not_added(&self) -> usize {
        self.count(|o| !o.added() && !o.already_there())
    }
}

/// What to import where.
pub struct ImportRequest<'a> {
    pub store: &'a dyn Store,
    pub lookup: Option<&'a dyn PaperLookup>,
    pub metrics: &'a dyn Metrics,
    pub config: ImportConfig,
    pub user: &'a User,
    pub collection: i64,
    /// The upload (bytes that are not UTF-8 are replaced, then read as the format they look
    /// like).
    pub upload: &'a [u8],
    pub now: DateTime<Utc>,
}

/// Imports the upload into the user's collection and reports on every entry. Refused when the
/// collection is not the user's or the upload is too large; failed when the store fails.
pub async fn import_into_collection(req: ImportRequest<'_>) -> Result<ImportReport, LibraryError> {
    let collection = own_collection(req.store, req.user, req.collection).await?;
    if req.upload.len() > MAX_IMPORT_BYTES {
        return Err(LibraryError::TooMany {
            what: "bytes in an upload",
            limit: MAX_IMPORT_BYTES as u64,
        });
    }
    let text = String::from_utf8_lossy(req.upload);
    let refs = read_references(&text, req.config.max_entries);

    // Each paper once, in upload order.
    let mut seen = HashSet::new();
    let mut lines = Vec::with_capacity(refs.entries.len());
    let mut wanted: Vec<ArxivId> = Vec::new();
    for entry in refs.entries {
        let (id, outcome) = match entry.id {
            Err(why) => (None, Some(ImportOutcome::Unreadable(why))),
            Ok(id) if !seen.insert(id.clone()) => (Some(id), Some(ImportOutcome::Repeated)),
            Ok(id) => {
                wanted.push(id.clone());
                (Some(id), None)
            }
        };
        lines.push((entry.label, id, outcome));
    }

    // Papers the hub lacks, from arXiv (a bounded number), stored in one batch.
    let stored: HashSet<ArxivId> = req
        .store
        .get_papers(&wanted)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut settled: HashMap<ArxivId, ImportOutcome> = HashMap::new();
    let mut fetched: Vec<NewPaper> = Vec::new();
    let mut lookups = 0;
    for id in wanted.iter().filter(|id| !stored.contains(*id)) {
        let Some(lookup) = req.lookup else {
            settled.insert(
                id.clone(),
                ImportOutcome::NotFound(
                    "the paper is not on this hub, and this hub has no arXiv lookup configured"
                        .into(),
                ),
            );
            continue;
        };
        if lookups == req.config.max_lookups {
            settled.insert(id.clone(), ImportOutcome::NotLookedUp);
            continue;
        }
        lookups += 1;
        let outcome = match tokio::time::timeout(LOOKUP_DEADLINE, lookup.lookup(id)).await {
            Ok(Ok(Some(paper))) => {
                fetched.push(paper);
                continue;
            }
            Ok(Ok(None)) => ImportOutcome::NotFound(format!("arXiv has no paper {id}")),
            Ok(Err(e)) => {
                tracing::warn!(paper.id = %id, error = %e, "arXiv lookup for an import failed");
                ImportOutcome::NotFound("arXiv could not be asked; try again later".into())
            }
            Err(_) => {
                ImportOutcome::NotFound("arXiv did not answer in time; try again later".into())
            }
        };
        settled.insert(id.clone(), outcome);
    }
    let from_arxiv: HashSet<ArxivId> = fetched.iter().map(|p| p.id.clone()).collect();
    if !fetched.is_empty() {
        let outcomes = req.store.upsert_papers(fetched, WriteMode::Commit).await?;
        req.metrics
            .record_ingest("import", IngestCounts::of(&outcomes));
    }

    // Into the collection, up to its capacity, in one transaction.
    let room = usize::try_from(MAX_COLLECTION_PAPERS.saturating_sub(collection.papers))
        .unwrap_or(usize::MAX);
    let candidates: Vec<ArxivId> = wanted
        .iter()
        .filter(|id| !settled.contains_key(*id))
        .cloned()
        .collect();
    let (to_add, over) = candidates.split_at(candidates.len().min(room));
    for id in over {
        settled.insert(id.clone(), ImportOutcome::CollectionFull);
    }
    let added = req
        .store
        .add_to_collection(req.user.id, req.collection, to_add, req.now)
        .await?
        .ok_or(LibraryError::NoSuchCollection)?;
    for (id, added) in to_add.iter().zip(added) {
        let outcome = match added {
            Added::Added if from_arxiv.contains(id) => ImportOutcome::AddedFromArxiv,
            Added::Added => ImportOutcome::Added,
            Added::AlreadyThere => ImportOutcome::AlreadyThere,
            Added::NoSuchPaper => ImportOutcome::NotFound(format!("paper {id} is not on this hub")),
        };
        settled.insert(id.clone(), outcome);
    }

    let lines = lines
        .into_iter()
        .map(|(label, id, outcome)| {
            let outcome = outcome
                .or_else(|| id.as_ref().and_then(|id| settled.get(id).cloned()))
                .unwrap_or(ImportOutcome::NotLookedUp);
            ImportLine { label, id, outcome }
        })
        .collect();
    let report = ImportReport {
        format: refs.format,
        lines,
        truncated: refs.truncated,
    };
    tracing::info!(
        user.id = req.user.id.0,
        collection.id = req.collection,
        import.entries = report.lines.len(),
        import.added = report.added(),
        "reference list imported"
    );
    Ok(report)
}
