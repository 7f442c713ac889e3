//! The recommender on real papers: the Hugging Face fixture days of `paperfeed-ingest`, with
//! the sentence vectors our encoder computed for them (`tests/fixtures/recommend_vectors.json`,
//! written by `examples/recommend_fixture.rs`, which also adds a few near-duplicates: a paper's
//! title with two thirds of its abstract). Expected orders are derived from the vectors, never
//! written down.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use paperfeed_core::{ArxivId, Paper, merge};
use paperfeed_ingest::parse_hf_daily;
use paperfeed_search::dot;
use paperfeed_search::recommend::{
    Background, Candidate, Example, PaperText, Pick, RankSettings, ReaderModel, SignalKind, Source,
    SparseVector, TermStats, author_term, recommend, term_counts,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

struct Corpus {
    ids: Vec<ArxivId>,
    vectors: Vec<Vec<f32>>,
    terms: Vec<SparseVector>,
    dates: Vec<NaiveDate>,
    popularity: Vec<f64>,
    authors: Vec<Vec<String>>,
    /// Index of the paper each near-duplicate shortens.
    duplicate_of: BTreeMap<usize, usize>,
    background: Background,
}

fn papers() -> BTreeMap<ArxivId, Paper> {
    let mut merged: BTreeMap<ArxivId, Paper> = BTreeMap::new();
    let dir = Path::new(ROOT).join("../paperfeed-ingest/tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files {
        let day: NaiveDate = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let parsed = parse_hf_daily(&std::fs::read(&path).unwrap(), Some(day));
        for record in parsed.records {
            let record = record.unwrap();
            let paper = merge(merged.get(&record.id), record);
            merged.insert(paper.id.clone(), paper);
        }
    }
    merged
}

#[derive(serde::Deserialize)]
struct Stored {
    id: String,
    near_duplicate_of: Option<String>,
    vector: Vec<f32>,
}

fn corpus() -> Corpus {
    let papers = papers();
    let stored: Vec<Stored> = serde_json::from_slice(
        &std::fs::read(Path::new(ROOT).join("tests/fixtures/recommend_vectors.json")).unwrap(),
    )
    .unwrap();
    let mut stats = TermStats::new();
    for paper in papers.values() {
        stats.add(&term_counts(&text_of(paper, &paper.abstract_text)));
    }
    let mut corpus = Corpus {
        ids: Vec::new(),
        vectors: Vec::new(),
        terms: Vec::new(),
        dates: Vec::new(),
        popularity: Vec::new(),
        authors: Vec::new(),
        duplicate_of: BTreeMap::new(),
        background: Background::default(),
    };
    let mut duplicates = 0;
    for row in stored {
        let (paper, id, abstract_text) = match &row.near_duplicate_of {
            None => {
                let id = ArxivId::parse(&row.id).unwrap();
                let paper = &papers[&id];
                (paper, id, paper.abstract_text.clone())
            }
            Some(of) => {
                let paper = &papers[&ArxivId::parse(of).unwrap()];
                let original = corpus.ids.iter().position(|i| i == &paper.id).unwrap();
                duplicates += 1;
                // A valid id no real paper has: arXiv's ids start in 2007.
                let id = ArxivId::parse(&format!("0101.{duplicates:05}")).unwrap();
                corpus.duplicate_of.insert(corpus.ids.len(), original);
                let words: Vec<&str> = paper.abstract_text.split_whitespace().collect();
                (paper, id, words[..words.len() * 2 / 3].join(" "))
            }
        };
        corpus.ids.push(id);
        corpus
            .terms
            .push(stats.features(&text_of(paper, &abstract_text)));
        corpus.vectors.push(row.vector);
        corpus.dates.push(paper.first_featured().unwrap());
        corpus.popularity.push(paper.upvotes as f64);
        corpus
            .authors
            .push(paper.authors.iter().map(|a| a.name.clone()).collect());
    }
    corpus.background = Background::new(stats, corpus.vectors.iter().map(Vec::as_slice));
    corpus
}

fn text_of<'a>(paper: &'a Paper, abstract_text: &'a str) -> PaperText<'a> {
    // The authors are borrowed from a leaked vector: tests only, a few kilobytes.
    let authors: &'a [String] = Box::leak(
        paper
            .authors
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    PaperText {
        title: &paper.title,
        abstract_text,
        authors,
    }
}

impl Corpus {
    fn example(&self, i: usize, kind: SignalKind) -> Example {
        Example {
            source: Source::Paper(self.ids[i].clone()),
            kind,
            vector: Some(self.vectors[i].clone()),
            terms: self.terms[i].clone(),
        }
    }

    fn candidates(&self) -> Vec<Candidate<'_>> {
        (0..self.ids.len())
            .map(|i| Candidate {
                id: &self.ids[i],
                vector: &self.vectors[i],
                terms: &self.terms[i],
                popularity: self.popularity[i],
                date: Some(self.dates[i]),
            })
            .collect()
    }

    fn index(&self, id: &ArxivId) -> usize {
        self.ids.iter().position(|i| i == id).unwrap()
    }

    fn cosine(&self, a: usize, b: usize) -> f32 {
        dot(&self.vectors[a], &self.vectors[b])
    }

    /// How alike two papers are in both features the model reads.
    fn likeness(&self, a: usize, b: usize) -> f32 {
        self.cosine(a, b) + self.terms[a].dot(&self.terms[b])
    }

    /// The paper least like `i`.
    fn most_unlike(&self, i: usize) -> usize {
        (0..self.ids.len())
            .filter(|&j| j != i && !self.duplicate_of.contains_key(&j))
            .min_by(|&a, &b| self.likeness(i, a).total_cmp(&self.likeness(i, b)))
            .unwrap()
    }

    fn settings(&self) -> RankSettings {
        let mut settings = RankSettings::new(*self.dates.iter().max().unwrap());
        settings.limit = self.ids.len();
        settings.social_weight = 0.0;
        settings
    }
}

