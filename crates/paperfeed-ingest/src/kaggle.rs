//! The Kaggle `arxiv-metadata-oai-snapshot` file: JSON Lines, one arXiv paper per line, read as
//! a stream in constant memory.
//!
//! The full snapshot has millions of lines, so this reader reuses one line buffer, lets strings
//! borrow from it, ignores the fields it does not need without building them, and only works
//! out which field a bad line got wrong after the fast path failed.

use std::io::{self, BufRead};

use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, Author, NewPaper, PaperVersion, normalize_title};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::detect::UTF8_BOM;
use crate::fields::{arxiv_author_name, quote, split_categories, title_and_abstract};
use crate::json::{Text, field_error, split_position};
use crate::record::{MAX_RECORD_BYTES, describe_limit};
use crate::{Location, RecordError, RecordResult};

/// Reads papers from Kaggle snapshot JSON Lines, yielding each non-blank line's 1-based number
/// and its record or the reason it was rejected. Blank lines are skipped silently; a read
/// error ends the iteration after being reported once.
pub struct KaggleLines<R: BufRead> {
    reader: R,
    /// The current line, reused so that reading costs no allocation per line.
    buf: Vec<u8>,
    max_line: usize,
    line: u64,
    done: bool,
}

/// What reading one line found.
enum LineRead {
    Eof,
    /// The line is in `buf`, without its line break.
    Line,
    /// The line had this many bytes, more than the limit; it was skipped, not kept.
    TooLong(u64),
}

impl<R: BufRead> KaggleLines<R> {
    /// Lines longer than this are rejected unread (see [`MAX_RECORD_BYTES`]).
    pub const MAX_LINE_BYTES: usize = MAX_RECORD_BYTES;

    pub fn new(reader: R) -> Self {
        Self::with_line_limit(reader, Self::MAX_LINE_BYTES)
    }

    fn with_line_limit(reader: R, max_line: usize) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(8 * 1024),
            max_line,
            line: 0,
            done: false,
        }
    }

    /// Lines read so far, blank ones included.
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    /// Reads the next line into `buf`, reading past its end in chunks once it is over the
    /// limit so that an endless line costs no memory.
    fn read_line(&mut self) -> io::Result<LineRead> {
        self.buf.clear();
        let mut length: u64 = 0;
        let mut too_long = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(match (length, too_long) {
                    (0, _) => LineRead::Eof,
                    (_, true) => LineRead::TooLong(length),
                    (_, false) => LineRead::Line,
                });
            }
            let (chunk, used, ended) = match memchr::memchr(b'\n', available) {
                Some(at) => (&available[..at], at + 1, true),
                None => (available, available.len(), false),
            };
            length += chunk.len() as u64;
            if !too_long {
                if self.buf.len() + chunk.len() > self.max_line {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.reader.consume(used);
            if ended {
                return Ok(if too_long {
                    LineRead::TooLong(length)
                } else {
                    LineRead::Line
                });
            }
        }
    }
}

impl<R: BufRead> Iterator for KaggleLines<R> {
    type Item = (u64, RecordResult);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let read = self.read_line();
            let line = self.line + 1;
            let error =
                |reason: String| Some((line, Err(RecordError::new(Location::Line(line), reason))));
            match read {
                Err(e) => {
                    self.done = true;
                    return error(format!("read error: {e}"));
                }
                Ok(LineRead::Eof) => self.done = true,
                Ok(LineRead::TooLong(length)) => {
                    self.line = line;
                    let limit = describe_limit(self.max_line);
                    return error(format!(
                        "the line is {length} bytes long, over the {limit} limit; skipped"
                    ));
                }
                Ok(LineRead::Line) => {
                    self.line = line;
                    let mut bytes = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
                    if line == 1 {
                        bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
                    }
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let result = parse_line(bytes)
                        .map_err(|reason| RecordError::new(Location::Line(line), reason));
                    return Some((line, result));
                }
            }
        }
        None
    }
}

/// Parses one snapshot line.
fn parse_line(bytes: &[u8]) -> Result<NewPaper, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "the line is not valid UTF-8 (bad byte at column {})",
            e.valid_up_to() + 1
        )
    })?;
    match serde_json::from_str::<KaggleRecord<'_>>(text) {
        Ok(record) => record.into_paper(),
        Err(e) => Err(explain(text, &e)),
    }
}

