//! The contract of the "for you" digest choice.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{TimeZone, Utc};

use super::recommender::reader;
use crate::{ForYouDigest, Store, UserId};

/// Off until turned on; read back exactly, replaced whole, turned off again; per reader;
/// nothing for a user who does not exist; counted; gone with the account; writing it never moves
/// the change counter.
pub(super) async fn check_for_you_digest(store: &dyn Store) {
    let ana = store.create_user(reader("foryou-ana")).await.unwrap();
    let ben = store.create_user(reader("foryou-ben")).await.unwrap();
    let seq_before = store.change_seq().await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 9, 30, 0).unwrap();
    let before = store.count_for_you_digests().await.unwrap();

    assert_eq!(store.for_you_digest(ana.id).await.unwrap(), None);
    let five = ForYouDigest {
        picks: 5,
        updated_at: t0,
    };
    assert!(store.set_for_you_digest(ana.id, Some(&five)).await.unwrap());
    assert_eq!(
        store.for_you_digest(ana.id).await.unwrap(),
        Some(five.clone())
    );
    assert_eq!(
        store.for_you_digest(ben.id).await.unwrap(),
        None,
        "per reader"
    );
    let ten = ForYouDigest {
        picks: 10,
        updated_at: t0 + chrono::Duration::minutes(5),
    };
    assert!(store.set_for_you_digest(ana.id, Some(&ten)).await.unwrap());
    assert_eq!(store.for_you_digest(ana.id).await.unwrap(), Some(ten));
    assert!(store.set_for_you_digest(ben.id, Some(&five)).await.unwrap());
    assert_eq!(store.count_for_you_digests().await.unwrap(), before + 2);

    assert!(store.set_for_you_digest(ana.id, None).await.unwrap());
    assert_eq!(store.for_you_digest(ana.id).await.unwrap(), None, "off");
    assert!(
        store.set_for_you_digest(ana.id, None).await.unwrap(),
        "off again: still a user"
    );
    let nobody = UserId(987_654_321);
    assert!(!store.set_for_you_digest(nobody, Some(&five)).await.unwrap());
    assert!(!store.set_for_you_digest(nobody, None).await.unwrap());
    assert_eq!(store.for_you_digest(nobody).await.unwrap(), None);
    assert_eq!(store.count_for_you_digests().await.unwrap(), before + 1);

    assert_eq!(
        store.change_seq().await.unwrap(),
        seq_before,
        "no page anybody else sees changed"
    );

    store.delete_user(ben.id).await.unwrap().unwrap();
    assert_eq!(store.for_you_digest(ben.id).await.unwrap(), None);
    assert_eq!(
        store.count_for_you_digests().await.unwrap(),
        before,
        "gone with the account"
    );
}
