//! `parse_arxiv_atom` and `read_arxiv_atom`: one page of the arXiv API's Atom answer.
//! Invariants: never panics, every accepted record has an id, every error prints, the stream
//! read through a tiny buffer gives what the in-memory parse gives. Bounded memory per input:
//! at most `Parsed::MAX_KEPT_ERRORS` rejections are kept, no reason is longer than
//! `RecordError::MAX_REASON_BYTES`, and no more records come out than `<entry` tags fit in it.
#![no_main]

use std::io::BufReader;
use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use paperfeed_ingest::{Parsed, RecordError, RecordResult, parse_arxiv_atom, read_arxiv_atom};

fuzz_target!(|data: &[u8]| {
    let page = parse_arxiv_atom(data);
    let mut kept = 0;
    for record in &page.parsed.records {
        match record {
            Ok(p) => assert!(!p.id.as_str().is_empty()),
            Err(e) => {
                kept += 1;
                assert!(e.reason.len() <= RecordError::MAX_REASON_BYTES);
                let _ = e.to_string();
            }
        }
    }
    assert!(kept <= Parsed::MAX_KEPT_ERRORS);
    // The shortest entry is `<entry/>` (or `<a:entry/>`), 8 bytes at least.
    let total = page.parsed.records.len() as u64 + page.parsed.rejected_not_kept;
    assert!(total <= data.len() as u64 / 8);
    if let Some(e) = &page.parsed.fatal {
        let _ = e.to_string();
    }

    let mut streamed = Vec::new();
    let mut sink = |r: RecordResult| {
        streamed.push(r.ok().map(|p| p.id.to_string()));
        ControlFlow::Continue(())
    };
    let chunk = 1 + data.first().map_or(0, |b| usize::from(b % 7));
    let fatal = read_arxiv_atom(BufReader::with_capacity(chunk, data), &mut sink);
    assert_eq!(fatal.is_some(), page.parsed.fatal.is_some());
    assert_eq!(streamed.len() as u64, total);
});
