//! The contract of feed windows and the paper listing by cursor.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use paperfeed_core::{Featuring, Submitter};

use super::{day, featured};
use crate::{Store, WriteMode};

fn entry_keys(entries: &[crate::FeedEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.day.to_string(), e.paper.id.to_string()))
        .collect()
}

fn keys(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(d, id)| ((*d).to_owned(), (*id).to_owned()))
        .collect()
}

/// Feed windows (span, submitter, order, offset) and the paper listing by cursor.
pub(super) async fn check_feed_pages_and_paper_pages(store: &dyn Store) {
    use crate::{FeedOrder, FeedQuery};

    let mut other = featured("2403.00004", "Someone else's", "2024-03-13", 3);
    other.featured = Some(Featuring {
        date: day("2024-03-13"),
        submitter: Some(Submitter {
            name: "someone".into(),
            fullname: None,
        }),
    });
    store
        .upsert_papers(vec![other], WriteMode::Commit)
        .await
        .unwrap();
    let all = FeedQuery {
        days: None,
        submitter: None,
        order: FeedOrder::Newest,
        offset: 0,
        limit: 100,
    };
    let page = |q: FeedQuery| async move { entry_keys(&store.featured_page(q).await.unwrap()) };
    assert_eq!(
        page(all.clone()).await,
        keys(&[
            ("2024-03-15", "2403.00001"),
            ("2024-03-15", "hep-th/9901001"),
            ("2024-03-13", "2403.00004"),
            ("2024-03-13", "2403.00003"),
            ("2024-03-12", "2403.00002"),
            ("2024-03-12", "2403.00001"),
        ]),
        "newest day first, then votes, then id"
    );
    assert_eq!(
        page(FeedQuery {
            order: FeedOrder::MostUpvoted,
            ..all.clone()
        })
        .await,
        keys(&[
            ("2024-03-12", "2403.00002"),
            ("2024-03-15", "2403.00001"),
            ("2024-03-12", "2403.00001"),
            ("2024-03-13", "2403.00004"),
            ("2024-03-13", "2403.00003"),
            ("2024-03-15", "hep-th/9901001"),
        ]),
        "most votes first, then newest day"
    );
    assert_eq!(
        page(FeedQuery {
            offset: 2,
            limit: 2,
            ..all.clone()
        })
        .await,
        keys(&[("2024-03-13", "2403.00004"), ("2024-03-13", "2403.00003")])
    );
    assert_eq!(
        page(FeedQuery {
            submitter: Some("someone".into()),
            ..all.clone()
        })
        .await,
        keys(&[("2024-03-13", "2403.00004")])
    );
    assert_eq!(
        page(FeedQuery {
            days: Some((day("2024-03-13"), day("2024-03-15"))),
            submitter: Some("akhaliq".into()),
            ..all.clone()
        })
        .await,
        keys(&[
            ("2024-03-15", "2403.00001"),
            ("2024-03-15", "hep-th/9901001"),
            ("2024-03-13", "2403.00003"),
        ])
    );
    assert!(
        page(FeedQuery {
            days: Some((day("2024-03-14"), day("2024-03-14"))),
            ..all
        })
        .await
        .is_empty()
    );

    // Paging papers by id with the last id as the cursor visits each paper once, newest first.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let papers = store.papers_page(cursor.clone(), 2).await.unwrap();
        assert!(papers.len() <= 2);
        let Some(last) = papers.last() else { break };
        cursor = Some(last.id.clone());
        seen.extend(papers.iter().map(|p| p.id.to_string()));
    }
    assert_eq!(
        seen,
        [
            "hep-th/9901001",
            "2403.00004",
            "2403.00003",
            "2403.00002",
            "2403.00001"
        ]
    );
}
