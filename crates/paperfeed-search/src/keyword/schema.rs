//! The index layout: fields, the analyzers behind them, and how a [`Paper`] becomes a document.
//!
//! Dates are stored as day numbers (`i64`, days of the common era) rather than tantivy dates:
//! every filter and sort here is by whole days, and plain integers keep range bounds and sort
//! keys obvious.

use paperfeed_core::Paper;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer, TokenizerManager,
};
use tantivy::{TantivyDocument, Term};

use super::query::day_number;

/// English prose: words split on anything not alphanumeric, lowercased, accents folded,
/// Lucene's English stop words dropped, Porter-stemmed. The version is in the name so that
/// changing the pipeline changes the schema, and an index built with the old one is rebuilt
/// instead of silently answering with mismatched terms.
pub(crate) const PROSE: &str = "paperfeed_prose_v1";
/// Names: like prose but neither stemmed nor stop-worded (an author may be called "An").
pub(crate) const NAMES: &str = "paperfeed_names_v1";

/// Lucene's English stop words (what tantivy's `stopwords` feature would give for English,
/// without compiling every other language's list).
const STOP_WORDS: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Tokens longer than this are dropped: base64 blobs and URLs are no words anyone searches.
const MAX_TOKEN_BYTES: usize = 40;

/// Longest exact-title key; longer titles still match by words, just not by the exact rule.
const MAX_TITLE_KEY_BYTES: usize = 1_000;

/// Bits below the tie-breaker in the combined sort keys; a day number (≈ 740 000 today) and
/// any plausible vote count fit in 24 bits.
const TIE_BITS: u32 = 24;
const TIE_MAX: i64 = (1 << TIE_BITS) - 1;

/// Handles to every field, fixed by [`build_schema`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// The canonical arXiv id, one raw term; also what deletes and stored ids use.
    pub id: Field,
    pub title: Field,
    pub abstract_text: Field,
    /// One value per visible author.
    pub authors: Field,
    /// Lowercased categories (`cs.cl`) and their archives (`cs.*`), raw terms.
    pub categories: Field,
    /// The normalised title, one raw term, for the exact-title rule.
    pub title_key: Field,
    /// arXiv date of version 1 as a day number; absent when no source said.
    pub published: Field,
    /// Every featured day, as day numbers.
    pub featured: Field,
    pub first_featured: Field,
    pub last_featured: Field,
    pub upvotes: Field,
    /// Sort key for [`super::SortOrder::Newest`]: day, then votes.
    pub newest_rank: Field,
    /// Sort key for [`super::SortOrder::Votes`]: votes, then day.
    pub votes_rank: Field,
}

pub(crate) const NEWEST_RANK: &str = "newest_rank";
pub(crate) const VOTES_RANK: &str = "votes_rank";

/// The schema every index is built with; an index on disk with any other is rebuilt.
pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |tokenizer: &str, stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let day = INDEXED | FAST;
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        title: builder.add_text_field("title", text(PROSE, true)),
        abstract_text: builder.add_text_field("abstract", text(PROSE, true)),
        authors: builder.add_text_field("authors", text(NAMES, false)),
        categories: builder.add_text_field("categories", STRING),
        title_key: builder.add_text_field("title_key", STRING),
        published: builder.add_i64_field("published", day.clone()),
        featured: builder.add_i64_field("featured", day),
        first_featured: builder.add_i64_field("first_featured", FAST),
        last_featured: builder.add_i64_field("last_featured", FAST),
        upvotes: builder.add_i64_field("upvotes", FAST),
        newest_rank: builder.add_i64_field(NEWEST_RANK, FAST),
        votes_rank: builder.add_i64_field(VOTES_RANK, FAST),
    };
    (builder.build(), fields)
}

