//! `detect_format` on a file's first bytes, then the parser it picks, as `paperfeed ingest`
//! does. Invariant: never panics; a detected format's parser accepts the bytes without panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperfeed_ingest::{
    Format, KaggleLines, detect_format, parse_arxiv_atom, parse_hf_daily, parse_oai_pmh,
};

fuzz_target!(|data: &[u8]| {
    let head = &data[..data.len().min(4096)];
    match detect_format(head) {
        Ok(Format::HfDailyPapers) => {
            let _ = parse_hf_daily(data, None);
        }
        Ok(Format::ArxivAtom) => {
            let _ = parse_arxiv_atom(data);
        }
        Ok(Format::OaiPmh) => {
            let _ = parse_oai_pmh(data);
        }
        Ok(Format::KaggleJsonl) => {
            let _ = KaggleLines::new(std::io::Cursor::new(data)).count();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
