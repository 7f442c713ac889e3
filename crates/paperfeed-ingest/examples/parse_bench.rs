//! Parsing rate of OAI-PMH and arXiv API Atom pages (records/s, MB/s) against quick-xml's raw
//! reader on the same bytes (every event read, nothing kept): how much the parsers add on top
//! of tokenising. Real recorded pages from tests/fixtures.
//!
//! cargo run --release -p paperfeed-ingest --example parse_bench

use std::hint::black_box;
use std::time::{Duration, Instant};

use paperfeed_ingest::{parse_arxiv_atom, parse_oai_pmh};
use quick_xml::Reader;
use quick_xml::events::Event;

const FIXTURES: [(&str, &[u8]); 4] = [
    (
        "OAI-PMH page001 (1000 records)",
        include_bytes!("../tests/fixtures/ListRecords_arXiv_set-cs_2016-03-09_page001.xml"),
    ),
    (
        "OAI-PMH page002 (1000 records)",
        include_bytes!("../tests/fixtures/ListRecords_arXiv_set-cs_2016-03-09_page002.xml"),
    ),
    (
        "OAI-PMH page103 (538 records)",
        include_bytes!("../tests/fixtures/ListRecords_arXiv_set-cs_2016-03-09_page103.xml"),
    ),
    (
        "arXiv API Atom (2 entries)",
        include_bytes!("../tests/fixtures/query_cat-cs.RO_AND_neural_max2_2025-10-17.xml"),
    ),
];

/// Runs `f` repeatedly for about a second; returns runs per second.
fn rate(mut f: impl FnMut() -> usize) -> f64 {
    let budget = Duration::from_millis(1000);
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < budget {
        black_box(f());
        runs += 1;
    }
    runs as f64 / started.elapsed().as_secs_f64()
}

fn raw_events(bytes: &[u8]) -> usize {
    let mut reader = Reader::from_reader(bytes);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return events,
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
        }
    }
}

fn main() {
    println!(
        "{:<34} {:>8} {:>12} {:>10} {:>12} {:>10} {:>7}",
        "page", "records", "parse rec/s", "parse MB/s", "raw rec/s", "raw MB/s", "ratio"
    );
    for (name, bytes) in FIXTURES {
        let records = if name.starts_with("OAI") {
            parse_oai_pmh(bytes).parsed.records.len()
        } else {
            parse_arxiv_atom(bytes).parsed.records.len()
        };
        let parse = if name.starts_with("OAI") {
            rate(|| parse_oai_pmh(bytes).parsed.records.len())
        } else {
            rate(|| parse_arxiv_atom(bytes).parsed.records.len())
        };
        let raw = rate(|| raw_events(bytes));
        let mb = bytes.len() as f64 / 1e6;
        println!(
            "{name:<34} {records:>8} {:>12.0} {:>10.1} {:>12.0} {:>10.1} {:>6.2}x",
            parse * records as f64,
            parse * mb,
            raw * records as f64,
            raw * mb,
            raw / parse
        );
    }
}