fn rank_of(picks: &[Pick], id: &ArxivId) -> Option<usize> {
    picks.iter().position(|p| &p.id == id)
}

fn ids(picks: &[Pick]) -> Vec<ArxivId> {
    picks.iter().map(|p| p.id.clone()).collect()
}

#[test]
fn a_positives_near_duplicate_ranks_first_and_above_an_unrelated_paper() {
    let corpus = corpus();
    let none = HashSet::new();
    for (&duplicate, &original) in &corpus.duplicate_of {
        let model = ReaderModel::from_examples([corpus.example(original, SignalKind::Seed)]);
        let picks = recommend(
            &model,
            &corpus.background,
            &corpus.candidates(),
            &none,
            &corpus.settings(),
        );
        let unrelated = corpus.most_unlike(original);
        assert_eq!(
            rank_of(&picks, &corpus.ids[duplicate]),
            Some(0),
            "the near-duplicate leads"
        );
        let at = rank_of(&picks, &corpus.ids[unrelated]).unwrap();
        assert!(
            at > 10,
            "the paper least like the seed ranks far down, not at {at}"
        );
        assert_eq!(
            rank_of(&picks, &corpus.ids[original]),
            None,
            "the seed itself is not offered"
        );
    }
}

#[test]
fn not_interested_pushes_a_dismissed_papers_neighbours_down() {
    let corpus = corpus();
    let none = HashSet::new();
    let (&duplicate, &original) = corpus.duplicate_of.iter().next().unwrap();
    // A reader whose positives are the papers nearest the original, not the original itself:
    // its near-duplicate ranks high among their picks.
    let mut by_closeness: Vec<usize> = (0..corpus.ids.len())
        .filter(|&j| j != original && !corpus.duplicate_of.contains_key(&j))
        .collect();
    by_closeness.sort_by(|&a, &b| {
        corpus
            .likeness(original, b)
            .total_cmp(&corpus.likeness(original, a))
    });
    let mut model = ReaderModel::from_examples(
        by_closeness[..3]
            .iter()
            .map(|&i| corpus.example(i, SignalKind::Saved)),
    );
    let before = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &none,
        &corpus.settings(),
    );
    // The original and its near-duplicate: whichever comes first (diversity keeps the other
    // until the shortlist is through).
    let rank_before = rank_of(&before, &corpus.ids[duplicate])
        .unwrap()
        .min(rank_of(&before, &corpus.ids[original]).unwrap());
    assert!(
        rank_before < 20,
        "the neighbour starts among the first twenty, at {rank_before}"
    );

    model.add(corpus.example(original, SignalKind::NotInterested));
    let after = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &none,
        &corpus.settings(),
    );
    let rank_after = rank_of(&after, &corpus.ids[duplicate]).unwrap();
    assert!(
        rank_after >= rank_before + 10,
        "the dismissed paper's near-duplicate falls from {rank_before} to {rank_after}"
    );
    assert_eq!(
        rank_of(&after, &corpus.ids[original]),
        None,
        "the dismissed paper is never offered"
    );
}

