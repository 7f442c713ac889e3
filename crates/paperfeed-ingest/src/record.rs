//! The shapes every parser returns.

use std::fmt;

use paperfeed_core::NewPaper;

/// Where in a file a record (or the damage) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based line in a text file (JSON Lines, or a JSON/XML syntax error).
    Line(u64),
    /// 0-based index of an entry in a JSON array or Atom/OAI-PMH page.
    Entry(usize),
    /// Byte offset, when nothing better is known.
    Byte(u64),
    /// The file as a whole.
    File,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Entry(n) => write!(f, "entry {n}"),
            Location::Byte(n) => write!(f, "byte {n}"),
            Location::File => f.write_str("file"),
        }
    }
}

/// Why one record (or the rest of a file) could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct RecordError {
    pub location: Location,
    pub reason: String,
}

impl RecordError {
    pub fn new(location: Location, reason: impl Into<String>) -> Self {
        Self {
            location,
            reason: reason.into(),
        }
    }
}

pub type RecordResult = Result<NewPaper, RecordError>;

/// What a whole-file parser read: every record it could reach, good or bad, in file order, and
/// the error that stopped it early (truncation, wrong top-level shape), if any.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<RecordResult>,
    pub fatal: Option<RecordError>,
}
