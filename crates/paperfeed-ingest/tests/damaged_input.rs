//! Damaged input never panics and never yields a half-read record: real files cut at many
//! points, and pseudo-random garbage made of the characters JSON and XML care about.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use paperfeed_ingest::{
    KaggleLines, Parsed, detect_format, parse_arxiv_atom, parse_hf_daily, parse_oai_pmh,
};

const HF: &[u8] = include_bytes!("fixtures/2024-03-12.json");
const HF_INDENTED: &[u8] = include_bytes!("fixtures/2025-02-06.json");
const KAGGLE: &[u8] = include_bytes!("fixtures/arxiv-metadata-oai-snapshot.lines0001-0040.jsonl");
const ATOM: &[u8] = include_bytes!("fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml");
const OAI: &[u8] = include_bytes!("fixtures/ListRecords_arXiv_set-cs_2016-03-09_page103.xml");

/// Checks one cut of a whole-file parse: only good records, never fewer than a shorter cut
/// gave, and an error unless only trailing whitespace was cut off.
fn check_cut(name: &str, whole: &[u8], cut: usize, parsed: &Parsed, kept_before: &mut usize) {
    for record in &parsed.records {
        assert!(record.is_ok(), "{name} cut at {cut}: {record:?}");
    }
    assert!(
        parsed.records.len() >= *kept_before,
        "{name} cut at {cut}: {} records after {}",
        parsed.records.len(),
        kept_before
    );
    *kept_before = parsed.records.len();
    let complete = whole[cut..].iter().all(u8::is_ascii_whitespace);
    assert_eq!(
        parsed.fatal.is_none(),
        complete,
        "{name} cut at {cut}: {:?}",
        parsed.fatal
    );
}

fn cuts(len: usize, step: usize) -> impl Iterator<Item = usize> {
    (0..len).step_by(step).chain([len.saturating_sub(1), len])
}

#[test]
fn daily_papers_cut_anywhere_keep_the_entries_before_the_cut() {
    for (name, whole, step) in [("compact", HF, 53), ("indented", HF_INDENTED, 61)] {
        let mut kept = 0;
        for cut in cuts(whole.len(), step) {
            let parsed = parse_hf_daily(&whole[..cut], None);
            check_cut(name, whole, cut, &parsed, &mut kept);
        }
        assert_eq!(kept, 9);
    }
}

#[test]
fn atom_feeds_cut_anywhere_keep_the_entries_before_the_cut() {
    let mut kept = 0;
    for cut in cuts(ATOM.len(), 7) {
        let page = parse_arxiv_atom(&ATOM[..cut]);
        check_cut("atom", ATOM, cut, &page.parsed, &mut kept);
    }
    assert_eq!(kept, 2);
}

#[test]
fn oai_pages_cut_anywhere_keep_the_records_before_the_cut() {
    let mut kept = 0;
    for cut in cuts(OAI.len(), 15_013) {
        let page = parse_oai_pmh(&OAI[..cut]);
        check_cut("oai", OAI, cut, &page.parsed, &mut kept);
    }
    assert_eq!(kept, 538);
}

#[test]
fn kaggle_lines_cut_anywhere_reject_at_most_the_last_line() {
    for cut in cuts(KAGGLE.len(), 211) {
        let records: Vec<_> = KaggleLines::new(&KAGGLE[..cut]).collect();
        let complete_lines = KAGGLE[..cut].iter().filter(|&&b| b == b'\n').count();
        for (line, record) in &records[..complete_lines.min(records.len())] {
            assert!(record.is_ok(), "cut at {cut}, line {line}: {record:?}");
        }
        assert!(records.len() <= complete_lines + 1);
    }
}

/// A small deterministic generator, so the garbage is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn pseudo_random_garbage_never_panics_any_parser() {
    const ALPHABET: &[u8] = b"[]{}<>/\"':,=&;#x0v1.\n \\aeidtOAI-PMHfeedentry\x00\xff\xc3\xa9";
    let mut rng = Lcg(42);
    for round in 0..400 {
        let len = (rng.next() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[(rng.next() as usize) % ALPHABET.len()])
            .collect();
        // Half the rounds start like a real file, so the parsers get past their first checks.
        let prefix: &[u8] = match round % 6 {
            0 => b"[{\"paper\":{\"id\":\"2403.06634\",",
            1 => b"{\"id\":\"0704.0001\",",
            2 => b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>",
            3 => b"<OAI-PMH><ListRecords><record><metadata><arXiv><id>",
            _ => b"",
        };
        bytes.splice(0..0, prefix.iter().copied());
        let _ = detect_format(&bytes);
        let _ = parse_hf_daily(&bytes, None);
        let _ = parse_arxiv_atom(&bytes);
        let _ = parse_oai_pmh(&bytes);
        let _ = KaggleLines::new(&bytes[..]).count();
    }
}
