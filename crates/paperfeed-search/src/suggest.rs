//! Suggestions while typing: titles, authors and categories whose words start with what was
//! typed, from an in-memory prefix index kept up to date as papers are indexed, so a keystroke
//! costs a few binary searches and a bounded scan, never a query of the store.
//!
//! Texts are compared folded (`paperfeed_core::folded_words`: accents and case dropped,
//! punctuation a space). A title is found from the start of any of its words but stop words
//! (`graph neur` finds "Simple Graph Neural Networks"), an author from any part of the name,
//! a category from its start (`cs.c` finds `cs.CL`). Each kind keeps its entries — (item, byte
//! offset of a word start in its folded key) — in one vector sorted by the text from there on:
//! the entries starting with the typed text are one range, found by two binary searches.
//! New and changed papers are merged in (a batch is sorted, then merged: no full re-sort); a
//! vote only changes a number. A title that changes leaves its old entries behind, skipped,
//! until a quarter of the titles are such, when the index is built again.
//!
//! Ranked: titles that start with the text before those with a later word that does, then by
//! upvotes; authors and categories by their number of papers.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};

use paperfeed_core::{ArxivId, Author, AuthorKey, NewPaper, Paper, folded_words, merge};
use serde::Serialize;

/// Most suggestions one answer gives.
pub const MAX_SUGGESTIONS: usize = 10;
/// Entries of one kind looked at per answer, at most: a one-letter prefix matches a good part
/// of every title, and a keystroke must stay cheap whatever it is.
const SCAN_LIMIT: usize = 20_000;
/// Word starts indexed per title, at most.
const MAX_TITLE_WORDS: usize = 40;
/// Authors of one paper indexed, at most (collaborations list thousands).
const MAX_AUTHORS_PER_PAPER: usize = 100;
/// Categories suggested at most when every kind is asked for.
const CATEGORY_SHARE: usize = 2;
/// Authors suggested at most when every kind is asked for and titles fill the rest.
const AUTHOR_SHARE: usize = 3;
/// Words no one starts a title search with: not indexed as word starts (a title's first word
/// always is).
const SKIPPED_WORDS: [&str; 20] = [
    "a", "an", "and", "are", "as", "at", "by", "for", "from", "in", "is", "it", "its", "of", "on",
    "or", "the", "to", "via", "with",
];

/// One suggestion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Suggestion {
    /// An arXiv category as papers spell it (`cs.CL`), with how many papers are in it.
    Category { name: String, papers: u32 },
    /// An author's name as their first indexed paper spells it, with their key (the author
    /// page's) and number of papers.
    Author {
        key: AuthorKey,
        name: String,
        papers: u32,
    },
    /// A paper by its title.
    Title { id: ArxivId, title: String },
}

/// What to suggest for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuggestQuery {
    /// The text, folded.
    key: String,
    /// The text for categories: lower case, trimmed.
    category: String,
    scope: Scope,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    All,
    Authors,
    Categories,
}

impl SuggestQuery {
    /// Reads what is in the search box: `author:` or `category:` (`cat:`) before the text asks
    /// for authors or categories only (an opening quote after it is ignored); anything else is
    /// text to complete.
    pub fn parse(typed: &str) -> SuggestQuery {
        let trimmed = typed.trim_start();
        let (scope, text) = match trimmed.split_once(':') {
            Some((name, rest)) => match name.to_ascii_lowercase().as_str() {
                "author" | "authors" => (Scope::Authors, rest),
                "category" | "cat" => (Scope::Categories, rest),
                _ => (Scope::All, trimmed),
            },
            None => (Scope::All, trimmed),
        };
        let text = if scope == Scope::All {
            text
        } else {
            text.trim_start_matches(|c: char| c == '"' || c.is_whitespace())
        };
        let key = folded_words(text).join(" ");
        SuggestQuery {
            key,
            category: text.trim().to_lowercase(),
            scope,
        }
    }

    /// Nothing to complete.
    pub fn is_empty(&self) -> bool {
        self.key.is_empty() && self.category.is_empty()
    }
}

