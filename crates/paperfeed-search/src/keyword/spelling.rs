//! "Did you mean": misspelt words of a typed query corrected against the index's own
//! vocabulary — the terms of the title, abstract and author fields, weighted by how many papers
//! hold them — never against a fixed dictionary, so the hub's jargon and names are words.
//!
//! Which words are looked at: the free words of the query as typed, made of letters only (a
//! hyphenated word's parts each), at least [`MIN_WORD_CHARS`] long. Quoted phrases, filters
//! (`author:`, `category:` …), arXiv ids and anything with a digit are left as typed. A word
//! the index knows is left alone; one it does not know is corrected to the term at the fewest
//! edits (one, or two for words of [`TWO_EDITS_FROM_CHARS`] letters and more; a transposition
//! is one edit), the one in most papers among equals. A word the index holds in only a paper
//! or two (a typo in an abstract) counts as unknown when a word one edit away is in
//! [`RARE_RATIO`] times as many papers.
//!
//! Bounded work: each corrected word runs a Levenshtein automaton over the term dictionary of
//! three fields (tantivy's FST intersection, no scan of the vocabulary); at most
//! [`MAX_CORRECTED_WORDS`] words per query, and a query of more than [`MAX_WORDS`] words (a
//! pasted sentence) is not corrected at all.

use std::collections::HashMap;
use std::ops::Range;

use paperfeed_core::ArxivId;
use serde::Serialize;
use tantivy::query::FuzzyTermQuery;
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, DocSet, Searcher, TERMINATED, TantivyDocument, Term};

use super::KeywordIndex;
use super::query::free_word_spans;

/// Shorter words are never corrected: short words the index lacks are mostly acronyms.
pub const MIN_WORD_CHARS: usize = 4;
/// Words this long and longer may be two edits from their correction; shorter ones one.
pub const TWO_EDITS_FROM_CHARS: usize = 6;
/// Longer words are not corrected (the index drops tokens this long anyway).
const MAX_WORD_CHARS: usize = 40;
/// A word in at most this many papers is rare: a typo the index happens to hold.
pub const RARE_PAPERS: u64 = 2;
/// A rare word is corrected when a word one edit away is in this many times as many papers.
pub const RARE_RATIO: u64 = 100;
/// A query with more free words than this is a pasted text, not typed: no correction.
pub const MAX_WORDS: usize = 12;
/// Words of one query that run automata, at most.
pub const MAX_CORRECTED_WORDS: usize = 4;
/// Candidate terms read per field and segment, at most (a short word two edits from many).
const MAX_CANDIDATES: usize = 4_096;
/// Candidates whose word is looked up in papers, per corrected word.
const SHORTLIST: usize = 8;
/// Papers read per candidate stem to find the word it stands for.
const SURFACE_PAPERS: usize = 3;
/// Prose stems are also looked for near the typed word cut by up to this many characters.
const PROBE_CUT: usize = 4;

/// A typed query with its misspelt words corrected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Correction {
    /// The query as typed, each corrected word replaced; filters, phrases, ids and the words
    /// left alone are exactly as typed.
    pub text: String,
    /// `text` in order, cut where corrections start and end, so a page can emphasise them.
    pub parts: Vec<CorrectionPart>,
}

/// A piece of a [`Correction`]'s text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CorrectionPart {
    pub text: String,
    /// Whether this piece is a corrected word.
    pub corrected: bool,
}

/// What a word is compared as: prose fields hold stems, the author field whole name parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Vocabulary {
    Prose,
    Names,
}

/// One replacement considered for a word: the word to show.
#[derive(Clone, Debug)]
struct Candidate {
    term: String,
    edits: usize,
    papers: u64,
}

impl KeywordIndex {
    /// The typed query with its misspelt words corrected, or `None` when there is nothing to
    /// correct (every word known, or no word near enough). See the module documentation.
    pub fn correct(&self, typed: &str) -> Option<Correction> {
        let words = correctable_words(typed)?;
        let searcher = self.reader.searcher();
        let mut replacements: Vec<(Range<usize>, String)> = Vec::new();
        let mut runs = 0;
        for range in words {
            if runs >= MAX_CORRECTED_WORDS {
                break;
            }
            let word = typed.get(range.clone())?;
            let Some(fix) = self.correct_word(&searcher, word, &mut runs) else {
                continue;
            };
            replacements.push((range, fix));
        }
        (!replacements.is_empty()).then(|| splice(typed, &replacements))
    }

