use chrono::TimeZone as _;
use paperfeed_core::{Author, NewPaper, Organization};
use paperfeed_store::WriteMode;

use super::*;
use crate::test_support::{sqlite_store, user};

fn paper(id: &str, day: u32, authors: &[(&str, Option<&str>)], org: Option<&str>) -> NewPaper {
    let mut p = NewPaper::new(
        ArxivId::parse(id).unwrap(),
        format!("Paper {id}"),
        "An abstract.".into(),
        authors
            .iter()
            .map(|(name, account)| Author {
                name: (*name).into(),
                user: account.map(str::to_owned),
                hidden: false,
            })
            .collect(),
    );
    p.published_at = Some(Utc.with_ymd_and_hms(2025, 2, day, 9, 0, 0).unwrap());
    p.categories = vec!["cs.LG".into()];
    p.organization = org.map(|name| Organization {
        name: name.into(),
        fullname: Some("Acme Research".into()),
    });
    p
}

fn author(name: &str) -> FollowTarget {
    FollowTarget::Author(AuthorKey::from_name(name).unwrap())
}

fn ids(items: &[FollowingItem]) -> Vec<&str> {
    items.iter().map(|i| i.paper.id.as_str()).collect()
}

async fn hub() -> (tempfile::TempDir, paperfeed_store::SqliteStore) {
    let (dir, store) = sqlite_store().await;
    store
        .upsert_papers(
            vec![
                paper("2502.00001", 1, &[("Zoë Müller", None)], None),
                paper(
                    "2502.00002",
                    4,
                    &[("Zoe Muller", Some("zoe")), ("Max Roe", None)],
                    Some("acme"),
                ),
                paper("2502.00003", 3, &[("Zed Mueller", Some("zoe"))], None),
                paper("2502.00004", 2, &[("Max Roe", None)], Some("acme")),
                paper("2502.00005", 5, &[("Somebody Else", None)], None),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn the_following_feed_merges_follows_newest_first_once_each_with_every_reason() {
    let (_dir, store) = hub().await;
    let ada = user(&store, "ada", false).await;
    let now = Utc::now();
    assert!(
        follow(&store, ada.id, &author("Zoe Muller"), now)
            .await
            .unwrap()
    );
    assert!(
        !follow(&store, ada.id, &author("zoe muller"), now)
            .await
            .unwrap()
    );
    follow(
        &store,
        ada.id,
        &FollowTarget::Organization("acme".into()),
        now,
    )
    .await
    .unwrap();

    let page = following_feed(&store, ada.id, &[], None, 10).await.unwrap();
    assert_eq!(page.follows, 2);
    assert_eq!(
        ids(&page.items),
        ["2502.00002", "2502.00003", "2502.00004", "2502.00001"],
        "newest first, no duplicates, the name claimed by the same account included"
    );
    let reasons: Vec<String> = page.items[0]
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        reasons,
        [
            "author you follow: Zoe Muller",
            "organisation you follow: Acme Research"
        ]
    );
    let merged: Vec<String> = page.items[1]
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(merged, ["author you follow: Zed Mueller"]);
    assert_eq!(page.items[1].reasons[0].target(), author("Zoe Muller"));

    // Paging continues after the cursor and ends.
    let first = following_feed(&store, ada.id, &[], None, 3).await.unwrap();
    let cursor = first.next.clone().unwrap();
    let text = cursor_text(&cursor);
    assert_eq!(parse_cursor(&text), Some(cursor.clone()));
    let rest = following_feed(&store, ada.id, &[], Some(cursor), 3)
        .await
        .unwrap();
    assert_eq!(ids(&rest.items), ["2502.00001"]);
    assert!(rest.next.is_none());
}

#[tokio::test]
async fn an_author_page_merges_the_same_normalised_name_and_the_same_claimed_account() {
    let (_dir, store) = hub().await;
    let key = AuthorKey::from_slug("zoe-muller").unwrap();
    let page = author_page(&store, &key, None, 10).await.unwrap().unwrap();
    let papers: Vec<&str> = page
        .listing
        .papers
        .iter()
        .map(|p| p.paper.id.as_str())
        .collect();
    assert_eq!(papers, ["2502.00002", "2502.00003", "2502.00001"]);
    let variants: Vec<(&str, Option<&str>)> = page
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.via_account.as_deref()))
        .collect();
    assert_eq!(
        variants,
        [
            ("Zoe Muller", None),
            ("Zoë Müller", None),
            ("Zed Mueller", Some("zoe"))
        ]
    );
    assert_eq!(page.accounts, ["zoe"]);
    assert!(
        author_page(&store, &AuthorKey::from_slug("nobody").unwrap(), None, 10)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_reader_cannot_follow_more_than_the_limit() {
    let (_dir, store) = sqlite_store().await;
    let ada = user(&store, "ada", false).await;
    let now = Utc::now();
    for i in 0..MAX_FOLLOWS {
        follow(
            &store,
            ada.id,
            &FollowTarget::SavedSearch(i as i64 + 1),
            now,
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        follow(&store, ada.id, &author("One More"), now).await,
        Err(FollowError::TooMany)
    ));
}

#[test]
fn cursors_that_were_not_written_by_us_are_refused() {
    for odd in ["", "~", "12", "x~2502.00001", "12~not-an-id"] {
        assert_eq!(parse_cursor(odd), None, "{odd}");
    }
    assert_eq!(page_size(None), DEFAULT_PAGE);
    assert_eq!(page_size(Some(0)), 1);
    assert_eq!(page_size(Some(10_000)), MAX_PAGE);
}

#[tokio::test]
async fn saved_search_matches_join_the_feed_once_with_their_reason() {
    let (_dir, store) = hub().await;
    let ada = user(&store, "ada", false).await;
    follow(&store, ada.id, &author("Max Roe"), Utc::now())
        .await
        .unwrap();
    let matched = store
        .get_papers(&[
            ArxivId::parse("2502.00005").unwrap(),
            ArxivId::parse("2502.00002").unwrap(),
        ])
        .await
        .unwrap();
    let searches = [SearchMatches {
        id: 7,
        name: "my <topic>".into(),
        papers: matched,
    }];
    let page = following_feed(&store, ada.id, &searches, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page.items), ["2502.00005", "2502.00002", "2502.00004"]);
    let reasons: Vec<String> = page.items[1]
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        reasons,
        [
            "author you follow: Max Roe",
            "matches your search: my <topic>"
        ]
    );
    let cursor = ListingCursor {
        at: page.items[0].at,
        id: page.items[0].paper.id.clone(),
    };
    let older = following_feed(&store, ada.id, &searches, Some(cursor), 10)
        .await
        .unwrap();
    assert_eq!(ids(&older.items), ["2502.00002", "2502.00004"]);
}

