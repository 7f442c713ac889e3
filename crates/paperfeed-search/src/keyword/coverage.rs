//! Re-ranking the best keyword matches by how much of the query each one covers.
//!
//! BM25 sums what each word contributes, so a paper that repeats two of five words can outrank
//! one that holds all five. What readers type is a few topic phrases ("n-gram cache hybrid
//! distillation adaptive drafting"), and the paper they mean holds nearly every word of them,
//! mostly as the very phrases typed. So the first [`DEPTH`] papers of the BM25 ranking are
//! scored again:
//!
//! `(bm25 + pairs) × (words covered / words typed)²`
//!
//! where a word is covered when the paper's title or abstract holds it (its stems), or its
//! authors hold it as a name, and `pairs` is the BM25 of each adjacent pair of typed words
//! found side by side in the title or abstract (a phrase nobody quoted). Measured with
//! `scripts/eval-search` (README, "Search, evaluated"): the first stage stays a flat union of
//! term queries that tantivy prunes by block (WAND), and this second stage reads only the
//! candidates' entries of the typed words' posting lists.
//!
//! Papers below the re-ranked ones keep their order; their scores are capped at the lowest
//! re-ranked score, so scores still fall down the list (fusion reads them).

use std::collections::BTreeSet;

use tantivy::postings::{Postings as _, SegmentPostings};
use tantivy::query::Bm25Weight;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, DocSet as _, InvertedIndexReader, Searcher, Term};

use super::{KeywordIndex, SearchError};

/// How many of the best BM25 matches are re-ranked: the target of a three-phrase query is in
/// the first 100 nineteen times in twenty, and reading 100 candidates' postings costs well
/// under a millisecond.
pub(super) const DEPTH: usize = 100;
/// The exponent of the covered share: 2 was best of 1, 2 and 3 on the evaluation's keyword
/// queries (1 under-weights a missing word, 3 lets coverage overrule everything else).
const COVERAGE_POWER: i32 = 2;
/// Words and pairs looked at in one query; a pasted abstract still costs a bounded amount.
const MAX_WORDS: usize = 32;
const MAX_PAIRS: usize = 24;
/// The largest gap, in positions, of a pair (stop words between the two words count: "mixture
/// of experts" is the pair `mixtur`, `expert` two apart).
const MAX_PAIR_GAP: usize = 3;

/// What a query's free words are re-ranked by; built once per search.
pub(super) struct Coverage {
    /// Each distinct typed word: its stems in the prose fields, its tokens as a name.
    words: Vec<Word>,
    pairs: Vec<Pair>,
}

struct Word {
    prose: Vec<String>,
    names: Vec<String>,
}

/// Two typed words that follow each other (`gap` positions apart), in one prose field.
struct Pair {
    field: Field,
    first: Term,
    second: Term,
    gap: u32,
    weight: Bm25Weight,
}

impl KeywordIndex {
    /// The coverage of `words` (the query's free words, joined by spaces), or `None` when
    /// there are fewer than two words to cover: nothing to re-rank by.
    pub(super) fn coverage(&self, searcher: &Searcher, words: &str) -> Option<Coverage> {
        let f = &self.fields;
        let mut seen = BTreeSet::new();
        let mut typed = Vec::new();
        for raw in words.split_whitespace() {
            if typed.len() >= MAX_WORDS {
                break;
            }
            let mut prose: Vec<String> = self
                .analyze(f.title, raw)
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            let mut names: Vec<String> = self
                .analyze(f.authors, raw)
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            prose.dedup();
            names.dedup();
            // A stop word ("of", "the") is not a word to cover: its prose analysis is empty.
            if prose.is_empty() || !seen.insert((prose.clone(), names.clone())) {
                continue;
            }
            typed.push(Word { prose, names });
        }
        if typed.len() < 2 {
            return None;
        }
        let mut pairs = Vec::new();
        for field in [f.title, f.abstract_text] {
            let tokens = self.analyze(field, words);
            let mut seen = BTreeSet::new();
            for pair in tokens.windows(2) {
                if seen.len() >= MAX_PAIRS {
                    break;
                }
                let ((p0, a), (p1, b)) = (&pair[0], &pair[1]);
                let gap = p1.saturating_sub(*p0);
                if a == b || gap == 0 || gap > MAX_PAIR_GAP || !seen.insert((a, b, gap)) {
                    continue;
                }
                let first = Term::from_field_text(field, a);
                let second = Term::from_field_text(field, b);
                let Ok(weight) = Bm25Weight::for_terms(searcher, &[first.clone(), second.clone()])
                else {
                    continue;
                };
                pairs.push(Pair {
                    field,
                    first,
                    second,
                    gap: gap as u32,
                    weight,
                });
            }
        }
        Some(Coverage {
            words: typed,
            pairs,
        })
    }
}

