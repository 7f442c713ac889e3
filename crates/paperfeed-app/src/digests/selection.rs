//! Which papers a subscriber's digest carries: the period's featured papers in the hub's one
//! trending order, those matching the subscriber's topics, none mailed to them before, at
//! most as many as they asked for.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use chrono::{NaiveDate, NaiveTime};
use paperfeed_core::{ArxivId, DigestPeriod, FeedEntry, Paper};
use paperfeed_search::{KeywordIndex, KeywordQuery, MAX_LIMIT, MAX_OFFSET, SearchError};

/// The period's featured papers, each once (its latest featured day), by trending score as
/// of the end of the period's last day: the same ranking a rerun gets, whenever it runs. The
/// ranking is the hub's one rule (`paperfeed_core::trending`).
pub fn candidates(entries: Vec<FeedEntry>, to: NaiveDate) -> Vec<FeedEntry> {
    let as_of = (to + chrono::Duration::days(1))
        .and_time(NaiveTime::MIN)
        .and_utc();
    paperfeed_core::trending(entries, as_of)
}

/// Topics matched by the search engine: the period's candidate papers in a small in-memory
/// keyword index, so a topic means exactly what it means in the search box (stemmed words,
/// `"phrases"`, `author:`, `category:`), without touching the shared index `serve` writes.
pub struct TopicMatcher {
    index: KeywordIndex,
    cache: Mutex<HashMap<String, HashSet<ArxivId>>>,
}

impl TopicMatcher {
    pub fn new(candidates: &[FeedEntry]) -> Result<Self, SearchError> {
        let mut index = KeywordIndex::in_memory()?;
        let papers: Vec<Paper> = candidates.iter().map(|e| e.paper.clone()).collect();
        index.upsert(&papers)?;
        index.commit(0)?;
        Ok(Self {
            index,
            cache: Mutex::default(),
        })
    }

    /// The candidates one topic matches (a topic that does not parse is taken as plain words).
    fn matching(&self, topic: &str) -> HashSet<ArxivId> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = cache.get(topic) {
            return found.clone();
        }
        let mut query = KeywordQuery::parse(topic)
            .unwrap_or_else(|_| KeywordQuery::text(topic.replace('"', " ")));
        query.limit = MAX_LIMIT;
        let mut found = HashSet::new();
        while let Ok(page) = self.index.search(&query) {
            let n = page.hits.len();
            found.extend(page.hits.into_iter().map(|h| h.id));
            if n < query.limit || query.offset + n >= MAX_OFFSET {
                break;
            }
            query.offset += n;
        }
        cache.insert(topic.to_owned(), found.clone());
        found
    }

    /// Whether `paper` matches any of `topics` (no topics: every paper).
    pub fn matches(&self, paper: &Paper, topics: &[String]) -> bool {
        topics.is_empty() || topics.iter().any(|t| self.matching(t).contains(&paper.id))
    }
}

/// One period's candidates and their topic index, shared by every subscriber's digest.
pub struct Selection {
    candidates: Vec<FeedEntry>,
    topics: TopicMatcher,
}

impl Selection {
    /// The candidates of `period` among the featured `entries` of its days.
    pub fn new(entries: Vec<FeedEntry>, period: &DigestPeriod) -> Result<Self, SearchError> {
        let candidates = candidates(entries, period.days().1);
        let topics = TopicMatcher::new(&candidates)?;
        Ok(Self { candidates, topics })
    }

    /// Every candidate, best first.
    pub fn candidates(&self) -> &[FeedEntry] {
        &self.candidates
    }

    /// The candidates matching any of `topics` (all when there are none), best first.
    pub fn matching(&self, topics: &[String]) -> Vec<&FeedEntry> {
        self.candidates
            .iter()
            .filter(|e| self.topics.matches(&e.paper, topics))
            .collect()
    }
}

/// The first `n` of `matching` not in `mailed`: a paper is never mailed to one subscriber
/// twice, and those left out make room for the next best.
pub fn choose<'a>(
    matching: Vec<&'a FeedEntry>,
    mailed: &HashSet<ArxivId>,
    n: usize,
) -> Vec<&'a FeedEntry> {
    matching
        .into_iter()
        .filter(|e| !mailed.contains(&e.paper.id))
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use paperfeed_core::Frequency;

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn entry(id: &str, title: &str, upvotes: i64, featured: NaiveDate) -> FeedEntry {
        let new = paperfeed_core::NewPaper::new(
            ArxivId::parse(id).unwrap(),
            title.to_owned(),
            "An abstract.".to_owned(),
            Vec::new(),
        );
        let mut paper = paperfeed_core::merge(None, new);
        paper.upvotes = upvotes;
        FeedEntry {
            paper,
            day: featured,
        }
    }

    fn ids(entries: &[&FeedEntry]) -> Vec<String> {
        entries.iter().map(|e| e.paper.id.to_string()).collect()
    }

    /// Newest day first, as the store lists them.
    fn featured() -> Vec<FeedEntry> {
        vec![
            entry(
                "2611.00001",
                "Diffusion models for protein folding",
                10,
                day(30),
            ),
            entry(
                "2611.00002",
                "Sparse attention for long contexts",
                50,
                day(30),
            ),
            entry(
                "2611.00003",
                "Robot grasping with diffusion policies",
                30,
                day(29),
            ),
            // Featured twice: counted once, on its latest day.
            entry(
                "2611.00002",
                "Sparse attention for long contexts",
                50,
                day(28),
            ),
        ]
    }

    #[test]
    fn candidates_are_each_paper_once_in_the_trending_order_at_the_end_of_the_period() {
        let period = DigestPeriod::new(Frequency::Daily, day(30));
        let selection = Selection::new(featured(), &period).unwrap();
        let all: Vec<&FeedEntry> = selection.candidates().iter().collect();
        assert_eq!(ids(&all), ["2611.00002", "2611.00003", "2611.00001"]);
        let as_of = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let expected = paperfeed_core::trending(featured(), as_of);
        assert_eq!(selection.candidates(), expected.as_slice());
    }

    #[test]
    fn topics_match_as_the_search_box_does_and_no_topics_match_everything() {
        let period = DigestPeriod::new(Frequency::Daily, day(30));
        let selection = Selection::new(featured(), &period).unwrap();
        assert_eq!(selection.matching(&[]).len(), 3);
        assert_eq!(
            ids(&selection.matching(&["diffusion".to_owned()])),
            ["2611.00003", "2611.00001"],
            "stemmed words, in the trending order"
        );
        assert_eq!(
            ids(&selection.matching(&["\"protein folding\"".to_owned(), "attention".to_owned()])),
            ["2611.00002", "2611.00001"],
            "any topic matches"
        );
        assert!(selection.matching(&["quantum".to_owned()]).is_empty());
        assert_eq!(
            ids(&selection.matching(&["\"unclosed phrase diffusion".to_owned()])).len(),
            2,
            "a topic that does not parse is taken as plain words"
        );
    }

    #[test]
    fn a_paper_already_mailed_is_never_chosen_again_and_the_next_best_takes_its_place() {
        let period = DigestPeriod::new(Frequency::Weekly, day(30));
        let selection = Selection::new(featured(), &period).unwrap();
        let mailed: HashSet<ArxivId> = [ArxivId::parse("2611.00002").unwrap()].into();
        let chosen = choose(selection.matching(&[]), &mailed, 2);
        assert_eq!(ids(&chosen), ["2611.00003", "2611.00001"]);
        assert_eq!(
            ids(&choose(selection.matching(&[]), &HashSet::new(), 1)),
            ["2611.00002"]
        );
    }
}