    /// The correction of one word, or `None` to leave it. `runs` counts words that searched
    /// for candidates.
    fn correct_word(&self, searcher: &Searcher, word: &str, runs: &mut usize) -> Option<String> {
        let chars = word.chars().count();
        if !(MIN_WORD_CHARS..=MAX_WORD_CHARS).contains(&chars) {
            return None;
        }
        let f = &self.fields;
        let folded = only_token(self.analyze(f.authors, word))?;
        // Stop words are never searched, so never corrected.
        let stem = only_token(self.analyze(f.title, word))?;
        let prose = [f.title, f.abstract_text];
        let papers = |field: Field, text: &str| {
            searcher
                .doc_freq(&Term::from_field_text(field, text))
                .unwrap_or(0)
        };
        let known = prose
            .iter()
            .map(|&field| papers(field, &stem))
            .chain([papers(f.authors, &folded)])
            .max()
            .unwrap_or(0);
        let max_edits: usize = match known {
            0 if chars >= TWO_EDITS_FROM_CHARS => 2,
            0 => 1,
            n if n <= RARE_PAPERS => 1,
            _ => return None,
        };
        *runs += 1;
        // Prose fields hold stems, and a typo near a word's end can hide the suffix the
        // stemmer would strip (`learnign` is its own stem): stems are looked for near the
        // typed word's stem and near its last few prefixes, and judged by the word they stand
        // for (below).
        let mut pool: HashMap<(Vocabulary, String), (u64, usize)> = HashMap::new();
        for probe in probes(&folded, &stem) {
            for field in prose {
                for (term, n) in near_terms(searcher, field, &probe, max_edits as u8) {
                    let edits = edit_distance(&probe, &term);
                    let slot = pool
                        .entry((Vocabulary::Prose, term))
                        .or_insert((0, usize::MAX));
                    *slot = (slot.0.max(n), slot.1.min(edits));
                }
            }
        }
        for (term, n) in near_terms(searcher, f.authors, &folded, max_edits as u8) {
            let edits = edit_distance(&folded, &term);
            pool.insert((Vocabulary::Names, term), (n, edits));
        }
        let mut shortlist: Vec<((Vocabulary, String), (u64, usize))> = pool.into_iter().collect();
        shortlist.sort_by(
            |(a_term, (a_papers, a_edits)), (b_term, (b_papers, b_edits))| {
                a_edits
                    .cmp(b_edits)
                    .then(b_papers.cmp(a_papers))
                    .then_with(|| a_term.1.cmp(&b_term.1))
            },
        );
        shortlist.truncate(SHORTLIST);
        let best = shortlist
            .into_iter()
            .filter_map(|((vocabulary, term), (papers, _))| {
                let surface = match vocabulary {
                    Vocabulary::Names => term,
                    Vocabulary::Prose => self.surface_of(searcher, &term, &folded)?,
                };
                let edits = edit_distance(&folded, &surface);
                let enough = edits <= max_edits
                    && match (known, edits) {
                        (_, 0) => false,
                        (0, 1) => papers >= 1,
                        // Two edits reach many words: one paper's word is no evidence.
                        (0, 2) => papers >= 2,
                        (n, 1) => papers >= n.saturating_mul(RARE_RATIO),
                        _ => false,
                    };
                enough.then_some(Candidate {
                    term: surface,
                    edits,
                    papers,
                })
            })
            .min_by(|a, b| {
                a.edits
                    .cmp(&b.edits)
                    .then(b.papers.cmp(&a.papers))
                    .then_with(|| a.term.cmp(&b.term))
            })?;
        Some(with_case_of(word, &best.term))
    }

    /// The word papers write, nearest to `typed`, whose stem is `stem`, among the words of the
    /// first few papers that hold it (stems such as `studi` are no words to show).
    fn surface_of(&self, searcher: &Searcher, stem: &str, typed: &str) -> Option<String> {
        let f = &self.fields;
        let initial = stem.chars().next();
        let mut words: Vec<String> = Vec::new();
        for field in [f.title, f.abstract_text] {
            for address in papers_with(searcher, field, stem, SURFACE_PAPERS) {
                let Ok(doc) = searcher.doc::<TantivyDocument>(address) else {
                    continue;
                };
                let text = doc
                    .get_first(field)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                words.extend(
                    self.analyze(f.authors, &text)
                        .into_iter()
                        .map(|(_, token)| token)
                        .filter(|token| token.chars().next() == initial),
                );
            }
            if !words.is_empty() {
                break;
            }
        }
        words.sort();
        words.dedup();
        words
            .into_iter()
            .filter(|word| only_token(self.analyze(f.title, word)).as_deref() == Some(stem))
            .min_by_key(|word| (edit_distance(typed, word), word.len(), word.clone()))
    }
}

/// What prose stems are looked for near: the typed word's stem, and the word cut by up to
/// [`PROBE_CUT`] characters (never below [`MIN_WORD_CHARS`]).
fn probes(folded: &str, stem: &str) -> Vec<String> {
    let chars: Vec<char> = folded.chars().collect();
    let mut probes = vec![stem.to_owned()];
    let shortest = chars.len().saturating_sub(PROBE_CUT).max(MIN_WORD_CHARS);
    for len in (shortest..=chars.len()).rev() {
        let probe: String = chars.iter().take(len).collect();
        if !probes.contains(&probe) {
            probes.push(probe);
        }
    }
    probes
}