#[test]
fn diversity_keeps_a_near_duplicate_out_of_the_next_slot() {
    let corpus = corpus();
    let none = HashSet::new();
    let (&duplicate, &original) = corpus.duplicate_of.iter().next().unwrap();
    // The same paper listed twice (a second id with the same vector and terms) beside the
    // rest: both are as close to the seed as a paper can be.
    let twin = ArxivId::parse("0101.99999").unwrap();
    let mut candidates = corpus.candidates();
    candidates.push(Candidate {
        id: &twin,
        ..candidates[duplicate]
    });
    let model = ReaderModel::from_examples([corpus.example(original, SignalKind::Seed)]);
    let picks = recommend(
        &model,
        &corpus.background,
        &candidates,
        &none,
        &corpus.settings(),
    );
    let first = &picks[0].id;
    assert!(first == &twin || first == &corpus.ids[duplicate]);
    let other = if first == &twin {
        &corpus.ids[duplicate]
    } else {
        &twin
    };
    let at = rank_of(&picks, other).expect("the twin is still offered, further down");
    assert!(
        at > 1,
        "the twin does not take the second slot (it is at {at})"
    );
    // Without diversity it would have: its score equals the first pick's.
    let scores: Vec<f32> = picks.iter().map(|p| p.score).collect();
    assert!((scores[at] - scores[0]).abs() < 1e-4);
    assert!(scores[1] < scores[at]);
}

#[test]
fn a_near_duplicate_of_a_pick_waits_until_the_rest_of_the_shortlist_is_taken() {
    let corpus = corpus();
    let none = HashSet::new();
    let (&duplicate, &original) = corpus.duplicate_of.iter().next().unwrap();
    // Two copies of the top candidate: one with its vector and terms (the same work under a
    // second id), one with only its terms (a sibling paper whose abstract embeds elsewhere:
    // the vector of the paper least like it).
    let twin = ArxivId::parse("0101.99998").unwrap();
    let sibling = ArxivId::parse("0101.99999").unwrap();
    let mut candidates = corpus.candidates();
    candidates.push(Candidate {
        id: &twin,
        ..candidates[duplicate]
    });
    candidates.push(Candidate {
        id: &sibling,
        vector: &corpus.vectors[corpus.most_unlike(duplicate)],
        ..candidates[duplicate]
    });
    let model = ReaderModel::from_examples([corpus.example(original, SignalKind::Seed)]);
    let mut settings = corpus.settings();
    settings.limit = 10;
    let picks = recommend(&model, &corpus.background, &candidates, &none, &settings);
    assert_eq!(picks.len(), 10);
    let copies: Vec<usize> = [&corpus.ids[duplicate], &twin, &sibling]
        .into_iter()
        .filter_map(|id| rank_of(&picks, id))
        .collect();
    assert_eq!(
        copies.len(),
        1,
        "one of the three copies among ten picks, not {copies:?}"
    );
    assert_eq!(copies[0], 0, "and it leads");
}

