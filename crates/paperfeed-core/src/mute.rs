//! Mutes: what a reader asked not to see, and whether a paper is one of those.
//!
//! Three kinds, each kept as the reader typed it (trimmed, at most [`MAX_MUTE_CHARS`]
//! characters, at most [`MAX_MUTES`] per reader):
//!
//! - **author**: a paper with an author of the same normalised name ([`author_key`]: words
//!   made of letters and digits, lowercased, accents folded to ASCII, joined by one space;
//!   `Ada  Lovélace` and `ada lovelace` are one name, `A. Lovelace` is another).
//! - **category**: an arXiv category exactly, any case (`cs.CL`), or a whole archive (`cs`,
//!   `cs.*`), as the search box's `category:` reads it.
//! - **keyword**: a query in the search box's syntax, matched against one paper the way the
//!   search index matches it: words and `"phrases"` over the title and abstract (lowercased,
//!   accents folded, English stop words dropped, English Snowball stems, so `transformer`
//!   also mutes `Transformers`) and over author names (unstemmed), plus `author:` (a phrase in
//!   one author's name) and `category:`. Unlike a search, where words are optional and only
//!   rank, a mute needs **every** word, phrase and filter to match: `large language model`
//!   mutes papers that mention all three words, not every paper that says "large". `sort:`,
//!   `published:` and `featured:` mean nothing for one paper and are left out; a quote never
//!   closed runs to the end; `author:` or `category:` given twice must both match. A mute
//!   with nothing left to match (only punctuation or stop words) is kept but matches nothing
//!   ([`mute_matches_nothing`] says so, for pages to warn).
//!
//! [`MuteSet`] compiles a reader's mutes once (per request) and answers, paper by paper, the
//! first mute that matches; a paper's text is read only when there are keyword mutes, and only
//! words starting with a letter some keyword stem starts with are stemmed (English Snowball
//! stems keep a word's first letter), which keeps a page of papers cheap to filter.
//! [`MuteText`] is a paper's text read once for any mutes (every word stemmed, the stems
//! sorted, authors' keys made): a caller that keeps it per paper matches every reader's mutes
//! against it with [`MuteSet::first_match_in`] — the same answers, with nothing stemmed again.

use std::fmt;

use frostem::{Algorithm, Stemmer};

use crate::paper::Paper;

/// Mutes one reader may keep.
pub const MAX_MUTES: usize = 200;
/// Characters in one mute.
pub const MAX_MUTE_CHARS: usize = 200;

/// What a mute is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MuteKind {
    Author,
    Keyword,
    Category,
}

impl MuteKind {
    pub const ALL: [MuteKind; 3] = [MuteKind::Author, MuteKind::Keyword, MuteKind::Category];

    /// The name in URLs, forms, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            MuteKind::Author => "author",
            MuteKind::Keyword => "keyword",
            MuteKind::Category => "category",
        }
    }

    pub fn parse(name: &str) -> Option<MuteKind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "author" => Some(MuteKind::Author),
            "keyword" | "phrase" => Some(MuteKind::Keyword),
            "category" => Some(MuteKind::Category),
            _ => None,
        }
    }
}

impl fmt::Display for MuteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a mute cannot be kept. Messages are for the reader who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MuteError {
    #[error("text: a {kind} mute needs some text")]
    Empty { kind: MuteKind },
    #[error("text: a mute is at most {max} characters; this one has {chars}")]
    TooLong { chars: usize, max: usize },
}

/// A mute's text checked for its kind: trimmed, not empty, at most [`MAX_MUTE_CHARS`]
/// characters. Returns the text to keep and the key that makes two mutes the same (the
/// kind's normalisation, or the lowercased text when that leaves nothing), so a reader cannot
/// keep one mute twice.
pub fn check_mute(kind: MuteKind, raw: &str) -> Result<(String, String), MuteError> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(MuteError::Empty { kind });
    }
    if chars > MAX_MUTE_CHARS {
        return Err(MuteError::TooLong {
            chars,
            max: MAX_MUTE_CHARS,
        });
    }
    let key = match kind {
        MuteKind::Author => author_key(text),
        MuteKind::Category => text.to_lowercase(),
        // Words folded; quotes and filters kept, since they change what matches.
        MuteKind::Keyword => text
            .split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" "),
    };
    let key = if key.is_empty() {
        text.to_lowercase()
    } else {
        key
    };
    Ok((text.to_owned(), key))
}

