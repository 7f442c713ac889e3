#![allow(clippy::unwrap_used)]

use paperfeed_core::{ArxivId, Author, NewPaper, Paper, merge};

use super::*;

fn paper(n: usize, title: &str, abstract_text: &str, author: &str) -> Paper {
    let id = ArxivId::parse(&format!("2601.{:05}", n + 1)).unwrap();
    merge(
        None,
        NewPaper::new(
            id,
            title.to_owned(),
            abstract_text.to_owned(),
            vec![Author::named(author)],
        ),
    )
}

/// A small hub: many papers on transformers and attention, a few on diffusion and learning,
/// three by Geoffrey Hinton, and one abstract with a typo in it ("tranformer").
fn index() -> KeywordIndex {
    let mut papers = Vec::new();
    for i in 0..120 {
        papers.push(paper(
            i,
            &format!("Transformer attention for task {i}"),
            "We study attention in transformers and their generalization.",
            "Ada Lovelace",
        ));
    }
    papers.push(paper(
        200,
        "Diffusion models for images",
        "Learning to denoise with diffusion; studies of sampling.",
        "Geoffrey Hinton",
    ));
    papers.push(paper(
        201,
        "Diffusion policies",
        "Reinforcement learning with diffusion.",
        "Geoffrey Hinton",
    ));
    papers.push(paper(
        202,
        "Capsules",
        "Routing by agreement; we fix a tranformer baseline.",
        "Geoffrey Hinton",
    ));
    papers.push(paper(203, "Mamba", "Selective state spaces.", "Albert Gu"));
    let mut index = KeywordIndex::in_memory().unwrap();
    index.upsert(&papers).unwrap();
    index.commit(1).unwrap();
    index
}

fn corrected(index: &KeywordIndex, typed: &str) -> Option<String> {
    index.correct(typed).map(|c| c.text)
}

#[test]
fn a_word_one_edit_away_is_corrected_to_the_word_papers_write() {
    let index = index();
    assert_eq!(corrected(&index, "atention").as_deref(), Some("attention"));
    // A transposition is one edit.
    assert_eq!(
        corrected(&index, "transfromer").as_deref(),
        Some("transformer")
    );
    // The word shown is a word, not the stem the index holds (`diffus`).
    assert_eq!(corrected(&index, "difusion").as_deref(), Some("diffusion"));
    // Names are words of the author field, unstemmed.
    assert_eq!(corrected(&index, "hinten").as_deref(), Some("hinton"));
}

#[test]
fn a_long_word_two_edits_away_is_corrected_and_a_short_one_is_not() {
    let index = index();
    assert_eq!(corrected(&index, "atentoin").as_deref(), Some("attention"));
    // A typo that hides the suffix the stemmer strips.
    assert_eq!(corrected(&index, "learnign").as_deref(), Some("learning"));
    // Five letters allow one edit: `mabma` is one transposition from `mamba`, `mxmbo` two.
    assert_eq!(corrected(&index, "mabma").as_deref(), Some("mamba"));
    assert_eq!(corrected(&index, "mxmbo"), None);
}

#[test]
fn known_words_stop_words_and_short_words_are_left_alone() {
    let index = index();
    for typed in [
        "attention",
        "Transformers",
        "diffusion",
        "hinton",
        "the",
        "gan",
        "mamba",
    ] {
        assert_eq!(corrected(&index, typed), None, "{typed}");
    }
    // Only the misspelt word changes; the others keep their spelling and case.
    let fix = index.correct("Diffusion  atention models").unwrap();
    assert_eq!(fix.text, "Diffusion  attention models");
    assert_eq!(
        fix.parts,
        vec![
            CorrectionPart {
                text: "Diffusion  ".into(),
                corrected: false
            },
            CorrectionPart {
                text: "attention".into(),
                corrected: true
            },
            CorrectionPart {
                text: " models".into(),
                corrected: false
            },
        ]
    );
}

#[test]
fn a_word_in_a_paper_or_two_is_corrected_when_its_neighbour_is_far_commoner() {
    let index = index();
    // "tranformer" is in one abstract; "transformer" in 120 papers.
    assert_eq!(
        corrected(&index, "tranformer").as_deref(),
        Some("transformer")
    );
}

#[test]
fn ids_phrases_filters_and_words_with_digits_are_never_corrected() {
    let index = index();
    for typed in [
        "2601.00001",
        "arXiv:2601.00001",
        "\"atention\"",
        "author:hinten",
        "author:\"Geofrey Hinten\"",
        "category:cs.CL",
        "gpt4 atentoin2",
        "https://example.org/atention",
    ] {
        assert_eq!(corrected(&index, typed), None, "{typed}");
    }
    // Around them, a misspelt free word still is.
    assert_eq!(
        corrected(&index, "\"atention\" author:hinten difusion 2601.00001").as_deref(),
        Some("\"atention\" author:hinten diffusion 2601.00001")
    );
}

#[test]
fn case_follows_the_typed_word_and_punctuation_stays() {
    let index = index();
    assert_eq!(
        corrected(&index, "Atention,").as_deref(),
        Some("Attention,")
    );
    assert_eq!(corrected(&index, "ATENTION").as_deref(), Some("ATTENTION"));
    assert_eq!(
        corrected(&index, "self-atention").as_deref(),
        Some("self-attention")
    );
}

#[test]
fn a_pasted_sentence_is_not_spell_checked() {
    let index = index();
    let long = "we propose a new atention method for the study of many things in the world";
    assert!(long.split_whitespace().count() > MAX_WORDS);
    assert_eq!(corrected(&index, long), None);
}

#[test]
fn edit_distance_counts_a_transposition_as_one() {
    assert_eq!(edit_distance("model", "model"), 0);
    assert_eq!(edit_distance("modle", "model"), 1);
    assert_eq!(edit_distance("atention", "attention"), 1);
    assert_eq!(edit_distance("learnign", "learning"), 1);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("zoë", "zoe"), 1);
}
