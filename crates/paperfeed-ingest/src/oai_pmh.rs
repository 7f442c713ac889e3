//! OAI-PMH `ListRecords` pages harvested with `metadataPrefix=arXiv`: one `NewPaper` per
//! `<record>`, the identifiers of deleted records, and the resumption token for the next page.
//!
//! Elements are matched by local name within their parent (`OAI-PMH > ListRecords > record >
//! metadata > arXiv > …`), so namespace prefixes do not matter. Text is collected only for the
//! elements kept, into buffers reused from record to record. The page is read as a stream; a
//! record longer than the record limit is rejected without keeping what it says.

use std::io::BufRead;
use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Author, NewPaper};
use quick_xml::events::BytesStart;

use crate::fields::{arxiv_author_name, quote, split_categories, title_and_abstract};
use crate::record::{MAX_RECORD_BYTES, RecordSink, describe_limit};
use crate::xml::{At, XmlHandler, attribute, drive, rejected};
use crate::{Location, Parsed, RecordError, RecordResult};

const EXPECTED: &str = "an OAI-PMH <OAI-PMH> response";

/// One page of an OAI-PMH harvest.
#[derive(Debug, Default)]
pub struct OaiPage {
    pub parsed: Parsed,
    /// Present on every page of a list that needed more than one; an empty token marks the
    /// last page.
    pub resumption_token: Option<ResumptionToken>,
    /// Header identifiers (`oai:arXiv.org:0704.0002`) of records with `status="deleted"`:
    /// withdrawn from the repository, not errors. Only the first [`OaiPage::MAX_KEPT_DELETED`]
    /// are kept, so a flood of them costs no memory; `deleted_count` counts all.
    pub deleted: Vec<String>,
    pub deleted_count: u64,
}

/// Where a harvest goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumptionToken {
    /// Pass as `resumptionToken=` for the next page; empty = end of the list.
    pub token: String,
    pub cursor: Option<u64>,
    pub complete_list_size: Option<u64>,
}

impl OaiPage {
    /// Deleted identifiers kept per page; a real page lists at most a few hundred.
    pub const MAX_KEPT_DELETED: usize = 10_000;
}

impl ResumptionToken {
    /// True on the last page of a list.
    pub fn is_end(&self) -> bool {
        self.token.is_empty()
    }
}

/// Where an element sits, as far as this reader cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Node {
    Root,
    List,
    Record,
    Header,
    Metadata,
    ArXiv,
    Authors,
    Author,
    Text(Field),
    Other,
}

/// Elements whose text is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Identifier,
    Id,
    Created,
    Title,
    Categories,
    Abstract,
    Keyname,
    Forenames,
    Suffix,
    Token,
    Error,
}

/// What a `<record>` said so far; buffers are reused from record to record.
struct Draft {
    start: At,
    /// The record is over the limit: nothing more of it is kept.
    oversized: bool,
    deleted: bool,
    has_arxiv: bool,
    identifier: String,
    id: String,
    created: String,
    title: String,
    categories: String,
    abstract_text: String,
    authors: Vec<Author>,
    keyname: String,
    forenames: String,
    suffix: String,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            start: At { offset: 0, line: 1 },
            oversized: false,
            deleted: false,
            has_arxiv: false,
            identifier: String::new(),
            id: String::new(),
            created: String::new(),
            title: String::new(),
            categories: String::new(),
            abstract_text: String::new(),
            authors: Vec::new(),
            keyname: String::new(),
            forenames: String::new(),
            suffix: String::new(),
        }
    }
}

impl Draft {
    fn reset(&mut self, start: At) {
        self.start = start;
        self.oversized = false;
        self.deleted = false;
        self.has_arxiv = false;
        for s in [
            &mut self.identifier,
            &mut self.id,
            &mut self.created,
            &mut self.title,
            &mut self.categories,
            &mut self.abstract_text,
        ] {
            s.clear();
        }
        self.authors.clear();
    }
}

/// Parses one `ListRecords` answer held in memory. Never fails as a whole: an OAI-PMH
/// `<error>` (other than `noRecordsMatch`, which is an empty harvest), a wrong root or damaged
/// XML end up in `parsed.fatal`, after every complete record before the damage.
pub fn parse_oai_pmh(bytes: &[u8]) -> OaiPage {
    let mut parsed = Parsed::default();
    let mut page = read_oai(bytes, MAX_RECORD_BYTES, &mut parsed.collect());
    page.parsed.records = parsed.records;
    page.parsed.rejected_not_kept = parsed.rejected_not_kept;
    page
}

