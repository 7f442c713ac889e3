//! Titles and snippets as HTML: the matched words wrapped in `<mark>`, every other character
//! escaped. Titles and abstracts hold `<`, `&` and TeX; none of it may reach a page as markup.
//!
//! The query's terms are found through the field's own stemming (so "models" marks
//! "model"), and the best window of an abstract is chosen the way tantivy's snippet generator
//! chooses it: windows of at most a snippet's length, each scored by its matches' weights (a
//! rarer term weighs more), the best and then the earliest kept. Doing it here lets cleared
//! words skip the term lookup, and the HTML is ours, so the escaping is complete.

use std::collections::BTreeMap;
use std::ops::Range;

use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::tokenizer::TextAnalyzer;

use super::schema::highlight_analyzer;

/// Longest abstract snippet, in bytes of source text.
pub(crate) const SNIPPET_BYTES: usize = 240;

/// Finds a query's terms in one field's text: where they are, and the best window.
pub(crate) struct Highlighter {
    /// The terms as the field's analyzer writes them, each with its weight.
    terms: Vec<(String, f32)>,
    analyzer: TextAnalyzer,
    max_bytes: usize,
}

/// A window of a text and the matched words in it, as byte ranges of the whole text.
struct Found {
    window: Range<usize>,
    marks: Vec<Range<usize>>,
}

/// A highlighter marking `query`'s terms in `field`, windows up to `max_bytes` long; `None`
/// when the query has no term there that the index knows.
pub(crate) fn highlighter(
    searcher: &Searcher,
    query: &dyn Query,
    field: Field,
    max_bytes: usize,
) -> Option<Highlighter> {
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
        // Rarer terms weigh more when choosing the window, as tantivy's own generator does.
        if let Ok(doc_freq) = searcher.doc_freq(term)
            && doc_freq > 0
        {
            terms.insert(text.to_owned(), 1.0 / (1.0 + doc_freq as f32));
        }
    });
    if terms.is_empty() {
        return None;
    }
    let analyzer = highlight_analyzer(terms.keys().map(String::as_str));
    Some(Highlighter {
        terms: terms.into_iter().collect(),
        analyzer,
        max_bytes,
    })
}

impl Highlighter {
    /// The best window of `text` (the highest sum of its matches' weights; the earliest of
    /// equals), or `None` when no term matches anywhere. A window starts at a word and ends
    /// with the last word that keeps it within `max_bytes`.
    fn best(&self, text: &str) -> Option<Found> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut best: Option<(f32, Found)> = None;
        let mut window = 0..0;
        let mut score = 0.0_f32;
        let mut marks: Vec<Range<usize>> = Vec::new();
        let mut close = |score: f32, window: Range<usize>, marks: &mut Vec<Range<usize>>| {
            if score > 0.0 && best.as_ref().is_none_or(|(s, _)| score > *s) {
                let marks = std::mem::take(marks);
                best = Some((score, Found { window, marks }));
            } else {
                marks.clear();
            }
        };
        while let Some(token) = stream.next() {
            if token.offset_to - window.start > self.max_bytes {
                close(score, window.clone(), &mut marks);
                window = token.offset_from..token.offset_from;
                score = 0.0;
            }
            window.end = token.offset_to;
            if token.text.is_empty() {
                continue;
            }
            if let Some((_, weight)) = self.terms.iter().find(|(t, _)| *t == token.text) {
                score += weight;
                marks.push(token.offset_from..token.offset_to);
            }
        }
        close(score, window, &mut marks);
        best.map(|(_, found)| found)
    }
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

/// Sorted, merged ranges, each moved back by `shift` bytes.
fn merged(found: &[Range<usize>], shift: usize) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = found
        .iter()
        .map(|r| r.start - shift..r.end - shift)
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
pub(crate) fn title_html(highlighter: Option<&Highlighter>, title: &str) -> String {
    match highlighter.and_then(|h| h.best(title)) {
        Some(found) => mark(title, &merged(&found.marks, 0)),
        None => escape(title),
    }
}

/// The best window of the abstract around the matched words, escaped and marked, with `…`
/// where it was cut; the abstract's opening when nothing in it matched.
pub(crate) fn snippet_html(highlighter: Option<&Highlighter>, text: &str) -> String {
    if let Some(found) = highlighter.and_then(|h| h.best(text)) {
        let range = widen(text, found.window.clone());
        if let Some(fragment) = text.get(range.clone()) {
            let mut out = String::new();
            if range.start > 0 {
                out.push('…');
            }
            out.push_str(&mark(fragment, &merged(&found.marks, range.start)));
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

    fn highlighter(terms: &[(&str, f32)], max_bytes: usize) -> Highlighter {
        Highlighter {
            terms: terms.iter().map(|(t, w)| ((*t).to_owned(), *w)).collect(),
            analyzer: highlight_analyzer(terms.iter().map(|(t, _)| *t)),
            max_bytes,
        }
    }

    #[test]
    fn the_best_window_holds_the_rarest_matches_and_the_earliest_of_equals() {
        let text = "Models of cats. Some filler words here. Rare dogs and rare models.";
        let h = highlighter(&[("model", 0.1), ("dog", 0.5), ("rare", 0.2)], 20);
        let found = h.best(text).expect("matches");
        assert_eq!(&text[found.window.clone()], "Rare dogs and rare");
        let marked: Vec<&str> = found.marks.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(marked, ["Rare", "dogs", "rare"]);
        // Two windows scoring the same: the first wins.
        let h = highlighter(&[("cat", 1.0)], 10);
        let found = h.best("cats are. filler .. cats").expect("matches");
        assert_eq!(found.window, 0..8);
        assert!(h.best("nothing to see").is_none());
        let h = highlighter(&[("cat", 1.0)], SNIPPET_BYTES);
        assert_eq!(
            snippet_html(Some(&h), "the cats <here>"),
            "the <mark>cats</mark> &lt;here&gt;"
        );
        assert_eq!(title_html(Some(&h), "<Cat>"), "&lt;<mark>Cat</mark>&gt;");
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
