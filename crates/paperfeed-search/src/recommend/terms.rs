//! Sparse keyword features: a paper's title, abstract and authors as hashed, tf-idf weighted
//! terms (words, word pairs, whole author names), the kind arxiv-sanity-lite's SVM reads.
//! Terms are hashed into a fixed number of buckets so no vocabulary has to be kept or agreed
//! on; the document frequencies come from [`TermStats`], built over the hub's papers.

use serde::{Deserialize, Serialize};

/// Buckets terms hash into (2^20: collisions among a hub's few hundred thousand distinct terms
/// are rare and harmless).
pub const TERM_BUCKETS: u32 = 1 << 20;

/// Terms kept per paper: its highest-weighted ones. Bounds memory (a few hundred bytes a paper)
/// and scoring time; the tail of an abstract's terms says little.
pub const MAX_TERMS: usize = 64;

/// English stop words (a common list), dropped before words are paired.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "across",
    "after",
    "again",
    "against",
    "all",
    "almost",
    "also",
    "although",
    "always",
    "among",
    "an",
    "and",
    "another",
    "any",
    "are",
    "around",
    "as",
    "at",
    "based",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "due",
    "during",
    "each",
    "either",
    "enough",
    "especially",
    "etc",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "given",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "less",
    "made",
    "make",
    "many",
    "may",
    "more",
    "most",
    "much",
    "must",
    "my",
    "namely",
    "neither",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "often",
    "on",
    "once",
    "one",
    "only",
    "onto",
    "or",
    "other",
    "others",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "per",
    "rather",
    "same",
    "several",
    "she",
    "should",
    "show",
    "shows",
    "since",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "themselves",
    "then",
    "there",
    "therefore",
    "these",
    "they",
    "this",
    "those",
    "though",
    "through",
    "thus",
    "to",
    "too",
    "toward",
    "towards",
    "two",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "use",
    "used",
    "using",
    "very",
    "via",
    "was",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "whereas",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
];

/// What the sparse features are computed from.
#[derive(Clone, Copy, Debug)]
pub struct PaperText<'a> {
    pub title: &'a str,
    pub abstract_text: &'a str,
    /// Author names as the paper lists them; each becomes one term (its normalised key).
    pub authors: &'a [String],
}

/// Hashed terms with weights, sorted by bucket, unit length (or empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseVector {
    entries: Vec<(u32, f32)>,
}

impl SparseVector {
    /// From `(bucket, weight)` pairs in any order; repeated buckets add up; normalised.
    pub fn from_weights(pairs: impl IntoIterator<Item = (u32, f32)>) -> Self {
        let mut entries: Vec<(u32, f32)> = pairs
            .into_iter()
            .map(|(b, w)| (b % TERM_BUCKETS, w))
            .collect();
        entries.sort_unstable_by_key(|e| e.0);
        entries.dedup_by(|later, kept| {
            if later.0 == kept.0 {
                kept.1 += later.1;
                true
            } else {
                false
            }
        });
        entries.retain(|e| e.1.is_finite() && e.1 != 0.0);
        let norm = entries.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
        if norm > 0.0 {
            entries.iter_mut().for_each(|e| e.1 /= norm);
        }
        Self { entries }
    }