/// Reads a `ListRecords` answer from a stream, handing each record to `sink` as soon as it is
/// read; returns the error that stopped the page early, if any. Memory holds one record; a
/// record over [`MAX_RECORD_BYTES`] is rejected.
pub fn read_oai_pmh(reader: impl BufRead, sink: RecordSink<'_>) -> Option<RecordError> {
    read_oai(reader, MAX_RECORD_BYTES, sink).parsed.fatal
}

/// The page's token, deletions and fatal error; the records went to `sink`.
fn read_oai(reader: impl BufRead, max_record: usize, sink: RecordSink<'_>) -> OaiPage {
    let mut parser = OaiParser {
        page: OaiPage::default(),
        sink,
        max_record,
        draft: Draft::default(),
        records: 0,
        error_code: None,
    };
    drive(&mut parser, reader, EXPECTED, "OAI-PMH", max_record);
    parser.page
}

struct OaiParser<'s> {
    /// The token, deletions and fatal error; records go to `sink`.
    page: OaiPage,
    sink: RecordSink<'s>,
    max_record: usize,
    draft: Draft,
    /// Records seen so far, for `Location::Entry`.
    records: usize,
    /// The `code` of the `<error>` being read.
    error_code: Option<String>,
}

impl XmlHandler for OaiParser<'_> {
    type Node = Node;

    fn root(&mut self, _: &BytesStart<'_>) -> Result<Node, RecordError> {
        Ok(Node::Root)
    }

    fn open(&mut self, parent: Node, e: &BytesStart<'_>, at: At) -> Node {
        if !matches!(parent, Node::Root | Node::List) && self.oversized(at.offset) {
            return Node::Other;
        }
        let name = e.local_name();
        match (parent, name.as_ref()) {
            // GetRecord has the same shape, so one record fetched by id reads alike.
            (Node::Root, "ListRecords" | "GetRecord") => Node::List,
            (Node::Root, "error") => {
                self.error_code = Some(attribute(e, "code").map_or_else(String::new, Into::into));
                Node::Text(Field::Error)
            }
            (Node::List, "record") => {
                self.draft.reset(at);
                Node::Record
            }
            (Node::List, "resumptionToken") => {
                let number = |name| attribute(e, name).and_then(|v| v.trim().parse().ok());
                self.page.resumption_token = Some(ResumptionToken {
                    token: String::new(),
                    cursor: number("cursor"),
                    complete_list_size: number("completeListSize"),
                });
                Node::Text(Field::Token)
            }
            (Node::Record, "header") => {
                self.draft.deleted = attribute(e, "status").is_some_and(|s| s == "deleted");
                Node::Header
            }
            (Node::Header, "identifier") => Node::Text(Field::Identifier),
            (Node::Record, "metadata") => Node::Metadata,
            (Node::Metadata, "arXiv") => {
                self.draft.has_arxiv = true;
                Node::ArXiv
            }
            (Node::ArXiv, "id") => Node::Text(Field::Id),
            (Node::ArXiv, "created") => Node::Text(Field::Created),
            (Node::ArXiv, "title") => Node::Text(Field::Title),
            (Node::ArXiv, "categories") => Node::Text(Field::Categories),
            (Node::ArXiv, "abstract") => Node::Text(Field::Abstract),
            (Node::ArXiv, "authors") => Node::Authors,
            (Node::Authors, "author") => {
                self.draft.keyname.clear();
                self.draft.forenames.clear();
                self.draft.suffix.clear();
                Node::Author
            }
            (Node::Author, "keyname") => Node::Text(Field::Keyname),
            (Node::Author, "forenames") => Node::Text(Field::Forenames),
            (Node::Author, "suffix") => Node::Text(Field::Suffix),
            _ => Node::Other,
        }
    }

    fn collects_text(node: Node) -> bool {
        matches!(node, Node::Text(_))
    }

    fn close(&mut self, node: Node, text: &str, end: u64) -> ControlFlow<()> {
        match node {
            Node::Record => return self.finish_record(end),
            Node::Author => {
                let d = &mut self.draft;
                let name = arxiv_author_name(&d.keyname, &d.forenames, &d.suffix);
                if !name.is_empty() {
                    d.authors.push(Author::named(name));
                }
            }
            Node::Text(field) => self.store(field, text),
            Node::Root
            | Node::List
            | Node::Header
            | Node::Metadata
            | Node::ArXiv
            | Node::Authors
            | Node::Other => {}
        }
        ControlFlow::Continue(())
    }

    /// Keeps the first fatal error: an OAI `<error>` is the cause, later damage a consequence.
    fn set_fatal(&mut self, fatal: RecordError) {
        self.page.parsed.fatal.get_or_insert(fatal);
    }
}