/// Registers the analyzers the schema names. Tantivy does not persist analyzers, so every
/// opened index needs this before it indexes or searches.
pub(crate) fn register_tokenizers(manager: &TokenizerManager) {
    let stop_words = StopWordFilter::remove(STOP_WORDS.iter().map(|w| (*w).to_owned()));
    manager.register(
        PROSE,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .filter(stop_words)
            .filter(Stemmer::new(Language::English))
            .build(),
    );
    manager.register(
        NAMES,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
}

/// The prose analyzer for highlighting only: the same tokens and stems, except that a word
/// that cannot stem to any of the query's `terms` is not stemmed but emptied. Stemming every
/// word of twenty abstracts was most of a results page's time.
///
/// English Snowball stems keep a word's first two letters (a one-letter stem is the word's
/// first letter) but for one rule: a consonant, `y`, `ing` stems to the consonant and `ie`
/// ("dying" → "die", "lying" → "lie"). So a word is kept when it starts with a term's first
/// two letters, or with a consonant and `y` where the term starts with that consonant and `i`.
/// (Stop words are kept: the query has none, so they never match either.)
pub(crate) fn highlight_analyzer<'a>(terms: impl IntoIterator<Item = &'a str>) -> TextAnalyzer {
    let mut prefixes: Vec<String> = Vec::new();
    for term in terms {
        let prefix: String = term.chars().take(2).collect();
        let mut letters = prefix.chars();
        if let (Some(first), Some('i')) = (letters.next(), letters.next()) {
            prefixes.push(format!("{first}y"));
        }
        prefixes.push(prefix);
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Prefixes(prefixes))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Empties tokens that start with none of these prefixes.
#[derive(Clone)]
struct Prefixes(Vec<String>);

impl TokenFilter for Prefixes {
    type Tokenizer<T: Tokenizer> = PrefixesFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> PrefixesFilter<T> {
        PrefixesFilter {
            prefixes: self.0,
            inner,
        }
    }
}

#[derive(Clone)]
struct PrefixesFilter<T> {
    prefixes: Vec<String>,
    inner: T,
}

impl<T: Tokenizer> Tokenizer for PrefixesFilter<T> {
    type TokenStream<'a> = PrefixesStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        PrefixesStream {
            prefixes: &self.prefixes,
            tail: self.inner.token_stream(text),
        }
    }
}

struct PrefixesStream<'a, S> {
    prefixes: &'a [String],
    tail: S,
}

impl<S: TokenStream> TokenStream for PrefixesStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if !self
            .prefixes
            .iter()
            .any(|p| token.text.starts_with(p.as_str()))
        {
            token.text.clear();
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The exact-title key: lowercase, whitespace runs collapsed, surrounding quotes and space
/// dropped. `None` when nothing is left or it is too long to be a term.
pub(crate) fn title_key(title: &str) -> Option<String> {
    let trimmed = title
        .trim()
        .trim_matches(|c: char| matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}'));
    let mut key = String::with_capacity(trimmed.len());
    for word in trimmed.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(word.chars().flat_map(char::to_lowercase));
    }
    (!key.is_empty() && key.len() <= MAX_TITLE_KEY_BYTES).then_some(key)
}

/// How category filters and documents spell a category: lowercase, so `cs.cl` finds `cs.CL`.
pub(crate) fn category_term(category: &str) -> String {
    category.trim().to_lowercase()
}

/// The archive term of a category: `cs.*` for `cs.CL`; `None` for one without a subject.
pub(crate) fn archive_term(category: &str) -> Option<String> {
    let (archive, _) = category.split_once('.')?;
    (!archive.is_empty()).then(|| format!("{}.*", category_term(archive)))
}

/// The day a paper sorts by under "newest": its arXiv date, else the first day it was
/// featured, else never.
fn sort_day(paper: &Paper) -> i64 {
    paper
        .published_at
        .map(|at| at.date_naive())
        .or_else(|| paper.first_featured())
        .map_or(0, day_number)
}

pub(crate) fn id_term(fields: &Fields, id: &str) -> Term {
    Term::from_field_text(fields.id, id)
}