/// A paper's title in the index.
#[derive(Debug)]
struct TitleItem {
    id: ArxivId,
    label: Box<str>,
    key: Box<str>,
    upvotes: i64,
    authors: Box<[u32]>,
    categories: Box<[u32]>,
    /// False once the paper was indexed again under another title or other authors.
    live: bool,
}

/// An author or a category in the index.
#[derive(Debug)]
struct NameItem {
    label: Box<str>,
    key: Box<str>,
    papers: u32,
}

/// Entries (item, byte offset of a word start in the item's key), sorted by the key from there.
#[derive(Debug, Default)]
struct Starts(Vec<(u32, u32)>);

impl Starts {
    /// Adds `new` entries, keeping the order: the batch is sorted, then each finds its place in
    /// the rest by binary search and the rest is copied up to it.
    fn merge<'a>(&mut self, mut new: Vec<(u32, u32)>, key: impl Fn(u32) -> &'a str + Copy) {
        if new.is_empty() {
            return;
        }
        sort_entries(&mut new, key);
        let old = std::mem::take(&mut self.0);
        let mut merged = Vec::with_capacity(old.len() + new.len());
        let mut rest = old.as_slice();
        for entry in new {
            let suffix = suffix_of(entry, key);
            let at = gallop(rest, |&e| suffix_of(e, key) <= suffix);
            merged.extend_from_slice(&rest[..at]);
            rest = &rest[at..];
            merged.push(entry);
        }
        merged.extend_from_slice(rest);
        self.0 = merged;
    }

    /// The entries whose text starts with `prefix`.
    fn starting_with<'a>(
        &self,
        prefix: &str,
        key: impl Fn(u32) -> &'a str + Copy,
    ) -> &[(u32, u32)] {
        let from = self.0.partition_point(|&e| suffix_of(e, key) < prefix);
        let rest = &self.0[from..];
        let len = rest.partition_point(|&e| suffix_of(e, key).starts_with(prefix));
        &rest[..len]
    }
}

/// `rest.partition_point(before)`, searched from the front in doubling steps, then by halves:
/// a batch's sorted entries land close to each other, so the next one's place is usually near
/// the start of what is left (about twice the logarithm of the distance in comparisons, each of
/// which reads an item's key from elsewhere in memory, instead of the logarithm of the rest).
fn gallop<T>(rest: &[T], before: impl Fn(&T) -> bool) -> usize {
    let mut end = 1;
    while end <= rest.len() && before(&rest[end - 1]) {
        end *= 2;
    }
    let start = end / 2;
    let end = end.min(rest.len());
    start + rest[start..end].partition_point(before)
}

fn suffix_of<'a>((item, at): (u32, u32), key: impl Fn(u32) -> &'a str) -> &'a str {
    key(item).get(at as usize..).unwrap_or_default()
}

/// Sorts entries by their text: first by its first eight bytes as one number (no pointer
/// chasing for most comparisons), then by the rest.
fn sort_entries<'a>(entries: &mut Vec<(u32, u32)>, key: impl Fn(u32) -> &'a str + Copy) {
    let mut keyed: Vec<(u64, u32, u32)> = entries
        .iter()
        .map(|&(item, at)| {
            let mut head = [0u8; 8];
            let bytes = suffix_of((item, at), key).as_bytes();
            let n = bytes.len().min(8);
            head[..n].copy_from_slice(&bytes[..n]);
            (u64::from_be_bytes(head), item, at)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| suffix_of((a.1, a.2), key).cmp(suffix_of((b.1, b.2), key)))
            .then((a.1, a.2).cmp(&(b.1, b.2)))
    });
    *entries = keyed.into_iter().map(|(_, item, at)| (item, at)).collect();
}

/// The byte offsets where words start in a folded key (`word word word`).
fn word_starts(key: &str, skip_common: bool) -> impl Iterator<Item = u32> + '_ {
    let mut at = 0usize;
    key.split(' ')
        .map(move |word| {
            let start = at;
            at += word.len() + 1;
            (start, word)
        })
        .filter(move |(start, word)| *start == 0 || !skip_common || !SKIPPED_WORDS.contains(word))
        .filter_map(|(start, _)| u32::try_from(start).ok())
}

