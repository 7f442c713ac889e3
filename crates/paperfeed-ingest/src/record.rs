//! The shapes every parser returns.

use std::fmt;
use std::ops::ControlFlow;

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
    /// Reasons are cut to this many bytes: a message that quotes a value (serde_json quotes a
    /// string of the wrong type whole) must not hold a record's worth of text.
    pub const MAX_REASON_BYTES: usize = 1024;

    pub fn new(location: Location, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > Self::MAX_REASON_BYTES {
            let mut cut = Self::MAX_REASON_BYTES - '…'.len_utf8();
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
            reason.push('…');
        }
        Self { location, reason }
    }
}

pub type RecordResult = Result<NewPaper, RecordError>;

/// Records longer than this (a JSON Lines line, a JSON array entry, an XML record, one XML
/// element or text) are rejected unread: the longest real record is a few hundred KiB, so
/// anything this long is damage, and buffering it whole could exhaust memory.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// `limit` in words for error messages ("16 MiB", or bytes when not a whole MiB).
pub(crate) fn describe_limit(limit: usize) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else {
        format!("{limit} bytes")
    }
}

/// Where the streaming readers hand each record as soon as it is read, in file order.
/// `ControlFlow::Break` stops the reading (the receiver went away).
pub type RecordSink<'s> = &'s mut dyn FnMut(RecordResult) -> ControlFlow<()>;

/// What a whole-file parser read: every good record it could reach and the first
/// [`Parsed::MAX_KEPT_ERRORS`] rejections, in file order; how many rejections were only
/// counted; and the error that stopped it early (truncation, wrong top-level shape), if any.
/// Rejections beyond the first ones are counted rather than kept, so a file of nothing but bad
/// records costs memory for its good records only.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<RecordResult>,
    /// Rejections left out of `records` because [`Parsed::MAX_KEPT_ERRORS`] were kept already.
    pub rejected_not_kept: u64,
    pub fatal: Option<RecordError>,
}

impl Parsed {
    /// Rejections kept with their reasons; later ones are only counted.
    pub const MAX_KEPT_ERRORS: usize = 100;

    /// Rejections kept in `records`.
    pub fn rejections_kept(&self) -> usize {
        self.records.iter().filter(|r| r.is_err()).count()
    }

    /// Every rejection, kept or only counted.
    pub fn rejected(&self) -> u64 {
        self.rejections_kept() as u64 + self.rejected_not_kept
    }

    /// A sink that collects into `self`, for the whole-page parsers.
    pub(crate) fn collect(&mut self) -> impl FnMut(RecordResult) -> ControlFlow<()> + '_ {
        let mut kept_errors = 0usize;
        move |record| {
            if record.is_err() {
                if kept_errors >= Self::MAX_KEPT_ERRORS {
                    self.rejected_not_kept += 1;
                    return ControlFlow::Continue(());
                }
                kept_errors += 1;
            }
            self.records.push(record);
            ControlFlow::Continue(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_rejections_are_kept_and_the_rest_counted() {
        let mut parsed = Parsed::default();
        {
            let mut sink = parsed.collect();
            for i in 0..(Parsed::MAX_KEPT_ERRORS as u64 + 5) {
                let _ = sink(Err(RecordError::new(Location::Line(i + 1), "bad")));
            }
        }
        assert_eq!(parsed.records.len(), Parsed::MAX_KEPT_ERRORS);
        assert_eq!(parsed.rejected_not_kept, 5);
        assert_eq!(parsed.rejected(), Parsed::MAX_KEPT_ERRORS as u64 + 5);
    }

    #[test]
    fn long_reasons_are_cut() {
        let e = RecordError::new(Location::File, "é".repeat(2000));
        assert_eq!(e.reason.len(), RecordError::MAX_REASON_BYTES - 1);
        assert!(e.reason.ends_with("é…"));
        assert_eq!(RecordError::new(Location::File, "short").reason, "short");
    }

    #[test]
    fn limits_read_as_mib_or_bytes() {
        assert_eq!(describe_limit(MAX_RECORD_BYTES), "16 MiB");
        assert_eq!(describe_limit(4096), "4096 bytes");
    }
}
