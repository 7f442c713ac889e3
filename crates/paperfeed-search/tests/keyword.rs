//! The keyword index on real papers: the Hugging Face daily-paper answers that the ingest
//! crate keeps as fixtures, merged the way the store merges them.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use paperfeed_core::{ArxivId, Author, Paper, merge};
use paperfeed_ingest::parse_hf_daily;
use paperfeed_search::{KeywordIndex, KeywordQuery, KeywordResults, OpenOutcome, SearchError};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../paperfeed-ingest/tests/fixtures"
);

/// Every paper of the four fixture days, merged by id. HF answers carry no arXiv categories,
/// so the tests give video papers `cs.CV` and the rest `cs.CL` (plus `stat.ML` for a few).
fn papers() -> Vec<Paper> {
    let mut merged: BTreeMap<ArxivId, Paper> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(FIXTURES)
        .expect("fixtures folder")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "expected the four HF fixture days");
    for path in files {
        let day: NaiveDate = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let parsed = parse_hf_daily(&bytes, Some(day));
        assert!(parsed.fatal.is_none());
        for record in parsed.records {
            let record = record.expect("fixture records parse");
            let paper = merge(merged.get(&record.id), record);
            merged.insert(paper.id.clone(), paper);
        }
    }
    merged
        .into_values()
        .enumerate()
        .map(|(i, mut paper)| {
            let primary = if paper.title.contains("Video") {
                "cs.CV"
            } else {
                "cs.CL"
            };
            paper.categories = vec![primary.to_owned()];
            if i % 5 == 0 {
                paper.categories.push("stat.ML".to_owned());
            }
            paper
        })
        .collect()
}

fn indexed(papers: &[Paper]) -> KeywordIndex {
    let mut index = KeywordIndex::in_memory().unwrap();
    index.upsert(papers).unwrap();
    index.commit(1).unwrap();
    index
}

fn fixture_index() -> (KeywordIndex, Vec<Paper>) {
    let papers = papers();
    (indexed(&papers), papers)
}

fn search(index: &KeywordIndex, input: &str) -> KeywordResults {
    let query = KeywordQuery::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    index.search(&query).unwrap()
}

fn ids(results: &KeywordResults) -> Vec<&str> {
    results.hits.iter().map(|h| h.id.as_str()).collect()
}

fn paper<'a>(papers: &'a [Paper], id: &str) -> &'a Paper {
    papers.iter().find(|p| p.id.as_str() == id).unwrap()
}

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn every_fixture_paper_is_indexed_once() {
    let (index, papers) = fixture_index();
    assert!(papers.len() > 50);
    assert_eq!(index.len(), papers.len());
    assert_eq!(index.watermark(), 1);
}

#[test]
fn an_exact_arxiv_id_in_any_form_ranks_that_paper_first() {
    let (index, _) = fixture_index();
    for input in [
        "2403.06634",
        "arXiv:2403.06634v2",
        "https://arxiv.org/abs/2403.06634",
        "arxiv.org/pdf/2403.06634v1.pdf",
        "video diffusion 2403.06634",
    ] {
        let results = search(&index, input);
        assert_eq!(ids(&results).first(), Some(&"2403.06634"), "{input}");
    }
    // Found by id alone: nothing else in the text to match.
    let results = search(&index, "2403.06634");
    assert_eq!(results.total, 1);
}

#[test]
fn an_exact_title_ranks_that_paper_first_whatever_its_case_and_spacing() {
    let (index, papers) = fixture_index();
    // Every word of this title is common in the fixtures, so BM25 alone need not rank it first.
    let title = &paper(&papers, "2403.05812").title;
    assert_eq!(title, "Algorithmic progress in language models");
    for input in [
        "algorithmic progress in language models",
        "  ALGORITHMIC   Progress in LANGUAGE models ",
    ] {
        let results = search(&index, input);
        assert_eq!(ids(&results).first(), Some(&"2403.05812"), "{input}");
        assert!(results.total > 1, "other papers still match its words");
    }
    // Quoted, it is also a phrase that only this paper has.
    let results = search(&index, &format!("\"{title}\""));
    assert_eq!(ids(&results), vec!["2403.05812"]);
}

