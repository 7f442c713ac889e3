//! What the Atom and OAI-PMH readers share on top of quick-xml: the event loop that walks a
//! document read as a stream and hands each element to a format's [`XmlHandler`], collecting an
//! element's text (entities included), reading one attribute, and the errors for damaged
//! documents.
//!
//! Memory is bounded whatever the input: quick-xml buffers one event at a time and an event
//! (a tag or a run of text) over the record limit ends the document; nesting deeper than any
//! real feed ends it too; collected text stops growing at the record limit, and the handlers
//! reject a record longer than the limit instead of keeping what it says.

use std::borrow::Cow;
use std::io::{self, BufRead};
use std::ops::ControlFlow;

use quick_xml::Reader;
use quick_xml::escape::{resolve_predefined_entity, unescape};
use quick_xml::events::{BytesStart, Event};

use crate::fields::quote;
use crate::record::describe_limit;
use crate::{Location, RecordError};

/// Elements nested deeper than this end the document: real feeds nest 7 deep, and every open
/// element costs memory (quick-xml keeps its name to check the end tag).
pub(crate) const MAX_DEPTH: usize = 256;

/// Where a tag starts: its byte offset and 1-based line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct At {
    pub(crate) offset: u64,
    pub(crate) line: u64,
}

/// One XML format's reader, driven by [`drive`]: it classifies elements into its own `Node`s,
/// keeps what they say, and hands on the results and errors itself.
pub(crate) trait XmlHandler {
    /// Where an element sits, as far as the reader cares.
    type Node: Copy;

