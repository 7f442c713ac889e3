//! `parse_hf_daily` and `read_hf_daily`: a Hugging Face `daily_papers` JSON answer (a
//! top-level array split as a stream). Invariants: never panics; with and without a feed date
//! the same records come out, in the same order; the stream read through a tiny buffer gives
//! what the in-memory parse gives; every error prints. Bounded memory per input: at most
//! `Parsed::MAX_KEPT_ERRORS` rejections are kept (the rest only counted, and the counts add
//! up), no reason is longer than `RecordError::MAX_REASON_BYTES`, and no more records come out
//! than the input has elements (each takes at least two bytes with its comma).
#![no_main]

use std::io::BufReader;
use std::ops::ControlFlow;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use paperfeed_ingest::{Parsed, RecordError, RecordResult, parse_hf_daily, read_hf_daily};

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

    let kept = plain.records.iter().filter(|r| r.is_err()).count();
    assert!(kept <= Parsed::MAX_KEPT_ERRORS);
    assert!(plain.rejected_not_kept == 0 || kept == Parsed::MAX_KEPT_ERRORS);
    assert!(plain.records.len() as u64 + plain.rejected_not_kept <= data.len() as u64 / 2 + 1);
    for e in plain.records.iter().filter_map(|r| r.as_ref().err()) {
        assert!(e.reason.len() <= RecordError::MAX_REASON_BYTES);
        let _ = e.to_string();
    }
    if let Some(e) = &plain.fatal {
        let _ = e.to_string();
    }

    // The stream, in chunks of a few bytes, reads the same records.
    let mut streamed = Vec::new();
    let mut rejected = 0u64;
    let mut sink = |r: RecordResult| {
        if r.is_err() {
            rejected += 1;
        }
        streamed.push(r.ok().map(|p| p.id.to_string()));
        ControlFlow::Continue(())
    };
    let chunk = 1 + data.first().map_or(0, |b| usize::from(b % 7));
    let fatal = read_hf_daily(BufReader::with_capacity(chunk, data), None, &mut sink);
    assert_eq!(fatal.is_some(), plain.fatal.is_some());
    assert_eq!(rejected, plain.rejected());
    let kept_ids: Vec<_> = ids(&plain.records).into_iter().flatten().collect();
    let streamed_ids: Vec<_> = streamed.into_iter().flatten().collect();
    assert_eq!(kept_ids, streamed_ids);
});