/// An engine over an empty in-memory index, fed by the real indexer.
fn indexer(store: &std::sync::Arc<dyn Store>) -> crate::indexing::Indexer {
    crate::indexing::Indexer {
        store: std::sync::Arc::clone(store),
        engine: std::sync::Arc::new(paperfeed_search::SearchEngine::new(
            paperfeed_search::KeywordIndex::in_memory().unwrap(),
            Err("no model in tests".into()),
            paperfeed_search::DEFAULT_EXACT_LIMIT,
        )),
        embed_batch: 16,
    }
}

async fn save(
    store: &dyn Store,
    user: UserId,
    name: &str,
    q: &str,
) -> paperfeed_store::SavedSearch {
    let spec = crate::saved_searches::SearchSpec::parse(q, "keyword", "").unwrap();
    crate::saved_searches::save_search(store, user, name, &spec, Utc::now())
        .await
        .unwrap()
}

/// The page as it reads with every search run now, in full (what the feed showed before
/// matches were kept).
async fn page_running_every_search(
    indexer: &crate::indexing::Indexer,
    user: UserId,
    before: Option<ListingCursor>,
    limit: usize,
) -> Vec<(String, Vec<String>)> {
    let store = &*indexer.store;
    let mut matches = Vec::new();
    for search in store.saved_searches(user).await.unwrap() {
        let papers = crate::saved_searches::matching_papers(
            std::sync::Arc::clone(&indexer.engine),
            store,
            &search,
            SEARCH_PAPERS,
        )
        .await
        .unwrap();
        matches.push(SearchMatches {
            id: search.id.0,
            name: search.name,
            papers,
        });
    }
    shown(
        following_feed(store, user, &matches, before, limit)
            .await
            .unwrap(),
    )
}