    /// Accepts the root element, whose local name [`drive`] already checked (its namespace,
    /// say, is for the reader to check).
    fn root(&mut self, element: &BytesStart<'_>) -> Result<Self::Node, RecordError>;

    /// Classifies a child of `parent` and reads what an element tells through its attributes.
    /// `at` is where its start tag begins.
    fn open(&mut self, parent: Self::Node, element: &BytesStart<'_>, at: At) -> Self::Node;

    /// Whether the character data directly inside `node` is collected for [`Self::close`].
    fn collects_text(node: Self::Node) -> bool;

    /// Finishes an element: `text` is what it held if it [`collects_text`](Self::collects_text),
    /// else empty; `end` is the byte offset just past it. `Break` stops the reading.
    fn close(&mut self, node: Self::Node, text: &str, end: u64) -> ControlFlow<()>;

    /// Records an error that ends the document. Implementations keep the first one, since
    /// later errors are usually its consequences.
    fn set_fatal(&mut self, fatal: RecordError);
}

/// A reader that counts the bytes and lines consumed, and refuses to go on once one event has
/// taken more than `max_event` bytes, so that quick-xml's event buffer stays bounded.
struct Metered<R> {
    inner: R,
    consumed: u64,
    newlines: u64,
    event_start: u64,
    max_event: u64,
}

/// The marker of [`Metered`]'s refusal, told apart from real read errors.
#[derive(Debug, thiserror::Error)]
#[error("event over the limit")]
struct EventTooLong;

impl<R: BufRead> io::Read for Metered<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Metered<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.consumed - self.event_start > self.max_event {
            return Err(io::Error::other(EventTooLong));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Ok(available) = self.inner.fill_buf() {
            let n = n.min(available.len());
            self.newlines += memchr::memchr_iter(b'\n', &available[..n]).count() as u64;
        }
        self.inner.consume(n);
        self.consumed += n as u64;
    }
}

/// Walks the document read from `input`, whose root element must have the local name
/// `root_name` (`expected` describes the document in errors), handing every element to
/// `handler`. Stops at the first damage, at a wrong root, at the end of the input or when the
/// handler says so, and tells `handler` why through [`XmlHandler::set_fatal`] unless the root
/// closed normally. Elements after the root are ignored. `max_record` bounds one event and
/// the text collected for one element.
pub(crate) fn drive<H: XmlHandler>(
    handler: &mut H,
    input: impl BufRead,
    expected: &str,
    root_name: &str,
    max_record: usize,
) {
    let metered = Metered {
        inner: input,
        consumed: 0,
        newlines: 0,
        event_start: 0,
        max_event: max_record as u64,
    };
    let mut reader = Reader::from_reader(metered);
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut stack: Vec<H::Node> = Vec::with_capacity(16);
    // The text of the innermost element that collects text.
    let mut text = String::new();
    let mut root_closed = false;
    let mut seen_anything = false;
    loop {
        buf.clear();
        if buf.capacity() > 64 * 1024 {
            // One long event should not keep its buffer for the rest of the file.
            buf = Vec::with_capacity(8 * 1024);
        }
        let start = reader.buffer_position();
        let start_line = reader.get_ref().newlines + 1;
        reader.get_mut().event_start = reader.get_ref().consumed;
        let at = At {
            offset: start,
            line: start_line,
        };
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) => {
                let fatal = read_failure(&e, &reader, at, &buf, max_record);
                handler.set_fatal(fatal);
                return;
            }
        };
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                seen_anything = true;
                if root_closed {
                    continue;
                }
                let node = if let Some(&parent) = stack.last() {
                    handler.open(parent, e, at)
                } else {
                    match check_root(e, expected, root_name).and_then(|()| handler.root(e)) {
                        Ok(node) => node,
                        Err(fatal) => {
                            handler.set_fatal(fatal);
                            return;
                        }
                    }
                };
                if H::collects_text(node) {
                    text.clear();
                }
                if matches!(event, Event::Start(_)) {
                    if stack.len() >= MAX_DEPTH {
                        let what = format!("elements nested over {MAX_DEPTH} deep");
                        handler.set_fatal(broken_xml(at.line, at.offset, what));
                        return;
                    }
                    stack.push(node);
                } else {
                    let end = reader.buffer_position();
                    if close(handler, node, &text, end).is_break() {
                        return;
                    }
                    root_closed = stack.is_empty();
                }
            }
            Event::End(_) => {
                if let Some(node) = stack.pop() {
                    let end = reader.buffer_position();
                    if close(handler, node, &text, end).is_break() {
                        return;
                    }
                    root_closed = stack.is_empty();
                }
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                if let Event::Text(t) = &event
                    && !t.trim().is_empty()
                {
                    seen_anything = true;
                }
                if let Some(&node) = stack.last()
                    && H::collects_text(node)
                    && text.len() < max_record
                {
                    push_text(&mut text, &event);
                }
            }
            Event::Eof => {
                if !root_closed {
                    let fatal = if stack.is_empty() {
                        no_root(expected, seen_anything)
                    } else {
                        let what = format!("the document ends before </{root_name}>");
                        let line = reader.get_ref().newlines + 1;
                        broken_xml(line, reader.buffer_position(), what)
                    };
                    handler.set_fatal(fatal);
                }
                return;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {
                seen_anything = true;
            }
        }
    }
}

/// The error for an event quick-xml could not read, placed where the damage is: quick-xml
/// points at markup errors itself, but not at invalid UTF-8, which is found in the bytes of
/// the event that began at `at`.
fn read_failure<R>(
    e: &quick_xml::Error,
    reader: &Reader<R>,
    at: At,
    event_bytes: &[u8],
    max_record: usize,
) -> RecordError {
    let (offset, what) = match e {
        quick_xml::Error::Io(io) if io.get_ref().is_some_and(|i| i.is::<EventTooLong>()) => {
            let what = format!(
                "one tag or text is over the {} limit; the rest is not read",
                describe_limit(max_record)
            );
            return broken_xml(at.line, at.offset, what);
        }
        quick_xml::Error::Encoding(quick_xml::encoding::EncodingError::Utf8(utf8)) => {
            let bad = at.offset + utf8.valid_up_to() as u64;
            (bad, "invalid UTF-8".to_owned())
        }
        other => (reader.error_position().max(at.offset), other.to_string()),
    };
    // The event's bytes start at (or, for markup, just after) `at`; count lines up to the
    // damage within them.
    let within = usize::try_from(offset - at.offset).unwrap_or(usize::MAX);
    let newlines =
        memchr::memchr_iter(b'\n', &event_bytes[..within.min(event_bytes.len())]).count();
    broken_xml(at.line + newlines as u64, offset, what)
}

