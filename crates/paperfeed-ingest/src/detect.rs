//! Telling the four source formats apart from the first bytes of a file.
//!
//! Callers pass the head of a file (up to 64 KiB is plenty) and get the parser to use, or an
//! error that says whether the file is empty, binary, or text of some other kind.

use std::fmt;
use std::str::FromStr;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The source formats paperfeed reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// A Hugging Face `daily_papers?date=…` answer: a JSON array of entries.
    HfDailyPapers,
    /// The Kaggle `arxiv-metadata-oai-snapshot` JSON Lines file.
    KaggleJsonl,
    /// An arXiv API (`/api/query`) Atom feed.
    ArxivAtom,
    /// An OAI-PMH `ListRecords` page with `metadataPrefix=arXiv`.
    OaiPmh,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::HfDailyPapers,
        Format::KaggleJsonl,
        Format::ArxivAtom,
        Format::OaiPmh,
    ];

    /// The short name used on command lines and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Format::HfDailyPapers => "hf",
            Format::KaggleJsonl => "kaggle",
            Format::ArxivAtom => "atom",
            Format::OaiPmh => "oai",
        }
    }

    /// What the format is, in words.
    pub fn description(self) -> &'static str {
        match self {
            Format::HfDailyPapers => "a Hugging Face daily_papers JSON array",
            Format::KaggleJsonl => "Kaggle arXiv snapshot JSON Lines",
            Format::ArxivAtom => "an arXiv API Atom feed",
            Format::OaiPmh => "an OAI-PMH ListRecords page (metadataPrefix=arXiv)",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is none of the known ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {given:?}: expected one of hf, kaggle, atom, oai")]
pub struct UnknownFormat {
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase().replace('_', "-");
        match name.as_str() {
            "hf" | "hf-daily" | "hf-daily-papers" | "daily-papers" | "huggingface" => {
                Ok(Format::HfDailyPapers)
            }
            "kaggle" | "jsonl" | "kaggle-jsonl" | "kaggle-arxiv" => Ok(Format::KaggleJsonl),
            "atom" | "arxiv-atom" | "arxiv-api" => Ok(Format::ArxivAtom),
            "oai" | "oai-pmh" | "oaipmh" | "arxiv-oai" => Ok(Format::OaiPmh),
            _ => Err(UnknownFormat {
                given: s.chars().take(100).collect(),
            }),
        }
    }
}

/// Why the head of a file matched no known format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    #[error("the file is empty or blank: expected {EXPECTED}")]
    Empty,
    #[error("binary data, not text ({what} at byte {offset}): expected {EXPECTED}")]
    Binary { what: &'static str, offset: usize },
    #[error("not a known format: expected {EXPECTED}; found {found}")]
    Unknown { found: String },
}

/// The formats listed in every `DetectError` message.
const EXPECTED: &str = "a Hugging Face daily_papers JSON array, Kaggle arXiv snapshot JSON \
     Lines, an arXiv API Atom feed or an OAI-PMH ListRecords page (metadataPrefix=arXiv)";

/// Guesses the format of a file from its first bytes (pass up to 64 KiB).
///
/// Only what tells the formats apart is looked at: the first character, the first line of
/// JSON Lines, the XML root. An invalid UTF-8 byte further on is the business of the parser,
/// which rejects the one record holding it, not the whole file.
pub fn detect_format(head: &[u8]) -> Result<Format, DetectError> {
    let head = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(DetectError::Empty)?;
    let text = &head[start..];
    // A NUL byte on the first line is the mark of binary data; no text format has one.
    let first_line = text.split(|&b| b == b'\n').next().unwrap_or(text);
    if let Some(at) = memchr::memchr(0, first_line) {
        return Err(DetectError::Binary {
            what: "a NUL byte",
            offset: start + at,
        });
    }
    match text[0] {
        b'[' => Ok(Format::HfDailyPapers),
        b'{' => detect_json_lines(text),
        b'<' => detect_xml(text),
        _ => {
            check_text(head)?;
            Err(DetectError::Unknown {
                found: format!("text starting with {:?}", snippet(text)),
            })
        }
    }
}