    pub fn entries(&self) -> &[(u32, f32)] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Cosine similarity (both are unit length): a merge of two sorted lists.
    pub fn dot(&self, other: &SparseVector) -> f32 {
        let (mut i, mut j, mut sum) = (0, 0, 0.0);
        let (a, b) = (&self.entries, &other.entries);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += a[i].1 * b[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        sum
    }
}

/// FNV-1a over the term's bytes, with a kind byte first so a word and an author of the same
/// spelling land apart.
fn bucket(kind: u8, text: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(kind).chain(text.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // Fold the high bits in: FNV's low bits alone are weakly mixed.
    ((hash ^ (hash >> 32)) % u64::from(TERM_BUCKETS)) as u32
}

/// The words of a text: runs of letters, digits and underscores starting with a letter, at
/// least two long, lowercased, stop words dropped (arxiv-sanity-lite's token pattern).
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        let keep = word.chars().count() >= 2
            && word.chars().next().is_some_and(char::is_alphabetic)
            && !STOP_WORDS.contains(&word.as_str());
        if keep {
            out.push(std::mem::take(word));
        } else {
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Term counts of one text, before weighting: `(bucket, count)`, sorted by bucket.
pub fn term_counts(text: &PaperText<'_>) -> Vec<(u32, u32)> {
    let mut buckets: Vec<u32> = Vec::new();
    for part in [text.title, text.abstract_text] {
        let ws = words(part);
        buckets.extend(ws.iter().map(|w| bucket(b'w', w)));
        buckets.extend(
            ws.windows(2)
                .map(|pair| bucket(b'p', &format!("{} {}", pair[0], pair[1]))),
        );
    }
    for author in text.authors {
        let key = paperfeed_core::author_key(author);
        if !key.is_empty() {
            buckets.push(bucket(b'a', &key));
        }
    }
    counts(buckets)
}

/// The term of one author (for a followed author: the evidence the app passes in).
pub fn author_term(name: &str) -> Option<u32> {
    let key = paperfeed_core::author_key(name);
    (!key.is_empty()).then(|| bucket(b'a', &key))
}

/// Term counts of a free-text query (a saved search): its words and word pairs.
pub fn query_counts(query: &str) -> Vec<(u32, u32)> {
    let ws = words(query);
    let mut buckets: Vec<u32> = ws.iter().map(|w| bucket(b'w', w)).collect();
    buckets.extend(
        ws.windows(2)
            .map(|pair| bucket(b'p', &format!("{} {}", pair[0], pair[1]))),
    );
    counts(buckets)
}

fn counts(mut buckets: Vec<u32>) -> Vec<(u32, u32)> {
    buckets.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for b in buckets {
        match out.last_mut() {
            Some((last, n)) if *last == b => *n += 1,
            _ => out.push((b, 1)),
        }
    }
    out
}

/// Document frequencies per bucket over a hub's papers: the IDF the weights use. Derived data:
/// built from the papers at start and kept up to date as papers arrive ([`TermStats::add`]);
/// a few hundred papers more or less barely move it, so cached paper vectors stay valid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TermStats {
    documents: u64,
    /// Sparse: only buckets seen, sorted.
    frequency: std::collections::HashMap<u32, u32>,
}

impl Default for TermStats {
    fn default() -> Self {
        Self::new()
    }
}

impl TermStats {
    pub fn new() -> Self {
        Self {
            documents: 0,
            frequency: std::collections::HashMap::new(),
        }
    }

    /// Counts one document (its [`term_counts`]).
    pub fn add(&mut self, counts: &[(u32, u32)]) {
        self.documents += 1;
        for &(b, _) in counts {
            *self.frequency.entry(b).or_insert(0) += 1;
        }
    }

    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// Smoothed inverse document frequency, as scikit-learn's: `ln((1+n)/(1+df)) + 1`.
    pub fn idf(&self, bucket: u32) -> f32 {
        let df = self.frequency.get(&bucket).copied().unwrap_or(0);
        ((1.0 + self.documents as f64) / (1.0 + f64::from(df))).ln() as f32 + 1.0
    }

    /// Weighted, unit-length features of term counts: sublinear tf (1 + ln tf) times idf, the
    /// [`MAX_TERMS`] highest kept. A term that occurs in one document only says nothing about
    /// other papers and is dropped (scikit-learn's `min_df = 2`).
    pub fn weigh(&self, counts: &[(u32, u32)]) -> SparseVector {
        let mut weighted: Vec<(u32, f32)> = counts
            .iter()
            .filter(|(b, _)| self.frequency.get(b).copied().unwrap_or(0) >= 2 || self.documents < 2)
            .map(|&(b, n)| (b, (1.0 + (n as f32).ln()) * self.idf(b)))
            .collect();
        if weighted.len() > MAX_TERMS {
            weighted.select_nth_unstable_by(MAX_TERMS, |a, b| b.1.total_cmp(&a.1));
            weighted.truncate(MAX_TERMS);
        }
        SparseVector::from_weights(weighted)
    }

    /// [`TermStats::weigh`] of a paper's text.
    pub fn features(&self, text: &PaperText<'_>) -> SparseVector {
        self.weigh(&term_counts(text))
    }
}
