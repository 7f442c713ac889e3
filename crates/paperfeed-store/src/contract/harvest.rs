//! The contract of harvest positions, kept with the batch they came with.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use paperfeed_core::{ArxivId, PaperVersion, UpsertOutcome};

use super::{day, featured};
use crate::{HarvestPosition, Store, WriteMode};

/// A harvest position is written in the transaction of its batch: both or neither.
pub(super) async fn harvest_positions_travel_with_their_batch(store: &dyn Store) {
    use UpsertOutcome::{New, Unchanged, Updated};
    const SOURCE: &str = "oai http://127.0.0.1/oai set=cs";
    assert_eq!(store.harvest_position(SOURCE).await.unwrap(), None);
    let at = |cursor: &str| HarvestPosition {
        cursor: Some(cursor.into()),
        last_day: None,
    };
    let page = vec![
        featured("1603.00001", "Harvested", "2016-03-09", 0),
        featured("1603.00002", "Harvested too", "2016-03-09", 0),
    ];
    let dry = store
        .upsert_harvest_batch(SOURCE, page.clone(), at("tok|1001"), WriteMode::DryRun)
        .await
        .unwrap();
    assert_eq!(dry, [New, New]);
    assert_eq!(
        store.harvest_position(SOURCE).await.unwrap(),
        None,
        "a dry run keeps no position"
    );
    assert!(
        store
            .get_paper(&ArxivId::parse("1603.00001").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let outcomes = store
        .upsert_harvest_batch(SOURCE, page.clone(), at("tok|1001"), WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!(outcomes, [New, New]);
    assert_eq!(
        store.harvest_position(SOURCE).await.unwrap(),
        Some(at("tok|1001"))
    );
    assert_eq!(
        store.harvest_position("another source").await.unwrap(),
        None,
        "positions are kept per source"
    );
    // Replaying a page after a crash repeats nothing.
    let outcomes = store
        .upsert_harvest_batch(SOURCE, page, at("tok|1001"), WriteMode::Commit)
        .await
        .unwrap();
    assert_eq!(outcomes, [Unchanged, Unchanged]);
    // The last (even empty) page clears the cursor and records the day covered.
    let done = HarvestPosition {
        cursor: None,
        last_day: Some(day("2016-03-09")),
    };
    let mut v2 = featured("1603.00001", "Harvested, revised", "2016-03-09", 0);
    v2.versions = vec![PaperVersion {
        number: 2,
        submitted_at: None,
    }];
    assert_eq!(
        store
            .upsert_harvest_batch(SOURCE, vec![v2], done.clone(), WriteMode::Commit)
            .await
            .unwrap(),
        [Updated]
    );
    assert_eq!(store.harvest_position(SOURCE).await.unwrap(), Some(done));
    assert_eq!(
        store
            .upsert_harvest_batch(SOURCE, vec![], at("again"), WriteMode::Commit)
            .await
            .unwrap(),
        []
    );
    assert_eq!(
        store.harvest_position(SOURCE).await.unwrap(),
        Some(at("again"))
    );
}