#[test]
fn an_exact_title_is_pinned_under_every_sort_order() {
    let (index, _) = fixture_index();
    for sort in ["votes", "newest", "relevance"] {
        let results = search(&index, &format!("Multistep Consistency Models sort:{sort}"));
        assert_eq!(ids(&results).first(), Some(&"2403.06807"), "sort:{sort}");
    }
}

fn text_of(paper: &Paper) -> String {
    format!("{} {}", paper.title, paper.abstract_text).to_lowercase()
}

#[test]
fn a_quoted_phrase_needs_its_words_together_while_free_words_need_any() {
    let (index, papers) = fixture_index();
    let words = search(&index, "language model sort:votes");
    let phrase = search(&index, "\"language model\" sort:votes");
    assert!(phrase.total > 0);
    assert!(
        words.total > phrase.total,
        "{} vs {}",
        words.total,
        phrase.total
    );
    let phrase = index
        .search(&KeywordQuery {
            limit: 100,
            ..KeywordQuery::parse("\"language model\"").unwrap()
        })
        .unwrap();
    for hit in &phrase.hits {
        let text = text_of(paper(&papers, hit.id.as_str()));
        // Stemming lets "language models" and "language modeling" match too.
        assert!(text.contains("language model"), "{} matched", hit.id);
    }
    // Every paper that has the phrase is found.
    let expected = papers
        .iter()
        .filter(|p| text_of(p).contains("language model"))
        .count();
    assert_eq!(phrase.total, expected);
}

#[test]
fn a_phrase_skips_stop_words_but_keeps_their_place() {
    let (index, papers) = fixture_index();
    let results = search(&index, "\"state of the art\"");
    assert!(results.total > 0);
    for hit in &results.hits {
        let text = text_of(paper(&papers, hit.id.as_str()));
        assert!(
            text.contains("state-of-the-art") || text.contains("state of the art"),
            "{}",
            hit.id
        );
    }
    // "state art" side by side is another phrase.
    assert_eq!(search(&index, "\"state art\"").total, 0);
}

#[test]
fn the_author_filter_matches_a_name_or_a_whole_name_in_order() {
    let (index, papers) = fixture_index();
    let carlini = search(&index, "author:carlini");
    assert_eq!(ids(&carlini), vec!["2403.06634"]);
    assert_eq!(
        ids(&search(&index, "author:\"Nicholas Carlini\"")),
        vec!["2403.06634"]
    );
    assert_eq!(search(&index, "author:\"Carlini Nicholas\"").total, 0);
    // Two authors next to each other in the list are not one name.
    let p = paper(&papers, "2403.06634");
    let across = format!(
        "author:\"{} {}\"",
        p.authors[0].name.split(' ').next_back().unwrap(),
        p.authors[1].name.split(' ').next().unwrap()
    );
    assert_eq!(search(&index, &across).total, 0, "{across}");
    // A filter narrows; it does not rank.
    let both = search(&index, "model author:carlini");
    assert_eq!(ids(&both), vec!["2403.06634"]);
}

#[test]
fn hidden_authors_cannot_be_found_by_name() {
    let mut papers = papers();
    papers[0].authors.push(Author {
        name: "Zebediah Hiddenname".into(),
        user: None,
        hidden: true,
    });
    let index = indexed(&papers);
    assert_eq!(search(&index, "author:hiddenname").total, 0);
    assert_eq!(search(&index, "Hiddenname").total, 0);
}

#[test]
fn the_category_filter_is_exact_case_insensitive_or_a_whole_archive() {
    let (index, papers) = fixture_index();
    let count = |category: &str| {
        papers
            .iter()
            .filter(|p| p.categories.iter().any(|c| c == category))
            .count()
    };
    let cv = count("cs.CV");
    assert!(cv > 0);
    let all = index.len();
    let listed = |input: &str| {
        index
            .search(&KeywordQuery {
                limit: 100,
                ..KeywordQuery::parse(input).unwrap()
            })
            .unwrap()
    };
    assert_eq!(listed("category:cs.CV").total, cv);
    assert_eq!(listed("category:cs.cv").total, cv);
    assert_eq!(listed("category:stat.ML").total, count("stat.ML"));
    assert_eq!(listed("category:cs.*").total, all);
    assert_eq!(listed("category:cs").total, all);
    assert_eq!(listed("category:stat").total, count("stat.ML"));
    assert_eq!(listed("category:cs.C").total, 0);
    for hit in listed("video category:cs.CV").hits {
        assert!(
            paper(&papers, hit.id.as_str())
                .categories
                .contains(&"cs.CV".to_owned())
        );
    }
}

