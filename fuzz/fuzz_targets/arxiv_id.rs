//! `ArxivId` / `VersionedArxivId::parse`: every form people paste (URLs, `arXiv:` prefixes,
//! old and new style, versions). Invariants: the canonical form parses back to itself, and a
//! refusal's message quotes at most 200 characters of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperfeed_core::{ArxivId, VersionedArxivId};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match VersionedArxivId::parse(input) {
        Ok(v) => {
            let canonical = v.id.to_string();
            let again = ArxivId::parse(&canonical).expect("a canonical id parses");
            assert_eq!(again, v.id, "parse(display(x)) == x");
            assert_eq!(ArxivId::parse(input).ok(), Some(v.id.clone()));
            assert_eq!(v.id.is_old_style(), canonical.contains('/'));
            assert!(canonical.is_ascii() && !canonical.contains(char::is_whitespace));
            if let Some(n) = v.version {
                let versioned = format!("{canonical}v{n}");
                let back = VersionedArxivId::parse(&versioned).expect("id + version parses");
                assert_eq!(back, v);
            }
            // The URL forms round-trip too.
            assert_eq!(ArxivId::parse(&v.id.abs_url()).ok(), Some(v.id.clone()));
        }
        Err(e) => {
            assert!(e.input.chars().count() <= 200);
            let _ = e.to_string();
            assert!(ArxivId::parse(input).is_err());
        }
    }
});