/// The document for one paper.
pub(crate) fn document(fields: &Fields, paper: &Paper) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.id, paper.id.as_str());
    doc.add_text(fields.title, &paper.title);
    doc.add_text(fields.abstract_text, &paper.abstract_text);
    // Hidden authors asked not to be shown by name; finding them by name would show it.
    for author in paper.visible_authors() {
        doc.add_text(fields.authors, &author.name);
    }
    let mut categories: Vec<String> = Vec::new();
    for category in &paper.categories {
        categories.push(category_term(category));
        categories.extend(archive_term(category));
    }
    categories.sort();
    categories.dedup();
    for category in categories {
        doc.add_text(fields.categories, category);
    }
    if let Some(key) = title_key(&paper.title) {
        doc.add_text(fields.title_key, key);
    }
    if let Some(at) = paper.published_at {
        doc.add_i64(fields.published, day_number(at.date_naive()));
    }
    for featuring in &paper.featured {
        doc.add_i64(fields.featured, day_number(featuring.date));
    }
    let days = paper.featured.iter().map(|f| day_number(f.date));
    if let Some(first) = days.clone().min() {
        doc.add_i64(fields.first_featured, first);
    }
    if let Some(last) = days.max() {
        doc.add_i64(fields.last_featured, last);
    }
    doc.add_i64(fields.upvotes, paper.upvotes);
    let day = sort_day(paper).clamp(0, TIE_MAX);
    let votes = paper.upvotes.max(0);
    doc.add_i64(fields.newest_rank, (day << TIE_BITS) | votes.min(TIE_MAX));
    // Votes above 2^39 would overflow the key; no paper gets there.
    doc.add_i64(
        fields.votes_rank,
        (votes.min((1 << 39) - 1) << TIE_BITS) | day,
    );
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(mut analyzer: TextAnalyzer, text: &str) -> Vec<(usize, String)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            if !token.text.is_empty() {
                out.push((token.offset_from, token.text.clone()));
            }
        }
        out
    }

    #[test]
    fn the_highlight_analyzer_stems_like_the_prose_one_where_it_may_match() {
        let manager = TokenizerManager::default();
        register_tokenizers(&manager);
        let text = "Studies of dying skies: Ünïcode MODELS generalize; the lying 3D-generators \
                    early ONLY gently tying flying";
        let prose = manager
            .get(PROSE)
            .map(|a| tokens(a, text))
            .unwrap_or_default();
        let every_stem: Vec<&str> = prose.iter().map(|(_, t)| t.as_str()).collect();
        let highlighted: Vec<(usize, String)> = tokens(highlight_analyzer(every_stem), text)
            .into_iter()
            .filter(|(_, t)| !STOP_WORDS.contains(&t.as_str()))
            .collect();
        assert_eq!(highlighted, prose);
        let only_model = tokens(highlight_analyzer(["model"]), text);
        assert_eq!(only_model, vec![(34, "model".to_owned())]);
        // "dying" stems to "die": kept for a term starting "di", stemmed, and matched.
        let die = tokens(highlight_analyzer(["die"]), text);
        assert_eq!(die, vec![(11, "die".to_owned())]);
    }

    #[test]
    fn the_highlight_analyzer_finds_every_stem_of_real_abstracts() {
        // Ten real arXiv records: every word, asked for by its own stem, is found where the
        // prose analyzer puts it.
        let manager = TokenizerManager::default();
        register_tokenizers(&manager);
        let records = include_str!(
            "../../../../sample/arxiv/kaggle_arxiv-metadata-oai-snapshot_first10.jsonl"
        );
        let mut checked = 0;
        for record in records.lines() {
            let prose = manager
                .get(PROSE)
                .map(|a| tokens(a, record))
                .unwrap_or_default();
            // A query never holds a stop word; the highlighter does not drop them.
            for (_, stem) in prose
                .iter()
                .filter(|(_, t)| !STOP_WORDS.contains(&t.as_str()))
            {
                let expected: Vec<&(usize, String)> =
                    prose.iter().filter(|(_, t)| t == stem).collect();
                let found = tokens(highlight_analyzer([stem.as_str()]), record);
                let found: Vec<&(usize, String)> =
                    found.iter().filter(|(_, t)| t == stem).collect();
                assert_eq!(found, expected, "stem {stem:?}");
                checked += 1;
            }
        }
        assert!(checked > 1_000, "only {checked} words checked");
    }

    #[test]
    fn title_keys_ignore_case_spacing_and_quotes() {
        assert_eq!(
            title_key("  \"Attention Is\n  All You   Need\" "),
            Some("attention is all you need".to_owned())
        );
        assert_eq!(title_key("   "), None);
        assert_eq!(title_key(&"a".repeat(2_000)), None);
    }

    #[test]
    fn categories_index_their_archive_too() {
        assert_eq!(category_term(" cs.CL "), "cs.cl");
        assert_eq!(archive_term("cs.CL"), Some("cs.*".to_owned()));
        assert_eq!(archive_term("hep-th"), None);
        assert_eq!(archive_term(".x"), None);
    }
}
