//! Splits a top-level JSON array read from a stream into the raw bytes of its elements, one at
//! a time, in bounded memory: only the current element is buffered, and one longer than the
//! limit is skipped (its length counted) instead of kept.
//!
//! The splitter only follows strings, escapes and bracket depth to find where an element ends;
//! whether the element is valid JSON is for whoever types it. So a malformed element costs
//! only itself, and the file is given up only when its structure between elements is broken
//! (a missing comma, something after the closing bracket) or it ends early.

use std::io::{self, BufRead};

use crate::detect::UTF8_BOM;
use crate::record::describe_limit;
use crate::{Location, RecordError};

/// One step of the split.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Element number `index` (0-based), starting on `line`.
    Element {
        index: usize,
        line: u64,
        bytes: &'a [u8],
    },
    /// Element number `index` was `length` bytes long, over the limit; it was skipped.
    TooLong {
        index: usize,
        line: u64,
        length: u64,
    },
    /// The array closed and nothing but whitespace followed.
    End,
    /// The input is not an array, is broken between elements, or ends early; nothing more
    /// comes after this.
    Fatal(RecordError),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `[`.
    Start,
    /// After `[` (an element or `]` may come) or after `,` (an element must come).
    BeforeElement {
        after_comma: bool,
    },
    /// After an element: `,` or `]`.
    AfterElement,
    /// After the closing `]`: only whitespace.
    Trailing,
    Done,
}

/// Where the scan is inside the current element.
#[derive(Default)]
struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// A number, `true`, `false` or `null`: it ends at a delimiter rather than a bracket.
    scalar: bool,
    length: u64,
    too_long: bool,
}

pub(crate) struct ArrayEntries<R> {
    reader: R,
    buf: Vec<u8>,
    max_element: usize,
    state: State,
    /// Bytes consumed and the 1-based line at that point.
    offset: u64,
    line: u64,
    index: usize,
    /// What the top level is when it is not an array, named in the error.
    what: &'static str,
}

