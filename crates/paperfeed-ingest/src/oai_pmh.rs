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
mod tests {
    use super::*;

    const LAST_PAGE: &[u8] =
        include_bytes!("../tests/fixtures/ListRecords_arXiv_set-cs_2016-03-09_page103.xml");

    fn ok(page: &OaiPage) -> Vec<&NewPaper> {
        page.parsed
            .records
            .iter()
            .map(|r| r.as_ref().unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn page(records: &str, token: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
<responseDate>2016-03-09T00:35:38Z</responseDate>
<request verb="ListRecords" metadataPrefix="arXiv" set="cs">http://export.arxiv.org/oai2</request>
<ListRecords>
{records}
{token}
</ListRecords>
</OAI-PMH>
"#
        )
    }

    fn record(id: &str) -> String {
        format!(
            r#"<record>
<header>
 <identifier>oai:arXiv.org:{id}</identifier>
 <datestamp>2008-12-13</datestamp>
 <setSpec>cs</setSpec>
</header>
<metadata>
 <arXiv xmlns="http://arxiv.org/OAI/arXiv/">
 <id>{id}</id><created>2007-03-30</created><updated>2008-12-13</updated><authors><author><keyname>Streinu</keyname><forenames>Ileana</forenames></author><author><keyname>Evans</keyname><forenames>Neal J.</forenames><suffix>II</suffix><affiliation>Somewhere</affiliation></author></authors><title>Sparsity-certifying Graph
  Decompositions</title><categories>math.CO cs.CG</categories><abstract>  We describe the $(k,\ell)$-pebble game &amp; &quot;more&quot;.
</abstract></arXiv>
</metadata>
</record>"#
        )
    }

    #[test]
    fn the_real_last_page_has_538_records_and_an_empty_token() {
        let page = parse_oai_pmh(LAST_PAGE);
        assert_eq!(page.parsed.fatal, None);
        let papers = ok(&page);
        assert_eq!(papers.len(), 538);
        assert!(page.deleted.is_empty());
        let token = page.resumption_token.clone().expect("token");
        assert_eq!(
            token,
            ResumptionToken {
                token: String::new(),
                cursor: Some(102_000),
                complete_list_size: Some(102_538),
            }
        );
        assert!(token.is_end());
        let last = papers[537];
        assert_eq!(last.id.as_str(), "quant-ph/9912100");
        assert_eq!(
            last.title,
            "Quantum Computing, NP-complete Problems and Chaotic Dynamics"
        );
        let names: Vec<_> = last.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Masanori Ohya", "Igor V. Volovich"]);
        assert_eq!(
            last.categories,
            [
                "quant-ph",
                "chao-dyn",
                "cond-mat.mes-hall",
                "cs.CC",
                "nlin.CD",
                "physics.atom-ph"
            ]
        );
        assert_eq!(last.published_at, "1999-12-21T00:00:00Z".parse().ok());
        assert!(
            last.abstract_text
                .starts_with("An approach to the solution")
        );
        assert!(last.versions.is_empty());
    }

    #[test]
    fn a_synthetic_page_maps_every_field_and_reads_the_token() {
        let xml = page(
            &record("0704.0002"),
            r#"<resumptionToken cursor="0" completeListSize="102538">1122234|1001</resumptionToken>"#,
        );
        let page = parse_oai_pmh(xml.as_bytes());
        let papers = ok(&page);
        assert_eq!(papers.len(), 1);
        let p = papers[0];
        assert_eq!(p.id.as_str(), "0704.0002");
        assert_eq!(p.title, "Sparsity-certifying Graph Decompositions");
        assert_eq!(
            p.abstract_text,
            "We describe the $(k,\\ell)$-pebble game & \"more\"."
        );
        let names: Vec<_> = p.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Ileana Streinu", "Neal J. Evans II"]);
        assert_eq!(p.categories, ["math.CO", "cs.CG"]);
        assert_eq!(p.published_at, "2007-03-30T00:00:00Z".parse().ok());
        assert_eq!(
            page.resumption_token,
            Some(ResumptionToken {
                token: "1122234|1001".into(),
                cursor: Some(0),
                complete_list_size: Some(102_538),
            })
        );
        assert!(!page.resumption_token.expect("token").is_end());
    }

    #[test]
    fn a_page_without_a_token_and_a_self_closed_token_differ() {
        let none = parse_oai_pmh(page(&record("0704.0002"), "").as_bytes());
        assert_eq!(none.resumption_token, None);
        let empty = parse_oai_pmh(page(&record("0704.0002"), "<resumptionToken/>").as_bytes());
        assert_eq!(
            empty.resumption_token,
            Some(ResumptionToken {
                token: String::new(),
                cursor: None,
                complete_list_size: None
            })
        );
    }

    #[test]
    fn deleted_records_are_listed_not_rejected() {
        let deleted = r#"<record><header status="deleted"><identifier>oai:arXiv.org:0704.0003</identifier><datestamp>2016-01-01</datestamp></header></record>"#;
        let xml = page(
            &[record("0704.0002"), deleted.into(), record("0704.0004")].join("\n"),
            "",
        );
        let page = parse_oai_pmh(xml.as_bytes());
        assert_eq!(page.parsed.fatal, None);
        assert_eq!(ok(&page).len(), 2);
        assert_eq!(page.deleted, ["oai:arXiv.org:0704.0003"]);
    }

    #[test]
    fn no_records_match_is_an_empty_harvest_and_other_errors_are_fatal() {
        let empty = r#"<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2016-03-09T00:35:38Z</responseDate>
<request verb="ListRecords">http://export.arxiv.org/oai2</request>
<error code="noRecordsMatch">No records match</error></OAI-PMH>"#;
        let page = parse_oai_pmh(empty.as_bytes());
        assert!(page.parsed.records.is_empty());
        assert_eq!(page.parsed.fatal, None);

        let bad = empty.replace("noRecordsMatch\">No records match", "badResumptionToken\">The value of the\n resumptionToken argument is invalid or expired.");
        let page = parse_oai_pmh(bad.as_bytes());
        assert!(page.parsed.records.is_empty());
        let fatal = page.parsed.fatal.expect("fatal");
        assert_eq!(
            fatal.reason,
            "OAI-PMH error \"badResumptionToken\": The value of the resumptionToken argument is invalid or expired."
        );
    }

    #[test]
    fn a_truncated_page_keeps_the_complete_records_and_names_the_line() {
        let half = &LAST_PAGE[..LAST_PAGE.len() / 2];
        let page = parse_oai_pmh(half);
        let kept = ok(&page).len();
        assert!((260..280).contains(&kept), "{kept}");
        let fatal = page.parsed.fatal.expect("fatal");
        assert!(
            matches!(fatal.location, Location::Line(n) if n > 1000),
            "{fatal}"
        );
        assert!(
            fatal.reason.contains("truncated or malformed XML"),
            "{fatal}"
        );
    }

    #[test]
    fn a_bad_record_is_rejected_and_its_neighbours_kept() {
        let bad_id = record("0704.0003").replace("<id>0704.0003</id>", "<id>0704.3</id>");
        let bad_date = record("0704.0004").replace("2007-03-30", "30/03/2007");
        let no_abstract = record("0704.0005").replace(
            "We describe the $(k,\\ell)$-pebble game &amp; &quot;more&quot;.",
            "",
        );
        let oai_dc = r#"<record><header><identifier>oai:arXiv.org:0704.0006</identifier></header><metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"/></metadata></record>"#;
        let xml = page(
            &[
                record("0704.0002"),
                bad_id,
                bad_date,
                no_abstract,
                oai_dc.into(),
                record("0704.0007"),
            ]
            .join("\n"),
            "",
        );
        let page = parse_oai_pmh(xml.as_bytes());
        assert_eq!(page.parsed.fatal, None);
        let records = &page.parsed.records;
        assert_eq!(records.len(), 6);
        assert!(records[0].is_ok() && records[5].is_ok());
        let reasons: Vec<_> = records[1..5]
            .iter()
            .map(|r| r.as_ref().expect_err("bad").to_string())
            .collect();
        assert!(
            reasons[0].starts_with("entry 1: <id>: \"0704.3\" is not an arXiv id"),
            "{}",
            reasons[0]
        );
        assert!(
            reasons[0].ends_with("(record at line 19)"),
            "{}",
            reasons[0]
        );
        assert!(
            reasons[1].starts_with("entry 2: <created>: \"30/03/2007\" is not a YYYY-MM-DD date"),
            "{}",
            reasons[1]
        );
        assert!(
            reasons[2].starts_with("entry 3: <abstract> is empty"),
            "{}",
            reasons[2]
        );
        assert!(
            reasons[3]
                .starts_with("entry 4: record \"oai:arXiv.org:0704.0006\" has no <arXiv> metadata"),
            "{}",
            reasons[3]
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(LAST_PAGE);
        assert_eq!(ok(&parse_oai_pmh(&bytes)).len(), 538);
    }

    #[test]
    fn empty_input_garbage_and_other_roots_are_fatal() {
        for (input, want) in [
            (&b""[..], "the file is empty"),
            (
                b"\xff\xfe\x00<\x00O\x00A\x00I",
                "truncated or malformed XML",
            ),
            (b"{\"id\": \"0704.0001\"}", "no XML root element"),
            (
                b"<feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
                "found a <feed> root",
            ),
            (
                b"<OAI-PMH><ListRecords><record><header>",
                "ends before </OAI-PMH>",
            ),
        ] {
            let page = parse_oai_pmh(input);
            assert!(page.parsed.records.is_empty());
            let fatal = page.parsed.fatal.unwrap_or_else(|| panic!("{input:?}"));
            assert!(fatal.reason.contains(want), "{input:?}: {fatal}");
        }
    }

    #[test]
    fn an_invalid_utf8_byte_late_in_a_page_is_reported_where_it_is() {
        let good = record("0704.0002");
        let bad = record("0704.0003").replace("Streinu", "Stre\u{fffd}nu");
        let xml = page(&format!("{good}\n{bad}"), "");
        let mut bytes = xml.into_bytes();
        // Turn the replacement character (EF BF BD) into one invalid byte and two spaces.
        let at = memchr::memmem::find(&bytes, "\u{fffd}".as_bytes()).expect("marker");
        bytes[at..at + 3].copy_from_slice(b"\xff  ");
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
        let parsed = parse_oai_pmh(&bytes);
        assert_eq!(ok(&parsed).len(), 1, "the record before the damage is kept");
        let fatal = parsed.parsed.fatal.expect("fatal");
        assert_eq!(fatal.location, Location::Line(line), "{fatal}");
        assert_eq!(
            fatal.reason,
            format!("truncated or malformed XML at byte {at}: invalid UTF-8")
        );
        assert!(line > 20);
    }

    /// A sink that keeps everything, for the streaming reader.
    fn stream(bytes: &[u8], max_record: usize) -> (Vec<RecordResult>, OaiPage) {
        let mut records = Vec::new();
        let mut sink = |r| {
            records.push(r);
            ControlFlow::Continue(())
        };
        let page = read_oai(
            std::io::BufReader::with_capacity(7, bytes),
            max_record,
            &mut sink,
        );
        (records, page)
    }

    #[test]
    fn a_record_over_the_limit_is_rejected_and_the_next_one_read() {
        // Long through many short elements, each well under the limit.
        let many = "<author><keyname>X</keyname></author>".repeat(100);
        let long = record("0704.0003").replace("<authors>", &format!("<authors>{many}"));
        let xml = page(
            &format!("{}\n{long}\n{}", record("0704.0002"), record("0704.0004")),
            "",
        );
        let (records, page) = stream(xml.as_bytes(), 2048);
        assert_eq!(page.parsed.fatal, None);
        let got: Vec<String> = records
            .iter()
            .map(|r| match r {
                Ok(p) => p.id.to_string(),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], "0704.0002");
        assert_eq!(
            got[1],
            "entry 1: the record is 4397 bytes long, over the 2048 bytes limit; skipped (record at line 19)"
        );
        assert_eq!(got[2], "0704.0004");
    }

    #[test]
    fn one_tag_or_text_over_the_limit_ends_the_page_where_it_starts() {
        let long = record("0704.0003").replace("pebble game", &"pebble ".repeat(400));
        let xml = page(&format!("{}\n{long}", record("0704.0002")), "");
        let (records, page) = stream(xml.as_bytes(), 1024);
        assert_eq!(records.len(), 1);
        let fatal = page.parsed.fatal.expect("fatal");
        assert!(
            fatal
                .reason
                .ends_with("one tag or text is over the 1024 bytes limit; the rest is not read"),
            "{fatal}"
        );
        assert_eq!(fatal.location, Location::Line(28), "{fatal}");
    }

    #[test]
    fn a_flood_of_empty_records_keeps_a_bounded_number_of_reasons() {
        let mut xml = "<OAI-PMH><ListRecords>".to_owned();
        xml.push_str(&"<record/>".repeat(50_000));
        xml.push_str(
            "<record><header status=\"deleted\"/></record>"
                .repeat(20_000)
                .as_str(),
        );
        xml.push_str("</ListRecords></OAI-PMH>");
        let page = parse_oai_pmh(xml.as_bytes());
        assert_eq!(page.parsed.fatal, None);
        assert_eq!(page.parsed.records.len(), Parsed::MAX_KEPT_ERRORS);
        assert_eq!(page.parsed.rejected(), 50_000);
        assert_eq!(page.deleted.len(), OaiPage::MAX_KEPT_DELETED);
        assert_eq!(page.deleted_count, 20_000);
    }

    #[test]
    fn nesting_deeper_than_any_feed_ends_the_page() {
        let xml = format!("<OAI-PMH>{}", "<a>".repeat(10_000));
        let fatal = parse_oai_pmh(xml.as_bytes()).parsed.fatal.expect("fatal");
        assert!(
            fatal.reason.ends_with("elements nested over 256 deep"),
            "{fatal}"
        );
    }
}