/// Says what is wrong with a line the fast path refused: re-reading it with path tracking
/// names the field, which is worth its cost only for bad lines.
fn explain(text: &str, first: &serde_json::Error) -> String {
    if first.is_data() {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Err(e) = serde_path_to_error::deserialize::<_, KaggleRecord<'_>>(&mut de) {
            let message = e.inner().to_string();
            return with_column(&field_error(&e.path().to_string(), &message));
        }
    }
    with_column(&format!("malformed JSON: {first}"))
}

/// Lines are single lines, so of serde_json's "at line 1 column C" only the column matters.
fn with_column(message: &str) -> String {
    match split_position(message) {
        (text, Some((_, column))) => format!("{text} (column {column})"),
        (text, None) => text.to_owned(),
    }
}

#[derive(Deserialize)]
struct KaggleRecord<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    title: Text<'a>,
    #[serde(rename = "abstract", borrow)]
    abstract_text: Text<'a>,
    /// The free-text author list, used only when `authors_parsed` is missing.
    #[serde(default, borrow)]
    authors: Option<Text<'a>>,
    #[serde(default)]
    authors_parsed: Option<Vec<ParsedAuthor>>,
    #[serde(default, borrow)]
    categories: Option<Text<'a>>,
    #[serde(default, borrow)]
    versions: Option<Vec<KaggleVersion<'a>>>,
}

#[derive(Deserialize)]
struct KaggleVersion<'a> {
    #[serde(borrow)]
    version: Text<'a>,
    #[serde(default, borrow)]
    created: Option<Text<'a>>,
}

/// One `authors_parsed` entry, `[keyname, forenames, suffix, affiliation…]`, read straight into
/// the display name "forenames keyname suffix".
struct ParsedAuthor(String);

impl<'de> Deserialize<'de> for ParsedAuthor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = ParsedAuthor;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array [keyname, forenames, suffix]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedAuthor, A::Error> {
                let mut part = || -> Result<Option<Text<'de>>, A::Error> {
                    Ok(seq.next_element::<Option<Text<'de>>>()?.flatten())
                };
                let keyname = part()?;
                let forenames = part()?;
                let suffix = part()?;
                // Later items are affiliations, which paperfeed does not keep.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                let text = |t: &Option<Text<'_>>| t.as_deref().unwrap_or("").to_owned();
                Ok(ParsedAuthor(arxiv_author_name(
                    &text(&keyname),
                    &text(&forenames),
                    &text(&suffix),
                )))
            }
        }

        deserializer.deserialize_seq(NameVisitor)
    }
}

impl KaggleRecord<'_> {
    fn into_paper(self) -> Result<NewPaper, String> {
        let id = ArxivId::parse(&self.id).map_err(|e| format!("id: {e}"))?;
        let (title, abstract_text) =
            title_and_abstract(&self.title, &self.abstract_text, "title", "abstract")?;
        let mut authors: Vec<Author> = self
            .authors_parsed
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !a.0.is_empty())
            .map(|a| Author::named(a.0))
            .collect();
        if authors.is_empty()
            && let Some(list) = &self.authors
        {
            authors = split_author_list(list);
        }
        let versions = self
            .versions
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, v)| version(i, v))
            .collect::<Result<Vec<_>, _>>()?;

        let mut paper = NewPaper::new(id, title, abstract_text, authors);
        paper.published_at = versions
            .iter()
            .find(|v| v.number == 1)
            .and_then(|v| v.submitted_at);
        paper.versions = versions;
        paper.categories = self
            .categories
            .as_deref()
            .map(split_categories)
            .unwrap_or_default();
        Ok(paper)
    }
}

/// `{"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}`; an unreadable date only
/// loses the date, an unreadable number loses the record.
fn version(index: usize, v: &KaggleVersion<'_>) -> Result<PaperVersion, String> {
    let number = v
        .version
        .trim()
        .strip_prefix(['v', 'V'])
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            format!(
                "versions[{index}].version: {} is not like \"v1\"",
                quote(&v.version)
            )
        })?;
    let submitted_at = v
        .created
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc2822(c.trim()).ok())
        .map(|d| d.with_timezone(&Utc));
    Ok(PaperVersion {
        number,
        submitted_at,
    })
}

