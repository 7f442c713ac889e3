//! A reader's library: what a saved paper carries (reading state, a private note), what a
//! collection is called, and the limits that keep one reader's library bounded.

use std::fmt;

use crate::account::FieldError;

/// The most papers one reader can save.
pub const MAX_SAVED_PAPERS: u64 = 10_000;
/// The most collections one reader can have.
pub const MAX_COLLECTIONS: usize = 200;
/// The most papers one collection can hold.
pub const MAX_COLLECTION_PAPERS: u64 = 5_000;

/// Where a reader stands with a saved paper.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReadingState {
    #[default]
    ToRead,
    Read,
}

impl ReadingState {
    /// `to_read` or `read`: how it is stored, sent in forms and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingState::ToRead => "to_read",
            ReadingState::Read => "read",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "to_read" | "to-read" | "unread" => Ok(ReadingState::ToRead),
            "read" => Ok(ReadingState::Read),
            _ => Err(FieldError {
                field: "state",
                reason: "must be to_read or read".into(),
            }),
        }
    }

    /// "To read" / "Read", for pages.
    pub fn label(self) -> &'static str {
        match self {
            ReadingState::ToRead => "To read",
            ReadingState::Read => "Read",
        }
    }
}

impl fmt::Display for ReadingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reader's private Markdown note on a saved paper: at most [`Note::MAX_CHARS`] characters,
/// kept as typed (rendering and escaping happen when it is shown). Empty means no note.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    pub const MAX_CHARS: usize = 20_000;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = raw.trim_end();
        if text.chars().count() > Self::MAX_CHARS {
            return Err(FieldError {
                field: "note",
                reason: format!("must be at most {} characters long", Self::MAX_CHARS),
            });
        }
        // Browsers send CRLF from text areas; keep one line ending.
        Ok(Note(text.replace("\r\n", "\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A collection's name: 1 to [`CollectionName::MAX_CHARS`] characters once trimmed, no control
/// characters. Shown escaped like any reader's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionName(String);

impl CollectionName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let err = |reason: &str| FieldError {
            field: "name",
            reason: reason.into(),
        };
        if name.is_empty() {
            return Err(err("must not be empty"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(err("must be at most 100 characters long"));
        }
        if name.chars().any(char::is_control) {
            return Err(err("must not contain control characters"));
        }
        Ok(CollectionName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The readable tail of a collection's address (`/collections/12-reading-group`): lowercase
/// ASCII letters and digits joined by single dashes, at most 60 characters; may be empty. Only
/// the number before it finds the collection, so a rename keeps old links working.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            if out.len() >= 60 {
                break;
            }
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_states_round_trip_through_their_names() {
        for state in [ReadingState::ToRead, ReadingState::Read] {
            assert_eq!(ReadingState::parse(state.as_str()).unwrap(), state);
        }
        assert!(ReadingState::parse("skimmed").is_err());
    }

    #[test]
    fn notes_are_capped_and_keep_one_line_ending() {
        assert_eq!(Note::parse("a\r\nb  \n").unwrap().as_str(), "a\nb");
        assert!(Note::parse(&"é".repeat(Note::MAX_CHARS)).is_ok());
        let err = Note::parse(&"x".repeat(Note::MAX_CHARS + 1)).unwrap_err();
        assert_eq!(err.field, "note");
    }

    #[test]
    fn collection_names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(
            CollectionName::parse("  Reading group ").unwrap().as_str(),
            "Reading group"
        );
        assert!(CollectionName::parse("   ").is_err());
        assert!(CollectionName::parse("a\u{7}b").is_err());
        assert!(CollectionName::parse(&"n".repeat(101)).is_err());
    }

    #[test]
    fn slugs_are_lowercase_ascii_words_joined_by_dashes() {
        assert_eq!(slug("Reading group: <LLMs> & RL!"), "reading-group-llms-rl");
        assert_eq!(slug("日本語"), "");
        assert!(slug(&"ab ".repeat(50)).len() <= 61);
    }
}