#[test]
fn adding_signals_one_by_one_ranks_as_training_on_all_of_them() {
    let corpus = corpus();
    let none = HashSet::new();
    let kinds = [
        SignalKind::Saved,
        SignalKind::Upvoted,
        SignalKind::Opened,
        SignalKind::InCollection,
        SignalKind::NotInterested,
    ];
    let examples: Vec<Example> = (0..25)
        .map(|k| corpus.example(k * 3 % corpus.ids.len(), kinds[k % kinds.len()]))
        .collect();
    let mut incremental = ReaderModel::new();
    for example in &examples {
        incremental.add(example.clone());
    }
    // Three taken back, one of them added again.
    for example in &examples[..3] {
        assert!(incremental.remove(&example.source, example.kind));
    }
    incremental.add(examples[1].clone());
    let kept: Vec<Example> = examples[1..]
        .iter()
        .filter(|e| e != &&examples[2])
        .cloned()
        .collect();
    let retrained = ReaderModel::from_examples(kept);
    let settings = corpus.settings();
    let a = recommend(
        &incremental,
        &corpus.background,
        &corpus.candidates(),
        &none,
        &settings,
    );
    let b = recommend(
        &retrained,
        &corpus.background,
        &corpus.candidates(),
        &none,
        &settings,
    );
    assert_eq!(ids(&a), ids(&b));
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.score - y.score).abs() < 1e-3,
            "{} vs {}",
            x.score,
            y.score
        );
    }
}

#[test]
fn each_pick_names_its_nearest_positive_with_the_signal_and_similarity() {
    let corpus = corpus();
    let none = HashSet::new();
    let positives: Vec<usize> = vec![0, corpus.most_unlike(0), 7];
    let model = ReaderModel::from_examples(positives.iter().enumerate().map(|(k, &i)| {
        corpus.example(
            i,
            [SignalKind::Saved, SignalKind::Upvoted, SignalKind::Seed][k],
        )
    }));
    let picks = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &none,
        &corpus.settings(),
    );
    assert!(!picks.is_empty());
    for pick in &picks {
        let c = corpus.index(&pick.id);
        let expected = *positives
            .iter()
            .max_by(|&&a, &&b| corpus.cosine(c, a).total_cmp(&corpus.cosine(c, b)))
            .unwrap();
        let nearest = &pick.nearest[0];
        assert_eq!(nearest.source, Source::Paper(corpus.ids[expected].clone()));
        let k = positives.iter().position(|&p| p == expected).unwrap();
        assert_eq!(
            nearest.kind,
            [SignalKind::Saved, SignalKind::Upvoted, SignalKind::Seed][k]
        );
        assert!((nearest.similarity - corpus.cosine(c, expected)).abs() < 1e-5);
        assert!(
            pick.nearest
                .windows(2)
                .all(|w| w[0].similarity >= w[1].similarity)
        );
    }
}

#[test]
fn a_followed_author_alone_recommends_their_papers_and_says_so() {
    let corpus = corpus();
    let none = HashSet::new();
    // The author with the most papers among the fixtures.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, authors) in corpus.authors.iter().enumerate() {
        if !corpus.duplicate_of.contains_key(&i) {
            for a in authors {
                *counts.entry(a.as_str()).or_default() += 1;
            }
        }
    }
    let (author, papers) = counts
        .iter()
        .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
        .unwrap();
    assert!(*papers >= 2, "some author has two fixture papers");
    let term = author_term(author).unwrap();
    let model = ReaderModel::from_examples([Example {
        source: Source::Named {
            key: format!("author:{author}"),
            label: (*author).to_owned(),
        },
        kind: SignalKind::Followed,
        vector: None,
        terms: SparseVector::from_weights([(term, 1.0)]),
    }]);
    let picks = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &none,
        &corpus.settings(),
    );
    let theirs: HashSet<usize> = (0..corpus.ids.len())
        .filter(|&i| corpus.authors[i].iter().any(|a| a == author))
        .collect();
    for pick in &picks[..theirs.len()] {
        assert!(
            theirs.contains(&corpus.index(&pick.id)),
            "{} is not by {author}",
            pick.id
        );
        assert!(matches!(&pick.nearest[0].source, Source::Named { label, .. } if label == author));
        assert!(pick.nearest[0].similarity > 0.0);
    }
}