/// The free-text author list, `"A. Author, B. Author and C. Author (Affiliation)"`, split on
/// commas and " and ". Parenthesised affiliations go first, since they have commas and "and"s
/// of their own.
fn split_author_list(list: &str) -> Vec<Author> {
    let mut flat = String::with_capacity(list.len());
    let mut depth = 0usize;
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => flat.push(c),
            _ => {}
        }
    }
    let flat = normalize_title(&flat);
    flat.split(',')
        .map(|part| {
            let part = part.trim();
            part.strip_prefix("and ").unwrap_or(part)
        })
        .flat_map(|part| part.split(" and "))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(Author::named)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor, Read};

    use super::*;

    const REAL: &[u8] =
        include_bytes!("../tests/fixtures/arxiv-metadata-oai-snapshot.lines0001-0040.jsonl");

    fn read_all(bytes: &[u8]) -> Vec<(u64, RecordResult)> {
        KaggleLines::new(bytes).collect()
    }

    fn reasons(bytes: &[u8]) -> Vec<String> {
        read_all(bytes)
            .into_iter()
            .map(|(n, r)| match r {
                Ok(p) => format!("{n} ok {}", p.id),
                Err(e) => format!("{n} {e}"),
            })
            .collect()
    }

    #[test]
    fn the_real_lines_all_parse_with_their_fields() {
        let records = read_all(REAL);
        assert_eq!(records.len(), 40);
        let papers: Vec<_> = records
            .iter()
            .map(|(n, r)| r.as_ref().unwrap_or_else(|e| panic!("{n}: {e}")))
            .collect();
        let first = papers[0];
        assert_eq!(records[0].0, 1);
        assert_eq!(first.id.as_str(), "0704.0001");
        assert_eq!(
            first.title,
            "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
        );
        assert!(
            first
                .abstract_text
                .starts_with("A fully differential calculation in")
        );
        let names: Vec<_> = first.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
        );
        assert_eq!(first.categories, ["hep-ph"]);
        let v1 = "2007-04-02T19:18:42Z".parse::<DateTime<Utc>>().ok();
        assert_eq!(
            first.versions,
            [
                PaperVersion {
                    number: 1,
                    submitted_at: v1
                },
                PaperVersion {
                    number: 2,
                    submitted_at: "2007-07-24T20:10:27Z".parse().ok()
                }
            ]
        );
        assert_eq!(first.published_at, v1);
        assert_eq!(papers[1].categories, ["math.CO", "cs.CG"]);
        assert_eq!(papers[1].authors.len(), 2);
        let evans = papers[8].authors.iter().find(|a| a.name.contains("Evans"));
        assert_eq!(evans.map(|a| a.name.as_str()), Some("Neal J. Evans II"));
        // Affiliations in the fourth slot are not part of the name.
        assert_eq!(papers[24].id.as_str(), "0704.0025");
        assert_eq!(papers[24].authors[0].name, "A. S. Mishchenko");
    }

    #[test]
    fn blank_lines_are_skipped_and_line_numbers_still_count_them() {
        let mut input = b"\n  \r\n".to_vec();
        input.extend_from_slice(REAL.split(|&b| b == b'\n').next().unwrap_or_default());
        input.extend_from_slice(b"\r\n\n");
        assert_eq!(reasons(&input), ["3 ok 0704.0001"]);
        assert!(read_all(b"").is_empty());
        assert!(read_all(b"\n\n\n").is_empty());
    }

    #[test]
    fn a_byte_order_mark_on_the_first_line_is_skipped() {
        let mut input = UTF8_BOM.to_vec();
        input.extend_from_slice(REAL);
        let records = read_all(&input);
        assert_eq!(records.len(), 40);
        assert!(records.iter().all(|(_, r)| r.is_ok()));
    }

    #[test]
    fn a_bad_line_is_rejected_with_its_field_and_the_others_kept() {
        let input = br#"{"id":"0704.0001","title":"T","abstract":"A","authors":"X Y","versions":[{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"}]}
{"id":"0704.0002","title":"T","abstract":"A","versions":[{"version":"v1","created":3}]}
{"id":"hep-th/99","title":"T","abstract":"A"}
{"id":"0704.0004","title":["T"],"abstract":"A"}
{"id":"0704.0005","title":"T","abstract":"  "}
{"id":"0704.0006","title":"T","abstract":"A","versions":[{"version":"one"}]}
{"id":"0704.0007","title":"T","abstract":"A","authors_parsed":[["Doe","J.",""],"oops"]}
{"id":"0704.0008","title":"T"
{"id":"0704.0009","abstract":"A"}
{"id":"hep-th/9901001","title":"T","abstract":"A","categories":"hep-th","versions":[{"version":"v1","created":"not a date"}]}
"#;
        assert_eq!(
            reasons(input),
            [
                "1 ok 0704.0001",
                "2 line 2: versions[0].created: invalid type: integer `3`, expected a string (column 84)",
                "3 line 3: id: \"hep-th/99\" is not an arXiv id: an old-style id needs 7 digits YYMMNNN after the '/'; expected a new-style id like 2309.11523 or 2309.11523v2, an old-style id like hep-th/9901001 or math.GT/0309136, optionally prefixed with \"arXiv:\" or given as an arxiv.org/abs/… or arxiv.org/pdf/… URL",
                "4 line 4: title: invalid type: sequence, expected a string (column 26)",
                "5 line 5: abstract is empty",
                "6 line 6: versions[0].version: \"one\" is not like \"v1\"",
                "7 line 7: authors_parsed[1]: invalid type: string \"oops\", expected an array [keyname, forenames, suffix] (column 85)",
                "8 line 8: malformed JSON: EOF while parsing an object (column 29)",
                "9 line 9: missing field `title` (column 33)",
                "10 ok hep-th/9901001",
            ]
        );
        let last = read_all(input).pop().and_then(|(_, r)| r.ok()).expect("ok");
        assert_eq!(
            last.versions,
            [PaperVersion {
                number: 1,
                submitted_at: None
            }]
        );
        assert_eq!(last.published_at, None);
    }

    #[test]
    fn the_author_string_is_split_when_authors_parsed_is_missing() {
        let names = |list: &str| -> Vec<String> {
            split_author_list(list)
                .into_iter()
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(
            names("Ileana Streinu and Louis Theran"),
            ["Ileana Streinu", "Louis Theran"]
        );
        assert_eq!(
            names(
                "A. S. Mishchenko (1 and 2) and N. Nagaosa (1 and 3) ((1) CREST, Japan\n  Science, (2) Kurchatov)"
            ),
            ["A. S. Mishchenko", "N. Nagaosa"]
        );
        assert_eq!(names("A, B, and C"), ["A", "B", "C"]);
        let line = br#"{"id":"0704.0002","title":"T","abstract":"A","authors":"Ileana Streinu and\n  Louis Theran","authors_parsed":[]}"#;
        let paper = read_all(line).pop().and_then(|(_, r)| r.ok()).expect("ok");
        let got: Vec<_> = paper.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(got, ["Ileana Streinu", "Louis Theran"]);
    }

    #[test]
    fn invalid_utf8_and_binary_garbage_reject_only_their_lines() {
        let mut input = b"\xff\xfe\x00garbage\n".to_vec();
        input.extend_from_slice(b"\x00\x01\x02\n");
        input.extend_from_slice(REAL.split(|&b| b == b'\n').next().unwrap_or_default());
        let got = reasons(&input);
        assert_eq!(
            got[0],
            "1 line 1: the line is not valid UTF-8 (bad byte at column 1)"
        );
        assert!(
            got[1].starts_with("2 line 2: malformed JSON: expected value"),
            "{}",
            got[1]
        );
        assert_eq!(got[2], "3 ok 0704.0001");
    }

    #[test]
    fn an_overlong_line_is_skipped_in_chunks_and_reading_goes_on() {
        let first = REAL.split(|&b| b == b'\n').next().unwrap_or_default();
        let mut input = b"{\"id\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\"}\n");
        input.extend_from_slice(first);
        // A tiny BufReader makes the long line arrive in many chunks.
        let reader = BufReader::with_capacity(64, Cursor::new(input));
        let mut lines = KaggleLines::with_line_limit(reader, 4096);
        let (n, r) = lines.next().expect("line 1");
        assert_eq!(n, 1);
        let err = r.expect_err("too long");
        assert_eq!(
            err.reason,
            "the line is 10009 bytes long, over the 4096 bytes limit; skipped"
        );
        assert!(lines.buf.capacity() <= 8 * 1024, "{}", lines.buf.capacity());
        let (n, r) = lines.next().expect("line 2");
        assert_eq!(n, 2);
        assert!(r.is_ok());
        assert!(lines.next().is_none());
    }

    #[test]
    fn a_truncated_file_keeps_every_complete_line() {
        let cut = &REAL[..REAL.len() / 2];
        let records = read_all(cut);
        let (last, rest) = records.split_last().expect("records");
        assert!(rest.iter().all(|(_, r)| r.is_ok()));
        assert!(rest.len() >= 15, "{}", rest.len());
        let err = last.1.as_ref().expect_err("cut line");
        assert!(
            err.reason.starts_with("malformed JSON: EOF while parsing"),
            "{err}"
        );
        assert_eq!(err.location, Location::Line(last.0));
    }

    #[test]
    fn a_read_error_is_reported_once_and_ends_the_stream() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let mut lines = KaggleLines::new(BufReader::new(Failing));
        let (n, r) = lines.next().expect("error");
        assert_eq!(n, 1);
        assert_eq!(r.expect_err("error").reason, "read error: disk on fire");
        assert!(lines.next().is_none());
    }
}