impl Coverage {
    /// Re-ranks the first [`DEPTH`] of `ranked` (best first) in place; see the module's
    /// documentation.
    pub(super) fn rerank(
        &self,
        index: &KeywordIndex,
        searcher: &Searcher,
        ranked: &mut [(f32, DocAddress)],
    ) -> Result<(), SearchError> {
        let depth = ranked.len().min(DEPTH);
        if depth == 0 {
            return Ok(());
        }
        let (head, tail) = ranked.split_at_mut(depth);
        // Postings are read forwards: candidates by segment, in doc id order.
        let mut order: Vec<usize> = (0..head.len()).collect();
        order.sort_by_key(|&i| (head[i].1.segment_ord, head[i].1.doc_id));
        let mut covered = vec![0u32; head.len()];
        let mut pair_scores = vec![0f32; head.len()];
        let f = &index.fields;
        for segment in order.chunk_by(|&a, &b| head[a].1.segment_ord == head[b].1.segment_ord) {
            let reader = searcher.segment_reader(head[segment[0]].1.segment_ord);
            let docs: Vec<DocId> = segment.iter().map(|&i| head[i].1.doc_id).collect();
            let inverted = |field: Field| reader.inverted_index(field).map_err(failed);
            let title = inverted(f.title)?;
            let abstract_text = inverted(f.abstract_text)?;
            let authors = inverted(f.authors)?;
            // Which of the segment's candidates hold `token` in `field`.
            let holds = |inverted: &InvertedIndexReader, field: Field, token: &str| {
                let term = Term::from_field_text(field, token);
                let postings = inverted
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(failed)?;
                Ok::<_, SearchError>(match postings {
                    Some(mut postings) => docs.iter().map(|&d| at(&mut postings, d)).collect(),
                    None => vec![false; docs.len()],
                })
            };
            for word in &self.words {
                let mut in_prose = vec![true; docs.len()];
                for token in &word.prose {
                    let in_title = holds(&title, f.title, token)?;
                    let in_abstract = holds(&abstract_text, f.abstract_text, token)?;
                    for (k, held) in in_prose.iter_mut().enumerate() {
                        *held &= in_title[k] || in_abstract[k];
                    }
                }
                let mut as_name = vec![!word.names.is_empty(); docs.len()];
                for token in &word.names {
                    let found = holds(&authors, f.authors, token)?;
                    for (k, held) in as_name.iter_mut().enumerate() {
                        *held &= found[k];
                    }
                }
                for (k, &i) in segment.iter().enumerate() {
                    if in_prose[k] || as_name[k] {
                        covered[i] += 1;
                    }
                }
            }
            for pair in &self.pairs {
                let inverted = if pair.field == f.title {
                    &title
                } else {
                    &abstract_text
                };
                let read = |term: &Term| {
                    inverted
                        .read_postings(term, IndexRecordOption::WithFreqsAndPositions)
                        .map_err(failed)
                };
                let (Some(mut first), Some(mut second)) = (read(&pair.first)?, read(&pair.second)?)
                else {
                    continue;
                };
                let norms = reader.get_fieldnorms_reader(pair.field).map_err(failed)?;
                let (mut at_first, mut at_second) = (Vec::new(), Vec::new());
                for (k, &doc) in docs.iter().enumerate() {
                    if !at(&mut first, doc) || !at(&mut second, doc) {
                        continue;
                    }
                    first.positions(&mut at_first);
                    second.positions(&mut at_second);
                    let together = side_by_side(&at_first, &at_second, pair.gap);
                    if together > 0 {
                        pair_scores[segment[k]] +=
                            pair.weight.score(norms.fieldnorm_id(doc), together);
                    }
                }
            }
        }
        let typed = self.words.len() as f32;
        for (i, hit) in head.iter_mut().enumerate() {
            let share = covered[i] as f32 / typed;
            hit.0 = (hit.0 + pair_scores[i]) * share.powi(COVERAGE_POWER);
        }
        // Stable: equal scores keep BM25's order.
        head.sort_by(|a, b| b.0.total_cmp(&a.0));
        let floor = head.iter().map(|h| h.0).fold(f32::INFINITY, f32::min);
        for hit in tail {
            hit.0 = hit.0.min(floor);
        }
        Ok(())
    }
}

/// Whether `postings` holds `doc`, moving it forwards (callers ask in doc id order).
fn at(postings: &mut SegmentPostings, doc: DocId) -> bool {
    postings.doc() <= doc && postings.seek(doc) == doc
}

/// A failed read of the index while re-ranking, as the search's error.
fn failed(error: impl Into<tantivy::TantivyError>) -> SearchError {
    SearchError::index("re-ranked")(error.into())
}

/// How many times a position in `first` is followed `gap` later by one in `second` (both
/// sorted ascending).
fn side_by_side(first: &[u32], second: &[u32], gap: u32) -> u32 {
    let mut count = 0;
    let mut j = 0;
    for &p in first {
        let want = p + gap;
        while j < second.len() && second[j] < want {
            j += 1;
        }
        if j == second.len() {
            break;
        }
        if second[j] == want {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::side_by_side;

    #[test]
    fn pairs_are_counted_at_their_gap_only() {
        assert_eq!(side_by_side(&[1, 5, 9], &[2, 6, 11], 1), 2);
        assert_eq!(side_by_side(&[1, 5, 9], &[2, 6, 11], 2), 1);
        assert_eq!(side_by_side(&[], &[2], 1), 0);
        assert_eq!(side_by_side(&[7], &[3, 4], 1), 0);
    }
}
