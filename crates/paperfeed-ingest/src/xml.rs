//! Helpers the Atom and OAI-PMH readers share on top of quick-xml: collecting an element's text
//! (entities included), reading one attribute, and turning byte offsets into line numbers.

use std::borrow::Cow;

use quick_xml::escape::{resolve_predefined_entity, unescape};
use quick_xml::events::{BytesStart, Event};

use crate::lines::LineCounter;
use crate::{Location, RecordError};

/// Appends the character data of `event` to `out`, if it has any. quick-xml hands entity and
/// character references (`&amp;`, `&#xe9;`) over as separate events, so they are resolved
/// here; an unknown entity is kept as written rather than dropped.
pub(crate) fn push_text(out: &mut String, event: &Event<'_>) {
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

/// The error for a document that stops being readable XML at `offset`.
pub(crate) fn broken_xml(
    lines: &mut LineCounter<'_>,
    offset: u64,
    what: impl std::fmt::Display,
) -> RecordError {
    RecordError::new(
        Location::Line(lines.line_at(offset)),
        format!("truncated or malformed XML at byte {offset}: {what}"),
    )
}

/// Why a document could not even start: empty input or the wrong root element.
pub(crate) fn no_root(expected: &str, bytes: &[u8]) -> RecordError {
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