/// The suggestion index. Not synchronised: the engine holds it under a lock.
#[derive(Debug, Default)]
pub struct SuggestIndex {
    titles: Vec<TitleItem>,
    title_of: HashMap<ArxivId, u32>,
    title_starts: Starts,
    authors: Vec<NameItem>,
    /// Authors by a 64-bit hash of their key (no second copy of every name).
    author_of: HashMap<u64, u32>,
    author_starts: Starts,
    categories: Vec<NameItem>,
    category_of: HashMap<Box<str>, u32>,
    category_starts: Starts,
    dead_titles: usize,
}

fn key_hash(key: &str) -> u64 {
    // Fixed keys: the same name hashes the same in every process (nothing to attack here:
    // the text comes from papers, and a collision only merges two counts).
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

impl SuggestIndex {
    /// Papers whose title can be suggested.
    pub fn len(&self) -> usize {
        self.titles.len() - self.dead_titles
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds papers, or updates them: a new vote count is one number; a new title, author list
    /// or category list replaces the paper's entries.
    pub fn upsert(&mut self, papers: &[Paper]) {
        let mut new_titles = Vec::new();
        let mut new_authors = Vec::new();
        let mut new_categories = Vec::new();
        for paper in papers {
            let authors: Vec<(AuthorKey, &str)> = paper
                .visible_authors()
                .filter_map(|a| AuthorKey::from_name(&a.name).map(|k| (k, a.name.as_str())))
                .take(MAX_AUTHORS_PER_PAPER)
                .collect();
            let categories: Vec<&str> = paper
                .categories
                .iter()
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
                .collect();
            if let Some(&slot) = self.title_of.get(&paper.id) {
                let same = self.same_text(slot, &paper.title, &authors, &categories);
                let item = &mut self.titles[slot as usize];
                item.upvotes = paper.upvotes;
                if same {
                    continue;
                }
                self.retire(slot);
            }
            let key = folded_words(&paper.title).join(" ");
            let Ok(slot) = u32::try_from(self.titles.len()) else {
                return;
            };
            new_titles.extend(
                word_starts(&key, true)
                    .take(MAX_TITLE_WORDS)
                    .map(|at| (slot, at)),
            );
            let author_ids: Vec<u32> = authors
                .iter()
                .filter_map(|(key, name)| {
                    let (id, fresh) = self.intern_author(key, name)?;
                    if fresh {
                        new_authors.extend(word_starts(key.as_str(), false).map(|at| (id, at)));
                    }
                    Some(id)
                })
                .collect();
            let category_ids: Vec<u32> = categories
                .iter()
                .filter_map(|name| {
                    let (id, fresh) = self.intern_category(name)?;
                    if fresh {
                        new_categories.push((id, 0));
                    }
                    Some(id)
                })
                .collect();
            self.title_of.insert(paper.id.clone(), slot);
            self.titles.push(TitleItem {
                id: paper.id.clone(),
                label: paper.title.as_str().into(),
                key: key.into(),
                upvotes: paper.upvotes,
                authors: author_ids.into(),
                categories: category_ids.into(),
                live: true,
            });
        }
        let titles = &self.titles;
        self.title_starts.merge(new_titles, |i| {
            titles.get(i as usize).map_or("", |t| &t.key)
        });
        let authors = &self.authors;
        self.author_starts.merge(new_authors, |i| {
            authors.get(i as usize).map_or("", |a| &a.key)
        });
        let categories = &self.categories;
        self.category_starts.merge(new_categories, |i| {
            categories.get(i as usize).map_or("", |c| &c.key)
        });
        if self.dead_titles > 1_000 && self.dead_titles * 4 > self.titles.len() {
            self.rebuild();
        }
    }

    /// Whether the indexed paper in `slot` has this title, these authors and categories.
    fn same_text(
        &self,
        slot: u32,
        title: &str,
        authors: &[(AuthorKey, &str)],
        categories: &[&str],
    ) -> bool {
        let Some(item) = self.titles.get(slot as usize) else {
            return false;
        };
        let author_keys = item
            .authors
            .iter()
            .filter_map(|&a| self.authors.get(a as usize).map(|a| &*a.key));
        let category_keys = item
            .categories
            .iter()
            .filter_map(|&c| self.categories.get(c as usize).map(|c| c.key.to_string()));
        &*item.label == title
            && author_keys.eq(authors.iter().map(|(k, _)| k.as_str()))
            && category_keys.eq(categories.iter().map(|c| c.to_lowercase()))
    }

    /// Takes a title out of answers and its paper out of its authors' and categories' counts.
    fn retire(&mut self, slot: u32) {
        let Some(item) = self.titles.get_mut(slot as usize) else {
            return;
        };
        if !item.live {
            return;
        }
        item.live = false;
        self.dead_titles += 1;
        for &a in item.authors.iter() {
            if let Some(author) = self.authors.get_mut(a as usize) {
                author.papers = author.papers.saturating_sub(1);
            }
        }
        for &c in item.categories.iter() {
            if let Some(category) = self.categories.get_mut(c as usize) {
                category.papers = category.papers.saturating_sub(1);
            }
        }
    }

    /// The author's item with one more paper, and whether it is new.
    fn intern_author(&mut self, key: &AuthorKey, name: &str) -> Option<(u32, bool)> {
        let hash = key_hash(key.as_str());
        if let Some(&id) = self.author_of.get(&hash) {
            if let Some(author) = self.authors.get_mut(id as usize) {
                author.papers += 1;
            }
            return Some((id, false));
        }
        let id = u32::try_from(self.authors.len()).ok()?;
        self.authors.push(NameItem {
            label: name.trim().into(),
            key: key.as_str().into(),
            papers: 1,
        });
        self.author_of.insert(hash, id);
        Some((id, true))
    }

    fn intern_category(&mut self, name: &str) -> Option<(u32, bool)> {
        let key = name.to_lowercase();
        if let Some(&id) = self.category_of.get(key.as_str()) {
            if let Some(category) = self.categories.get_mut(id as usize) {
                category.papers += 1;
            }
            return Some((id, false));
        }
        let id = u32::try_from(self.categories.len()).ok()?;
        self.categories.push(NameItem {
            label: name.into(),
            key: key.as_str().into(),
            papers: 1,
        });
        self.category_of.insert(key.into(), id);
        Some((id, true))
    }

    /// Builds the index again from its live titles (dropping what retired ones left).
    fn rebuild(&mut self) {
        let old = std::mem::take(self);
        let papers: Vec<Paper> = old
            .titles
            .iter()
            .filter(|t| t.live)
            .map(|t| {
                let authors = t
                    .authors
                    .iter()
                    .filter_map(|&a| old.authors.get(a as usize))
                    .map(|a| Author::named(a.label.to_string()))
                    .collect();
                let new = NewPaper::new(t.id.clone(), t.label.to_string(), String::new(), authors);
                let mut paper = merge(None, new);
                paper.upvotes = t.upvotes;
                paper.categories = t
                    .categories
                    .iter()
                    .filter_map(|&c| old.categories.get(c as usize))
                    .map(|c| c.label.to_string())
                    .collect();
                paper
            })
            .collect();
        self.upsert(&papers);
    }

    /// Up to `limit` suggestions (at most [`MAX_SUGGESTIONS`]) for `query`: categories first
    /// (two at most), then authors (three at most, more when few titles match), then titles.
    pub fn suggest(&self, query: &SuggestQuery, limit: usize) -> Vec<Suggestion> {
        let limit = limit.min(MAX_SUGGESTIONS);
        if limit == 0 || query.is_empty() {
            return Vec::new();
        }
        let categories = match query.scope {
            Scope::All => self.top_categories(query, limit.min(CATEGORY_SHARE)),
            Scope::Categories => self.top_categories(query, limit),
            Scope::Authors => Vec::new(),
        };
        let authors = match query.scope {
            Scope::All | Scope::Authors => self.top_authors(query, limit),
            Scope::Categories => Vec::new(),
        };
        let titles = match query.scope {
            Scope::All => self.top_titles(query, limit),
            _ => Vec::new(),
        };
        let left = limit - categories.len();
        let author_room = if query.scope == Scope::Authors {
            left
        } else {
            AUTHOR_SHARE
                .max(left.saturating_sub(titles.len()))
                .min(left)
        };
        let mut out = categories;
        out.extend(authors.into_iter().take(author_room));
        let room = limit - out.len();
        out.extend(titles.into_iter().take(room));
        out
    }

    fn top_titles(&self, query: &SuggestQuery, k: usize) -> Vec<Suggestion> {
        if query.key.is_empty() {
            return Vec::new();
        }
        let titles = &self.titles;
        let key = |i: u32| titles.get(i as usize).map_or("", |t| &*t.key);
        let found = self.title_starts.starting_with(&query.key, key);
        top(found, k, |item, at| {
            let t = titles.get(item as usize).filter(|t| t.live)?;
            Some((i64::from(at == 0), t.upvotes))
        })
        .into_iter()
        .filter_map(|i| titles.get(i as usize))
        .map(|t| Suggestion::Title {
            id: t.id.clone(),
            title: t.label.to_string(),
        })
        .collect()
    }

    fn top_authors(&self, query: &SuggestQuery, k: usize) -> Vec<Suggestion> {
        if query.key.is_empty() {
            return Vec::new();
        }
        let authors = &self.authors;
        let key = |i: u32| authors.get(i as usize).map_or("", |a| &*a.key);
        let found = self.author_starts.starting_with(&query.key, key);
        top(found, k, |item, at| {
            let a = authors.get(item as usize).filter(|a| a.papers > 0)?;
            Some((i64::from(a.papers), i64::from(at == 0)))
        })
        .into_iter()
        .filter_map(|i| authors.get(i as usize))
        .filter_map(|a| {
            Some(Suggestion::Author {
                key: AuthorKey::from_name(&a.label)?,
                name: a.label.to_string(),
                papers: a.papers,
            })
        })
        .collect()
    }

    fn top_categories(&self, query: &SuggestQuery, k: usize) -> Vec<Suggestion> {
        if query.category.is_empty() {
            return Vec::new();
        }
        let categories = &self.categories;
        let key = |i: u32| categories.get(i as usize).map_or("", |c| &*c.key);
        let found = self.category_starts.starting_with(&query.category, key);
        top(found, k, |item, _| {
            let c = categories.get(item as usize).filter(|c| c.papers > 0)?;
            Some((i64::from(c.papers), 0))
        })
        .into_iter()
        .filter_map(|i| categories.get(i as usize))
        .map(|c| Suggestion::Category {
            name: c.label.to_string(),
            papers: c.papers,
        })
        .collect()
    }
}

/// The `k` best items of `entries` by `score` (higher first; `None` skips), each once, ties
/// in entry order; at most [`SCAN_LIMIT`] entries are looked at.
fn top(
    entries: &[(u32, u32)],
    k: usize,
    score: impl Fn(u32, u32) -> Option<(i64, i64)>,
) -> Vec<u32> {
    let mut best: Vec<((i64, i64), usize, u32)> = Vec::with_capacity(k + 1);
    for (order, &(item, at)) in entries.iter().take(SCAN_LIMIT).enumerate() {
        let Some(s) = score(item, at) else { continue };
        if let Some(kept) = best.iter_mut().find(|(_, _, i)| *i == item) {
            if s > kept.0 {
                kept.0 = s;
            }
            continue;
        }
        if best.len() < k {
            best.push((s, order, item));
            continue;
        }
        // The weakest kept: lowest score, latest in entry order.
        let weakest = best
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(i, _)| i);
        if let Some(w) = weakest
            && s > best[w].0
        {
            best[w] = (s, order, item);
        }
    }
    best.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    best.into_iter().map(|(_, _, item)| item).collect()
}

#[cfg(test)]
mod tests;