impl<R: BufRead> ArrayEntries<R> {
    pub(crate) fn new(reader: R, max_element: usize, what: &'static str) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(8 * 1024),
            max_element,
            state: State::Start,
            offset: 0,
            line: 1,
            index: 0,
            what,
        }
    }

    /// The next element, the end, or the error that ends the array.
    pub(crate) fn next_piece(&mut self) -> Piece<'_> {
        loop {
            match self.state {
                State::Done => return Piece::End,
                State::Start => {
                    if let Err(fatal) = self.skip_bom() {
                        return self.fatal(fatal);
                    }
                    match self.next_non_blank() {
                        Err(e) => return self.fatal(e),
                        Ok(None) => {
                            let reason = format!("the file is empty: expected {}", self.what);
                            return self.fatal(RecordError::new(Location::File, reason));
                        }
                        Ok(Some(b'[')) => {
                            self.advance(1);
                            self.state = State::BeforeElement { after_comma: false };
                        }
                        Ok(Some(other)) => {
                            let reason =
                                format!("expected {}, found {}", self.what, json_kind(other));
                            return self.fatal(RecordError::new(Location::File, reason));
                        }
                    }
                }
                State::BeforeElement { after_comma } => match self.next_non_blank() {
                    Err(e) => return self.fatal(e),
                    Ok(None) => return self.eof_between_elements(),
                    Ok(Some(b']')) if !after_comma => {
                        self.advance(1);
                        self.state = State::Trailing;
                    }
                    Ok(Some(b']' | b',')) => {
                        let fatal = self.malformed("expected an entry after ','");
                        return self.fatal(fatal);
                    }
                    Ok(Some(_)) => return self.element(),
                },
                State::AfterElement => match self.next_non_blank() {
                    Err(e) => return self.fatal(e),
                    Ok(None) => return self.eof_between_elements(),
                    Ok(Some(b',')) => {
                        self.advance(1);
                        self.state = State::BeforeElement { after_comma: true };
                    }
                    Ok(Some(b']')) => {
                        self.advance(1);
                        self.state = State::Trailing;
                    }
                    Ok(Some(_)) => {
                        let fatal = self.malformed("expected ',' or ']' after an entry");
                        return self.fatal(fatal);
                    }
                },
                State::Trailing => match self.next_non_blank() {
                    Err(e) => return self.fatal(e),
                    Ok(None) => {
                        self.state = State::Done;
                        return Piece::End;
                    }
                    Ok(Some(_)) => {
                        let fatal = self.malformed("trailing characters after the closing ']'");
                        return self.fatal(fatal);
                    }
                },
            }
        }
    }

    fn fatal(&mut self, error: RecordError) -> Piece<'_> {
        self.state = State::Done;
        Piece::Fatal(error)
    }

    fn malformed(&self, what: &str) -> RecordError {
        RecordError::new(
            Location::Line(self.line),
            format!("truncated or malformed JSON: {what} (byte {})", self.offset),
        )
    }

    fn eof_between_elements(&mut self) -> Piece<'_> {
        let fatal = self.malformed("EOF while parsing a list");
        self.fatal(fatal)
    }

    fn skip_bom(&mut self) -> Result<(), RecordError> {
        let available = fill(&mut self.reader, self.line)?;
        if available.starts_with(UTF8_BOM) {
            self.reader.consume(UTF8_BOM.len());
            self.offset += UTF8_BOM.len() as u64;
        }
        Ok(())
    }

    /// Skips whitespace and returns the next byte without consuming it, `None` at the end.
    fn next_non_blank(&mut self) -> Result<Option<u8>, RecordError> {
        loop {
            let available = fill(&mut self.reader, self.line)?;
            if available.is_empty() {
                return Ok(None);
            }
            let blank = available
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(available.len());
            let found = available.get(blank).copied();
            let newlines = memchr::memchr_iter(b'\n', &available[..blank]).count();
            self.line += newlines as u64;
            self.advance(blank);
            if found.is_some() {
                return Ok(found);
            }
        }
    }

    /// Consumes `n` bytes of what `fill_buf` returned, with no newline among them.
    fn advance(&mut self, n: usize) {
        self.reader.consume(n);
        self.offset += n as u64;
    }

    /// Reads one element, which starts at the next byte.
    fn element(&mut self) -> Piece<'_> {
        let index = self.index;
        self.index += 1;
        let line = self.line;
        self.buf.clear();
        let mut scan = Scan::default();
        loop {
            let available = match fill(&mut self.reader, self.line) {
                Ok(a) => a,
                Err(e) => return self.fatal(e),
            };
            if available.is_empty() {
                let fatal = self.malformed(&format!(
                    "EOF while parsing entry {index}, which starts at line {line}"
                ));
                return self.fatal(fatal);
            }
            let (used, ended) = scan.step(available);
            let chunk = &available[..used];
            let newlines = memchr::memchr_iter(b'\n', chunk).count() as u64;
            scan.length += used as u64;
            if !scan.too_long {
                if self.buf.len() + used > self.max_element {
                    scan.too_long = true;
                    self.buf = Vec::with_capacity(8 * 1024);
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.reader.consume(used);
            self.offset += used as u64;
            self.line += newlines;
            if ended {
                self.state = State::AfterElement;
                return if scan.too_long {
                    Piece::TooLong {
                        index,
                        line,
                        length: scan.length,
                    }
                } else {
                    Piece::Element {
                        index,
                        line,
                        bytes: &self.buf,
                    }
                };
            }
        }
    }

    /// The limit in words, for callers' messages.
    pub(crate) fn limit(&self) -> String {
        describe_limit(self.max_element)
    }
}

impl Scan {
    /// Scans `bytes` from where the element stands; returns how many belong to it and whether
    /// it ended within them.
    fn step(&mut self, bytes: &[u8]) -> (usize, bool) {
        let mut i = 0;
        if self.length == 0 {
            // The first byte says what kind of element this is.
            match bytes[0] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth = 1,
                _ => self.scalar = true,
            }
            i = 1;
            if self.scalar && ends_scalar(bytes[0]) {
                // A stray '}' or ':' where an element should be: one byte, typed as bad later.
                return (1, true);
            }
        }
        while i < bytes.len() {
            let b = bytes[i];
            if self.in_string {
                if self.escaped {
                    // The byte after a backslash, whatever it is.
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // Most of a string is plain bytes: jump to the next quote or backslash.
                match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    None => return (bytes.len(), false),
                    Some(at) => i += at,
                }
                if bytes[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                i += 1;
                continue;
            }
            if self.scalar {
                if ends_scalar(b) || b.is_ascii_whitespace() {
                    return (i, true);
                }
                i += 1;
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        (bytes.len(), false)
    }
}

/// Bytes that end a number or literal (and that no element starts with).
fn ends_scalar(b: u8) -> bool {
    matches!(b, b',' | b']' | b'}' | b':')
}

/// What `fill_buf` has, retried when interrupted.
fn fill<R: BufRead>(reader: &mut R, line: u64) -> Result<&[u8], RecordError> {
    loop {
        match reader.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(line, &e)),
        }
    }
    reader.fill_buf().map_err(|e| read_error(line, &e))
}

