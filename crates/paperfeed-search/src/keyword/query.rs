//! What people type in the search box, read into a [`KeywordQuery`].
//!
//! The syntax is small and forgiving: free words, `"quoted phrases"`, and a few `key:value`
//! filters (`author:`, `category:`, `published:`, `featured:`, `sort:`). Only real mistakes in
//! that syntax (a quote never closed, a date that is not one, an unknown sort order, a filter
//! given twice) are errors; anything else, including `foo:bar` with a key we do not know and
//! every character that means something to other query languages, is just text.

use chrono::{Datelike, NaiveDate};

/// How results are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// BM25 relevance; with no words to rank by, the newest papers first.
    #[default]
    Relevance,
    /// Newest arXiv date first (the first featured day for papers without one).
    Newest,
    /// Most upvoted first.
    Votes,
}

impl SortOrder {
    /// The name used in `sort:` and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Relevance => "relevance",
            SortOrder::Newest => "newest",
            SortOrder::Votes => "votes",
        }
    }

    /// Reads a sort order by name, accepting a few obvious synonyms.
    pub fn parse(name: &str) -> Option<SortOrder> {
        match name.to_ascii_lowercase().as_str() {
            "relevance" | "relevant" | "score" | "best" => Some(SortOrder::Relevance),
            "newest" | "new" | "date" | "recent" | "latest" => Some(SortOrder::Newest),
            "votes" | "vote" | "upvotes" | "popular" | "top" => Some(SortOrder::Votes),
            _ => None,
        }
    }
}

/// The results page size when none is asked for.
pub const DEFAULT_LIMIT: usize = 20;

/// One keyword search: words and phrases to rank by, filters that only narrow, an order and a
/// page. Build it with [`KeywordQuery::parse`] from what a user typed, or field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeywordQuery {
    /// Free words and `"quoted phrases"`; an arXiv id or an exact title here ranks that paper
    /// first. Empty lists every paper that passes the filters.
    pub text: String,
    /// Papers with an author matching these words as a phrase (`lovelace`, `Ada Lovelace`).
    pub author: Option<String>,
    /// An arXiv category, exact but case-insensitive (`cs.CL`), or a whole archive
    /// (`cs`, `cs.*`).
    pub category: Option<String>,
    /// The arXiv date (of version 1) lies in this inclusive range.
    pub published: Option<(NaiveDate, NaiveDate)>,
    /// The paper was on the daily feed on at least one day of this inclusive range.
    pub featured: Option<(NaiveDate, NaiveDate)>,
    pub sort: SortOrder,
    pub offset: usize,
    pub limit: usize,
    /// Whether hits carry their title and snippet with the typed words marked (the search
    /// page's HTML). A caller that shows no HTML, as the JSON API, sets it false: marking reads
    /// every hit's stored text and is most of a hit's cost.
    pub highlight: bool,
}

impl Default for KeywordQuery {
    fn default() -> Self {
        Self {
            text: String::new(),
            author: None,
            category: None,
            published: None,
            featured: None,
            sort: SortOrder::Relevance,
            offset: 0,
            limit: DEFAULT_LIMIT,
            highlight: true,
        }
    }
}