/// Whether a mute, as kept, can match no paper at all (a keyword of only stop words or
/// punctuation, an author name without letters or digits).
pub fn mute_matches_nothing(kind: MuteKind, text: &str) -> bool {
    match kind {
        MuteKind::Author => author_key(text).is_empty(),
        MuteKind::Category => CategoryRule::new(text).name.is_empty(),
        MuteKind::Keyword => KeywordMute::parse(text, &Stemmer::new(Algorithm::English)).is_empty(),
    }
}

/// An author's name as mutes compare it: the author pages' rule ([`crate::AuthorKey`]:
/// accents and case folded, punctuation collapsed, "Last, First" turned), so muting the name
/// an author page shows mutes every variant that page merges by name. Empty when the name has
/// no letters or digits.
pub fn author_key(name: &str) -> String {
    crate::AuthorKey::from_name(name).map_or_else(String::new, |k| k.as_str().to_owned())
}

/// Lucene's English stop words, which the search index drops from titles and abstracts.
const STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Calls `f` with each token of `text` as the search index makes them: a run of letters and
/// digits, lowercased, accents folded to ASCII (`Müller` → `muller`, `ß` → `ss`).
fn each_token(text: &str, mut f: impl FnMut(&str)) {
    let mut token = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            push_folded(c, &mut token);
        } else if !token.is_empty() {
            f(&token);
            token.clear();
        }
    }
    if !token.is_empty() {
        f(&token);
    }
}

fn push_folded(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for lower in c.to_lowercase() {
        match lower {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'þ' => out.push_str("th"),
            'ı' => out.push('i'),
            other => unicode_normalization::char::decompose_canonical(other, |part| {
                if !unicode_normalization::char::is_combining_mark(part) {
                    out.push(part);
                }
            }),
        }
    }
}

/// A category rule: exact (`cs.cl`), an archive (`cs` matches `cs` and `cs.*`), or an archive
/// only (`cs.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CategoryRule {
    name: String,
    archive_only: bool,
}

impl CategoryRule {
    fn new(text: &str) -> CategoryRule {
        let name = text.trim().to_ascii_lowercase();
        if let Some(archive) = name.strip_suffix(".*").or_else(|| name.strip_suffix('*')) {
            return CategoryRule {
                name: archive.to_owned(),
                archive_only: true,
            };
        }
        CategoryRule {
            name,
            archive_only: false,
        }
    }

    fn matches(&self, paper: &Paper) -> bool {
        let name = self.name.as_bytes();
        if name.is_empty() {
            return false;
        }
        paper.categories.iter().any(|c| {
            let c = c.trim().as_bytes();
            let in_archive = !self.name.contains('.')
                && c.get(name.len()) == Some(&b'.')
                && c.get(..name.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(name));
            in_archive || (!self.archive_only && c.eq_ignore_ascii_case(name))
        })
    }
}

/// A keyword mute read in the search syntax: every part must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct KeywordMute {
    /// Single words: a stem for the prose, the folded word for author names.
    words: Vec<(String, String)>,
    /// Phrases (and words that are several tokens, `GPT-4`): stems in order, for the prose;
    /// folded tokens in order, for author names.
    phrases: Vec<(Vec<String>, Vec<String>)>,
    /// `author:`: folded tokens, consecutive in one author's name (each one given).
    authors: Vec<Vec<String>>,
    /// `category:` (each one given).
    categories: Vec<CategoryRule>,
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

