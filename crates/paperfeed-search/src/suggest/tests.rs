#![allow(clippy::unwrap_used)]

use paperfeed_core::{Author, NewPaper, merge};

use super::*;

fn paper(n: u32, title: &str, authors: &[&str], categories: &[&str], upvotes: i64) -> Paper {
    let id = ArxivId::parse(&format!("2602.{n:05}")).unwrap();
    let new = NewPaper::new(
        id,
        title.to_owned(),
        "An abstract.".to_owned(),
        authors.iter().map(|a| Author::named(*a)).collect(),
    );
    let mut paper = merge(None, new);
    paper.categories = categories.iter().map(|c| (*c).to_owned()).collect();
    paper.upvotes = upvotes;
    paper
}

fn hub() -> SuggestIndex {
    let mut index = SuggestIndex::default();
    index.upsert(&[
        paper(
            1,
            "Attention Is All You Need",
            &["Ashish Vaswani", "Noam Shazeer"],
            &["cs.CL", "cs.LG"],
            90,
        ),
        paper(
            2,
            "Graph Attention Networks",
            &["Petar Veličković"],
            &["stat.ML"],
            40,
        ),
        paper(
            3,
            "Self-Attention with Relative Positions",
            &["Noam Shazeer"],
            &["cs.CL"],
            10,
        ),
        paper(4, "Attentive Readers", &["Zoë Müller"], &["cs.CL"], 95),
    ]);
    index
}

fn labels(found: &[Suggestion]) -> Vec<String> {
    found
        .iter()
        .map(|s| match s {
            Suggestion::Category { name, papers } => format!("category {name} ({papers})"),
            Suggestion::Author { name, papers, .. } => format!("author {name} ({papers})"),
            Suggestion::Title { title, .. } => format!("title {title}"),
        })
        .collect()
}

fn suggest(index: &SuggestIndex, typed: &str) -> Vec<String> {
    labels(&index.suggest(&SuggestQuery::parse(typed), 8))
}

#[test]
fn titles_are_found_from_any_word_start_those_starting_with_it_first() {
    let index = hub();
    assert_eq!(
        suggest(&index, "atten"),
        [
            "title Attentive Readers",
            "title Attention Is All You Need",
            "title Graph Attention Networks",
            "title Self-Attention with Relative Positions",
        ]
    );
    // Several words, case and punctuation folded; a stop word is no word start.
    assert_eq!(
        suggest(&index, "SELF attention w"),
        ["title Self-Attention with Relative Positions"]
    );
    assert_eq!(
        suggest(&index, "all you"),
        ["title Attention Is All You Need"]
    );
    assert!(suggest(&index, "is all").is_empty());
    assert!(
        suggest(&index, "tention").is_empty(),
        "only from word starts"
    );
}

#[test]
fn authors_and_categories_come_first_counted_and_folded() {
    let index = hub();
    assert_eq!(suggest(&index, "noam"), ["author Noam Shazeer (2)"]);
    assert_eq!(suggest(&index, "shaz"), ["author Noam Shazeer (2)"]);
    assert_eq!(suggest(&index, "muller"), ["author Zoë Müller (1)"]);
    assert_eq!(suggest(&index, "velic"), ["author Petar Veličković (1)"]);
    assert_eq!(
        suggest(&index, "cs."),
        ["category cs.CL (3)", "category cs.LG (1)"]
    );
    assert_eq!(suggest(&index, "author:\"noa"), ["author Noam Shazeer (2)"]);
    assert_eq!(suggest(&index, "category:st"), ["category stat.ML (1)"]);
    // Filters other than these are text.
    assert!(suggest(&index, "published:2024").is_empty());
}

#[test]
fn votes_reorder_titles_and_a_changed_title_replaces_the_old_one() {
    let mut index = hub();
    let mut upvoted = paper(
        2,
        "Graph Attention Networks",
        &["Petar Veličković"],
        &["stat.ML"],
        40,
    );
    upvoted.upvotes = 500;
    index.upsert(&[upvoted]);
    assert_eq!(
        suggest(&index, "attention")[0],
        "title Attention Is All You Need"
    );
    assert_eq!(suggest(&index, "graph"), ["title Graph Attention Networks"]);
    assert_eq!(index.len(), 4);

    let renamed = paper(
        3,
        "Relative Position Representations",
        &["Peter Shaw"],
        &["cs.CL"],
        10,
    );
    index.upsert(&[renamed]);
    assert_eq!(index.len(), 4);
    assert!(suggest(&index, "self").is_empty(), "the old title is gone");
    assert_eq!(
        suggest(&index, "relative"),
        ["title Relative Position Representations"]
    );
    assert_eq!(
        suggest(&index, "noam"),
        ["author Noam Shazeer (1)"],
        "one paper fewer"
    );
    assert_eq!(suggest(&index, "peter"), ["author Peter Shaw (1)"]);
}

#[test]
fn answers_are_bounded_and_empty_text_suggests_nothing() {
    let mut index = SuggestIndex::default();
    let papers: Vec<Paper> = (1..=50)
        .map(|n| {
            paper(
                n,
                &format!("Scaling law number {n}"),
                &["A Author"],
                &["cs.LG"],
                i64::from(n),
            )
        })
        .collect();
    index.upsert(&papers);
    let found = index.suggest(&SuggestQuery::parse("scal"), 100);
    assert_eq!(found.len(), MAX_SUGGESTIONS);
    // Most upvoted first.
    assert_eq!(labels(&found)[0], "title Scaling law number 50");
    assert!(index.suggest(&SuggestQuery::parse("  "), 8).is_empty());
    assert!(index.suggest(&SuggestQuery::parse("!!"), 8).is_empty());
    assert!(index.suggest(&SuggestQuery::parse("scal"), 0).is_empty());
}

#[test]
fn merging_batches_keeps_the_entries_sorted() {
    let mut index = SuggestIndex::default();
    for batch in 0..5u32 {
        let papers: Vec<Paper> = (0..40u32)
            .map(|n| {
                let i = batch * 40 + n + 1;
                paper(
                    i,
                    &format!("Word{} topic {}", (i * 7919) % 97, i % 13),
                    &["X Y"],
                    &[],
                    0,
                )
            })
            .collect();
        index.upsert(&papers);
    }
    let titles = &index.titles;
    let suffixes: Vec<&str> = index
        .title_starts
        .0
        .iter()
        .map(|&e| suffix_of(e, |i| &*titles[i as usize].key))
        .collect();
    assert!(suffixes.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(index.len(), 200);
}

#[test]
fn galloping_finds_the_same_place_as_a_binary_search() {
    for len in 0..70usize {
        let rest: Vec<usize> = (0..len).collect();
        for cut in 0..=len + 1 {
            assert_eq!(
                super::gallop(&rest, |&x| x < cut),
                rest.partition_point(|&x| x < cut),
                "len {len}, cut {cut}"
            );
        }
    }
}