fn read_error(line: u64, e: &io::Error) -> RecordError {
    RecordError::new(Location::Line(line), format!("read error: {e}"))
}

pub(crate) fn json_kind(first: u8) -> &'static str {
    match first {
        b'{' => "an object",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "something that is not JSON",
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor};

    use super::*;

    /// Every piece as text, read through a tiny buffer so elements span many chunks.
    fn pieces(input: &[u8], max: usize) -> Vec<String> {
        let reader = BufReader::with_capacity(3, Cursor::new(input.to_vec()));
        let mut entries = ArrayEntries::new(reader, max, "an array");
        let mut out = Vec::new();
        loop {
            match entries.next_piece() {
                Piece::Element { index, line, bytes } => {
                    out.push(format!("{index}@{line} {}", String::from_utf8_lossy(bytes)))
                }
                Piece::TooLong {
                    index,
                    line,
                    length,
                } => out.push(format!("{index}@{line} too long ({length})")),
                Piece::End => return out,
                Piece::Fatal(e) => {
                    out.push(format!("fatal {e}"));
                    return out;
                }
            }
        }
    }

    #[test]
    fn elements_of_every_kind_are_split_with_their_lines() {
        let input = b"\xEF\xBB\xBF [ {\"a\": \"x]},\\\"\\\\\"},\n [1, [2]], \"s\\\"]\" ,\n-1.5e3,true,null ,{}] \n";
        assert_eq!(
            pieces(input, 1000),
            [
                r#"0@1 {"a": "x]},\"\\"}"#,
                "1@2 [1, [2]]",
                r#"2@2 "s\"]""#,
                "3@3 -1.5e3",
                "4@3 true",
                "5@3 null",
                "6@3 {}",
            ]
        );
        assert!(pieces(b"[]", 10).is_empty());
    }

    #[test]
    fn a_long_element_is_skipped_and_the_next_one_read() {
        let mut input = b"[\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend_from_slice(b"\", {\"b\": 1}]");
        assert_eq!(pieces(&input, 50), ["0@1 too long (102)", "1@1 {\"b\": 1}"]);
    }

    #[test]
    fn broken_structure_and_early_ends_are_fatal_after_the_elements_before() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "file: the file is empty: expected an array"),
            (b" {\"a\":1}", "file: expected an array, found an object"),
            (
                b"[1 2]",
                "line 1: truncated or malformed JSON: expected ',' or ']' after an entry (byte 3)",
            ),
            (
                b"[1,]",
                "line 1: truncated or malformed JSON: expected an entry after ',' (byte 3)",
            ),
            (
                b"[1] x",
                "line 1: truncated or malformed JSON: trailing characters after the closing ']' (byte 4)",
            ),
            (
                b"[1,\n{\"a\"",
                "line 2: truncated or malformed JSON: EOF while parsing entry 1, which starts at line 2 (byte 8)",
            ),
            (
                b"[1,\n",
                "line 2: truncated or malformed JSON: EOF while parsing a list (byte 4)",
            ),
        ];
        for (input, want) in cases {
            let got = pieces(input, 100);
            assert_eq!(
                got.last().map(String::as_str),
                Some(&*format!("fatal {want}")),
                "{input:?}"
            );
        }
        assert_eq!(pieces(b"[1 2]", 100)[0], "0@1 1");
    }

    #[test]
    fn malformed_elements_are_handed_on_not_judged() {
        assert_eq!(
            pieces(b"[{\"a\" 1], :, {\"\xff\": 2}]", 100),
            ["0@1 {\"a\" 1]", "1@1 :", "2@1 {\"\u{fffd}\": 2}"]
        );
    }
}
