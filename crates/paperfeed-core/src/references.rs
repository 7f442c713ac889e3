//! Reading a reference list someone uploads (a BibTeX file, an RIS file, or arXiv ids and
//! URLs one per line) for the arXiv id of each entry. Tolerant of whatever citation managers
//! and hand editing produce, and of bytes that are none of those: every entry either names an
//! arXiv id or says where it stands (line, entry, key) and why it could not be read. Never
//! panics; reads at most the number of entries asked for.
//!
//! Where the id is found: BibTeX `eprint` (unless `archivePrefix` names another archive),
//! `doi` (arXiv's DataCite `10.48550/arXiv.…`), `url`, then `arxivid`, `journal`, `note`,
//! `howpublished`, `archive`; RIS `UR`, `DO`, `AN`, the link tags (`L1`–`L4`, `LK`), `M1`,
//! `N1`, `ID`, `JO`/`T2`/`J2` (where "arXiv preprint arXiv:…" ends up). In free text, an
//! `arxiv.org/abs|pdf/` URL, a `10.48550/arXiv.` DOI or an `arXiv:` prefix.

use crate::ArxivId;

/// The formats [`read_references`] recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceFormat {
    Bibtex,
    Ris,
    /// arXiv ids or URLs, one per line.
    IdList,
}

impl ReferenceFormat {
    pub fn name(self) -> &'static str {
        match self {
            ReferenceFormat::Bibtex => "BibTeX",
            ReferenceFormat::Ris => "RIS",
            ReferenceFormat::IdList => "a list of arXiv ids",
        }
    }
}

/// One entry of the list: where it stands and its arXiv id, or why none was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceEntry {
    /// `line 3`, `entry 2 (vaswani2017) at line 14`, `record 5 at line 40`.
    pub label: String,
    pub id: Result<ArxivId, String>,
}

/// What was read from an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct References {
    pub format: ReferenceFormat,
    pub entries: Vec<ReferenceEntry>,
    /// More entries followed the `max_entries` read.
    pub truncated: bool,
}

/// Reads `text` as BibTeX, RIS or an id list (detected from its content), at most
/// `max_entries` entries.
pub fn read_references(text: &str, max_entries: usize) -> References {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = detect(text);
    let (entries, truncated) = match format {
        ReferenceFormat::Bibtex => bibtex_entries(text, max_entries),
        ReferenceFormat::Ris => ris_entries(text, max_entries),
        ReferenceFormat::IdList => id_lines(text, max_entries),
    };
    References {
        format,
        entries,
        truncated,
    }
}

fn detect(text: &str) -> ReferenceFormat {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let looks_bibtex = |l: &str| {
        l.strip_prefix('@').is_some_and(|rest| {
            let kind: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !kind.is_empty() && rest[kind.len()..].trim_start().starts_with(['{', '('])
        })
    };
    if lines.clone().any(looks_bibtex) {
        return ReferenceFormat::Bibtex;
    }
    if lines.any(|l| ris_tag(l).is_some()) {
        return ReferenceFormat::Ris;
    }
    ReferenceFormat::IdList
}

/// The arXiv id `text` names, found as the module documentation says.
pub fn find_arxiv_id(text: &str) -> Option<ArxivId> {
    let text = text.trim().trim_matches(['{', '}', '"']).trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(id) = ArxivId::parse(text) {
        return Some(id);
    }
    let lower = text.to_ascii_lowercase();
    for marker in [
        "10.48550/arxiv.",
        "arxiv.org/abs/",
        "arxiv.org/pdf/",
        "export.arxiv.org/abs/",
        "arxiv:",
    ] {
        let mut from = 0;
        while let Some(at) = lower.get(from..).and_then(|rest| rest.find(marker)) {
            let start = from + at + marker.len();
            let token: String = text
                .get(start..)
                .unwrap_or("")
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_'))
                .collect();
            let token = token.trim_end_matches(['.', '/']);
            if let Ok(id) = ArxivId::parse(token) {
                return Some(id);
            }
            from = start;
        }
    }
    None
}

fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte)
        .map_or(0, |before| before.bytes().filter(|&b| b == b'\n').count())
        + 1
}

// --- Lists of ids.

fn id_lines(text: &str, max: usize) -> (Vec<ReferenceEntry>, bool) {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        if out.len() == max {
            return (out, true);
        }
        let first = line.split_whitespace().next().unwrap_or(line);
        let id = ArxivId::parse(first.trim_end_matches([',', ';']))
            .ok()
            .or_else(|| find_arxiv_id(line))
            .ok_or_else(|| format!("{:?} is not an arXiv id or URL", shorten(line)));
        out.push(ReferenceEntry {
            label: format!("line {}", n + 1),
            id,
        });
    }
    (out, false)
}

