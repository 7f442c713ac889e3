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

    let page = following_feed(&store, ada.id, None, 10).await.unwrap();
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
    let first = following_feed(&store, ada.id, None, 3).await.unwrap();
    let cursor = first.next.clone().unwrap();
    let text = cursor_text(&cursor);
    assert_eq!(parse_cursor(&text), Some(cursor.clone()));
    let rest = following_feed(&store, ada.id, Some(cursor), 3)
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
