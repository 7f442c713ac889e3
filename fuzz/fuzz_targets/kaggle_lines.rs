//! `KaggleLines`: the Kaggle arXiv snapshot, one JSON record per line, streamed. Invariants:
//! never panics; the iterator ends; line numbers only grow and never pass the line count.
//! Bounded memory per input: no reason is longer than `RecordError::MAX_REASON_BYTES` (the
//! reader keeps one line at a time, at most `MAX_RECORD_BYTES`; its own tests check that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperfeed_ingest::{KaggleLines, RecordError};

fuzz_target!(|data: &[u8]| {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut last = 0u64;
    let mut items = 0u64;
    for (line, record) in KaggleLines::new(std::io::Cursor::new(data)) {
        items += 1;
        assert!(items <= newlines + 1, "the iterator must end");
        assert!(
            line > last && line <= newlines + 1,
            "line {line} after {last}"
        );
        last = line;
        match record {
            Ok(p) => assert!(!p.id.as_str().is_empty()),
            Err(e) => {
                assert!(e.reason.len() <= RecordError::MAX_REASON_BYTES);
                let _ = e.to_string();
            }
        }
    }
});