/// What was wrong with a typed query. The message is meant for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(
        "a quote (\") opened at character {at} is never closed; close it or remove it to search the words"
    )]
    UnbalancedQuote { at: usize },
    #[error(
        "{key}:{value} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD, or a range such as \
         {key}:2024-01-01..2024-06-30 (either end may be left open)"
    )]
    BadDate { key: &'static str, value: String },
    #[error("{key}:{value} starts after it ends")]
    EmptyDateRange { key: &'static str, value: String },
    #[error("sort:{value} is not an order: use sort:relevance, sort:newest or sort:votes")]
    BadSort { value: String },
    #[error("{key}: is given twice; use it once per search")]
    Repeated { key: &'static str },
}

/// The filters the syntax knows, by the names people type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Author,
    Category,
    Published,
    Featured,
    Sort,
}

impl Key {
    fn from_name(name: &str) -> Option<Key> {
        match name.to_ascii_lowercase().as_str() {
            "author" | "authors" => Some(Key::Author),
            "category" | "cat" => Some(Key::Category),
            "published" => Some(Key::Published),
            "featured" => Some(Key::Featured),
            "sort" => Some(Key::Sort),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Key::Author => "author",
            Key::Category => "category",
            Key::Published => "published",
            Key::Featured => "featured",
            Key::Sort => "sort",
        }
    }
}

/// Straight and typographic double quotes: titles pasted from a word processor or a PDF carry
/// the curly ones.
fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

/// A piece of the free text: a word, or the inside of a quoted phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Word(&'a str),
    Phrase(&'a str),
}

/// A cursor over the input that knows character positions, for error messages.
struct Lexer<'a> {
    input: &'a str,
    /// Byte offset of the next character.
    at: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.input.get(self.at..)?.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// 1-based character position of a byte offset, as people count.
    fn char_position(&self, byte: usize) -> usize {
        self.input
            .get(..byte)
            .map_or(0, |before| before.chars().count())
            + 1
    }

    /// Reads the inside of a quoted string whose opening quote is the next character. `None`
    /// when it is never closed; then the cursor is left at the end.
    fn quoted(&mut self) -> Option<&'a str> {
        self.bump();
        let start = self.at;
        while let Some(c) = self.peek() {
            if is_quote(c) {
                let inside = self.input.get(start..self.at);
                self.bump();
                return inside;
            }
            self.bump();
        }
        None
    }

    /// Reads up to whitespace or a quote.
    fn bare(&mut self) -> &'a str {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && !is_quote(c))
        {
            self.bump();
        }
        self.input.get(start..self.at).unwrap_or_default()
    }
}

/// Splits free text into words and phrases. Never fails: an unclosed quote runs to the end,
/// which is what [`KeywordQuery::parse`] would have refused, but a query built field by field
/// is searched as well as it can be.
pub(crate) fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut lexer = Lexer { input: text, at: 0 };
    let mut out = Vec::new();
    loop {
        lexer.skip_whitespace();
        match lexer.peek() {
            None => return out,
            Some(c) if is_quote(c) => {
                let start = lexer.at + c.len_utf8();
                let phrase = match lexer.quoted() {
                    Some(inside) => inside,
                    None => text.get(start..).unwrap_or_default(),
                };
                out.push(Piece::Phrase(phrase));
            }
            Some(_) => out.push(Piece::Word(lexer.bare())),
        }
    }
}

impl KeywordQuery {
    /// A relevance search for `text` with no filters, first page.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Reads what a user typed in the search box. Offset and limit are left at their
    /// defaults: pages come from the URL, not from the text.
    pub fn parse(input: &str) -> Result<KeywordQuery, QueryError> {
        let mut query = KeywordQuery::default();
        let mut sort: Option<SortOrder> = None;
        let mut text: Vec<&str> = Vec::new();
        let mut lexer = Lexer { input, at: 0 };
        loop {
            lexer.skip_whitespace();
            let start = lexer.at;
            let Some(c) = lexer.peek() else { break };
            if is_quote(c) {
                if lexer.quoted().is_none() {
                    return Err(QueryError::UnbalancedQuote {
                        at: lexer.char_position(start),
                    });
                }
                text.push(input.get(start..lexer.at).unwrap_or_default());
                continue;
            }
            let word = lexer.bare();
            let Some((name, value)) = word.split_once(':') else {
                text.push(word);
                continue;
            };
            let Some(key) = Key::from_name(name) else {
                // `foo:bar`, a URL, a title with a colon: plain words.
                text.push(word);
                continue;
            };
            let value = if value.is_empty() && lexer.peek().is_some_and(is_quote) {
                let quote_at = lexer.at;
                match lexer.quoted() {
                    Some(inside) => inside,
                    None => {
                        return Err(QueryError::UnbalancedQuote {
                            at: lexer.char_position(quote_at),
                        });
                    }
                }
            } else {
                value
            };
            let value = value.trim();
            if value.is_empty() {
                // `Sort: A Survey` pasted from a title: a word, not an empty filter.
                text.push(word);
                continue;
            }
            query.apply(key, value, &mut sort)?;
        }
        query.text = text.join(" ");
        query.sort = sort.unwrap_or_default();
        Ok(query)
    }