#[test]
fn the_published_filter_uses_the_arxiv_date() {
    let (index, papers) = fixture_index();
    let (from, to) = (day("2025-03-05"), day("2025-03-09"));
    let expected: HashSet<&str> = papers
        .iter()
        .filter(|p| {
            p.published_at
                .is_some_and(|at| (from..=to).contains(&at.date_naive()))
        })
        .map(|p| p.id.as_str())
        .collect();
    assert!(!expected.is_empty());
    let results = search(&index, "published:2025-03-05..2025-03-09 sort:newest");
    assert_eq!(results.total, expected.len());
    let found: HashSet<&str> = ids(&results).into_iter().collect();
    assert_eq!(found, expected);
}

#[test]
fn the_featured_filter_uses_every_day_on_the_feed() {
    let (index, papers) = fixture_index();
    let march_2024 = papers
        .iter()
        .filter(|p| {
            p.featured
                .iter()
                .any(|f| f.date >= day("2024-03-01") && f.date <= day("2024-03-31"))
        })
        .count();
    assert_eq!(search(&index, "featured:2024-03").total, march_2024);
    assert_eq!(march_2024, 9);
    assert_eq!(search(&index, "featured:2024-03-13..2024-12").total, 0);
    assert_eq!(
        search(&index, "featured:2025-02..2025-03").total,
        papers
            .iter()
            .filter(|p| p
                .featured
                .iter()
                .any(|f| f.date.format("%Y").to_string() == "2025"))
            .count()
    );
}

#[test]
fn empty_text_with_filters_lists_the_matching_papers_newest_first() {
    let (index, papers) = fixture_index();
    let results = search(&index, "featured:2025-03-11");
    let expected = papers
        .iter()
        .filter(|p| p.featured.iter().any(|f| f.date == day("2025-03-11")))
        .count();
    assert!(expected > 20);
    assert_eq!(results.total, expected);
    // By arXiv day, the most upvoted first within a day.
    let keys: Vec<_> = results
        .hits
        .iter()
        .map(|h| {
            let p = paper(&papers, h.id.as_str());
            (p.published_at.unwrap().date_naive(), p.upvotes)
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] >= w[1]), "{keys:?}");
    assert!(results.hits.iter().all(|h| h.score == 0.0));
    // Nothing typed at all lists everything.
    assert_eq!(search(&index, "").total, papers.len());
}

#[test]
fn sort_by_votes_puts_the_most_upvoted_first() {
    let (index, papers) = fixture_index();
    let results = search(&index, "model sort:votes");
    let votes: Vec<i64> = results
        .hits
        .iter()
        .map(|h| paper(&papers, h.id.as_str()).upvotes)
        .collect();
    assert!(votes.len() > 5);
    assert!(votes.windows(2).all(|w| w[0] >= w[1]), "{votes:?}");
}

#[test]
fn sort_by_newest_puts_the_latest_arxiv_date_first() {
    let (index, papers) = fixture_index();
    let results = search(&index, "model sort:newest");
    let dates: Vec<_> = results
        .hits
        .iter()
        .map(|h| {
            paper(&papers, h.id.as_str())
                .published_at
                .unwrap()
                .date_naive()
        })
        .collect();
    assert!(dates.len() > 5);
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
}

#[test]
fn sort_by_relevance_ranks_title_matches_and_orders_by_score() {
    let (index, _) = fixture_index();
    let results = search(&index, "reasoning");
    let scores: Vec<f32> = results.hits.iter().map(|h| h.score).collect();
    assert!(scores.len() > 3);
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // The title is boosted: the top hits say "reasoning" in their title.
    assert!(
        results.hits[0]
            .title_html
            .contains("<mark>Reasoning</mark>")
    );
}

