//! Suggestions while typing in the search box: titles, authors and categories whose words
//! start with what is typed, from the engine's in-memory prefix index (no store read per
//! keystroke). The index is filled as papers are indexed, and at start by
//! [`crate::indexing::Indexer::load_suggestions`].

use paperfeed_search::{MAX_SUGGESTIONS, SearchEngine, Suggestion};

/// The longest text suggestions are made for, in characters: past it a reader is writing a
/// query, not picking a title.
pub const MAX_TYPED_CHARS: usize = 200;

/// Suggestions one answer gives when the caller does not say.
pub const DEFAULT_SUGGESTIONS: usize = 8;

/// Why no suggestions were made: always the caller's input.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SuggestError {
    #[error("the text is longer than {MAX_TYPED_CHARS} characters")]
    TooLong,
    #[error("ask for 1 to {MAX_SUGGESTIONS} suggestions")]
    BadLimit,
}

/// Up to `limit` (1 to [`MAX_SUGGESTIONS`]) suggestions for `typed`; none for blank text.
pub fn suggest(
    engine: &SearchEngine,
    typed: &str,
    limit: usize,
) -> Result<Vec<Suggestion>, SuggestError> {
    if typed.chars().count() > MAX_TYPED_CHARS {
        return Err(SuggestError::TooLong);
    }
    if !(1..=MAX_SUGGESTIONS).contains(&limit) {
        return Err(SuggestError::BadLimit);
    }
    Ok(engine.suggest(typed, limit))
}

#[cfg(test)]
mod tests {
    use paperfeed_core::{ArxivId, Author, NewPaper, merge};
    use paperfeed_search::{DEFAULT_EXACT_LIMIT, KeywordIndex};

    use super::*;

    fn engine() -> SearchEngine {
        let engine = SearchEngine::new(
            KeywordIndex::in_memory().unwrap(),
            Err("no model in tests".into()),
            DEFAULT_EXACT_LIMIT,
        );
        let paper = merge(
            None,
            NewPaper::new(
                ArxivId::parse("2605.00001").unwrap(),
                "Turbine wakes".into(),
                "Wakes behind a turbine.".into(),
                vec![Author::named("Ada Lovelace")],
            ),
        );
        engine.index_papers(&[paper], 1).unwrap();
        engine
    }

    #[test]
    fn indexed_papers_are_suggested_and_bad_requests_refused() {
        let engine = engine();
        let found = suggest(&engine, "turb", DEFAULT_SUGGESTIONS).unwrap();
        assert!(
            matches!(&found[..], [Suggestion::Title { title, .. }] if title == "Turbine wakes"),
            "{found:?}"
        );
        let found = suggest(&engine, "lovel", 1).unwrap();
        assert!(
            matches!(&found[..], [Suggestion::Author { name, papers: 1, .. }] if name == "Ada Lovelace"),
            "{found:?}"
        );
        assert!(suggest(&engine, "", 5).unwrap().is_empty());
        assert_eq!(
            suggest(&engine, &"x".repeat(MAX_TYPED_CHARS + 1), 5),
            Err(SuggestError::TooLong)
        );
        assert_eq!(suggest(&engine, "turb", 0), Err(SuggestError::BadLimit));
        assert_eq!(
            suggest(&engine, "turb", MAX_SUGGESTIONS + 1),
            Err(SuggestError::BadLimit)
        );
    }
}
