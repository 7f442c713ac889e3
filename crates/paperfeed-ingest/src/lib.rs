//! Pure parsers from bytes to paper records, one module per source format, plus format
//! detection.
//!
//! The parsers never touch the store, the network or the file system: callers hand them bytes
//! (or a `BufRead` for JSON Lines) and get back `NewPaper` records and per-record errors that
//! name where (line, entry index or byte offset) and why. A bad record never stops the good
//! ones around it; a truncated file yields everything before the damage plus one error.
//!
//! [`fetch`] holds the thin HTTP clients of the live sources (arXiv API, OAI-PMH, Hugging
//! Face daily feed): they fetch pages politely and return what the parsers read. Nothing in
//! this crate writes the store.

mod atom;
mod detect;
pub mod fetch;
mod fields;
mod hf_daily;
mod json;
mod kaggle;
mod lines;
mod oai_pmh;
mod record;
mod xml;

pub use atom::{AtomPage, parse_arxiv_atom};
pub use detect::{DetectError, Format, UnknownFormat, detect_format};
pub use hf_daily::parse_hf_daily;
pub use kaggle::KaggleLines;
pub use oai_pmh::{OaiPage, ResumptionToken, parse_oai_pmh};
pub use record::{Location, Parsed, RecordError, RecordResult};
