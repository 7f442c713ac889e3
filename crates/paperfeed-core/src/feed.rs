//! Feed entries and the one trending order every surface uses (pages, RSS/Atom, the API and
//! digests).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};

use crate::{Paper, trending_score};

/// A paper as listed on a feed day.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEntry {
    /// The featured day this entry is listed under.
    pub day: NaiveDate,
    pub paper: Paper,
}

impl FeedEntry {
    /// This entry's trending score as of `now` (see [`trending_score`]), counted from the day
    /// it is listed under.
    pub fn trending_score(&self, now: DateTime<Utc>) -> f64 {
        trending_score(
            self.paper.upvotes,
            self.paper.num_comments,
            self.paper.github_stars,
            self.day,
            now,
        )
        .score
    }
}

/// Orders feed entries by trending score as of `now`, highest first, ties by paper id. Each
/// entry is scored from the day it is listed under; a paper listed twice stays twice (the API
/// lists one entry per paper and featured day).
pub fn sort_trending(entries: &mut [FeedEntry], now: DateTime<Utc>) {
    entries.sort_by(|a, b| {
        b.trending_score(now)
            .total_cmp(&a.trending_score(now))
            .then_with(|| a.paper.id.cmp(&b.paper.id))
    });
}

/// Keeps the first entry of each paper and drops its later ones, keeping the order. Given
/// entries newest day first (as the store lists them), each paper keeps its latest day.
pub fn one_per_paper(entries: &mut Vec<FeedEntry>) {
    let mut seen = HashSet::new();
    entries.retain(|e| seen.insert(e.paper.id.clone()));
}

/// The trending list of a span: each paper once, under its latest featured day (entries come
/// newest day first), ranked by [`sort_trending`] as of `now`.
pub fn trending(mut entries: Vec<FeedEntry>, now: DateTime<Utc>) -> Vec<FeedEntry> {
    one_per_paper(&mut entries);
    sort_trending(&mut entries, now);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArxivId;

    fn entry(id: &str, day: &str, upvotes: i64) -> FeedEntry {
        let new = crate::NewPaper::new(
            ArxivId::parse(id).expect("valid id"),
            format!("Paper {id}"),
            "An abstract.".into(),
            Vec::new(),
        );
        let mut paper = crate::merge(None, new);
        paper.upvotes = upvotes;
        FeedEntry {
            day: day.parse().expect("valid day"),
            paper,
        }
    }

    fn ids(entries: &[FeedEntry]) -> Vec<String> {
        entries.iter().map(|e| e.paper.id.to_string()).collect()
    }

    fn noon(day: &str) -> DateTime<Utc> {
        format!("{day}T12:00:00Z").parse().expect("valid time")
    }

    #[test]
    fn trending_ranks_by_score_and_breaks_ties_by_id() {
        let mut entries = vec![
            entry("2401.00003", "2024-01-10", 5),
            entry("2401.00002", "2024-01-10", 9),
            entry("2401.00001", "2024-01-10", 5),
        ];
        sort_trending(&mut entries, noon("2024-01-10"));
        assert_eq!(ids(&entries), ["2401.00002", "2401.00001", "2401.00003"]);
    }

    #[test]
    fn a_fresh_paper_with_few_votes_passes_an_old_one_with_many() {
        let mut entries = vec![
            entry("2401.00001", "2024-01-01", 20),
            entry("2401.00002", "2024-01-10", 3),
        ];
        sort_trending(&mut entries, noon("2024-01-10"));
        assert_eq!(ids(&entries), ["2401.00002", "2401.00001"]);
    }

    #[test]
    fn a_paper_featured_twice_trends_once_under_its_latest_day() {
        let entries = vec![
            entry("2401.00001", "2024-01-10", 4),
            entry("2401.00002", "2024-01-09", 6),
            entry("2401.00001", "2024-01-08", 4),
        ];
        let ranked = trending(entries, noon("2024-01-10"));
        assert_eq!(ids(&ranked), ["2401.00001", "2401.00002"]);
        assert_eq!(ranked[0].day.to_string(), "2024-01-10");
    }
}
