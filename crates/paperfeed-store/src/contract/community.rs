//! The contract of accounts, sessions, tokens, votes, comments and submissions.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use paperfeed_core::{ArxivId, Featuring, Submitter};

use super::{day, featured};
use crate::{Store, WriteMode};

fn user(name: &str, admin: bool) -> crate::NewUser {
    crate::NewUser {
        username: paperfeed_core::Username::parse(name).unwrap(),
        email: paperfeed_core::EmailAddress::parse(&format!("{name}@example.org")).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        is_admin: admin,
        created_at: chrono::Utc::now(),
    }
}

/// Accounts, sessions, tokens, votes, comments and submissions.
pub(super) async fn check_community(store: &dyn Store) {
    use crate::{NewComment, NewSession, StoreError};
    use chrono::{Duration, Utc};

    // Accounts: names and emails are unique without regard to case.
    let ada = store.create_user(user("ada", false)).await.unwrap();
    let bob = store.create_user(user("bob", false)).await.unwrap();
    let mod_ = store.create_user(user("moderator", true)).await.unwrap();
    assert!(mod_.is_admin && !ada.is_admin);
    let mut twin = user("ADA", false);
    twin.email = paperfeed_core::EmailAddress::parse("other@example.org").unwrap();
    assert!(matches!(
        store.create_user(twin).await,
        Err(StoreError::Conflict { field: "username" })
    ));
    let mut same_mail = user("ada2", false);
    same_mail.email = paperfeed_core::EmailAddress::parse("ADA@example.org").unwrap();
    assert!(matches!(
        store.create_user(same_mail).await,
        Err(StoreError::Conflict { field: "email" })
    ));
    assert_eq!(store.user_by_name("Ada").await.unwrap().unwrap().id, ada.id);
    assert!(store.user_by_name("nobody").await.unwrap().is_none());

    // Sessions: found by hash until they expire; a password change ends the others.
    let now = Utc::now();
    for id in ["s1", "s2"] {
        store
            .create_session(NewSession {
                id_hash: id.into(),
                user: ada.id,
                csrf_token: format!("csrf-{id}"),
                created_at: now,
                expires_at: now + Duration::days(1),
            })
            .await
            .unwrap();
    }
    let s = store.session("s1", now).await.unwrap().unwrap();
    assert_eq!((s.user.id, s.csrf_token.as_str()), (ada.id, "csrf-s1"));
    assert!(
        store
            .session("s1", now + Duration::days(2))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    store
        .set_password_hash(ada.id, "$argon2id$new".into(), Some("s1".into()))
        .await
        .unwrap();
    assert!(store.session("s1", now).await.unwrap().is_some());
    assert!(
        store.session("s2", now).await.unwrap().is_none(),
        "other sessions end"
    );
    assert_eq!(
        store
            .user_by_name("ada")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    store.delete_session("s1").await.unwrap();
    assert!(store.session("s1", now).await.unwrap().is_none());

    // API tokens: found by hash, listed, revoked only by their owner.
    let token = store
        .create_api_token(bob.id, "script".into(), "hash-b".into())
        .await
        .unwrap();
    assert_eq!(
        store.user_by_api_token("hash-b").await.unwrap().unwrap().id,
        bob.id
    );
    assert_eq!(store.api_tokens(bob.id).await.unwrap().len(), 1);
    assert!(!store.revoke_api_token(ada.id, token.id).await.unwrap());
    assert!(store.revoke_api_token(bob.id, token.id).await.unwrap());
    assert!(store.user_by_api_token("hash-b").await.unwrap().is_none());

    // Votes: imported + local; one per user however often and however concurrently cast.
    let id = ArxivId::parse("2403.00003").unwrap();
    let imported = store.get_paper(&id).await.unwrap().unwrap().upvotes;
    let seq = store.change_seq().await.unwrap();
    let votes = (0..100).map(|_| store.set_vote(ada.id, &id, true));
    for outcome in futures_util::future::join_all(votes).await {
        assert!(outcome.unwrap().unwrap().voted);
    }
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().upvotes,
        imported + 1,
        "100 concurrent votes by one user count once"
    );
    assert!(
        store.change_seq().await.unwrap() > seq,
        "a vote moves change_seq"
    );
    assert!(store.has_voted(ada.id, &id).await.unwrap());
    let outcome = store.set_vote(bob.id, &id, true).await.unwrap().unwrap();
    assert_eq!(outcome.upvotes, imported + 2);
    let outcome = store.set_vote(bob.id, &id, false).await.unwrap().unwrap();
    assert_eq!((outcome.upvotes, outcome.voted), (imported + 1, false));
    let again = store.set_vote(bob.id, &id, false).await.unwrap().unwrap();
    assert_eq!(
        again.upvotes,
        imported + 1,
        "withdrawing twice withdraws once"
    );
    assert!(
        store
            .set_vote(ada.id, &ArxivId::parse("2403.99999").unwrap(), true)
            .await
            .unwrap()
            .is_none()
    );
    // Re-ingesting the paper with new imported counts keeps the local votes on top.
    let refreshed = featured("2403.00003", "Next day", "2024-03-13", 10);
    store
        .upsert_papers(vec![refreshed], WriteMode::Commit)
        .await
        .unwrap();
    let p = store.get_paper(&id).await.unwrap().unwrap();
    assert_eq!(p.upvotes, 11, "10 imported + 1 local");
    let base = p.num_comments;

    // Comments: counted while visible; only the author edits or deletes; admins hide.
    let new = |author, body: &str| NewComment {
        paper: id.clone(),
        author,
        body: body.into(),
        created_at: Utc::now(),
    };
    let c1 = store
        .add_comment(new(ada.id, "**first**"))
        .await
        .unwrap()
        .unwrap();
    let c2 = store
        .add_comment(new(bob.id, "<script>x</script>"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c2.body, "<script>x</script>", "stored verbatim");
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().num_comments,
        base + 2
    );
    assert!(
        !store
            .edit_comment(c1.id, bob.id, "hijacked".into())
            .await
            .unwrap()
    );
    assert!(!store.delete_comment(c1.id, bob.id).await.unwrap());
    assert!(
        store
            .edit_comment(c1.id, ada.id, "edited".into())
            .await
            .unwrap()
    );
    assert_eq!(store.comment(c1.id).await.unwrap().unwrap().body, "edited");
    assert!(store.set_comment_hidden(c2.id, true).await.unwrap());
    assert!(
        !store.set_comment_hidden(c2.id, true).await.unwrap(),
        "already hidden"
    );
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().num_comments,
        base + 1
    );
    let listed = store.comments(&id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[1].hidden);
    assert_eq!(listed[0].author.as_str(), "ada");
    assert!(store.delete_comment(c1.id, ada.id).await.unwrap());
    assert_eq!(
        store.get_paper(&id).await.unwrap().unwrap().num_comments,
        base
    );
    assert!(
        store
            .add_comment(NewComment {
                paper: ArxivId::parse("2403.99999").unwrap(),
                ..new(ada.id, "x")
            })
            .await
            .unwrap()
            .is_none()
    );

    // Submissions feature a stored paper on a day, once.
    let on = Featuring {
        date: day("2024-03-20"),
        submitter: Some(Submitter {
            name: "bob".into(),
            fullname: None,
        }),
    };
    assert!(store.feature_paper(&id, on.clone()).await.unwrap());
    assert!(!store.feature_paper(&id, on.clone()).await.unwrap());
    let p = store.get_paper(&id).await.unwrap().unwrap();
    assert!(p.featured.iter().any(|f| f.date == day("2024-03-20")));
    assert!(
        !store
            .feature_paper(&ArxivId::parse("2403.99999").unwrap(), on)
            .await
            .unwrap()
    );
}