impl KeywordMute {
    fn is_empty(&self) -> bool {
        // An `author:` without words can match no author, so it matches nothing either.
        (self.words.is_empty()
            && self.phrases.is_empty()
            && self.authors.is_empty()
            && self.categories.iter().all(|c| c.name.is_empty()))
            || self.authors.iter().any(Vec::is_empty)
    }

    /// Reads a keyword mute leniently: nothing is refused (see the module's documentation).
    fn parse(input: &str, stemmer: &Stemmer) -> KeywordMute {
        let mut mute = KeywordMute::default();
        let mut rest = input;
        loop {
            rest = rest.trim_start();
            let Some(first) = rest.chars().next() else {
                break;
            };
            if is_quote(first) {
                let (inside, after) = quoted(&rest[first.len_utf8()..]);
                mute.add_text(inside, stemmer);
                rest = after;
                continue;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || is_quote(c))
                .unwrap_or(rest.len());
            let (word, after) = rest.split_at(end);
            rest = after;
            let Some((name, value)) = word.split_once(':') else {
                mute.add_text(word, stemmer);
                continue;
            };
            let key = name.to_ascii_lowercase();
            let filter = matches!(
                key.as_str(),
                "author" | "authors" | "category" | "cat" | "published" | "featured" | "sort"
            );
            if !filter {
                mute.add_text(word, stemmer);
                continue;
            }
            let value = match rest.chars().next() {
                Some(q) if value.is_empty() && is_quote(q) => {
                    let (inside, after) = quoted(&rest[q.len_utf8()..]);
                    rest = after;
                    inside
                }
                _ => value,
            };
            let value = value.trim();
            if value.is_empty() {
                mute.add_text(word, stemmer);
                continue;
            }
            match key.as_str() {
                "author" | "authors" => {
                    let mut tokens = Vec::new();
                    each_token(value, |t| tokens.push(t.to_owned()));
                    mute.authors.push(tokens);
                }
                "category" | "cat" => mute.categories.push(CategoryRule::new(value)),
                // Dates and orders mean nothing for one paper.
                _ => {}
            }
        }
        mute
    }

    /// A bare word or a phrase's inside.
    fn add_text(&mut self, text: &str, stemmer: &Stemmer) {
        let mut stems = Vec::new();
        let mut folded = Vec::new();
        each_token(text, |t| {
            folded.push(t.to_owned());
            if !STOP_WORDS.contains(&t) {
                stems.push(stemmer.stem(t).into_owned());
            }
        });
        match (stems.len(), folded.len()) {
            (0, _) => {}
            (1, 1) => self.words.extend(stems.pop().zip(folded.pop())),
            _ => self.phrases.push((stems, folded)),
        }
    }

    fn matches(&self, paper: &Paper, text: &MuteText) -> bool {
        if !self.categories.iter().all(|c| c.matches(paper)) {
            return false;
        }
        if !self
            .authors
            .iter()
            .all(|author| text.names().any(|name| name.contains_run(author)))
        {
            return false;
        }
        self.words
            .iter()
            .all(|(stem, word)| text.has_stem(stem) || text.names().any(|name| name.contains(word)))
            && self.phrases.iter().all(|(stems, words)| {
                (stems.iter().all(|stem| text.has_stem(stem))
                    && (text.title.contains_run(stems) || text.abstract_text.contains_run(stems)))
                    || text.names().any(|name| name.contains_run(words))
            })
    }
}

/// The inside of a quoted string whose opening quote is already consumed, and what follows
/// its closing quote; a quote never closed runs to the end.
fn quoted(after_open: &str) -> (&str, &str) {
    match after_open.find(is_quote) {
        Some(close) => {
            let quote_len = after_open[close..].chars().next().map_or(1, char::len_utf8);
            (&after_open[..close], &after_open[close + quote_len..])
        }
        None => (after_open, ""),
    }
}

/// Tokens in one string, each token's end beside it: a paper's few hundred words in a few
/// allocations, so that many papers' text can be kept (see [`MuteText`]).
#[derive(Clone, Debug, Default)]
struct Tokens {
    text: String,
    ends: Vec<u32>,
}