#[test]
fn pages_follow_each_other_without_gaps_or_repeats() {
    let (index, _) = fixture_index();
    let all = index
        .search(&KeywordQuery {
            limit: 40,
            ..KeywordQuery::text("language model")
        })
        .unwrap();
    assert!(all.total > 15);
    let mut paged = Vec::new();
    for page in 0..8 {
        let results = index
            .search(&KeywordQuery {
                offset: page * 5,
                limit: 5,
                ..KeywordQuery::text("language model")
            })
            .unwrap();
        assert_eq!(results.total, all.total);
        paged.extend(results.hits.into_iter().map(|h| h.id));
    }
    let expected: Vec<ArxivId> = all.hits.into_iter().map(|h| h.id).collect();
    assert_eq!(paged, expected);
    let beyond = index
        .search(&KeywordQuery {
            offset: 1_000,
            ..KeywordQuery::text("language model")
        })
        .unwrap();
    assert!(beyond.hits.is_empty());
    assert_eq!(beyond.total, expected_total(&index));
    let none = index
        .search(&KeywordQuery {
            limit: 0,
            ..KeywordQuery::text("language model")
        })
        .unwrap();
    assert!(none.hits.is_empty() && none.total > 0);
}

fn expected_total(index: &KeywordIndex) -> usize {
    index
        .search(&KeywordQuery::text("language model"))
        .unwrap()
        .total
}

#[test]
fn the_pinned_paper_is_counted_once_and_pages_stay_consistent() {
    let (index, _) = fixture_index();
    let query = "Algorithmic progress in language models";
    let first = index.search(&KeywordQuery::text(query)).unwrap();
    let second = index
        .search(&KeywordQuery {
            offset: 1,
            limit: 100,
            ..KeywordQuery::text(query)
        })
        .unwrap();
    assert_eq!(first.hits[0].id, id("2403.05812"));
    assert!(second.hits.iter().all(|h| h.id != id("2403.05812")));
    assert_eq!(second.hits.len() + 1, first.total);
}

#[test]
fn titles_and_snippets_mark_matches_and_escape_everything_else() {
    let mut papers = papers();
    let target = &mut papers[0];
    target.title = "<script>alert(1)</script> Attention & \"quotes\"".into();
    target.abstract_text =
        "We bound $x<y$ & show <b>attention</b> heads matter when 'a' > b.".into();
    let target_id = target.id.clone();
    let index = indexed(&papers);
    let results = search(&index, "attention heads");
    let hit = results.hits.iter().find(|h| h.id == target_id).unwrap();
    assert_eq!(
        hit.title_html,
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Attention</mark> &amp; &quot;quotes&quot;"
    );
    assert_eq!(
        hit.snippet_html,
        "We bound $x&lt;y$ &amp; show &lt;b&gt;<mark>attention</mark>&lt;/b&gt; \
         <mark>heads</mark> matter when &#39;a&#39; &gt; b."
    );
    // Searching the markup itself finds the words, never raw markup.
    let results = search(&index, "<script>alert(1)</script>");
    for hit in &results.hits {
        assert!(!hit.title_html.contains("<script>"));
        assert!(!hit.snippet_html.contains("<script>"));
    }
}

#[test]
fn highlights_follow_stemming_and_long_abstracts_are_cut_around_the_match() {
    let (index, papers) = fixture_index();
    let results = search(&index, "generators");
    let hit = results
        .hits
        .iter()
        .find(|h| h.id == id("2403.06738"))
        .unwrap();
    // "generators" in the query marks "Generators" in the title (same stem).
    assert!(
        hit.title_html.contains("<mark>Generators</mark>"),
        "{}",
        hit.title_html
    );
    let abstract_len = paper(&papers, "2403.06738").abstract_text.len();
    assert!(hit.snippet_html.len() < abstract_len);
    assert!(hit.snippet_html.contains("<mark>"), "{}", hit.snippet_html);
    // Without words, the snippet is the abstract's opening.
    let listed = search(&index, "featured:2024-03-12");
    let hit = &listed.hits[0];
    assert!(!hit.snippet_html.contains("<mark>"));
    assert!(hit.snippet_html.ends_with('…'));
}