#[test]
fn excluded_old_and_unliked_papers_stay_out_and_popularity_counts_as_much_as_asked() {
    let corpus = corpus();
    let model = ReaderModel::from_examples([corpus.example(0, SignalKind::Seed)]);
    let mut settings = corpus.settings();
    let all = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &HashSet::new(),
        &settings,
    );
    let excluded: HashSet<ArxivId> = ids(&all[..5]).into_iter().collect();
    let rest = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &excluded,
        &settings,
    );
    assert!(rest.iter().all(|p| !excluded.contains(&p.id)));
    assert_eq!(rest.len(), all.len() - 5);

    settings.recency_window_days = Some(30);
    let recent = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &HashSet::new(),
        &settings,
    );
    assert!(!recent.is_empty());
    for pick in &recent {
        let age = (settings.today - corpus.dates[corpus.index(&pick.id)]).num_days();
        assert!(age <= 30, "{} is {age} days old", pick.id);
        assert!(pick.recency.value > 0.0 && pick.recency.value <= 1.0);
    }

    // With the social weight at its highest, the top picks are more popular on average.
    let mut social = corpus.settings();
    social.limit = 10;
    let quiet = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &HashSet::new(),
        &social,
    );
    social.social_weight = 1.0;
    let loud = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &HashSet::new(),
        &social,
    );
    let mean = |picks: &[Pick]| {
        picks
            .iter()
            .map(|p| corpus.popularity[corpus.index(&p.id)])
            .sum::<f64>()
            / picks.len() as f64
    };
    assert!(
        mean(&loud) > mean(&quiet),
        "{} vs {}",
        mean(&loud),
        mean(&quiet)
    );
    assert!(loud.iter().all(|p| p.social.weight == 1.0));
}

#[test]
fn exploration_changes_picks_deterministically() {
    let corpus = corpus();
    let model = ReaderModel::from_examples([
        corpus.example(0, SignalKind::Seed),
        corpus.example(9, SignalKind::Saved),
    ]);
    let mut settings = corpus.settings();
    settings.limit = 10;
    let calm = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &HashSet::new(),
        &settings,
    );
    settings.exploration = 1.0;
    settings.seed = 7;
    let bold = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &HashSet::new(),
        &settings,
    );
    let again = recommend(
        &model,
        &corpus.background,
        &corpus.candidates(),
        &HashSet::new(),
        &settings,
    );
    assert_eq!(ids(&bold), ids(&again), "the same seed gives the same page");
    assert_ne!(ids(&calm), ids(&bold));
    assert!(calm.iter().all(|p| p.exploration == 0.0));
    assert!(bold.iter().any(|p| p.exploration != 0.0));
}

#[test]
fn no_positive_means_no_picks() {
    let corpus = corpus();
    let settings = corpus.settings();
    let empty = ReaderModel::new();
    assert!(
        recommend(
            &empty,
            &corpus.background,
            &corpus.candidates(),
            &HashSet::new(),
            &settings
        )
        .is_empty()
    );
    let only_negative = ReaderModel::from_examples([corpus.example(3, SignalKind::NotInterested)]);
    assert!(
        recommend(
            &only_negative,
            &corpus.background,
            &corpus.candidates(),
            &HashSet::new(),
            &settings
        )
        .is_empty()
    );
}

#[test]
fn a_model_survives_a_round_trip_through_json() {
    let corpus = corpus();
    let model = ReaderModel::from_examples([
        corpus.example(0, SignalKind::Seed),
        corpus.example(5, SignalKind::NotInterested),
    ]);
    let back: ReaderModel = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(back, model);
}