impl Tokens {
    fn push(&mut self, token: &str) {
        self.text.push_str(token);
        // Record sizes are capped far below 4 GiB.
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, at: usize) -> &str {
        let start = at
            .checked_sub(1)
            .and_then(|before| self.ends.get(before))
            .map_or(0, |&end| end as usize);
        let end = self.ends.get(at).map_or(start, |&end| end as usize);
        self.text.get(start..end).unwrap_or("")
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|at| self.get(at))
    }

    fn contains(&self, token: &str) -> bool {
        self.iter().any(|t| t == token)
    }

    /// Whether `run` occurs here as consecutive tokens.
    fn contains_run(&self, run: &[String]) -> bool {
        let Some(first) = run.first() else {
            return false;
        };
        (0..self.len().saturating_sub(run.len() - 1)).any(|at| {
            self.get(at) == first
                && run
                    .iter()
                    .enumerate()
                    .skip(1)
                    .all(|(i, token)| self.get(at + i) == token)
        })
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * std::mem::size_of::<u32>()
    }
}

/// Tokens of one author's name, a window of [`MuteText::names`].
struct Name<'a> {
    tokens: &'a Tokens,
    from: usize,
    to: usize,
}

impl Name<'_> {
    fn contains(&self, token: &str) -> bool {
        (self.from..self.to).any(|at| self.tokens.get(at) == token)
    }

    fn contains_run(&self, run: &[String]) -> bool {
        !run.is_empty()
            && (self.from..self.to)
                .take_while(|at| at + run.len() <= self.to)
                .any(|at| {
                    run.iter()
                        .enumerate()
                        .all(|(i, token)| self.tokens.get(at + i) == token)
                })
    }
}

/// One paper's text as keyword mutes read it: the stems of its title and abstract (stop
/// words dropped), and each author's folded name tokens.
///
/// [`MuteText::read`] stems every word and sorts the stems for quick look-ups: it depends on
/// the paper alone, so a caller may keep it (keyed by the paper and its text) and match any
/// reader's mutes against it with [`MuteSet::first_match_in`]. [`MuteSet::first_match`]
/// reads a cheaper one per call, stemming only the words that could match its own mutes.
#[derive(Clone, Debug, Default)]
pub struct MuteText {
    title: Tokens,
    abstract_text: Tokens,
    /// Every author's tokens one after the other; `name_ends[i]` ends author `i`'s.
    names: Tokens,
    name_ends: Vec<u32>,
    /// Each author's name as author mutes compare it ([`author_key`]); empty when not read
    /// for keeping.
    author_keys: Tokens,
    /// Positions of the distinct title and abstract stems (title first, then the abstract's
    /// after the title's), sorted by stem; empty when not read for keeping.
    sorted: Vec<u32>,
}

impl MuteText {
    /// Reads `paper`'s text for matching any mutes: every word stemmed, stems sorted.
    pub fn read(paper: &Paper) -> MuteText {
        let mut text = MuteText::read_some(paper, None, &Stemmer::new(Algorithm::English));
        let prose = text.title.len() + text.abstract_text.len();
        let mut sorted: Vec<u32> = (0..prose).filter_map(|at| u32::try_from(at).ok()).collect();
        sorted.sort_unstable_by(|a, b| text.prose(*a).cmp(text.prose(*b)));
        sorted.dedup_by(|a, b| text.prose(*a) == text.prose(*b));
        sorted.shrink_to_fit();
        text.sorted = sorted;
        for author in &paper.authors {
            text.author_keys.push(&author_key(&author.name));
        }
        text.author_keys.text.shrink_to_fit();
        text.author_keys.ends.shrink_to_fit();
        text
    }