    fn apply(
        &mut self,
        key: Key,
        value: &str,
        sort: &mut Option<SortOrder>,
    ) -> Result<(), QueryError> {
        let repeated = || QueryError::Repeated { key: key.name() };
        match key {
            Key::Author => {
                if self.author.is_some() {
                    return Err(repeated());
                }
                self.author = Some(value.to_owned());
            }
            Key::Category => {
                if self.category.is_some() {
                    return Err(repeated());
                }
                self.category = Some(value.to_owned());
            }
            Key::Published | Key::Featured => {
                let slot = if key == Key::Published {
                    &mut self.published
                } else {
                    &mut self.featured
                };
                if slot.is_some() {
                    return Err(repeated());
                }
                *slot = Some(parse_date_range(key.name(), value)?);
            }
            Key::Sort => {
                if sort.is_some() {
                    return Err(repeated());
                }
                *sort = Some(SortOrder::parse(value).ok_or_else(|| QueryError::BadSort {
                    value: shorten(value),
                })?);
            }
        }
        Ok(())
    }
}

/// Where the free words of typed text are, as byte ranges of `input`: what
/// [`KeywordQuery::parse`] would search as words. Quoted phrases, `key:value` filters (known
/// or not: `foo:bar`, URLs), and the value of a filter given in quotes are left out, so the
/// spelling correction never touches them.
pub(crate) fn free_word_spans(input: &str) -> Vec<std::ops::Range<usize>> {
    let mut lexer = Lexer { input, at: 0 };
    let mut spans = Vec::new();
    loop {
        lexer.skip_whitespace();
        let Some(c) = lexer.peek() else { break };
        if is_quote(c) {
            lexer.quoted();
            continue;
        }
        let start = lexer.at;
        let word = lexer.bare();
        match word.split_once(':') {
            None => spans.push(start..lexer.at),
            Some((name, value)) => {
                let known = Key::from_name(name).is_some();
                if known && value.is_empty() && lexer.peek().is_some_and(is_quote) {
                    lexer.quoted();
                }
            }
        }
    }
    spans
}