/// Rejects invalid UTF-8; a multi-byte character cut by the end of the head is fine, since
/// callers cut the head at an arbitrary byte.
fn check_text(head: &[u8]) -> Result<(), DetectError> {
    match std::str::from_utf8(head) {
        Err(e) if e.error_len().is_some() => Err(DetectError::Binary {
            what: "invalid UTF-8",
            offset: e.valid_up_to(),
        }),
        _ => Ok(()),
    }
}

fn detect_json_lines(text: &[u8]) -> Result<Format, DetectError> {
    let first_line = text.split(|&b| b == b'\n').next().unwrap_or(text);
    if has_id_key(first_line) {
        Ok(Format::KaggleJsonl)
    } else {
        Err(DetectError::Unknown {
            found: "a JSON object whose first line has no \"id\" key".into(),
        })
    }
}

/// True when `"id"` appears followed by a colon, i.e. as a key rather than inside a value.
fn has_id_key(line: &[u8]) -> bool {
    memchr::memmem::find_iter(line, b"\"id\"").any(|at| {
        line[at + 4..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b':')
    })
}

fn detect_xml(text: &[u8]) -> Result<Format, DetectError> {
    let mut reader = Reader::from_reader(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(root) | Event::Empty(root)) => return classify_root(&root),
            Ok(Event::Decl(_) | Event::Comment(_) | Event::DocType(_) | Event::PI(_)) => {}
            Ok(Event::Text(t)) if t.trim().is_empty() => {}
            Ok(Event::Eof) => {
                return Err(DetectError::Unknown {
                    found: "XML without a root element in the first bytes".into(),
                });
            }
            Ok(_) => {
                return Err(DetectError::Unknown {
                    found: "XML with text before the root element".into(),
                });
            }
            Err(e) => {
                return Err(DetectError::Unknown {
                    found: format!("text starting with '<' that is not XML ({e})"),
                });
            }
        }
    }
}

fn classify_root(root: &BytesStart<'_>) -> Result<Format, DetectError> {
    let qname = root.name();
    let local = qname.local_name();
    match local.as_ref() {
        "OAI-PMH" => Ok(Format::OaiPmh),
        "feed" if root_namespace(root).as_deref() == Some(ATOM_NS) => Ok(Format::ArxivAtom),
        "feed" => Err(DetectError::Unknown {
            found: "an XML <feed> that is not in the Atom namespace".into(),
        }),
        other => Err(DetectError::Unknown {
            found: format!("XML with root element <{}>", snippet(other.as_bytes())),
        }),
    }
}

/// The namespace of the root element, which (being the root) must be declared on itself.
pub(crate) fn root_namespace(root: &BytesStart<'_>) -> Option<String> {
    let qname = root.name();
    let wanted = match qname.prefix() {
        Some(prefix) => format!("xmlns:{}", prefix.as_ref()),
        None => "xmlns".to_owned(),
    };
    let attr = root.try_get_attribute(wanted.as_str()).ok()??;
    quick_xml::escape::unescape(&attr.value)
        .ok()
        .map(|v| v.into_owned())
}