/// Hands `node` its text, or nothing when it does not collect any.
fn close<H: XmlHandler>(handler: &mut H, node: H::Node, text: &str, end: u64) -> ControlFlow<()> {
    handler.close(node, if H::collects_text(node) { text } else { "" }, end)
}

/// Refuses a root element whose local name is not `root_name`.
fn check_root(
    element: &BytesStart<'_>,
    expected: &str,
    root_name: &str,
) -> Result<(), RecordError> {
    let qname = element.name();
    let local = qname.local_name();
    if local.as_ref() == root_name {
        return Ok(());
    }
    Err(RecordError::new(
        Location::File,
        format!(
            "expected {expected}, found a <{}> root element",
            quote(local.as_ref()).trim_matches('"')
        ),
    ))
}

/// The error for the record (entry) number `index`, whose element starts on `line`.
pub(crate) fn rejected(index: usize, element: &str, line: u64, reason: &str) -> RecordError {
    RecordError::new(
        Location::Entry(index),
        format!("{reason} ({element} at line {line})"),
    )
}

/// Appends the character data of `event` to `out`, if it has any. quick-xml hands entity and
/// character references (`&amp;`, `&#xe9;`) over as separate events, so they are resolved
/// here; an unknown entity is kept as written rather than dropped.
fn push_text(out: &mut String, event: &Event<'_>) {
    match event {
        Event::Text(text) => out.push_str(text),
        Event::CData(data) => out.push_str(data),
        Event::GeneralRef(reference) => match reference.resolve_char_ref() {
            Ok(Some(c)) => out.push(c),
            Ok(None) | Err(_) => match resolve_predefined_entity(reference) {
                Some(s) => out.push_str(s),
                None => {
                    out.push('&');
                    out.push_str(reference);
                    out.push(';');
                }
            },
        },
        _ => {}
    }
}

/// The unescaped value of attribute `name`, or `None` when absent or unreadable.
pub(crate) fn attribute<'a>(element: &'a BytesStart<'_>, name: &str) -> Option<Cow<'a, str>> {
    let attr = element.try_get_attribute(name).ok()??;
    match attr.value {
        Cow::Borrowed(raw) => unescape(raw).ok(),
        Cow::Owned(raw) => unescape(&raw).ok().map(|v| Cow::Owned(v.into_owned())),
    }
}

/// The error for a document that stops being readable XML at `offset`, on `line`.
fn broken_xml(line: u64, offset: u64, what: impl std::fmt::Display) -> RecordError {
    RecordError::new(
        Location::Line(line),
        format!("truncated or malformed XML at byte {offset}: {what}"),
    )
}

/// Why a document could not even start: empty input or no root element.
fn no_root(expected: &str, seen_anything: bool) -> RecordError {
    let reason = if !seen_anything {
        format!("the file is empty: expected {expected}")
    } else {
        format!("no XML root element found: expected {expected}")
    };
    RecordError::new(Location::File, reason)
}

#[cfg(test)]
mod tests {
    use quick_xml::Reader;

    use super::*;

    fn text_of(xml: &str) -> String {
        let mut reader = Reader::from_str(xml);
        let mut out = String::new();
        loop {
            match reader.read_event() {
                Ok(Event::Eof) | Err(_) => return out,
                Ok(event) => push_text(&mut out, &event),
            }
        }
    }

    #[test]
    fn entities_and_character_references_are_resolved() {
        assert_eq!(
            text_of("<t>a &amp; b &lt;c&gt; &quot;Erd&#x151;s&quot; &#233;</t>"),
            "a & b <c> \"Erdős\" é"
        );
        assert_eq!(text_of("<t><![CDATA[x < y]]>&nbsp;</t>"), "x < y&nbsp;");
    }
}