#[test]
fn upserting_a_paper_again_replaces_it() {
    let papers = papers();
    let mut index = indexed(&papers);
    let mut changed = papers[3].clone();
    changed.title = "Quokka Sightings in Latent Space".into();
    index.upsert(&[changed.clone(), changed.clone()]).unwrap();
    index.commit(2).unwrap();
    assert_eq!(index.len(), papers.len());
    assert_eq!(ids(&search(&index, "quokka")), vec![changed.id.as_str()]);
    let old_title = search(&index, &format!("\"{}\"", papers[3].title));
    assert!(old_title.hits.iter().all(|h| h.id != changed.id));
}

#[test]
fn upserts_are_invisible_until_committed() {
    let papers = papers();
    let mut index = KeywordIndex::in_memory().unwrap();
    index.upsert(&papers).unwrap();
    assert_eq!(index.len(), 0);
    assert_eq!(index.watermark(), 0);
    index.commit(7).unwrap();
    assert_eq!(index.len(), papers.len());
    assert_eq!(index.watermark(), 7);
}

#[test]
fn the_watermark_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyword");
    let papers = papers();
    {
        let (mut index, outcome) = KeywordIndex::open_or_create(&path).unwrap();
        assert_eq!(outcome, OpenOutcome::Fresh);
        assert_eq!(index.watermark(), 0);
        index.upsert(&papers).unwrap();
        index.commit(41).unwrap();
        index.commit(42).unwrap();
    }
    let (index, outcome) = KeywordIndex::open_or_create(&path).unwrap();
    assert_eq!(outcome, OpenOutcome::Reused);
    assert_eq!(index.watermark(), 42);
    assert_eq!(index.len(), papers.len());
    assert_eq!(ids(&search(&index, "2403.06634")), vec!["2403.06634"]);
}

#[test]
fn compacting_leaves_one_segment_and_every_paper() {
    let dir = tempfile::tempdir().unwrap();
    let papers = papers();
    let (mut index, _) = KeywordIndex::open_or_create(dir.path()).unwrap();
    for (watermark, batch) in (1..).zip(papers.chunks(10)) {
        index.upsert(batch).unwrap();
        index.commit(watermark).unwrap();
    }
    assert!(index.segments() > 1);
    let before = search(&index, "language model");
    index.compact().unwrap();
    assert_eq!(index.segments(), 1);
    assert_eq!(index.len(), papers.len());
    // The same answer (scores may differ in the last bit: sums run in another order).
    let after = search(&index, "language model");
    assert_eq!(after.total, before.total);
    assert_eq!(ids(&after), ids(&before));
    // Writing goes on after compacting.
    index.upsert(&papers[..1]).unwrap();
    index.commit(99).unwrap();
    assert_eq!(index.len(), papers.len());
    assert_eq!(index.watermark(), 99);
}

#[test]
fn a_corrupt_index_is_rebuilt_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyword");
    {
        let (mut index, _) = KeywordIndex::open_or_create(&path).unwrap();
        index.upsert(&papers()).unwrap();
        index.commit(9).unwrap();
    }
    std::fs::write(path.join("meta.json"), b"{ this is not json \x00\xff").unwrap();
    let (mut index, outcome) = KeywordIndex::open_or_create(&path).unwrap();
    let OpenOutcome::Rebuilt { reason } = outcome else {
        panic!("expected a rebuild, got {outcome:?}");
    };
    assert!(reason.contains("could not be read"), "{reason}");
    assert_eq!(index.len(), 0);
    assert_eq!(index.watermark(), 0);
    index.upsert(&papers()).unwrap();
    index.commit(1).unwrap();
    assert!(!index.is_empty());
}

#[test]
fn a_damaged_segment_file_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyword");
    {
        let (mut index, _) = KeywordIndex::open_or_create(&path).unwrap();
        index.upsert(&papers()).unwrap();
        index.commit(9).unwrap();
    }
    let segment_file = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .expect("a postings file");
    let mut bytes = std::fs::read(&segment_file).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0xA5;
    }
    std::fs::write(&segment_file, bytes).unwrap();
    let (index, outcome) = KeywordIndex::open_or_create(&path).unwrap();
    assert!(
        matches!(outcome, OpenOutcome::Rebuilt { .. }),
        "{outcome:?}"
    );
    assert!(index.is_empty());
}

