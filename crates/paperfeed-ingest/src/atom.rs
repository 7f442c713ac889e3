//! arXiv API (`/api/query`) Atom feeds: one `NewPaper` per `<entry>`, plus the OpenSearch
//! paging numbers.
//!
//! Elements are matched by local name within their parent, so it does not matter whether the
//! `opensearch:`/`arxiv:` prefixes are declared on the root (newer API) or on each element
//! (classic API), nor which prefix a file picks; only the root is checked to be an Atom `feed`.
//! Text is collected only for the elements kept, into reused buffers. The feed is read as a
//! stream; an entry longer than the record limit is rejected without keeping what it says.

use std::io::BufRead;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use paperfeed_core::{Author, NewPaper, PaperVersion, VersionedArxivId};
use quick_xml::events::BytesStart;

use crate::detect::root_namespace;
use crate::fields::{push_category, quote, title_and_abstract};
use crate::record::{MAX_RECORD_BYTES, RecordSink, describe_limit};
use crate::xml::{At, XmlHandler, attribute, drive, rejected};
use crate::{Location, Parsed, RecordError, RecordResult};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const EXPECTED: &str = "an arXiv API Atom <feed>";

/// One page of an arXiv API answer.
#[derive(Debug, Default)]
pub struct AtomPage {
    pub parsed: Parsed,
    /// `opensearch:totalResults`: how many entries the whole query matches.
    pub total_results: Option<u64>,
    /// `opensearch:startIndex`: the 0-based index of this page's first entry.
    pub start_index: Option<u64>,
    /// `opensearch:itemsPerPage`.
    pub items_per_page: Option<u64>,
}

/// Where an element sits, as far as this reader cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Node {
    Feed,
    Entry,
    Author,
    Text(Field),
    Other,
}

/// Elements whose text is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Updated,
    Published,
    Title,
    Summary,
    AuthorName,
    TotalResults,
    StartIndex,
    ItemsPerPage,
}

/// What an `<entry>` said so far; buffers are reused from entry to entry.
struct Draft {
    start: At,
    /// The entry is over the record limit: nothing more of it is kept.
    oversized: bool,
    id: String,
    updated: String,
    published: String,
    title: String,
    summary: String,
    authors: Vec<Author>,
    primary: Option<String>,
    categories: Vec<String>,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            start: At { offset: 0, line: 1 },
            oversized: false,
            id: String::new(),
            updated: String::new(),
            published: String::new(),
            title: String::new(),
            summary: String::new(),
            authors: Vec::new(),
            primary: None,
            categories: Vec::new(),
        }
    }
}

impl Draft {
    fn reset(&mut self, start: At) {
        self.start = start;
        self.oversized = false;
        self.id.clear();
        self.updated.clear();
        self.published.clear();
        self.title.clear();
        self.summary.clear();
        self.authors.clear();
        self.primary = None;
        self.categories.clear();
    }
}

/// Parses one arXiv API answer held in memory. Never fails as a whole: an API error entry, a
/// wrong root or damaged XML end up in `parsed.fatal`, after every complete entry before the
/// damage.
pub fn parse_arxiv_atom(bytes: &[u8]) -> AtomPage {
    let mut parsed = Parsed::default();
    let mut page = read_atom(bytes, MAX_RECORD_BYTES, &mut parsed.collect());
    page.parsed.records = parsed.records;
    page.parsed.rejected_not_kept = parsed.rejected_not_kept;
    page
}

/// Reads an arXiv API answer from a stream, handing each entry's record to `sink` as soon as
/// it is read; returns the error that stopped the feed early, if any. Memory holds one entry;
/// an entry over [`MAX_RECORD_BYTES`] is rejected.
pub fn read_arxiv_atom(reader: impl BufRead, sink: RecordSink<'_>) -> Option<RecordError> {
    read_atom(reader, MAX_RECORD_BYTES, sink).parsed.fatal
}

