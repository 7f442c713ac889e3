//! Papers' text as keyword mutes read it, kept between requests.
//!
//! Reading a paper for keyword mutes (folding and stemming its title and abstract) costs far
//! more than matching a reader's mutes against what was read, and the same papers (today's,
//! a Following page) are read for every reader on every load. What is read depends on the
//! paper alone, so it is kept per paper, shared by all readers, and checked against the
//! paper's text (a fingerprint of title, abstract and author names) each time it is used:
//! a paper whose text changed is read again. Mutes themselves are never kept here, so a new
//! or removed mute counts on the next load.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use paperfeed_core::{ArxivId, MuteText, Paper};

/// Bytes of kept text at most, unless told otherwise: a few thousand papers.
pub const DEFAULT_BUDGET: usize = 16 * 1024 * 1024;
/// What keeping one paper's text costs beyond the text: the map's node, the key's bytes
/// aside, and the shared pointer.
const ENTRY_OVERHEAD: usize = 128;

/// Papers' [`MuteText`], least recently used first out past a byte budget.
pub struct MuteTexts {
    kept: Mutex<Kept>,
    budget: usize,
}

struct Kept {
    texts: LruCache<ArxivId, KeptText>,
    bytes: usize,
}

struct KeptText {
    fingerprint: u64,
    text: Arc<MuteText>,
    cost: usize,
}

impl std::fmt::Debug for MuteTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuteTexts")
            .field("budget", &self.budget)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl Default for MuteTexts {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET)
    }
}

/// What the text of `paper` is read from, hashed: a change to any of it reads it again.
fn fingerprint(paper: &Paper) -> u64 {
    let mut hasher = DefaultHasher::new();
    paper.title.hash(&mut hasher);
    paper.abstract_text.hash(&mut hasher);
    paper.authors.len().hash(&mut hasher);
    for author in &paper.authors {
        author.name.hash(&mut hasher);
    }
    hasher.finish()
}

impl MuteTexts {
    /// Keeps at most `budget` bytes of text; a paper whose text alone would take more than
    /// an eighth of it is read every time instead.
    pub fn with_budget(budget: usize) -> Self {
        Self {
            kept: Mutex::new(Kept {
                texts: LruCache::unbounded(),
                bytes: 0,
            }),
            budget,
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes kept now (by the estimate the budget is held to).
    pub fn bytes(&self) -> usize {
        self.kept().bytes
    }

    /// Papers kept now.
    pub fn len(&self) -> usize {
        self.kept().texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `paper`'s text for keyword mutes: the kept one if its text has not changed, else read
    /// now (outside the lock) and kept.
    pub fn text_of(&self, paper: &Paper) -> Arc<MuteText> {
        let fingerprint = fingerprint(paper);
        if let Some(kept) = self.kept().texts.get(&paper.id)
            && kept.fingerprint == fingerprint
        {
            return Arc::clone(&kept.text);
        }
        let text = Arc::new(MuteText::read(paper));
        let cost = text.heap_bytes()
            + std::mem::size_of::<MuteText>()
            + paper.id.as_str().len()
            + ENTRY_OVERHEAD;
        if cost > self.budget / 8 {
            return text;
        }
        let mut kept = self.kept();
        let entry = KeptText {
            fingerprint,
            text: Arc::clone(&text),
            cost,
        };
        if let Some(old) = kept.texts.put(paper.id.clone(), entry) {
            kept.bytes -= old.cost;
        }
        kept.bytes += cost;
        while kept.bytes > self.budget {
            match kept.texts.pop_lru() {
                Some((_, gone)) => kept.bytes -= gone.cost,
                None => break,
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use paperfeed_core::{Author, MuteKind, MuteSet};

    use super::*;

    fn paper(n: usize, abstract_text: &str) -> Paper {
        let new = paperfeed_core::NewPaper::new(
            ArxivId::parse(&format!("2611.{n:05}")).unwrap(),
            format!("Paper {n} on knitting"),
            abstract_text.into(),
            vec![Author::named("Ada Lovelace")],
        );
        paperfeed_core::merge(None, new)
    }

    #[test]
    fn a_kept_text_is_read_again_when_the_paper_text_changes() {
        let texts = MuteTexts::default();
        let mutes = MuteSet::new([(MuteKind::Keyword, "volcanoes")]);
        let before = paper(1, "Nothing about mountains.");
        assert_eq!(mutes.first_match_in(&before, &texts.text_of(&before)), None);
        let first = texts.text_of(&before);
        assert!(Arc::ptr_eq(&first, &texts.text_of(&before)), "kept");
        let after = paper(1, "A new version about volcanoes.");
        assert_eq!(
            mutes.first_match_in(&after, &texts.text_of(&after)),
            Some(0)
        );
        assert_eq!(texts.len(), 1, "one paper, kept once");
    }

    #[test]
    fn kept_texts_stay_within_their_budget() {
        let long = "Words of a long abstract about many things. ".repeat(20);
        let one = MuteTexts::default().text_of(&paper(0, &long));
        let budget = 10 * (one.heap_bytes() + std::mem::size_of::<MuteText>() + 200);
        let texts = MuteTexts::with_budget(budget);
        for n in 0..100 {
            texts.text_of(&paper(n, &long));
            assert!(texts.bytes() <= budget);
        }
        assert!(texts.len() >= 5 && texts.len() <= 10, "{}", texts.len());
        // The most recently used are the ones kept.
        let last = paper(99, &long);
        let kept = texts.text_of(&last);
        assert!(Arc::ptr_eq(&kept, &texts.text_of(&last)));
        // A text larger than an eighth of the budget is read but not kept.
        let tiny = MuteTexts::with_budget(1024);
        tiny.text_of(&paper(1, &long));
        assert!(tiny.is_empty());
    }
}