#[test]
fn a_folder_of_strangers_files_is_rebuilt_and_a_deleted_one_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyword");
    std::fs::create_dir_all(path.join("sub")).unwrap();
    std::fs::write(path.join("junk.bin"), b"junk").unwrap();
    let (_, outcome) = KeywordIndex::open_or_create(&path).unwrap();
    assert!(
        matches!(outcome, OpenOutcome::Rebuilt { .. }),
        "{outcome:?}"
    );
    assert!(!path.join("junk.bin").exists());
    std::fs::remove_dir_all(&path).unwrap();
    let (_, outcome) = KeywordIndex::open_or_create(&path).unwrap();
    assert_eq!(outcome, OpenOutcome::Fresh);
}

#[test]
fn a_second_writer_on_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyword");
    let (mut first, _) = KeywordIndex::open_or_create(&path).unwrap();
    first.upsert(&papers()[..1]).unwrap();
    let (mut second, outcome) = KeywordIndex::open_or_create(&path).unwrap();
    assert_eq!(outcome, OpenOutcome::Reused);
    let err = second.upsert(&papers()[..1]).unwrap_err();
    assert!(matches!(err, SearchError::Locked), "{err:?}");
    // Reading is never blocked.
    assert!(second.search(&KeywordQuery::text("model")).is_ok());
}

#[test]
fn searching_an_empty_index_finds_nothing() {
    let index = KeywordIndex::in_memory().unwrap();
    assert!(index.is_empty());
    for input in [
        "",
        "transformer",
        "\"vision transformer\"",
        "2403.06634",
        "sort:votes",
    ] {
        let results = search(&index, input);
        assert_eq!(results.total, 0, "{input}");
        assert!(results.hits.is_empty());
    }
}

#[test]
fn text_of_stop_words_and_symbols_only_matches_nothing() {
    let (index, _) = fixture_index();
    assert_eq!(search(&index, "the of and").total, 0);
    assert_eq!(search(&index, "+-&&||!(){}[]^~*?:\\/").total, 0);
}

/// A small deterministic generator (xorshift), so a failure is reproducible.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn no_input_makes_parsing_or_searching_panic() {
    let (index, _) = fixture_index();
    let alphabet: Vec<char> = "+-&&||!(){}[]^~*?:\\/\"\u{201C}\u{201D}.. aZ09é中\u{0}\t\n$<>'"
        .chars()
        .collect();
    let fragments = [
        "author:",
        "author:\"",
        "category:",
        "category:*",
        "category:.*",
        "published:",
        "published:..",
        "published:2024-02-30",
        "published:99999",
        "featured:-1",
        "featured:2024-1-1..",
        "sort:",
        "sort:votes",
        "2403.06634",
        "arXiv:",
        "\"\"",
        "AND",
        "OR",
        "NOT",
        "title:x",
        "*",
        "~2",
        "^3",
    ];
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut inputs: Vec<String> = vec![
        String::new(),
        "\"".into(),
        "\"\"\"".into(),
        "+-&&||!(){}[]^~*?:\\/".into(),
        "x".repeat(100_000),
        "word ".repeat(20_000),
        "\"a b\" ".repeat(5_000),
        "a".repeat(70_000) + " model",
        "published:0001-01-01..9999-12-31".into(),
        "featured:..0001-01".into(),
    ];
    for _ in 0..400 {
        let mut input = String::new();
        for _ in 0..noise.below(12) {
            if noise.below(3) == 0 {
                input.push_str(fragments[noise.below(fragments.len())]);
            } else {
                for _ in 0..noise.below(6) {
                    input.push(alphabet[noise.below(alphabet.len())]);
                }
            }
            if noise.below(2) == 0 {
                input.push(' ');
            }
        }
        inputs.push(input);
    }
    for input in &inputs {
        if let Ok(query) = KeywordQuery::parse(input) {
            index.search(&query).unwrap();
        }
        // Unchecked text, as a caller building the query by hand could pass it.
        let raw = KeywordQuery {
            text: input.clone(),
            author: Some(input.clone()),
            category: Some(input.clone()),
            offset: noise.below(50),
            limit: noise.below(200),
            ..KeywordQuery::default()
        };
        index.search(&raw).unwrap();
    }
    let extreme = KeywordQuery {
        published: Some((NaiveDate::MAX, NaiveDate::MIN)),
        featured: Some((NaiveDate::MIN, NaiveDate::MAX)),
        offset: usize::MAX,
        limit: usize::MAX,
        ..KeywordQuery::text("model")
    };
    assert_eq!(index.search(&extreme).unwrap().total, 0);
}

