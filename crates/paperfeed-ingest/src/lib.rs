//! Pure parsers from bytes to paper records, one module per source format, plus format
//! detection.
//!
//! This crate never touches the store, the network or the file system: callers hand it bytes
//! (or a `BufRead` for JSON Lines) and get back `NewPaper` records and per-record errors that
//! name where (line, entry index or byte offset) and why. A bad record never stops the good
//! ones around it; a truncated file yields everything before the damage plus one error.

mod record;

pub use record::{Location, Parsed, RecordError, RecordResult};