/// The feed's paging numbers and fatal error; the records went to `sink`.
fn read_atom(reader: impl BufRead, max_entry: usize, sink: RecordSink<'_>) -> AtomPage {
    let mut parser = AtomParser {
        page: AtomPage::default(),
        sink,
        max_entry,
        draft: Draft::default(),
        entries: 0,
    };
    drive(&mut parser, reader, EXPECTED, "feed", max_entry);
    parser.page
}

struct AtomParser<'s> {
    /// The paging numbers and the fatal error; records go to `sink`.
    page: AtomPage,
    sink: RecordSink<'s>,
    max_entry: usize,
    draft: Draft,
    /// Entries seen so far, for `Location::Entry`.
    entries: usize,
}

impl XmlHandler for AtomParser<'_> {
    type Node = Node;

    /// Checks the `<feed>` root is in the Atom namespace.
    fn root(&mut self, e: &BytesStart<'_>) -> Result<Node, RecordError> {
        match root_namespace(e) {
            Some(ns) if ns == ATOM_NS => Ok(Node::Feed),
            Some(ns) => Err(RecordError::new(
                Location::File,
                format!(
                    "the <feed> root is in namespace {}, not the Atom namespace {ATOM_NS}",
                    quote(&ns)
                ),
            )),
            None => Err(RecordError::new(
                Location::File,
                format!(
                    "the <feed> root declares no namespace; expected the Atom namespace {ATOM_NS}"
                ),
            )),
        }
    }

    fn open(&mut self, parent: Node, e: &BytesStart<'_>, at: At) -> Node {
        if parent != Node::Feed && self.oversized(at.offset) {
            return Node::Other;
        }
        let name = e.local_name();
        match (parent, name.as_ref()) {
            (Node::Feed, "entry") => {
                self.draft.reset(at);
                Node::Entry
            }
            (Node::Feed, "totalResults") => Node::Text(Field::TotalResults),
            (Node::Feed, "startIndex") => Node::Text(Field::StartIndex),
            (Node::Feed, "itemsPerPage") => Node::Text(Field::ItemsPerPage),
            (Node::Entry, "id") => Node::Text(Field::Id),
            (Node::Entry, "updated") => Node::Text(Field::Updated),
            (Node::Entry, "published") => Node::Text(Field::Published),
            (Node::Entry, "title") => Node::Text(Field::Title),
            (Node::Entry, "summary") => Node::Text(Field::Summary),
            (Node::Entry, "author") => Node::Author,
            (Node::Author, "name") => Node::Text(Field::AuthorName),
            (Node::Entry, "category") => {
                if let Some(term) = attribute(e, "term") {
                    push_category(&mut self.draft.categories, &term);
                }
                Node::Other
            }
            (Node::Entry, "primary_category") => {
                if let Some(term) = attribute(e, "term") {
                    let term = term.trim();
                    if !term.is_empty() {
                        self.draft.primary = Some(term.to_owned());
                    }
                }
                Node::Other
            }
            _ => Node::Other,
        }
    }

    fn collects_text(node: Node) -> bool {
        matches!(node, Node::Text(_))
    }

    fn close(&mut self, node: Node, text: &str, end: u64) -> ControlFlow<()> {
        match node {
            Node::Entry => return self.finish_entry(end),
            Node::Text(field) => self.store(field, text),
            Node::Feed | Node::Author | Node::Other => {}
        }
        ControlFlow::Continue(())
    }

    /// Keeps the first fatal error: an API error entry is the cause, later damage a
    /// consequence.
    fn set_fatal(&mut self, fatal: RecordError) {
        self.page.parsed.fatal.get_or_insert(fatal);
    }
}