/// At most 80 characters of untrusted text, for a message.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

// --- RIS.

/// `("UR", "https://…")` when `line` is an RIS tag line (`XX  - value`).
fn ris_tag(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() < 4
        || !bytes[0].is_ascii_uppercase()
        || !(bytes[1].is_ascii_uppercase() || bytes[1].is_ascii_digit())
    {
        return None;
    }
    let rest = line.get(2..)?;
    let after_spaces = rest.trim_start_matches(' ');
    if after_spaces.len() == rest.len() {
        return None;
    }
    let value = after_spaces.strip_prefix('-')?;
    Some((line.get(..2)?, value.trim()))
}

const RIS_ID_TAGS: &[&str] = &[
    "UR", "DO", "AN", "L1", "L2", "L3", "L4", "LK", "M1", "N1", "ID", "JO", "T2", "J2", "JF",
];

fn ris_entries(text: &str, max: usize) -> (Vec<ReferenceEntry>, bool) {
    struct Record {
        line: usize,
        values: Vec<(String, String)>,
    }
    let mut out = Vec::new();
    let mut current: Option<Record> = None;
    let finish = |record: Record, out: &mut Vec<ReferenceEntry>| {
        let number = out.len() + 1;
        let mut found = None;
        for tag in RIS_ID_TAGS {
            found = record
                .values
                .iter()
                .filter(|(t, _)| t == tag)
                .find_map(|(_, v)| find_arxiv_id(v));
            if found.is_some() {
                break;
            }
        }
        let title = record
            .values
            .iter()
            .find(|(t, _)| t == "TI" || t == "T1")
            .map(|(_, v)| format!(" ({})", shorten(v)))
            .unwrap_or_default();
        out.push(ReferenceEntry {
            label: format!("record {number}{title} at line {}", record.line),
            id: found.ok_or_else(|| "no arXiv id in UR, DO, AN or the other link fields".into()),
        });
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let Some((tag, value)) = ris_tag(line.trim_start()) else {
            continue;
        };
        match tag {
            "TY" => {
                if let Some(record) = current.take() {
                    if out.len() == max {
                        return (out, true);
                    }
                    finish(record, &mut out);
                }
                current = Some(Record {
                    line: n + 1,
                    values: Vec::new(),
                });
            }
            "ER" => {
                if let Some(record) = current.take() {
                    if out.len() == max {
                        return (out, true);
                    }
                    finish(record, &mut out);
                }
            }
            _ => {
                let record = current.get_or_insert_with(|| Record {
                    line: n + 1,
                    values: Vec::new(),
                });
                // A field repeated without bound (a hostile file) is kept to a few values.
                if record.values.len() < 200 {
                    record
                        .values
                        .push((tag.to_owned(), value.chars().take(2000).collect()));
                }
            }
        }
    }
    if let Some(record) = current.take() {
        if out.len() == max {
            return (out, true);
        }
        finish(record, &mut out);
    }
    (out, false)
}

// --- BibTeX.

const BIBTEX_ID_FIELDS: &[&str] = &[
    "eprint",
    "doi",
    "url",
    "arxivid",
    "journal",
    "note",
    "howpublished",
    "archive",
];

fn bibtex_entries(text: &str, max: usize) -> (Vec<ReferenceEntry>, bool) {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    let mut number = 0;
    while let Some(offset) = text.get(at..).and_then(|rest| rest.find('@')) {
        let start = at + offset;
        let mut i = start + 1;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let kind = text.get(start + 1..i).unwrap_or("").to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let open = bytes.get(i).copied();
        if kind.is_empty() || !matches!(open, Some(b'{' | b'(')) {
            // An `@` in free text between entries (BibTeX ignores it).
            at = start + 1;
            continue;
        }
        let close = if open == Some(b'{') { b'}' } else { b')' };
        let Some(end) = matching_close(bytes, i, close) else {
            number += 1;
            if out.len() == max {
                return (out, true);
            }
            out.push(ReferenceEntry {
                label: format!("entry {number} at line {}", line_of(text, start)),
                id: Err("the entry is not closed: a brace is missing".into()),
            });
            break;
        };
        at = end + 1;
        if matches!(kind.as_str(), "comment" | "preamble" | "string") {
            continue;
        }
        number += 1;
        if out.len() == max {
            return (out, true);
        }
        let body = text.get(i + 1..end).unwrap_or("");
        let (key, fields) = bibtex_fields(body);
        let key_label = if key.is_empty() {
            String::new()
        } else {
            format!(" ({})", shorten(&key))
        };
        out.push(ReferenceEntry {
            label: format!("entry {number}{key_label} at line {}", line_of(text, start)),
            id: bibtex_arxiv_id(&fields)
                .ok_or_else(|| "no arXiv id in eprint, doi, url, journal or note".to_owned()),
        });
    }
    (out, false)
}

