//! Pure parsers from bytes to paper records, one module per source format, plus format
//! detection.
//!
//! The parsers never touch the store, the network or the file system: callers hand them a
//! `BufRead` (`read_*`, `KaggleLines`: records are handed on one at a time, in memory bounded
//! by [`MAX_RECORD_BYTES`] whatever the input) or a page in memory (`parse_*`, which keep the
//! first [`Parsed::MAX_KEPT_ERRORS`] rejections and count the rest), and get `NewPaper` records
//! and per-record errors that name where (line, entry index or byte offset) and why. A bad
//! record never stops the good ones around it; a truncated file yields everything before the
//! damage plus one error.
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
mod json_array;
mod kaggle;
mod oai_pmh;
mod record;
mod xml;

pub use atom::{AtomPage, parse_arxiv_atom, read_arxiv_atom};
pub use detect::{DetectError, Format, UnknownFormat, detect_format};
pub use hf_daily::{parse_hf_daily, read_hf_daily};
pub use kaggle::KaggleLines;
pub use oai_pmh::{OaiPage, ResumptionToken, parse_oai_pmh, read_oai_pmh};
pub use record::{Location, MAX_RECORD_BYTES, Parsed, RecordError, RecordResult, RecordSink};