impl AtomParser<'_> {
    /// Whether the entry being read has grown past the limit by `offset`.
    fn oversized(&mut self, offset: u64) -> bool {
        let draft = &mut self.draft;
        if !draft.oversized && offset - draft.start.offset > self.max_entry as u64 {
            draft.oversized = true;
            draft.summary = String::new();
            draft.title = String::new();
            draft.authors = Vec::new();
            draft.categories = Vec::new();
        }
        draft.oversized
    }

    fn store(&mut self, field: Field, text: &str) {
        let draft = &mut self.draft;
        if draft.oversized
            && !matches!(
                field,
                Field::TotalResults | Field::StartIndex | Field::ItemsPerPage
            )
        {
            return;
        }
        match field {
            Field::Id => replace(&mut draft.id, text),
            Field::Updated => replace(&mut draft.updated, text),
            Field::Published => replace(&mut draft.published, text),
            Field::Title => replace(&mut draft.title, text),
            Field::Summary => replace(&mut draft.summary, text),
            Field::AuthorName => {
                let name = paperfeed_core::normalize_title(text);
                if !name.is_empty() {
                    draft.authors.push(Author::named(name));
                }
            }
            Field::TotalResults => self.page.total_results = text.trim().parse().ok(),
            Field::StartIndex => self.page.start_index = text.trim().parse().ok(),
            Field::ItemsPerPage => self.page.items_per_page = text.trim().parse().ok(),
        }
    }

    fn finish_entry(&mut self, end: u64) -> ControlFlow<()> {
        let index = self.entries;
        self.entries += 1;
        let start = self.draft.start;
        let length = end - start.offset;
        if self.oversized(end) {
            let reason = format!(
                "the entry is {length} bytes long, over the {} limit; skipped",
                describe_limit(self.max_entry)
            );
            return (self.sink)(Err(rejected(index, "entry", start.line, &reason)));
        }
        let id = self.draft.id.trim();
        // The API reports a bad query as a feed with one entry whose id is an error URL.
        if id.contains("arxiv.org/api/errors") {
            let message = paperfeed_core::normalize_title(&self.draft.summary);
            self.set_fatal(RecordError::new(
                Location::Entry(index),
                format!("arXiv API error: {message}"),
            ));
            return ControlFlow::Continue(());
        }
        let result: RecordResult = self
            .build_entry()
            .map_err(|reason| rejected(index, "entry", start.line, &reason));
        (self.sink)(result)
    }

    fn build_entry(&mut self) -> Result<NewPaper, String> {
        let draft = &mut self.draft;
        let id = draft.id.trim();
        if id.is_empty() {
            return Err("the entry has no <id>".into());
        }
        let versioned = VersionedArxivId::parse(id).map_err(|e| format!("<id>: {e}"))?;
        let published = date(&draft.published, "<published>")?;
        let updated = date(&draft.updated, "<updated>")?;
        let (title, abstract_text) =
            title_and_abstract(&draft.title, &draft.summary, "<title>", "<summary>")?;

        let mut paper = NewPaper::new(
            versioned.id,
            title,
            abstract_text,
            std::mem::take(&mut draft.authors),
        );
        paper.published_at = published;
        if let Some(number) = versioned.version {
            if number > 1 {
                paper.versions.push(PaperVersion {
                    number: 1,
                    submitted_at: published,
                });
            }
            paper.versions.push(PaperVersion {
                number,
                // `<updated>` is when the version the id names was submitted.
                submitted_at: updated.or(if number == 1 { published } else { None }),
            });
        }
        let mut categories = Vec::with_capacity(draft.categories.len() + 1);
        if let Some(primary) = draft.primary.take() {
            categories.push(primary);
        }
        for term in draft.categories.drain(..) {
            if !categories.contains(&term) {
                categories.push(term);
            }
        }
        paper.categories = categories;
        Ok(paper)
    }
}

fn replace(slot: &mut String, text: &str) {
    slot.clear();
    slot.push_str(text);
}

/// An RFC 3339 timestamp as the API writes them; absent is fine, unreadable is not.
fn date(text: &str, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|d| Some(d.with_timezone(&Utc)))
        .map_err(|e| {
            format!(
                "{field}: {} is not an RFC 3339 date-time ({e})",
                quote(text)
            )
        })
}

#[cfg(test)]
mod tests;
