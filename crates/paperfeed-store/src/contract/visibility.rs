//! The contract of mutes, dismissals ("not interested") and seen marks.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{Duration, Utc};
use paperfeed_core::{ArxivId, MuteKind};

use super::featured;
use crate::{MuteAdded, NewMute, SeenReason, Store, WriteMode};

fn reader(name: &str) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: paperfeed_core::EmailAddress::parse(&format!("{name}@example.net")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: false,
        created_at: Utc::now(),
    }
}

fn mute(kind: MuteKind, text: &str) -> NewMute {
    NewMute {
        kind,
        text: text.to_owned(),
        key: text.to_lowercase(),
        created_at: Utc::now(),
    }
}

/// Mutes are per reader, unique by kind and key, bounded; dismissals and seen marks are
/// idempotent, keep their first time, skip unknown papers and are read back per page of papers.
pub(super) async fn check_visibility(store: &dyn Store) {
    let ana = store.create_user(reader("visibility-ana")).await.unwrap();
    let ben = store.create_user(reader("visibility-ben")).await.unwrap();
    let (p1, p2, p3) = (
        ArxivId::parse("2405.10001").unwrap(),
        ArxivId::parse("2405.10002").unwrap(),
        ArxivId::parse("2405.10003").unwrap(),
    );
    store
        .upsert_papers(
            vec![
                featured(p1.as_str(), "Muted one", "2024-05-20", 3),
                featured(p2.as_str(), "Dismissed one", "2024-05-20", 2),
                featured(p3.as_str(), "Seen one", "2024-05-20", 1),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    let seq_before = store.change_seq().await.unwrap();

    // Mutes: added once per kind and key, listed oldest first, per reader, bounded.
    let MuteAdded::Added(diffusion) = store
        .add_mute(ana.id, mute(MuteKind::Keyword, "Diffusion"), 3)
        .await
        .unwrap()
    else {
        panic!("a first mute is added");
    };
    assert_eq!(
        (diffusion.kind, diffusion.text.as_str()),
        (MuteKind::Keyword, "Diffusion")
    );
    let again = store
        .add_mute(ana.id, mute(MuteKind::Keyword, "diffusion"), 3)
        .await
        .unwrap();
    assert_eq!(
        again,
        MuteAdded::AlreadyThere(diffusion.clone()),
        "the same kind and key is kept once, as first typed"
    );
    let author = store
        .add_mute(ana.id, mute(MuteKind::Author, "diffusion"), 3)
        .await
        .unwrap();
    assert!(
        matches!(author, MuteAdded::Added(_)),
        "another kind with the same key is another mute"
    );
    assert!(matches!(
        store
            .add_mute(ana.id, mute(MuteKind::Category, "cs.CV"), 3)
            .await
            .unwrap(),
        MuteAdded::Added(_)
    ));
    assert_eq!(
        store
            .add_mute(ana.id, mute(MuteKind::Category, "cs.LG"), 3)
            .await
            .unwrap(),
        MuteAdded::Full,
        "past the limit nothing is added"
    );
    let listed = store.mutes(ana.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["Diffusion", "diffusion", "cs.CV"]
    );
    assert_eq!(listed[0], diffusion);
    assert!(store.mutes(ben.id).await.unwrap().is_empty());
    assert!(
        !store.remove_mute(ben.id, diffusion.id).await.unwrap(),
        "nobody removes another reader's mute"
    );
    assert!(store.remove_mute(ana.id, diffusion.id).await.unwrap());
    assert!(!store.remove_mute(ana.id, diffusion.id).await.unwrap());
    assert_eq!(store.mutes(ana.id).await.unwrap().len(), 2);

    // Dismissals: idempotent, first time kept, marked seen, only for stored papers.
    let t0 = Utc::now() - Duration::hours(2);
    assert!(store.dismiss_paper(ana.id, &p2, t0).await.unwrap());
    assert!(
        store
            .dismiss_paper(ana.id, &p2, t0 + Duration::hours(1))
            .await
            .unwrap()
    );
    let missing = ArxivId::parse("2405.99999").unwrap();
    assert!(!store.dismiss_paper(ana.id, &missing, t0).await.unwrap());
    let dismissed = store.dismissed_papers(ana.id, 10).await.unwrap();
    assert_eq!(dismissed.len(), 1);
    assert_eq!(dismissed[0].paper, p2);
    assert_eq!(
        dismissed[0].dismissed_at.timestamp_millis(),
        t0.timestamp_millis()
    );

    // Seen marks: reasons gather, the first time stays, unknown papers are skipped.
    store
        .mark_seen(
            ana.id,
            &[p3.clone(), missing.clone()],
            SeenReason::Opened,
            t0,
        )
        .await
        .unwrap();
    store
        .mark_seen(
            ana.id,
            &[p3.clone(), p3.clone()],
            SeenReason::Mailed,
            t0 + Duration::hours(1),
        )
        .await
        .unwrap();
    store
        .mark_seen(ana.id, &[], SeenReason::Voted, t0)
        .await
        .unwrap();
    let seen = store.seen_papers(ana.id, 10).await.unwrap();
    assert_eq!(
        seen.iter().map(|s| s.paper.clone()).collect::<Vec<_>>(),
        [p2.clone(), p3.clone()],
        "most recently first seen first, ties by id; the paper the store lacks is not marked"
    );
    let mark3 = seen.iter().find(|s| s.paper == p3).unwrap();
    assert!(
        mark3.reasons.contains(SeenReason::Opened) && mark3.reasons.contains(SeenReason::Mailed)
    );
    assert!(!mark3.reasons.contains(SeenReason::Voted));
    assert_eq!(
        mark3.first_seen_at.timestamp_millis(),
        t0.timestamp_millis()
    );
    let mark2 = seen.iter().find(|s| s.paper == p2).unwrap();
    assert!(mark2.reasons.contains(SeenReason::Dismissed));

    // One read for a page: every mute, and which of these papers were dismissed or seen.
    let marks = store
        .reader_marks(
            ana.id,
            &[p1.clone(), p2.clone(), p3.clone(), missing.clone()],
        )
        .await
        .unwrap();
    assert_eq!(marks.mutes.len(), 2);
    assert_eq!(marks.dismissed.len(), 1);
    assert!(marks.dismissed.contains(&p2));
    assert_eq!(marks.seen.len(), 2);
    assert!(marks.seen[&p3].contains(SeenReason::Opened));
    let bens = store
        .reader_marks(ben.id, &[p1.clone(), p2.clone()])
        .await
        .unwrap();
    assert!(bens.mutes.is_empty() && bens.dismissed.is_empty() && bens.seen.is_empty());
    assert!(
        store
            .reader_marks(ana.id, &[])
            .await
            .unwrap()
            .seen
            .is_empty()
    );

    // Taking a dismissal back keeps the seen mark.
    assert!(store.undismiss_paper(ana.id, &p2).await.unwrap());
    assert!(!store.undismiss_paper(ana.id, &p2).await.unwrap());
    assert!(store.dismissed_papers(ana.id, 10).await.unwrap().is_empty());
    let marks = store
        .reader_marks(ana.id, std::slice::from_ref(&p2))
        .await
        .unwrap();
    assert!(marks.dismissed.is_empty());
    assert!(marks.seen[&p2].contains(SeenReason::Dismissed));

    // A subscriber is known as a reader by their account's address, in any case.
    assert_eq!(
        store
            .user_id_by_email("Visibility-Ana@EXAMPLE.net")
            .await
            .unwrap(),
        Some(ana.id)
    );
    assert_eq!(
        store.user_id_by_email("nobody@example.net").await.unwrap(),
        None
    );

    assert_eq!(
        store.change_seq().await.unwrap(),
        seq_before,
        "personal marks change no shared page"
    );
}
