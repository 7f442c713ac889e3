//! What the Atom and OAI-PMH readers share on top of quick-xml: the event loop that walks a
//! document and hands each element to a format's [`XmlHandler`], collecting an element's text
//! (entities included), reading one attribute, and the errors for damaged documents.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::escape::{resolve_predefined_entity, unescape};
use quick_xml::events::{BytesStart, Event};

use crate::fields::quote;
use crate::{Location, RecordError};

/// One XML format's reader, driven by [`drive`]: it classifies elements into its own `Node`s,
/// keeps what they say, and collects the results and errors itself.
pub(crate) trait XmlHandler {
    /// Where an element sits, as far as the reader cares.
    type Node: Copy;

    /// Accepts the root element, whose local name [`drive`] already checked (its namespace,
    /// say, is for the reader to check).
    fn root(&mut self, element: &BytesStart<'_>) -> Result<Self::Node, RecordError>;

    /// Classifies a child of `parent` and reads what an element tells through its attributes.
    /// `end_of_tag` is the byte offset just past its start tag.
    fn open(&mut self, parent: Self::Node, element: &BytesStart<'_>, end_of_tag: u64)
    -> Self::Node;

    /// Whether the character data directly inside `node` is collected for [`Self::close`].
    fn collects_text(node: Self::Node) -> bool;

    /// Finishes an element: `text` is what it held if it [`collects_text`](Self::collects_text),
    /// else empty.
    fn close(&mut self, node: Self::Node, text: &str);

    /// Records an error that ends the document. Implementations keep the first one, since
    /// later errors are usually its consequences.
    fn set_fatal(&mut self, fatal: RecordError);

    /// The 1-based line number of byte `offset`.
    fn line_at(&mut self, offset: u64) -> u64;
}

/// Walks `bytes` as one XML document whose root element must have the local name `root_name`
/// (`expected` describes the document in errors), handing every element to `handler`. Stops
/// at the first damage, at a wrong root or at the end of the input, and tells `handler` why
/// through [`XmlHandler::set_fatal`] unless the root closed normally. Elements after the root
/// are ignored.
pub(crate) fn drive<H: XmlHandler>(handler: &mut H, bytes: &[u8], expected: &str, root_name: &str) {
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<H::Node> = Vec::with_capacity(16);
    // The text of the innermost element that collects text.
    let mut text = String::new();
    let mut root_closed = false;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                let offset = reader.error_position();
                let fatal = broken_xml(handler.line_at(offset), offset, e);
                handler.set_fatal(fatal);
                return;
            }
        };
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                if root_closed {
                    continue;
                }
                let node = if let Some(&parent) = stack.last() {
                    handler.open(parent, e, reader.buffer_position())
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
                    stack.push(node);
                } else {
                    close(handler, node, &text);
                    root_closed = stack.is_empty();
                }
            }
            Event::End(_) => {
                if let Some(node) = stack.pop() {
                    close(handler, node, &text);
                    root_closed = stack.is_empty();
                }
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                if let Some(&node) = stack.last()
                    && H::collects_text(node)
                {
                    push_text(&mut text, &event);
                }
            }
            Event::Eof => {
                if !root_closed {
                    let fatal = if stack.is_empty() {
                        no_root(expected, bytes)
                    } else {
                        let offset = reader.buffer_position();
                        let what = format!("the document ends before </{root_name}>");
                        broken_xml(handler.line_at(offset), offset, what)
                    };
                    handler.set_fatal(fatal);
                }
                return;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Hands `node` its text, or nothing when it does not collect any.
fn close<H: XmlHandler>(handler: &mut H, node: H::Node, text: &str) {
    handler.close(node, if H::collects_text(node) { text } else { "" });
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

/// Why a document could not even start: empty input or the wrong root element.
fn no_root(expected: &str, bytes: &[u8]) -> RecordError {
    let reason = if bytes.iter().all(u8::is_ascii_whitespace) {
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