async fn page_kept(
    indexer: &crate::indexing::Indexer,
    kept: &NewestMatches,
    user: UserId,
    before: Option<ListingCursor>,
    limit: usize,
) -> Vec<(String, Vec<String>)> {
    let store = &*indexer.store;
    let matches = saved_search_matches(
        std::sync::Arc::clone(&indexer.engine),
        kept,
        store,
        user,
        before.as_ref(),
        limit,
    )
    .await
    .unwrap();
    shown(
        following_feed(store, user, &matches, before, limit)
            .await
            .unwrap(),
    )
}

fn shown(page: FollowingPage) -> Vec<(String, Vec<String>)> {
    page.items
        .iter()
        .map(|i| {
            (
                i.paper.id.to_string(),
                i.reasons.iter().map(ToString::to_string).collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn kept_search_matches_read_as_running_every_search_and_follow_the_index_and_names() {
    let (_dir, store) = hub().await;
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);
    let ada = user(&*store, "ada", false).await;
    follow(&*store, ada.id, &author("Max Roe"), Utc::now())
        .await
        .unwrap();
    let indexer = indexer(&store);
    indexer.catch_up(&|_| {}).await.unwrap();
    let kept = NewestMatches::default();
    save(&*store, ada.id, "Papers", "paper").await;
    let twice = save(&*store, ada.id, "Also papers", "paper").await;
    save(&*store, ada.id, "Kites", "kite").await;

    // Every page, cursor and size reads as when every search ran in full.
    let cursor = |id: &str, day: u32| ListingCursor {
        at: Utc.with_ymd_and_hms(2025, 2, day, 9, 0, 0).unwrap(),
        id: ArxivId::parse(id).unwrap(),
    };
    for before in [
        None,
        Some(cursor("2502.00004", 2)),
        Some(cursor("2502.00003", 3)),
    ] {
        for limit in [1, 2, 3, 10] {
            assert_eq!(
                page_kept(&indexer, &kept, ada.id, before.clone(), limit).await,
                page_running_every_search(&indexer, ada.id, before.clone(), limit).await,
                "before {before:?}, limit {limit}"
            );
        }
    }
    assert_eq!(
        kept.len(),
        2,
        "one entry per query, shared by searches asking the same"
    );

    // A new match is listed after the indexer's pass that takes it in, not before.
    let mut kite = paper("2502.00009", 9, &[("Somebody Else", None)], None);
    kite.title = "Kite flying".into();
    store
        .upsert_papers(vec![kite], WriteMode::Commit)
        .await
        .unwrap();
    let first = page_kept(&indexer, &kept, ada.id, None, 10).await;
    assert_ne!(first[0].0, "2502.00009", "not indexed yet");
    indexer.catch_up(&|_| {}).await.unwrap();
    let after = page_kept(&indexer, &kept, ada.id, None, 10).await;
    assert_eq!(
        after[0],
        (
            "2502.00009".to_owned(),
            vec!["matches your search: Kites".to_owned()]
        )
    );
    assert_eq!(
        after,
        page_running_every_search(&indexer, ada.id, None, 10).await
    );

    // A renamed search's reasons change at once; a deleted one's go.
    crate::saved_searches::rename_search(&*store, ada.id, twice.id, "Renamed")
        .await
        .unwrap();
    let renamed = page_kept(&indexer, &kept, ada.id, None, 10).await;
    assert!(
        renamed
            .iter()
            .any(|(_, reasons)| reasons.contains(&"matches your search: Renamed".to_owned()))
    );
    assert!(
        !renamed
            .iter()
            .any(|(_, reasons)| reasons.contains(&"matches your search: Also papers".to_owned()))
    );
    crate::saved_searches::delete_search(&*store, ada.id, twice.id)
        .await
        .unwrap();
    assert_eq!(
        page_kept(&indexer, &kept, ada.id, None, 10).await,
        page_running_every_search(&indexer, ada.id, None, 10).await
    );
}