/// The byte ranges of the words of `typed` that may be corrected, or `None` when the query is
/// too long to be typed.
fn correctable_words(typed: &str) -> Option<Vec<Range<usize>>> {
    let mut words = Vec::new();
    let mut free = 0;
    for span in free_word_spans(typed) {
        free += 1;
        let word = typed.get(span.clone())?;
        let core = word.trim_matches(|c: char| !c.is_alphanumeric());
        if core.is_empty() || ArxivId::parse(word).is_ok() {
            continue;
        }
        let lead = word.len()
            - word
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        let parts: Vec<&str> = core.split('-').collect();
        if parts
            .iter()
            .any(|part| part.is_empty() || !part.chars().all(char::is_alphabetic))
        {
            // Digits (`gpt4`, ids), dots (`cs.CL`, URLs), slashes, apostrophes: not a word.
            continue;
        }
        let mut at = span.start + lead;
        for part in parts {
            words.push(at..at + part.len());
            at += part.len() + 1;
        }
    }
    (free <= MAX_WORDS).then_some(words)
}

/// The only token of an analysed word; `None` for none (a stop word) or several.
fn only_token(tokens: Vec<(usize, String)>) -> Option<String> {
    let mut tokens = tokens.into_iter();
    let (_, first) = tokens.next()?;
    tokens.next().is_none().then_some(first)
}

/// The terms of `field` within `edits` of `text`, with how many papers hold each (summed over
/// segments).
fn near_terms(searcher: &Searcher, field: Field, text: &str, edits: u8) -> Vec<(String, u64)> {
    let query = FuzzyTermQuery::new(Term::from_field_text(field, text), edits, true);
    let Ok(automaton) = query.automaton() else {
        return Vec::new();
    };
    let mut found: HashMap<String, u64> = HashMap::new();
    for segment in searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(field) else {
            continue;
        };
        let Ok(mut stream) = inverted.terms().search(&automaton).into_stream() else {
            continue;
        };
        let mut read = 0;
        while read < MAX_CANDIDATES && stream.advance() {
            read += 1;
            if let Ok(term) = std::str::from_utf8(stream.key()) {
                *found.entry(term.to_owned()).or_default() += u64::from(stream.value().doc_freq);
            }
        }
    }
    found.into_iter().collect()
}

/// Up to `max` papers (not deleted) whose `field` holds `term`.
fn papers_with(searcher: &Searcher, field: Field, term: &str, max: usize) -> Vec<DocAddress> {
    let term = Term::from_field_text(field, term);
    let mut found = Vec::new();
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        let Ok(ord) = u32::try_from(ord) else { break };
        let Ok(inverted) = segment.inverted_index(field) else {
            continue;
        };
        let Ok(Some(mut postings)) = inverted.read_postings(&term, IndexRecordOption::Basic) else {
            continue;
        };
        let mut doc = postings.doc();
        while doc != TERMINATED && found.len() < max {
            if !segment.is_deleted(doc) {
                found.push(DocAddress::new(ord, doc));
            }
            doc = postings.advance();
        }
    }
    found
}

/// Edits (insertions, deletions, substitutions, transpositions of neighbours) from `a` to `b`,
/// counted in characters: the optimal string alignment distance, what the automaton matches.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Three rows: two back for transpositions.
    let mut before: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[width - 1]
}

/// `correction` (lower case) cased like `typed`: `Atention` → `Attention`, `LSMT` → `LSTM`.
fn with_case_of(typed: &str, correction: &str) -> String {
    let letters: Vec<char> = typed.chars().filter(|c| c.is_alphabetic()).collect();
    let all_upper = letters.len() > 1 && letters.iter().all(|c| c.is_uppercase());
    if all_upper {
        return correction.to_uppercase();
    }
    if letters.first().is_some_and(|c| c.is_uppercase()) {
        let mut chars = correction.chars();
        return match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
    }
    correction.to_owned()
}

/// `typed` with each range replaced (ranges in order, not overlapping).
fn splice(typed: &str, replacements: &[(Range<usize>, String)]) -> Correction {
    let mut parts: Vec<CorrectionPart> = Vec::new();
    let mut at = 0;
    for (range, fix) in replacements {
        let before = typed.get(at..range.start).unwrap_or_default();
        if !before.is_empty() {
            parts.push(CorrectionPart {
                text: before.to_owned(),
                corrected: false,
            });
        }
        parts.push(CorrectionPart {
            text: fix.clone(),
            corrected: true,
        });
        at = range.end;
    }
    let rest = typed.get(at..).unwrap_or_default();
    if !rest.is_empty() {
        parts.push(CorrectionPart {
            text: rest.to_owned(),
            corrected: false,
        });
    }
    Correction {
        text: parts.iter().map(|p| p.text.as_str()).collect(),
        parts,
    }
}

#[cfg(test)]
mod tests;