    /// Reads `paper`'s text; with `initials`, only prose words starting with one of them are
    /// stemmed (the rest are kept empty, so positions stay right for phrases): English
    /// Snowball stems keep a word's first letter, so no other word can match.
    fn read_some(paper: &Paper, initials: Option<&[char]>, stemmer: &Stemmer) -> MuteText {
        let prose = |text: &str| {
            let mut stems = Tokens::default();
            each_token(text, |t| {
                if STOP_WORDS.contains(&t) {
                    return;
                }
                let wanted = initials
                    .is_none_or(|initials| t.chars().next().is_some_and(|c| initials.contains(&c)));
                if wanted {
                    stems.push(&stemmer.stem(t));
                } else {
                    stems.push("");
                }
            });
            stems.text.shrink_to_fit();
            stems.ends.shrink_to_fit();
            stems
        };
        let mut names = Tokens::default();
        let mut name_ends = Vec::with_capacity(paper.authors.len());
        for author in &paper.authors {
            each_token(&author.name, |t| names.push(t));
            name_ends.push(u32::try_from(names.len()).unwrap_or(u32::MAX));
        }
        names.text.shrink_to_fit();
        names.ends.shrink_to_fit();
        MuteText {
            title: prose(&paper.title),
            abstract_text: prose(&paper.abstract_text),
            names,
            name_ends,
            author_keys: Tokens::default(),
            sorted: Vec::new(),
        }
    }

    /// The title's and the abstract's stems as one list of positions.
    fn prose(&self, at: u32) -> &str {
        let at = at as usize;
        match at.checked_sub(self.title.len()) {
            None => self.title.get(at),
            Some(in_abstract) => self.abstract_text.get(in_abstract),
        }
    }

    /// Whether the title or the abstract has `stem`.
    fn has_stem(&self, stem: &str) -> bool {
        if self.sorted.is_empty() {
            return self.title.contains(stem) || self.abstract_text.contains(stem);
        }
        self.sorted
            .binary_search_by(|at| self.prose(*at).cmp(stem))
            .is_ok()
    }

    fn names(&self) -> impl Iterator<Item = Name<'_>> {
        let mut from = 0;
        self.name_ends.iter().map(move |&end| {
            let name = Name {
                tokens: &self.names,
                from,
                to: end as usize,
            };
            from = end as usize;
            name
        })
    }

    /// Memory it holds beyond its own size, for callers that keep many within a budget.
    pub fn heap_bytes(&self) -> usize {
        self.title.heap_bytes()
            + self.abstract_text.heap_bytes()
            + self.names.heap_bytes()
            + self.author_keys.heap_bytes()
            + (self.name_ends.capacity() + self.sorted.capacity()) * std::mem::size_of::<u32>()
    }
}

#[derive(Clone, Debug)]
enum Rule {
    Author(String),
    Category(CategoryRule),
    Keyword(KeywordMute),
    /// A mute with nothing to match (only stop words or punctuation).
    Nothing,
}

/// A reader's mutes compiled for matching papers; built once per request.
#[derive(Clone)]
pub struct MuteSet {
    rules: Vec<Rule>,
    /// First letters of every keyword stem: only prose words starting with one are stemmed.
    initials: Vec<char>,
    stemmer: Stemmer,
}

impl fmt::Debug for MuteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MuteSet")
            .field("rules", &self.rules)
            .finish()
    }
}

