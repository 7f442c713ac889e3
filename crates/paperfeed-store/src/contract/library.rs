//! The contract of a reader's library: saved papers, reading states, notes and collections.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{Duration, TimeZone, Utc};
use paperfeed_core::{ArxivId, ReadingState};

use super::featured;
use crate::{Added, CollectionChange, SavedPaperChange, Store, WriteMode};

fn id(s: &str) -> ArxivId {
    ArxivId::parse(s).unwrap()
}

fn user(name: &str) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: paperfeed_core::EmailAddress::parse(&format!("{name}@example.org")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: false,
        created_at: Utc::now(),
    }
}

/// Saves, states and notes, newest first; collections, private to their owner's writes;
/// every write moves the change counter; a deleted user takes their library along.
pub(super) async fn check_library(store: &dyn Store) {
    store
        .upsert_papers(
            vec![
                featured("2412.09001", "Saved first", "2024-05-01", 1),
                featured("2412.09002", "Saved second", "2024-05-01", 2),
                featured("2412.09003", "Never saved", "2024-05-01", 3),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let reader = store.create_user(user("libreader")).await.unwrap();
    let other = store.create_user(user("libother")).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
    let (a, b, c) = (id("2412.09001"), id("2412.09002"), id("2412.09003"));

    // Saving: once per paper, only papers the store holds; each real change moves the counter.
    let seq = store.change_seq().await.unwrap();
    assert_eq!(
        store.save_paper(reader.id, &a, t0).await.unwrap(),
        Some(true)
    );
    assert!(
        store.change_seq().await.unwrap() > seq,
        "a save moves the counter"
    );
    let seq = store.change_seq().await.unwrap();
    assert_eq!(
        store.save_paper(reader.id, &a, t0).await.unwrap(),
        Some(false)
    );
    assert_eq!(
        store.change_seq().await.unwrap(),
        seq,
        "a repeat changes nothing"
    );
    assert_eq!(
        store
            .save_paper(reader.id, &id("2412.99999"), t0)
            .await
            .unwrap(),
        None
    );
    let later = t0 + Duration::seconds(5);
    assert_eq!(
        store.save_paper(reader.id, &b, later).await.unwrap(),
        Some(true)
    );
    let saved = store.saved_papers(reader.id, None).await.unwrap();
    assert_eq!(
        saved.iter().map(|s| s.paper.clone()).collect::<Vec<_>>(),
        [b.clone(), a.clone()],
        "newest saved first"
    );
    assert_eq!(saved[1].saved_at, t0);
    assert_eq!(saved[1].state, ReadingState::ToRead);
    assert_eq!(saved[1].note, "");
    assert_eq!(store.count_saved(reader.id).await.unwrap(), 2);
    assert_eq!(store.count_saved(other.id).await.unwrap(), 0);
    assert_eq!(
        store
            .saved_among(reader.id, &[c.clone(), a.clone(), b.clone(), a.clone()])
            .await
            .unwrap(),
        [a.clone(), b.clone()],
        "in the order asked, once each"
    );
    assert!(
        store
            .saved_among(other.id, std::slice::from_ref(&a))
            .await
            .unwrap()
            .is_empty()
    );

    // Reading state and note, changed separately; only one's own saved papers.
    let note = "My **note** <script>alert(1)</script>\nwith é";
    assert!(
        store
            .update_saved_paper(
                reader.id,
                &a,
                SavedPaperChange {
                    state: None,
                    note: Some(note.into())
                },
                later
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .update_saved_paper(
                reader.id,
                &a,
                SavedPaperChange {
                    state: Some(ReadingState::Read),
                    note: None
                },
                later
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_saved_paper(
                other.id,
                &a,
                SavedPaperChange {
                    state: Some(ReadingState::Read),
                    note: None
                },
                later
            )
            .await
            .unwrap(),
        "not saved by other"
    );
    let one = store.saved_paper(reader.id, &a).await.unwrap().unwrap();
    assert_eq!((one.state, one.note.as_str()), (ReadingState::Read, note));
    assert_eq!(one.updated_at, later);
    let read = store
        .saved_papers(reader.id, Some(ReadingState::Read))
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].paper, a);
    let to_read = store
        .saved_papers(reader.id, Some(ReadingState::ToRead))
        .await
        .unwrap();
    assert_eq!(to_read.len(), 1);
    assert_eq!(to_read[0].paper, b);
    assert!(store.saved_paper(other.id, &a).await.unwrap().is_none());

    // Unsaving takes the note along.
    assert!(store.unsave_paper(reader.id, &b).await.unwrap());
    assert!(!store.unsave_paper(reader.id, &b).await.unwrap());
    assert_eq!(store.count_saved(reader.id).await.unwrap(), 1);

    // Collections: created private, listed by name, changed only by their owner.
    let seq = store.change_seq().await.unwrap();
    let zeta = store
        .create_collection(reader.id, "Zeta <b>list</b>", t0)
        .await
        .unwrap();
    assert!(store.change_seq().await.unwrap() > seq);
    let alpha = store
        .create_collection(reader.id, "alpha", t0)
        .await
        .unwrap();
    assert!(!zeta.public && zeta.papers == 0 && zeta.owner == reader.id);
    assert_eq!(store.collection(zeta.id).await.unwrap().unwrap(), zeta);
    assert_eq!(
        store
            .collections(reader.id)
            .await
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "Zeta <b>list</b>"],
        "by name, ignoring case"
    );
    assert!(store.collections(other.id).await.unwrap().is_empty());
    assert_eq!(store.collection(-1).await.unwrap(), None);

    let publish = CollectionChange {
        name: Some("Zeta".into()),
        public: Some(true),
    };
    assert!(
        !store
            .update_collection(other.id, zeta.id, publish.clone(), later)
            .await
            .unwrap(),
        "not other's"
    );
    assert!(
        store
            .update_collection(reader.id, zeta.id, publish, later)
            .await
            .unwrap()
    );
    let zeta_now = store.collection(zeta.id).await.unwrap().unwrap();
    assert_eq!((zeta_now.name.as_str(), zeta_now.public), ("Zeta", true));
    assert_eq!(zeta_now.updated_at, later);

    // Papers in a collection: added in one batch with a report per paper, latest first.
    assert_eq!(
        store
            .add_to_collection(other.id, zeta.id, std::slice::from_ref(&a), t0)
            .await
            .unwrap(),
        None,
        "not other's collection"
    );
    assert_eq!(
        store
            .add_to_collection(
                reader.id,
                zeta.id,
                &[a.clone(), id("2412.99999"), a.clone()],
                t0
            )
            .await
            .unwrap(),
        Some(vec![Added::Added, Added::NoSuchPaper, Added::AlreadyThere])
    );
    assert_eq!(
        store
            .add_to_collection(reader.id, zeta.id, std::slice::from_ref(&c), later)
            .await
            .unwrap(),
        Some(vec![Added::Added])
    );
    let entries = store.collection_papers(zeta.id).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.paper.clone()).collect::<Vec<_>>(),
        [c.clone(), a.clone()]
    );
    assert_eq!(entries[1].added_at, t0);
    assert_eq!(store.collection(zeta.id).await.unwrap().unwrap().papers, 2);
    assert_eq!(
        store.collections_with_paper(reader.id, &a).await.unwrap(),
        [zeta.id]
    );
    assert!(
        !store
            .remove_from_collection(other.id, zeta.id, &a)
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_from_collection(reader.id, zeta.id, &a)
            .await
            .unwrap()
    );
    assert_eq!(store.collection_papers(zeta.id).await.unwrap().len(), 1);

    // Deleting: only one's own; the list goes, the papers stay.
    assert!(!store.delete_collection(other.id, alpha.id).await.unwrap());
    assert!(store.delete_collection(reader.id, alpha.id).await.unwrap());
    assert_eq!(store.collection(alpha.id).await.unwrap(), None);
    assert!(store.delete_collection(reader.id, zeta.id).await.unwrap());
    assert!(store.collection_papers(zeta.id).await.unwrap().is_empty());
    assert!(store.get_paper(&c).await.unwrap().is_some());
}
