use paperfeed_search::{DEFAULT_EXACT_LIMIT, KeywordIndex};
use paperfeed_store::{SavedSearchStore as _, WriteMode};

use super::*;
use crate::test_support::{paper, sqlite_store, user};

fn spec(q: &str) -> SearchSpec {
    SearchSpec::parse(q, "", "").unwrap()
}

#[tokio::test]
async fn a_search_is_saved_by_name_listed_renamed_and_deleted_with_its_limits() {
    let (_dir, store) = sqlite_store().await;
    let ada = user(&store, "ada", false).await;
    let now = Utc::now();
    let saved = save_search(&store, ada.id, "  Turbines ", &spec("turbine"), now)
        .await
        .unwrap();
    assert_eq!(saved.name, "Turbines");
    assert_eq!(
        (saved.mode.as_str(), saved.sort.as_str()),
        ("hybrid", "relevance")
    );
    assert!(matches!(
        save_search(&store, ada.id, "turbines", &spec("wind"), now).await,
        Err(SavedSearchError::NameTaken(_))
    ));
    assert!(matches!(
        save_search(&store, ada.id, "", &spec("wind"), now).await,
        Err(SavedSearchError::InvalidName)
    ));
    assert!(matches!(
        save_search(
            &store,
            ada.id,
            &"n".repeat(MAX_NAME_CHARS + 1),
            &spec("wind"),
            now
        )
        .await,
        Err(SavedSearchError::InvalidName)
    ));
    assert!(matches!(
        SearchSpec::parse("  ", "", ""),
        Err(SavedSearchError::InvalidQuery(_))
    ));
    assert!(matches!(
        SearchSpec::parse("wind", "telepathic", ""),
        Err(SavedSearchError::InvalidChoice { field: "mode", .. })
    ));
    let keyword = SearchSpec::parse("wind", "keyword", "newest").unwrap();
    assert_eq!(
        keyword.href(|s| s.to_owned()),
        "/papers?q=wind&mode=keyword&sort=newest"
    );
    for i in 1..MAX_SAVED_SEARCHES {
        save_search(&store, ada.id, &format!("s{i}"), &spec("wind"), now)
            .await
            .unwrap();
    }
    assert!(matches!(
        save_search(&store, ada.id, "one more", &spec("wind"), now).await,
        Err(SavedSearchError::TooMany)
    ));
    rename_search(&store, ada.id, saved.id, "Wind turbines")
        .await
        .unwrap();
    assert_eq!(
        saved_search(&store, ada.id, saved.id).await.unwrap().name,
        "Wind turbines"
    );
    let bob = user(&store, "bob", false).await;
    assert!(matches!(
        delete_search(&store, bob.id, saved.id).await,
        Err(SavedSearchError::NotFound)
    ));
    delete_search(&store, ada.id, saved.id).await.unwrap();
    assert_eq!(
        saved_searches(&store, ada.id).await.unwrap().len(),
        MAX_SAVED_SEARCHES - 1
    );
}

#[tokio::test]
async fn the_matcher_records_each_new_matching_paper_once_and_only_after_the_search_was_saved() {
    let (_dir, store) = sqlite_store().await;
    let ada = user(&store, "ada", false).await;
    store
        .upsert_papers(
            vec![paper(
                "2605.00001",
                "Turbine wakes",
                "Old news about turbines.",
            )],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let saved = save_search(&store, ada.id, "Turbines", &spec("turbine"), Utc::now())
        .await
        .unwrap();
    let first = match_new_papers(&store, Utc::now()).await.unwrap();
    assert!(
        first.new_matches.is_empty(),
        "papers from before the search are not new"
    );

    store
        .upsert_papers(
            vec![
                paper("2605.00002", "Turbine blades", "A new turbine blade."),
                paper("2605.00003", "Glaciers", "Ice moving slowly."),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let second = match_new_papers(&store, Utc::now()).await.unwrap();
    assert_eq!(
        second.papers, 2,
        "only the papers changed since the last pass are read"
    );
    assert_eq!(
        second.new_matches,
        [SearchMatch {
            search: saved.id,
            paper: paperfeed_core::ArxivId::parse("2605.00002").unwrap(),
        }]
    );
    // The same paper changing again is not new again.
    store
        .upsert_papers(
            vec![paper(
                "2605.00002",
                "Turbine blades",
                "A new turbine blade, revised.",
            )],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let third = match_new_papers(&store, Utc::now()).await.unwrap();
    assert_eq!(third.papers, 1);
    assert!(third.new_matches.is_empty());
    let waiting = store.digest_matches(ada.id, 10).await.unwrap();
    assert_eq!(waiting.iter().map(|t| t.unsettled).sum::<u64>(), 1);
}

#[tokio::test]
async fn matching_papers_are_the_keyword_matches_newest_first() {
    let (_dir, store) = sqlite_store().await;
    let ada = user(&store, "ada", false).await;
    let mut older = paper("2605.00001", "Turbine wakes", "Wakes behind a turbine.");
    older.published_at = Some(Utc::now() - chrono::Duration::days(30));
    let mut newer = paper("2605.00002", "Turbine blades", "A blade.");
    newer.published_at = Some(Utc::now() - chrono::Duration::days(1));
    let other = paper("2605.00003", "Glaciers", "Ice moving slowly.");
    store
        .upsert_papers(vec![older, newer, other], WriteMode::Commit)
        .await
        .unwrap();
    let engine = Arc::new(SearchEngine::new(
        KeywordIndex::in_memory().unwrap(),
        Err("no model in tests".into()),
        DEFAULT_EXACT_LIMIT,
    ));
    let ids: Vec<paperfeed_core::ArxivId> = ["2605.00001", "2605.00002", "2605.00003"]
        .iter()
        .map(|i| paperfeed_core::ArxivId::parse(i).unwrap())
        .collect();
    engine
        .index_papers(&store.get_papers(&ids).await.unwrap(), 1)
        .unwrap();
    let saved = save_search(
        &store,
        ada.id,
        "Turbines",
        &SearchSpec::parse("turbine", "semantic", "relevance").unwrap(),
        Utc::now(),
    )
    .await
    .unwrap();
    let papers = matching_papers(engine, &store, &saved, 10).await.unwrap();
    let listed: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(listed, ["2605.00002", "2605.00001"]);
}