impl MuteSet {
    /// Compiles mutes given as (kind, text as kept); indexes given back by [`MuteSet::first_match`] are positions in this list.
    pub fn new<'a>(mutes: impl IntoIterator<Item = (MuteKind, &'a str)>) -> MuteSet {
        let stemmer = Stemmer::new(Algorithm::English);
        let mut initials = Vec::new();
        let rules: Vec<Rule> = mutes
            .into_iter()
            .map(|(kind, text)| match kind {
                MuteKind::Author => Rule::Author(author_key(text)),
                MuteKind::Category => Rule::Category(CategoryRule::new(text)),
                MuteKind::Keyword => match KeywordMute::parse(text, &stemmer) {
                    k if !k.is_empty() => {
                        let stems = k
                            .words
                            .iter()
                            .map(|(s, _)| s)
                            .chain(k.phrases.iter().flat_map(|(s, _)| s));
                        for stem in stems {
                            if let Some(c) = stem.chars().next()
                                && !initials.contains(&c)
                            {
                                initials.push(c);
                            }
                        }
                        Rule::Keyword(k)
                    }
                    _ => Rule::Nothing,
                },
            })
            .collect();
        MuteSet {
            rules,
            initials,
            stemmer,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any mute reads what [`MuteText`] holds (keyword and author mutes do; category
    /// mutes read the paper's categories alone): when none does, there is nothing to read or
    /// keep.
    pub fn reads_text(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r, Rule::Keyword(_) | Rule::Author(_)))
    }

    /// The position of the first mute that matches `paper`, if any.
    pub fn first_match(&self, paper: &Paper) -> Option<usize> {
        self.first_match_of(paper, None)
    }

    /// [`MuteSet::first_match`] with `paper`'s text already read by [`MuteText::read`]
    /// (the same answer, without stemming or normalising anything).
    pub fn first_match_in(&self, paper: &Paper, text: &MuteText) -> Option<usize> {
        self.first_match_of(paper, Some(text))
    }

    fn first_match_of(&self, paper: &Paper, kept: Option<&MuteText>) -> Option<usize> {
        let mut keys: Option<Vec<String>> = None;
        let mut read: Option<MuteText> = None;
        for (at, rule) in self.rules.iter().enumerate() {
            let hit = match rule {
                Rule::Nothing => false,
                Rule::Author(key) => {
                    !key.is_empty()
                        && match kept {
                            Some(text) => text.author_keys.contains(key),
                            None => keys
                                .get_or_insert_with(|| {
                                    paper.authors.iter().map(|a| author_key(&a.name)).collect()
                                })
                                .contains(key),
                        }
                }
                Rule::Category(rule) => rule.matches(paper),
                Rule::Keyword(rule) => {
                    let text = match kept {
                        Some(text) => text,
                        None => &*read.get_or_insert_with(|| {
                            MuteText::read_some(paper, Some(&self.initials), &self.stemmer)
                        }),
                    };
                    rule.matches(paper, text)
                }
            };
            if hit {
                return Some(at);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArxivId, Author};

    fn paper(title: &str, abstract_text: &str, authors: &[&str], categories: &[&str]) -> Paper {
        Paper {
            id: ArxivId::parse("2608.00001").unwrap(),
            title: title.to_owned(),
            abstract_text: abstract_text.to_owned(),
            authors: authors
                .iter()
                .map(|n| Author {
                    name: (*n).to_owned(),
                    user: None,
                    hidden: false,
                })
                .collect(),
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            published_at: None,
            versions: Vec::new(),
            featured: Vec::new(),
            upvotes: 0,
            num_comments: 0,
            github_repo: None,
            github_stars: None,
            project_page: None,
            ai_summary: None,
            ai_keywords: Vec::new(),
            organization: None,
        }
    }

    /// Whether the mute matches `p`, asked both ways (text read per call, and kept text),
    /// which must agree.
    fn muted(kind: MuteKind, text: &str, p: &Paper) -> bool {
        let set = MuteSet::new([(kind, text)]);
        let per_call = set.first_match(p);
        assert_eq!(
            set.first_match_in(p, &MuteText::read(p)),
            per_call,
            "{kind} {text:?}: kept text disagrees"
        );
        per_call.is_some()
    }

    fn sample() -> Paper {
        paper(
            "Scaling Transformers for Protein Folding",
            "We train large language models on amino acid sequences.",
            &["Ada Lovélace", "Alan M. Turing"],
            &["cs.LG", "q-bio.BM"],
        )
    }

    #[test]
    fn a_keyword_matches_stemmed_words_of_title_and_abstract_in_any_case() {
        let p = sample();
        assert!(muted(MuteKind::Keyword, "transformer", &p));
        assert!(muted(MuteKind::Keyword, "PROTEINS", &p));
        assert!(muted(MuteKind::Keyword, "sequence", &p));
        assert!(!muted(MuteKind::Keyword, "diffusion", &p));
    }

    #[test]
    fn every_word_of_a_keyword_mute_must_match_unlike_a_search() {
        let p = sample();
        assert!(muted(MuteKind::Keyword, "large language model", &p));
        assert!(!muted(MuteKind::Keyword, "large diffusion model", &p));
    }

    #[test]
    fn a_phrase_matches_only_consecutive_words() {
        let p = sample();
        assert!(muted(MuteKind::Keyword, "\"language models\"", &p));
        assert!(muted(MuteKind::Keyword, "“protein folding”", &p));
        assert!(!muted(MuteKind::Keyword, "\"models language\"", &p));
        assert!(!muted(MuteKind::Keyword, "\"large models\"", &p));
    }

    #[test]
    fn author_and_category_filters_read_as_in_the_search_box() {
        let p = sample();
        assert!(muted(MuteKind::Keyword, "author:lovelace", &p));
        assert!(muted(
            MuteKind::Keyword,
            "author:\"ada lovelace\" protein",
            &p
        ));
        assert!(!muted(MuteKind::Keyword, "author:turing diffusion", &p));
        assert!(muted(MuteKind::Keyword, "category:cs.lg", &p));
        assert!(muted(MuteKind::Keyword, "cat:q-bio.* folding", &p));
        assert!(!muted(MuteKind::Keyword, "category:cs.CL", &p));
    }

    #[test]
    fn an_author_mute_matches_the_same_normalised_name_only() {
        let p = sample();
        assert!(muted(MuteKind::Author, "ada lovelace", &p));
        assert!(muted(MuteKind::Author, "  ADA   Lovelace ", &p));
        assert!(muted(MuteKind::Author, "Alan M Turing", &p));
        assert!(!muted(MuteKind::Author, "Lovelace", &p));
        assert!(!muted(MuteKind::Author, "A. Lovelace", &p));
        assert_eq!(author_key("Jürgen Schmidhuber"), "jurgen schmidhuber");
        assert_eq!(
            author_key("Ørsted, Hans-Christian"),
            author_key("Hans-Christian Ørsted"),
            "the author pages' rule turns \"Last, First\""
        );
    }

    #[test]
    fn a_category_mute_takes_a_category_or_a_whole_archive() {
        let p = sample();
        assert!(muted(MuteKind::Category, "CS.LG", &p));
        assert!(muted(MuteKind::Category, "cs", &p));
        assert!(muted(MuteKind::Category, "q-bio.*", &p));
        assert!(!muted(MuteKind::Category, "cs.CL", &p));
        assert!(!muted(MuteKind::Category, "c", &p));
        assert!(!muted(MuteKind::Category, "math", &p));
    }

    #[test]
    fn first_match_names_the_first_mute_in_the_list_that_matches() {
        let p = sample();
        let set = MuteSet::new([
            (MuteKind::Keyword, "diffusion"),
            (MuteKind::Category, "q-bio"),
            (MuteKind::Author, "ada lovelace"),
        ]);
        assert_eq!(set.first_match(&p), Some(1));
        assert_eq!(MuteSet::new([]).first_match(&p), None);
    }

    #[test]
    fn checking_a_mute_trims_and_bounds_it_and_keys_it_by_its_normal_form() {
        assert_eq!(
            check_mute(MuteKind::Keyword, "  Diffusion   Models "),
            Ok((
                "Diffusion   Models".to_owned(),
                "diffusion models".to_owned()
            ))
        );
        assert_eq!(
            check_mute(MuteKind::Author, "Ada Lovélace").map(|(_, k)| k),
            Ok("ada lovelace".to_owned())
        );
        assert_eq!(
            check_mute(MuteKind::Keyword, "   "),
            Err(MuteError::Empty {
                kind: MuteKind::Keyword
            })
        );
        assert!(matches!(
            check_mute(MuteKind::Keyword, &"x".repeat(201)),
            Err(MuteError::TooLong { chars: 201, .. })
        ));
        assert!(check_mute(MuteKind::Keyword, &"é".repeat(200)).is_ok());
        assert_eq!(
            check_mute(MuteKind::Author, "!!!").map(|(_, k)| k),
            Ok("!!!".to_owned())
        );
    }

    #[test]
    fn keyword_mutes_are_read_leniently_and_those_left_with_nothing_match_nothing() {
        let p = sample();
        assert!(
            muted(MuteKind::Keyword, "\"protein folding", &p),
            "an open quote runs to the end"
        );
        assert!(muted(
            MuteKind::Keyword,
            "protein sort:newest published:2020",
            &p
        ));
        assert!(!muted(
            MuteKind::Keyword,
            "author:lovelace author:hopper",
            &p
        ));
        for nothing in ["the", "!!", "sort:newest", "author:!!", "\"\""] {
            assert!(
                mute_matches_nothing(MuteKind::Keyword, nothing),
                "{nothing}"
            );
            assert!(!muted(MuteKind::Keyword, nothing, &p), "{nothing}");
        }
        assert!(!mute_matches_nothing(MuteKind::Keyword, "protein"));
        assert!(mute_matches_nothing(MuteKind::Author, "!!!"));
        assert!(!muted(MuteKind::Author, "!!!", &p));
    }

    #[test]
    fn kept_text_answers_as_text_read_per_call_for_any_paper() {
        let papers = [
            sample(),
            paper("", "", &[], &[]),
            paper(
                "The the of",
                "Über-große Modelle: Æsthetics of ŁÓDŹ; GPT-4 and y-values, \"quoted\" words.",
                &["Łukasz Kaiser", "Müller, Zoë", "!!"],
                &["cs.CL"],
            ),
        ];
        let mutes = [
            (MuteKind::Keyword, "große modelle"),
            (MuteKind::Keyword, "\"GPT-4\""),
            (MuteKind::Keyword, "aesthetic lodz"),
            (MuteKind::Keyword, "author:kaiser values"),
            (MuteKind::Keyword, "kaiser"),
            (MuteKind::Keyword, "zoe muller"),
            (MuteKind::Keyword, "\"muller zoe\""),
            (MuteKind::Keyword, "\"protein folding\" language"),
            (MuteKind::Keyword, "the"),
            (MuteKind::Author, "Zoë Müller"),
            (MuteKind::Author, "lukasz kaiser"),
            (MuteKind::Category, "cs"),
        ];
        for p in &papers {
            let kept = MuteText::read(p);
            assert!(kept.heap_bytes() > 0 || p.title.is_empty());
            for (kind, text) in mutes {
                let set = MuteSet::new([(kind, text)]);
                assert_eq!(
                    set.first_match_in(p, &kept),
                    set.first_match(p),
                    "{kind} {text:?} on {:?}",
                    p.title
                );
            }
            let all = MuteSet::new(mutes);
            assert!(all.reads_text());
            assert_eq!(all.first_match_in(p, &kept), all.first_match(p));
        }
        assert!(MuteSet::new([(MuteKind::Author, "x y")]).reads_text());
        assert!(!MuteSet::new([(MuteKind::Category, "cs")]).reads_text());
        let third = &papers[2];
        assert!(muted(MuteKind::Keyword, "große modelle", third));
        assert!(muted(MuteKind::Keyword, "\"GPT-4\"", third));
        assert!(muted(MuteKind::Author, "Zoë Müller", third));
        assert!(muted(MuteKind::Keyword, "\"muller zoe\"", third));
        assert!(
            !muted(MuteKind::Keyword, "\"zoe muller\"", third),
            "names are matched as written"
        );
        assert!(!muted(
            MuteKind::Keyword,
            "\"muller zoe\" modelle",
            &papers[0]
        ));
    }
}
