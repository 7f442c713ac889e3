//! The contract of one account's data: read back whole, and deleted with everything that is
//! only theirs while the counts and names others see are adjusted.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{Duration, Utc};
use paperfeed_core::{ArxivId, Featuring, Submitter};

use super::{day, featured};
use crate::{NewComment, NewSession, Store, UserId, WriteMode};

pub(super) async fn check_accounts(store: &dyn Store) {
    let cleo = store
        .create_user(crate::NewUser {
            username: paperfeed_core::Username::parse("cleo").unwrap(),
            email: paperfeed_core::EmailAddress::parse("cleo@example.org").unwrap(),
            password_hash: "$argon2id$fake$cleo".into(),
            is_admin: false,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(cleo.id).await.unwrap().unwrap().username,
        cleo.username
    );
    let (voted, commented) = (
        ArxivId::parse("2403.00091").unwrap(),
        ArxivId::parse("2403.00092").unwrap(),
    );
    store
        .upsert_papers(
            vec![
                featured(voted.as_str(), "Voted", "2024-03-21", 10),
                featured(commented.as_str(), "Commented", "2024-03-21", 3),
            ],
            WriteMode::Commit,
        )
        .await
        .unwrap();
    store.set_vote(cleo.id, &voted, true).await.unwrap();
    for body in ["first", "second"] {
        store
            .add_comment(NewComment {
                paper: commented.clone(),
                author: cleo.id,
                body: body.into(),
                created_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    let comments = store.comments_by(cleo.id).await.unwrap();
    assert_eq!(
        comments.iter().map(|c| c.body.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    // A hidden comment is not in the visible count: deleting it must not lower the count.
    assert!(
        store
            .set_comment_hidden(comments[1].id, true)
            .await
            .unwrap()
    );
    let submitted_by_cleo = Featuring {
        date: day("2024-03-22"),
        submitter: Some(Submitter {
            name: "cleo".into(),
            fullname: None,
        }),
    };
    assert!(
        store
            .feature_paper(&voted, submitted_by_cleo)
            .await
            .unwrap()
    );
    store
        .create_session(NewSession {
            id_hash: "cleo-session".into(),
            user: cleo.id,
            csrf_token: "csrf".into(),
            created_at: Utc::now(),
            expires_at: Utc::now() + Duration::days(1),
        })
        .await
        .unwrap();
    let votes = store.votes_by(cleo.id).await.unwrap();
    assert_eq!(votes.iter().map(|v| &v.paper).collect::<Vec<_>>(), [&voted]);
    let before_voted = store.get_paper(&voted).await.unwrap().unwrap();
    let before_commented = store.get_paper(&commented).await.unwrap().unwrap();
    let seq = store.change_seq().await.unwrap();

    let gone = store.delete_user(cleo.id).await.unwrap().unwrap();
    assert_eq!(
        (
            gone.votes_withdrawn,
            gone.comments_deleted,
            gone.submissions_anonymised
        ),
        (1, 2, 1)
    );
    assert!(store.user_by_id(cleo.id).await.unwrap().is_none());
    assert!(store.user_by_name("cleo").await.unwrap().is_none());
    assert!(
        store
            .session("cleo-session", Utc::now())
            .await
            .unwrap()
            .is_none(),
        "sessions go with the account"
    );
    assert!(store.votes_by(cleo.id).await.unwrap().is_empty());
    assert!(store.comments(&commented).await.unwrap().is_empty());
    let after_voted = store.get_paper(&voted).await.unwrap().unwrap();
    let after_commented = store.get_paper(&commented).await.unwrap().unwrap();
    assert_eq!(after_voted.upvotes, before_voted.upvotes - 1);
    assert_eq!(
        after_commented.num_comments,
        before_commented.num_comments - 1,
        "only the visible comment left the count"
    );
    let day_kept = after_voted
        .featured
        .iter()
        .find(|f| f.date == day("2024-03-22"));
    assert!(day_kept.is_some(), "the submitted day stays on the feed");
    assert_eq!(
        day_kept.and_then(|f| f.submitter.clone()),
        None,
        "without the account's name"
    );
    assert!(
        store.change_seq().await.unwrap() > seq,
        "the papers' pages changed"
    );
    assert!(store.delete_user(cleo.id).await.unwrap().is_none());
    assert!(store.delete_user(UserId(987_654)).await.unwrap().is_none());
}
