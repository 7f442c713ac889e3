//! What people type in the search box: `KeywordQuery::parse` (phrases, `author:`,
//! `category:`, date ranges, `sort:`), then the search itself on an in-memory index of one
//! real day of papers, so the query building behind the parser is exercised too.
//! Invariants: never panics; a page holds at most `limit` hits and never more than `total`;
//! highlighted titles and snippets contain no markup but `<mark>`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use paperfeed_core::merge;
use paperfeed_ingest::parse_hf_daily;
use paperfeed_search::{KeywordIndex, KeywordQuery};

const DAY: &[u8] = include_bytes!("../../crates/paperfeed-ingest/tests/fixtures/2024-03-12.json");

fn index() -> &'static KeywordIndex {
    static INDEX: OnceLock<KeywordIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let papers: Vec<_> = parse_hf_daily(DAY, None)
            .records
            .into_iter()
            .filter_map(Result::ok)
            .map(|p| merge(None, p))
            .collect();
        assert!(!papers.is_empty(), "the fixture has papers");
        let mut index = KeywordIndex::in_memory().expect("an in-memory index");
        index.upsert(&papers).expect("indexing the fixture");
        index.commit(1).expect("committing the fixture");
        index
    })
}

fn markup_free(html: &str) -> bool {
    !html
        .replace("<mark>", "")
        .replace("</mark>", "")
        .contains(['<', '>'])
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let query = match KeywordQuery::parse(input) {
        Ok(q) => q,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    // Parsing is stable: the text part parses to the same text.
    if query.author.is_none() && query.category.is_none() {
        let _ = KeywordQuery::parse(&query.text);
    }
    let results = index()
        .search(&query)
        .expect("searching an in-memory index");
    assert!(results.hits.len() <= query.limit);
    assert!(results.hits.len() <= results.total);
    for hit in &results.hits {
        assert!(markup_free(&hit.title_html), "title {:?}", hit.title_html);
        assert!(
            markup_free(&hit.snippet_html),
            "snippet {:?}",
            hit.snippet_html
        );
    }
});
