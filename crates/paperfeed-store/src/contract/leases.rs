//! The contract of leases: work that runs once across nodes.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use crate::Store;

/// A lease is one holder's until it runs out or is released; its holder renews it.
pub(super) async fn leases_go_to_one_holder_at_a_time(store: &dyn Store) {
    use chrono::{Duration, TimeZone, Utc};
    let at = |minutes: i64| {
        Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap() + Duration::minutes(minutes)
    };
    const JOB: &str = "digest-schedule";
    assert!(
        store.try_lease(JOB, "node-a", at(5), at(0)).await.unwrap(),
        "free: taken"
    );
    assert!(
        !store.try_lease(JOB, "node-b", at(6), at(1)).await.unwrap(),
        "held by another"
    );
    assert!(
        store.try_lease(JOB, "node-a", at(10), at(4)).await.unwrap(),
        "its holder renews"
    );
    assert!(
        !store.try_lease(JOB, "node-b", at(11), at(9)).await.unwrap(),
        "renewed: still held"
    );
    assert!(
        store
            .try_lease("another job", "node-b", at(11), at(9))
            .await
            .unwrap(),
        "leases are per name"
    );
    assert!(
        store
            .try_lease(JOB, "node-b", at(15), at(10))
            .await
            .unwrap(),
        "run out: free again"
    );
    assert!(
        !store.release_lease(JOB, "node-a").await.unwrap(),
        "only the holder releases"
    );
    assert!(store.release_lease(JOB, "node-b").await.unwrap());
    assert!(
        store
            .try_lease(JOB, "node-a", at(20), at(11))
            .await
            .unwrap(),
        "released: free"
    );
    // Many asking at once: exactly one gets it.
    let asks = (0..20).map(|i| {
        let holder = format!("node-{i}");
        async move {
            store
                .try_lease("race", &holder, at(30), at(0))
                .await
                .unwrap()
        }
    });
    let granted = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .filter(|g| *g)
        .count();
    assert_eq!(
        granted, 1,
        "one of many concurrent askers gets a free lease"
    );
}