/// The index of the delimiter closing the one at `open`, counting nested braces (and, for a
/// parenthesised entry, parentheses outside braces).
fn matching_close(bytes: &[u8], open: usize, close: u8) -> Option<usize> {
    let mut braces = 0usize;
    let mut parens = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open + 1) {
        match b {
            b'{' => braces += 1,
            b'}' if close == b'}' && braces == 0 => return Some(i),
            b'}' => braces = braces.saturating_sub(1),
            b'(' if braces == 0 => parens += 1,
            b')' if close == b')' && braces == 0 && parens == 0 => return Some(i),
            b')' if braces == 0 => parens = parens.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The citation key and the `name = value` fields of an entry's body (names lowercase,
/// values without their outer braces or quotes, `#` concatenations joined).
fn bibtex_fields(body: &str) -> (String, Vec<(String, String)>) {
    let bytes = body.as_bytes();
    let key_end = body.find(',').unwrap_or(body.len());
    let key = body.get(..key_end).unwrap_or("").trim().to_owned();
    let mut fields = Vec::new();
    let mut i = key_end + 1;
    while i < bytes.len() && fields.len() < 200 {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b',' {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b',' {
            continue;
        }
        let name = body
            .get(name_start..i)
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        i += 1;
        let mut value = String::new();
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            match bytes.get(i) {
                Some(b'{') => {
                    let end = matching_close(bytes, i, b'}').unwrap_or(bytes.len());
                    value.push_str(body.get(i + 1..end).unwrap_or(""));
                    i = end + 1;
                }
                Some(b'"') => {
                    let mut j = i + 1;
                    let mut depth = 0usize;
                    while j < bytes.len() && !(bytes[j] == b'"' && depth == 0) {
                        match bytes[j] {
                            b'{' => depth += 1,
                            b'}' => depth = depth.saturating_sub(1),
                            _ => {}
                        }
                        j += 1;
                    }
                    value.push_str(body.get(i + 1..j.min(bytes.len())).unwrap_or(""));
                    i = j + 1;
                }
                Some(_) => {
                    let start = i;
                    while i < bytes.len() && !matches!(bytes[i], b',' | b'#' | b'}') {
                        i += 1;
                    }
                    value.push_str(body.get(start..i).unwrap_or("").trim());
                }
                None => {}
            }
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if bytes.get(i) == Some(&b'#') {
                i += 1;
                continue;
            }
            break;
        }
        if !name.is_empty() {
            fields.push((name, value.chars().take(2000).collect()));
        }
    }
    (key, fields)
}

fn bibtex_arxiv_id(fields: &[(String, String)]) -> Option<ArxivId> {
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let other_archive = field("archiveprefix")
        .or_else(|| field("eprinttype"))
        .is_some_and(|a| {
            !a.trim()
                .trim_matches(['{', '}'])
                .eq_ignore_ascii_case("arxiv")
        });
    BIBTEX_ID_FIELDS
        .iter()
        .filter(|name| !(other_archive && **name == "eprint"))
        .find_map(|name| field(name).and_then(|v| find_arxiv_id(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(refs: &References) -> Vec<Result<String, String>> {
        refs.entries
            .iter()
            .map(|e| e.id.as_ref().map(|i| i.to_string()).map_err(Clone::clone))
            .collect()
    }

    #[test]
    fn bibtex_entries_name_their_arxiv_id_in_any_of_the_usual_fields() {
        let text = r#"
% exported by hand
@misc{vaswani2017,
  title = {Attention Is {All} You Need},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
  primaryClass = {cs.CL},
}
@article{doi, title="With a DOI", doi = "10.48550/arXiv.2401.00001"}
@inproceedings( url , url = {https://arxiv.org/abs/hep-th/9901001v2})
@article{journal, journal = "arXiv preprint " # "arXiv:2309.11523"}
@string{foo = "bar"}
@book{none, title = {No id here}, eprint = {12345}, archiveprefix = {PubMed}}
"#;
        let refs = read_references(text, 100);
        assert_eq!(refs.format, ReferenceFormat::Bibtex);
        assert_eq!(
            ids(&refs),
            [
                Ok("1706.03762".into()),
                Ok("2401.00001".into()),
                Ok("hep-th/9901001".into()),
                Ok("2309.11523".into()),
                Err("no arXiv id in eprint, doi, url, journal or note".into()),
            ]
        );
        assert_eq!(refs.entries[0].label, "entry 1 (vaswani2017) at line 3");
        assert_eq!(refs.entries[4].label, "entry 5 (none) at line 13");
    }

    #[test]
    fn an_unclosed_bibtex_entry_is_reported_and_what_came_before_is_kept() {
        let refs = read_references("@misc{a, eprint={2401.00001}}\n@misc{b, eprint={2401.0", 10);
        assert_eq!(
            ids(&refs),
            [
                Ok("2401.00001".into()),
                Err("the entry is not closed: a brace is missing".into())
            ]
        );
    }

    #[test]
    fn ris_records_name_their_arxiv_id_in_links_dois_and_accession_numbers() {
        let text = "TY  - JOUR\nTI  - One\nUR  - http://arxiv.org/abs/2401.00001v1\nER  - \n\
                    TY  - GEN\nDO  - 10.48550/ARXIV.2401.00002\nER  -\n\
                    TY  - JOUR\nAN  - arXiv:2401.00003\nER  - \n\
                    TY  - BOOK\nTI  - Paper book\nER  - \n";
        let refs = read_references(text, 100);
        assert_eq!(refs.format, ReferenceFormat::Ris);
        assert_eq!(
            ids(&refs),
            [
                Ok("2401.00001".into()),
                Ok("2401.00002".into()),
                Ok("2401.00003".into()),
                Err("no arXiv id in UR, DO, AN or the other link fields".into()),
            ]
        );
        assert_eq!(refs.entries[0].label, "record 1 (One) at line 1");
    }

    #[test]
    fn id_lists_take_ids_and_urls_and_say_which_lines_are_not() {
        let text = "# my reading list\n2401.00001\n\nhttps://arxiv.org/pdf/2401.00002v3.pdf\narXiv:hep-th/9901001 old\nnot an id\n";
        let refs = read_references(text, 100);
        assert_eq!(refs.format, ReferenceFormat::IdList);
        assert_eq!(
            ids(&refs),
            [
                Ok("2401.00001".into()),
                Ok("2401.00002".into()),
                Ok("hep-th/9901001".into()),
                Err("\"not an id\" is not an arXiv id or URL".into()),
            ]
        );
        assert_eq!(refs.entries[3].label, "line 6");
    }

    #[test]
    fn reading_stops_at_the_entry_limit_and_says_so() {
        let text = "2401.00001\n2401.00002\n2401.00003\n";
        let refs = read_references(text, 2);
        assert_eq!(refs.entries.len(), 2);
        assert!(refs.truncated);
        let bib = "@misc{a, eprint={2401.00001}}@misc{b, eprint={2401.00002}}";
        assert!(read_references(bib, 1).truncated);
    }

    #[test]
    fn odd_bytes_never_panic() {
        let mut odd = vec![
            String::from("@"),
            "@{".into(),
            "@misc".into(),
            "@misc{".into(),
            "@misc{,".into(),
            "@misc{k, a = ".into(),
            "@misc{k, a = {".into(),
            "@misc{k, a = \"".into(),
            "@misc{k, = }".into(),
            "@misc(k, eprint = 2401.00001)".into(),
            "@misc{k, eprint = {é日本}} ".into(),
            "TY  -".into(),
            "TY  - \nUR  - ".into(),
            "ER  - ".into(),
            "A1 -".into(),
            "\u{feff}\u{0}\u{7f}".into(),
            "}}}{{{@@@".into(),
            "arxiv.org/abs/".into(),
            "10.48550/arxiv.".into(),
            "é@é{é,é=é}".into(),
        ];
        // Every prefix of a well-formed file, cut at each character.
        let whole = "@article{k,\n title = {A {nested} title},\n eprint = \"2401.00001\" # {x}\n}\nTY  - JOUR\nUR  - https://arxiv.org/abs/2401.00002\nER  - \n";
        for (i, _) in whole.char_indices() {
            odd.push(whole[..i].to_owned());
        }
        for text in &odd {
            let refs = read_references(text, 5);
            assert!(refs.entries.len() <= 5, "{text:?}");
            for entry in &refs.entries {
                assert!(!entry.label.is_empty(), "{text:?}");
            }
        }
    }
}
