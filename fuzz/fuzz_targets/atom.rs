//! `parse_arxiv_atom`: one page of the arXiv API's Atom answer. Invariants: never panics,
//! every accepted record has an id, every error prints.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperfeed_ingest::parse_arxiv_atom;

fuzz_target!(|data: &[u8]| {
    let page = parse_arxiv_atom(data);
    for record in &page.parsed.records {
        match record {
            Ok(p) => assert!(!p.id.as_str().is_empty()),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if let Some(e) = &page.parsed.fatal {
        let _ = e.to_string();
    }
});
