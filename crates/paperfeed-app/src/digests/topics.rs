//! Saved searches as digest topics: when a subscriber is a reader (the account with the
//! subscriber's address), their digest gets a section per saved search they keep in it, with
//! the search's new matches (what the matcher found after each indexer pass,
//! `crate::saved_searches`).
//!
//! Each match is mailed once: the digest reads the reader's unsettled matches
//! (`SavedSearchStore::digest_matches`) and settles them in the transaction that records the
//! digest sent (`MailStore::finish_digest_with_matches`) — those shown, those counted under
//! "and N more", and those left out because the reader muted or dismissed the paper, was
//! mailed it before, or finds it elsewhere in the same letter. A digest that does not go out
//! (SMTP refuses it for now or for good, the process dies first) settles nothing, so its
//! matches wait for the next one; a match found while the letter is being sent is not settled
//! by it either. A paper comes once per letter: in the trending list, or under the first
//! search (by name) that has it.

use std::collections::{HashMap, HashSet};

use paperfeed_core::{ArxivId, Paper};
use paperfeed_store::{DigestTopic, SavedSearch, SettleMatches};

/// Papers one section shows at most; the rest are counted ("and 12 more") with a link to the
/// search's page, so a broad search cannot make a huge mail (a reader keeps at most
/// `crate::saved_searches::MAX_SAVED_SEARCHES` searches).
pub const PAPERS_PER_SEARCH: usize = 5;

/// Unsettled matches of one search a digest reads to fill its section, leaving room for those
/// it leaves out; beyond them matches are only counted.
pub const READ_PER_SEARCH: usize = 50;

/// One saved search's new matches, as a letter shows them.
#[derive(Clone, Debug)]
pub struct Section {
    pub search: SavedSearch,
    /// At most [`PAPERS_PER_SEARCH`], newest found first.
    pub papers: Vec<Paper>,
    /// Matches not shown that the reader has not been kept from: "and `more` more".
    pub more: u64,
}

/// What a reader's saved searches add to one letter, and what it settles once sent.
#[derive(Clone, Debug, Default)]
pub struct SearchSections {
    /// Searches with something to say, by name.
    pub sections: Vec<Section>,
    /// Every topic read, including those that show nothing.
    pub settle: Vec<SettleMatches>,
}

impl SearchSections {
    /// The papers the sections show, in order.
    pub fn papers(&self) -> impl Iterator<Item = &ArxivId> {
        self.sections
            .iter()
            .flat_map(|s| s.papers.iter().map(|p| &p.id))
    }
}

/// The sections of `topics` (as the store read them, by name): `stored` holds their papers,
/// `lets_through` says whether the reader's mutes and dismissals let a paper through, and
/// `taken` holds the papers the reader gets no other way in this letter (mailed before, or in
/// its trending list); it grows with each paper a section shows.
pub fn sections(
    topics: Vec<DigestTopic>,
    stored: &HashMap<ArxivId, Paper>,
    lets_through: impl Fn(&Paper) -> bool,
    taken: &mut HashSet<ArxivId>,
) -> SearchSections {
    let mut out = SearchSections::default();
    for topic in topics {
        out.settle.push(topic.settle());
        let mut papers = Vec::new();
        let mut left_out = 0u64;
        for id in &topic.papers {
            let mailable = stored
                .get(id)
                .filter(|p| !taken.contains(id) && lets_through(p));
            match mailable {
                Some(paper) if papers.len() < PAPERS_PER_SEARCH => {
                    taken.insert(id.clone());
                    papers.push(paper.clone());
                }
                // Past the cap: counted among the "more".
                Some(_) => {}
                None => left_out += 1,
            }
        }
        let shown = u64::try_from(papers.len()).unwrap_or(u64::MAX);
        let more = topic
            .unsettled
            .saturating_sub(shown.saturating_add(left_out));
        if !papers.is_empty() || more > 0 {
            out.sections.push(Section {
                search: topic.search,
                papers,
                more,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use paperfeed_store::{SavedSearchId, UserId};

    use super::*;

    fn search(id: i64, name: &str) -> SavedSearch {
        SavedSearch {
            id: SavedSearchId(id),
            user: UserId(1),
            name: name.to_owned(),
            query: name.to_lowercase(),
            mode: "keyword".to_owned(),
            sort: "relevance".to_owned(),
            created_seq: 0,
            created_at: Utc::now(),
            webhook_url: None,
            in_digest: true,
        }
    }

    fn id(n: u32) -> ArxivId {
        ArxivId::parse(&format!("2612.{n:05}")).unwrap()
    }

    fn topic(search_id: i64, name: &str, papers: &[u32], unsettled: u64) -> DigestTopic {
        DigestTopic {
            search: search(search_id, name),
            papers: papers.iter().map(|n| id(*n)).collect(),
            unsettled,
            found_through: 40 + search_id,
        }
    }

    fn stored(ids: impl IntoIterator<Item = u32>) -> HashMap<ArxivId, Paper> {
        ids.into_iter()
            .map(|n| {
                let new = paperfeed_core::NewPaper::new(
                    id(n),
                    format!("Paper {n}"),
                    "An abstract.".to_owned(),
                    Vec::new(),
                );
                (id(n), paperfeed_core::merge(None, new))
            })
            .collect()
    }

    fn shown(section: &Section) -> Vec<u32> {
        section
            .papers
            .iter()
            .map(|p| p.id.as_str()[5..].parse().unwrap())
            .collect()
    }

    #[test]
    fn a_section_shows_a_few_papers_and_counts_the_rest() {
        let all: Vec<u32> = (1..=8).collect();
        let out = sections(
            vec![topic(1, "Broad", &all, 120)],
            &stored(all.clone()),
            |_| true,
            &mut HashSet::new(),
        );
        assert_eq!(out.sections.len(), 1);
        assert_eq!(shown(&out.sections[0]), [1, 2, 3, 4, 5]);
        assert_eq!(
            out.sections[0].more, 115,
            "read or not, the rest is counted"
        );
        assert_eq!(
            out.settle,
            [SettleMatches {
                search: SavedSearchId(1),
                found_through: 41
            }]
        );
    }

    #[test]
    fn left_out_papers_are_neither_shown_nor_counted_and_a_paper_comes_once() {
        let mut taken: HashSet<ArxivId> = [id(1)].into();
        let out = sections(
            vec![
                topic(1, "A", &[1, 2, 3, 4], 4),
                topic(2, "B", &[3, 5, 9], 3),
                topic(3, "C", &[2], 1),
            ],
            // 9 is no longer stored.
            &stored([1, 2, 3, 4, 5]),
            |p| p.id != id(4),
            &mut taken,
        );
        let by_name: Vec<(&str, Vec<u32>, u64)> = out
            .sections
            .iter()
            .map(|s| (s.search.name.as_str(), shown(s), s.more))
            .collect();
        assert_eq!(
            by_name,
            [("A", vec![2, 3], 0), ("B", vec![5], 0)],
            "1 was taken, 4 muted, 3 shown under A already, 9 gone; C has nothing left"
        );
        assert_eq!(out.settle.len(), 3, "C's match is settled all the same");
        assert_eq!(
            out.papers().cloned().collect::<Vec<_>>(),
            [id(2), id(3), id(5)]
        );
        assert!(taken.contains(&id(5)));
    }
}