/// Keeps error messages readable when someone pastes a novel after `sort:`.
fn shorten(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut short: String = value.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

/// `2024`, `2024-03`, `2024-03-05`, or two of them joined by `..` (either side may be empty
/// for an open end) into an inclusive range of days.
fn parse_date_range(key: &'static str, value: &str) -> Result<(NaiveDate, NaiveDate), QueryError> {
    let bad = || QueryError::BadDate {
        key,
        value: shorten(value),
    };
    let (from, to) = match value.split_once("..") {
        Some((from, to)) => {
            let (from, to) = (from.trim(), to.trim());
            if from.is_empty() && to.is_empty() {
                return Err(bad());
            }
            let from = if from.is_empty() {
                NaiveDate::MIN
            } else {
                period(from).ok_or_else(bad)?.0
            };
            let to = if to.is_empty() {
                NaiveDate::MAX
            } else {
                period(to).ok_or_else(bad)?.1
            };
            (from, to)
        }
        None => period(value).ok_or_else(bad)?,
    };
    if from > to {
        return Err(QueryError::EmptyDateRange {
            key,
            value: shorten(value),
        });
    }
    Ok((from, to))
}

/// The first and last day of a year, month or day written as `YYYY[-MM[-DD]]`.
fn period(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let mut parts = s.split('-');
    let year = number(parts.next()?, 4)?;
    let month = match parts.next() {
        Some(m) => Some(number(m, 2)?),
        None => None,
    };
    let day = match parts.next() {
        Some(d) => Some(number(d, 2)?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    let year = i32::try_from(year).ok()?;
    match (month, day) {
        (None, _) => Some((
            NaiveDate::from_ymd_opt(year, 1, 1)?,
            NaiveDate::from_ymd_opt(year, 12, 31)?,
        )),
        (Some(month), None) => {
            let first = NaiveDate::from_ymd_opt(year, month, 1)?;
            let next = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)?
            };
            Some((first, next.pred_opt()?))
        }
        (Some(month), Some(day)) => {
            let date = NaiveDate::from_ymd_opt(year, month, day)?;
            Some((date, date))
        }
    }
}

/// Exactly `digits` ASCII digits (months and days may drop a leading zero).
fn number(s: &str, digits: usize) -> Option<u32> {
    let ok_len = if digits == 4 {
        s.len() == 4
    } else {
        (1..=digits).contains(&s.len())
    };
    (ok_len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Days since 0001-01-01 (day 1): how the index stores dates, as plain integers.
pub(crate) fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn free_words_and_phrases_stay_in_the_text() {
        let q = KeywordQuery::parse("  vision   \"masked autoencoder\" scaling ").unwrap();
        assert_eq!(q.text, "vision \"masked autoencoder\" scaling");
        assert_eq!(q.author, None);
        assert_eq!(q.sort, SortOrder::Relevance);
        assert_eq!(q.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn filters_are_taken_out_of_the_text() {
        let q = KeywordQuery::parse(
            "diffusion author:\"Ada Lovelace\" category:cs.CL published:2024-01-01..2024-06-30 \
             featured:2024-03..2024-04 sort:votes",
        )
        .unwrap();
        assert_eq!(q.text, "diffusion");
        assert_eq!(q.author.as_deref(), Some("Ada Lovelace"));
        assert_eq!(q.category.as_deref(), Some("cs.CL"));
        assert_eq!(q.published, Some((day("2024-01-01"), day("2024-06-30"))));
        assert_eq!(q.featured, Some((day("2024-03-01"), day("2024-04-30"))));
        assert_eq!(q.sort, SortOrder::Votes);
    }

    #[test]
    fn a_single_period_covers_all_its_days() {
        let q = KeywordQuery::parse("published:2024 featured:2024-02").unwrap();
        assert_eq!(q.published, Some((day("2024-01-01"), day("2024-12-31"))));
        assert_eq!(q.featured, Some((day("2024-02-01"), day("2024-02-29"))));
        let q = KeywordQuery::parse("featured:2023-12-5").unwrap();
        assert_eq!(q.featured, Some((day("2023-12-05"), day("2023-12-05"))));
    }

    #[test]
    fn open_ended_ranges_run_to_the_end_of_time() {
        let q = KeywordQuery::parse("published:2024-06.. featured:..2024-01").unwrap();
        assert_eq!(q.published, Some((day("2024-06-01"), NaiveDate::MAX)));
        assert_eq!(q.featured, Some((NaiveDate::MIN, day("2024-01-31"))));
    }

    #[test]
    fn malformed_syntax_says_what_is_wrong() {
        let err = KeywordQuery::parse("vision \"masked auto").unwrap_err();
        assert_eq!(err, QueryError::UnbalancedQuote { at: 8 });
        assert!(err.to_string().contains("character 8"), "{err}");

        let err = KeywordQuery::parse("author:\"Ada").unwrap_err();
        assert_eq!(err, QueryError::UnbalancedQuote { at: 8 });

        let err = KeywordQuery::parse("published:2024-13").unwrap_err();
        assert!(
            err.to_string().contains("published:2024-13 is not a date"),
            "{err}"
        );
        let err = KeywordQuery::parse("featured:2024-02-30").unwrap_err();
        assert!(matches!(
            err,
            QueryError::BadDate {
                key: "featured",
                ..
            }
        ));
        let err = KeywordQuery::parse("published:2024-05..2024-01").unwrap_err();
        assert!(err.to_string().contains("starts after it ends"), "{err}");
        let err = KeywordQuery::parse("sort:random").unwrap_err();
        assert!(err.to_string().contains("sort:votes"), "{err}");
        let err = KeywordQuery::parse("author:a author:b").unwrap_err();
        assert_eq!(err, QueryError::Repeated { key: "author" });
    }

    #[test]
    fn unknown_keys_and_empty_filters_are_plain_words() {
        let q = KeywordQuery::parse("foo:bar http://x.org/a Sort: a survey").unwrap();
        assert_eq!(q.text, "foo:bar http://x.org/a Sort: a survey");
        assert_eq!(q.sort, SortOrder::Relevance);
    }

    #[test]
    fn filter_keys_are_case_insensitive_and_have_synonyms() {
        let q = KeywordQuery::parse("AUTHOR:hinton Cat:cs.LG sort:Newest").unwrap();
        assert_eq!(q.author.as_deref(), Some("hinton"));
        assert_eq!(q.category.as_deref(), Some("cs.LG"));
        assert_eq!(q.sort, SortOrder::Newest);
    }

    #[test]
    fn curly_quotes_make_phrases_too() {
        let q = KeywordQuery::parse("\u{201C}attention is all you need\u{201D}").unwrap();
        assert_eq!(
            pieces(&q.text),
            vec![Piece::Phrase("attention is all you need")]
        );
    }

    #[test]
    fn pieces_of_unchecked_text_never_fail() {
        assert_eq!(
            pieces("a \"b c"),
            vec![Piece::Word("a"), Piece::Phrase("b c")]
        );
        assert_eq!(
            pieces("x\"y\"z"),
            vec![Piece::Word("x"), Piece::Phrase("y"), Piece::Word("z")]
        );
        assert_eq!(pieces("\""), vec![Piece::Phrase("")]);
    }
}