impl OaiParser<'_> {
    /// Whether the record being read has grown past the limit by `offset`.
    fn oversized(&mut self, offset: u64) -> bool {
        let d = &mut self.draft;
        if !d.oversized && offset - d.start.offset > self.max_record as u64 {
            d.oversized = true;
            d.abstract_text = String::new();
            d.title = String::new();
            d.authors = Vec::new();
        }
        d.oversized
    }

    fn store(&mut self, field: Field, text: &str) {
        let d = &mut self.draft;
        let slot = match field {
            Field::Identifier => &mut d.identifier,
            Field::Id => &mut d.id,
            Field::Created => &mut d.created,
            Field::Title => &mut d.title,
            Field::Categories => &mut d.categories,
            Field::Abstract => &mut d.abstract_text,
            Field::Keyname => &mut d.keyname,
            Field::Forenames => &mut d.forenames,
            Field::Suffix => &mut d.suffix,
            Field::Token => {
                if let Some(token) = &mut self.page.resumption_token {
                    token.token = text.trim().to_owned();
                }
                return;
            }
            Field::Error => {
                let code = self.error_code.take().unwrap_or_default();
                // noRecordsMatch is how a harvest of an empty range or set ends: not an error.
                if code != "noRecordsMatch" {
                    let message = paperfeed_core::normalize_title(text);
                    let fatal = RecordError::new(
                        Location::File,
                        format!("OAI-PMH error {}: {message}", quote(&code)),
                    );
                    self.set_fatal(fatal);
                }
                return;
            }
        };
        slot.clear();
        slot.push_str(text);
    }

    fn finish_record(&mut self, end: u64) -> ControlFlow<()> {
        let index = self.records;
        self.records += 1;
        let start = self.draft.start;
        if self.oversized(end) {
            let reason = format!(
                "the record is {} bytes long, over the {} limit; skipped",
                end - start.offset,
                describe_limit(self.max_record)
            );
            return (self.sink)(Err(rejected(index, "record", start.line, &reason)));
        }
        if self.draft.deleted {
            self.page.deleted_count += 1;
            if self.page.deleted.len() < OaiPage::MAX_KEPT_DELETED {
                let identifier = self.draft.identifier.trim().to_owned();
                self.page.deleted.push(identifier);
            }
            return ControlFlow::Continue(());
        }
        let result: RecordResult = self
            .build_record()
            .map_err(|reason| rejected(index, "record", start.line, &reason));
        (self.sink)(result)
    }

    fn build_record(&mut self) -> Result<NewPaper, String> {
        let d = &mut self.draft;
        if !d.has_arxiv {
            return Err(format!(
                "record {} has no <arXiv> metadata; harvest with metadataPrefix=arXiv",
                quote(d.identifier.trim())
            ));
        }
        let id = d.id.trim();
        if id.is_empty() {
            return Err("the record has no <id>".into());
        }
        let id = ArxivId::parse(id).map_err(|e| format!("<id>: {e}"))?;
        let published_at = day(&d.created, "<created>")?;
        let (title, abstract_text) =
            title_and_abstract(&d.title, &d.abstract_text, "<title>", "<abstract>")?;
        let mut paper = NewPaper::new(id, title, abstract_text, std::mem::take(&mut d.authors));
        paper.published_at = published_at;
        paper.categories = split_categories(&d.categories);
        Ok(paper)
    }
}

/// `<created>`: the day version 1 was submitted, taken as midnight UTC.
fn day(text: &str, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| Some(d.and_time(chrono::NaiveTime::MIN).and_utc()))
        .map_err(|e| format!("{field}: {} is not a YYYY-MM-DD date ({e})", quote(text)))
}

#[cfg(test)]
mod tests;
