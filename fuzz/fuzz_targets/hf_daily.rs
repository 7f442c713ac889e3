//! `parse_hf_daily`: a Hugging Face `daily_papers` JSON answer (a top-level array split
//! lazily). Invariants: never panics; with and without a feed date the same records come out,
//! in the same order; every error prints.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use paperfeed_ingest::{RecordResult, parse_hf_daily};

fn ids(records: &[RecordResult]) -> Vec<Option<String>> {
    records
        .iter()
        .map(|r| r.as_ref().ok().map(|p| p.id.to_string()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let plain = parse_hf_daily(data, None);
    let dated = parse_hf_daily(data, NaiveDate::from_ymd_opt(2024, 3, 12));
    assert_eq!(ids(&plain.records), ids(&dated.records));
    assert_eq!(plain.fatal.is_some(), dated.fatal.is_some());
    for e in plain.records.iter().filter_map(|r| r.as_ref().err()) {
        let _ = e.to_string();
    }
    if let Some(e) = &plain.fatal {
        let _ = e.to_string();
    }
});