fn snippet(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(40)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn each_real_fixture_is_recognised() {
        let cases = [
            ("2024-03-12.json", Format::HfDailyPapers),
            ("2026-08-21.json", Format::HfDailyPapers),
            (
                "arxiv-metadata-oai-snapshot.lines0001-0040.jsonl",
                Format::KaggleJsonl,
            ),
            (
                "query_cat-cs.RO_AND_neural_max2_2025-10-17.xml",
                Format::ArxivAtom,
            ),
            (
                "ListRecords_arXiv_set-cs_2016-03-09_page103.xml",
                Format::OaiPmh,
            ),
        ];
        for (name, want) in cases {
            let bytes = fixture(name);
            let head = &bytes[..bytes.len().min(64 * 1024)];
            assert_eq!(detect_format(head), Ok(want), "{name}");
        }
    }

    #[test]
    fn a_bom_and_leading_whitespace_are_skipped() {
        assert_eq!(
            detect_format(b"\xEF\xBB\xBF \n\t[{\"paper\":{}}]"),
            Ok(Format::HfDailyPapers)
        );
        assert_eq!(
            detect_format(b"\n{\"id\": \"0704.0001\", \"title\": \"x\"}\n"),
            Ok(Format::KaggleJsonl)
        );
    }

    #[test]
    fn atom_is_recognised_with_a_prefixed_root_and_oai_without_a_declaration() {
        let atom = br#"<!-- hi --><a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:entry/>"#;
        assert_eq!(detect_format(atom), Ok(Format::ArxivAtom));
        let oai = b"<?xml version=\"1.0\"?>\n<OAI-PMH><ListRecords>";
        assert_eq!(detect_format(oai), Ok(Format::OaiPmh));
    }

    #[test]
    fn empty_and_blank_files_are_empty() {
        assert_eq!(detect_format(b""), Err(DetectError::Empty));
        assert_eq!(detect_format(b" \r\n\t"), Err(DetectError::Empty));
        assert_eq!(detect_format(UTF8_BOM), Err(DetectError::Empty));
    }

    #[test]
    fn nul_bytes_and_invalid_utf8_are_binary() {
        assert!(matches!(
            detect_format(b"[\0\0\x01"),
            Err(DetectError::Binary { offset: 1, .. })
        ));
        assert!(matches!(
            detect_format(b"\x89PNG\r\n\x1a\n"),
            Err(DetectError::Binary { offset: 0, .. })
        ));
    }

    #[test]
    fn an_invalid_byte_after_the_first_line_does_not_hide_the_format() {
        let mut kaggle = b"{\"id\": \"0704.0001\", \"title\": \"x\"}\n".to_vec();
        kaggle.extend_from_slice(b"{\"id\": \"0704.0002\", \"title\": \"\xff\"}\n");
        assert_eq!(detect_format(&kaggle), Ok(Format::KaggleJsonl));
        let oai = b"<?xml version=\"1.0\"?>\n<OAI-PMH><ListRecords><record>caf\xe9</record>";
        assert_eq!(detect_format(oai), Ok(Format::OaiPmh));
        assert_eq!(
            detect_format(b"[{\"paper\": {\"title\": \"\xff\"}}]"),
            Ok(Format::HfDailyPapers)
        );
    }

    #[test]
    fn a_character_cut_by_the_end_of_the_head_is_not_binary() {
        let mut head = b"[{\"title\": \"Caf".to_vec();
        head.push(0xC3); // first byte of 'é'
        assert_eq!(detect_format(&head), Ok(Format::HfDailyPapers));
    }

    #[test]
    fn other_text_formats_are_unknown_and_the_message_names_the_expected_ones() {
        for head in [
            &b"hello world"[..],
            b"{\"paper\": 1}\n",
            b"<rss version=\"2.0\"><channel>",
            b"<feed xmlns=\"http://example.com/\">",
            b"<<<>>>",
            b"<?xml version=\"1.0\"?>",
        ] {
            let err = detect_format(head).expect_err("unknown");
            assert!(matches!(err, DetectError::Unknown { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(
                msg.starts_with("not a known format: expected a Hugging Face daily_papers JSON array, Kaggle arXiv snapshot JSON Lines, an arXiv API Atom feed or an OAI-PMH ListRecords page (metadataPrefix=arXiv)"),
                "{msg}"
            );
        }
    }

    #[test]
    fn format_names_round_trip_and_aliases_are_accepted() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
        assert_eq!("hf-daily".parse(), Ok(Format::HfDailyPapers));
        assert_eq!("JSONL".parse(), Ok(Format::KaggleJsonl));
        assert_eq!("arxiv-atom".parse(), Ok(Format::ArxivAtom));
        assert_eq!("oai_pmh".parse(), Ok(Format::OaiPmh));
        let err = "csv".parse::<Format>().expect_err("csv");
        assert_eq!(
            err.to_string(),
            "unknown format \"csv\": expected one of hf, kaggle, atom, oai"
        );
    }
}