#[test]
fn query_errors_say_what_was_wrong() {
    let err = KeywordQuery::parse("diffusion \"video").unwrap_err();
    assert!(err.to_string().contains("never closed"), "{err}");
    let err = KeywordQuery::parse("published:last-week").unwrap_err();
    assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn a_fresh_index_on_disk_has_watermark_zero_and_lists_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (index, outcome) = KeywordIndex::open_or_create(Path::new(dir.path())).unwrap();
    assert_eq!(outcome, OpenOutcome::Fresh);
    assert_eq!(index.watermark(), 0);
    assert_eq!(search(&index, "").total, 0);
}

/// Found by `scripts/fuzz` (target `search_query`, minimised): an exact id pinned first while
/// the rest of the query (a quoted one-letter phrase) matches nothing. Scoring the pinned paper
/// asked tantivy to explain a match against an empty scorer, whose debug assertion panicked.
#[test]
fn an_exact_id_beside_a_phrase_that_matches_nothing_is_still_pinned() {
    let (index, _) = fixture_index();
    for input in ["2403.06634\"u\"", "2403.06634 \"u\"", "\"u\" 2403.06634"] {
        let results = search(&index, input);
        assert_eq!(ids(&results).first(), Some(&"2403.06634"), "{input}");
    }
}

/// A fixture paper made over with the given text (no AI summary or keywords), as another id.
fn made_up(template: &Paper, id_text: &str, title: &str, abstract_text: &str) -> Paper {
    let mut paper = template.clone();
    paper.id = id(id_text);
    paper.title = title.to_owned();
    paper.abstract_text = abstract_text.to_owned();
    paper.ai_summary = None;
    paper.ai_keywords = Vec::new();
    paper
}

#[test]
fn a_paper_covering_more_typed_words_outranks_one_repeating_a_few() {
    let mut papers = papers();
    let template = papers[0].clone();
    papers.push(made_up(
        &template,
        "2601.00001",
        "Adaptive drafting for faster generation",
        "We keep an n-gram cache and train a hybrid drafter by distillation, so the large \
         model accepts more of its tokens.",
    ));
    papers.push(made_up(
        &template,
        "2601.00002",
        "Speculative decoding cache",
        "Speculative decoding with a cache: speculative decoding, a decoding cache, and \
         speculative decoding again.",
    ));
    let index = indexed(&papers);
    let results = search(
        &index,
        "speculative decoding n-gram cache hybrid distillation",
    );
    let found = ids(&results);
    assert_eq!(found.first(), Some(&"2601.00001"), "{found:?}");
    let repeating = found.iter().position(|i| *i == "2601.00002").unwrap();
    assert!(repeating > 0);
    let scores: Vec<f32> = results.hits.iter().map(|h| h.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn typed_words_found_side_by_side_outrank_the_same_words_apart() {
    let mut papers = papers();
    let template = papers[0].clone();
    papers.push(made_up(
        &template,
        "2601.00003",
        "Routing tokens in sparse networks",
        "Experts disagree on routing; a mixture of signals picks the sparse path, and we \
         study load balance.",
    ));
    papers.push(made_up(
        &template,
        "2601.00004",
        "Routing tokens in sparse networks",
        "A mixture of experts picks the sparse path by routing each token; we study load \
         balance.",
    ));
    let index = indexed(&papers);
    let found = search(&index, "mixture of experts routing");
    assert_eq!(
        ids(&found).first(),
        Some(&"2601.00004"),
        "{:?}",
        ids(&found)
    );
    let apart = ids(&found).iter().position(|i| *i == "2601.00003").unwrap();
    assert!(apart > 0);
}
