//! Titles and snippets as HTML: the matched words wrapped in `<mark>`, every other character
//! escaped. Titles and abstracts hold `<`, `&` and TeX; none of it may reach a page as markup.
//!
//! Tantivy finds where the query's terms are (through the field's own analyzer, so "models"
//! marks "model"); the HTML is made here, so the escaping is ours and complete.

use std::collections::BTreeMap;
use std::ops::Range;

use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::{Snippet, SnippetGenerator};

use super::schema::highlight_analyzer;

/// Longest abstract snippet, in bytes of source text.
pub(crate) const SNIPPET_BYTES: usize = 240;

/// A generator marking `query`'s terms in `field`, fragments up to `max_bytes` long; `None`
/// when the query has no term there that the index knows. What `SnippetGenerator::create`
/// does, with the cheaper [`highlight_analyzer`].
pub(crate) fn generator(
    searcher: &Searcher,
    query: &dyn Query,
    field: Field,
    max_bytes: usize,
) -> Option<SnippetGenerator> {
    let mut terms: BTreeMap<String, f32> = BTreeMap::new();
    query.query_terms(&mut |term, _| {
        if term.field() != field {
            return;
        }
        let value = term.value();
        let Some(text) = value.as_str() else {
            return;
        };
        if terms.contains_key(text) {
            return;
        }
        // Rarer terms weigh more when choosing the fragment, as tantivy's own generator does.
        if let Ok(doc_freq) = searcher.doc_freq(term)
            && doc_freq > 0
        {
            terms.insert(text.to_owned(), 1.0 / (1.0 + doc_freq as f32));
        }
    });
    if terms.is_empty() {
        return None;
    }
    let mut initials: Vec<char> = terms.keys().filter_map(|t| t.chars().next()).collect();
    initials.sort_unstable();
    initials.dedup();
    Some(SnippetGenerator::new(
        terms,
        highlight_analyzer(initials),
        field,
        max_bytes,
    ))
}

/// Appends `text` with the five HTML-significant characters escaped.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    paperfeed_core::escape_html(text, out);
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    escape_into(&mut out, text);
    out
}

/// `text` escaped, with the byte ranges in `marks` (sorted, not overlapping, on character
/// boundaries) wrapped in `<mark>`. A range that is not within `text` is ignored rather
/// than trusted.
fn mark(text: &str, marks: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len() + marks.len() * 13 + text.len() / 8);
    let mut done = 0;
    for range in marks {
        let (Some(before), Some(inside)) = (text.get(done..range.start), text.get(range.clone()))
        else {
            continue;
        };
        escape_into(&mut out, before);
        out.push_str("<mark>");
        escape_into(&mut out, inside);
        out.push_str("</mark>");
        done = range.end;
    }
    escape_into(&mut out, text.get(done..).unwrap_or_default());
    out
}

/// Sorted, merged ranges, each moved by `shift` bytes.
fn marks_of(snippet: &Snippet, shift: usize) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = snippet
        .highlighted()
        .iter()
        .map(|r| r.start + shift..r.end + shift)
        .collect();
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The whole title, escaped, with the matched words marked.
pub(crate) fn title_html(generator: Option<&SnippetGenerator>, title: &str) -> String {
    let Some(generator) = generator else {
        return escape(title);
    };
    let snippet = generator.snippet(title);
    if snippet.is_empty() {
        return escape(title);
    }
    mark(title, &marks_of(&snippet, snippet.fragment_range().start))
}

/// The best window of the abstract around the matched words, escaped and marked, with `…`
/// where it was cut; the abstract's opening when nothing in it matched.
pub(crate) fn snippet_html(generator: Option<&SnippetGenerator>, text: &str) -> String {
    if let Some(generator) = generator {
        let snippet = generator.snippet(text);
        let range = widen(text, snippet.fragment_range());
        if !snippet.is_empty()
            && let Some(fragment) = text.get(range.clone())
        {
            let shift = snippet.fragment_range().start - range.start;
            let mut out = String::new();
            if range.start > 0 {
                out.push('…');
            }
            out.push_str(&mark(fragment, &marks_of(&snippet, shift)));
            if range.end < text.len() {
                out.push('…');
            }
            return out;
        }
    }
    opening(text)
}

/// Tantivy's fragments start and end on word characters, so they would cut `(`, `$` or a
/// final `.` off the words at their edges. This takes the rest of those words back, and the
/// rest of the text when only punctuation is left of it.
fn widen(text: &str, range: Range<usize>) -> Range<usize> {
    let (Some(before), Some(after)) = (text.get(..range.start), text.get(range.end..)) else {
        return range;
    };
    let start = before.rfind(char::is_whitespace).map_or(0, |space| {
        space + before[space..].chars().next().map_or(1, char::len_utf8)
    });
    let end = if after.chars().any(char::is_alphanumeric) {
        range.end + after.find(char::is_whitespace).unwrap_or(after.len())
    } else {
        text.len()
    };
    start.min(range.start)..end.max(range.end)
}

/// The first [`SNIPPET_BYTES`] of `text`, cut between words.
fn opening(text: &str) -> String {
    if text.len() <= SNIPPET_BYTES {
        return escape(text);
    }
    let mut cut = SNIPPET_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let head = head
        .rfind(char::is_whitespace)
        .map_or(head, |space| &head[..space]);
    let mut out = escape(head.trim_end());
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_outside_marks_is_escaped() {
        assert_eq!(
            mark("<b>a & b</b>", std::slice::from_ref(&(3..4))),
            "&lt;b&gt;<mark>a</mark> &amp; b&lt;/b&gt;"
        );
        assert_eq!(escape("\"'"), "&quot;&#39;");
    }

    #[test]
    fn ranges_outside_the_text_are_ignored() {
        assert_eq!(mark("héllo", &[1..2, 10..12]), "héllo");
        assert_eq!(mark("ab", &[0..1, 1..2]), "<mark>a</mark><mark>b</mark>");
    }

    #[test]
    fn fragments_take_back_the_punctuation_at_their_edges() {
        let text = "see ($x<y$) here. And more";
        assert_eq!(widen(text, 6..9), 4..11);
        assert_eq!(widen(text, 18..26), 18..26);
        assert_eq!(widen("end.", 0..3), 0..4);
        assert_eq!(widen("a b", 5..9), 5..9);
    }

    #[test]
    fn openings_cut_between_words() {
        let text = "word ".repeat(100);
        let cut = opening(&text);
        assert!(cut.ends_with("word…"), "{cut}");
        assert!(cut.len() <= SNIPPET_BYTES + 3);
        let wide = "é".repeat(300);
        assert!(opening(&wide).ends_with('…'));
    }
}
