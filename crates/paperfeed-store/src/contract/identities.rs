//! The contract of identities and pending sign-ins.
#![expect(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use chrono::{Duration, TimeZone, Utc};

use super::recommender::reader;
use crate::{LinkOutcome, NO_PASSWORD, NewIdentity, SignInWays, Store, StoreError, UnlinkOutcome};

fn identity(provider: &str, subject: &str, email: Option<&str>) -> NewIdentity {
    NewIdentity {
        provider: provider.into(),
        subject: subject.into(),
        login: format!("{provider}-{subject}"),
        verified_email: email.map(str::to_owned),
        at: Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap(),
    }
}

/// An account made with its first identity, found by it; a second provider linked by the
/// reader; an identity linked to one account only; linking by address only where a provider
/// vouched for it; unlinking never takes the last way to sign in; pending records taken once,
/// never after they expire; nothing here moves the change counter; all gone with the account.
pub(super) async fn check_identities(store: &dyn Store) {
    let seq_before = store.change_seq().await.unwrap();
    // Made through a provider: no password, the provider vouched for the address.
    let mut new = reader("ident-ana");
    new.password_hash = NO_PASSWORD.into();
    let gh = identity("github", "1001", Some("ident-ana@example.com"));
    let ana = store.create_user_with_identity(new, &gh).await.unwrap();
    assert_eq!(
        store.user_by_identity("github", "1001").await.unwrap(),
        Some(ana.clone())
    );
    assert_eq!(
        store.user_by_identity("github", "1002").await.unwrap(),
        None
    );
    assert_eq!(
        store.user_by_identity("orcid", "1001").await.unwrap(),
        None,
        "a subject is its provider's"
    );
    // The same identity cannot make a second account, and a taken name fails whole.
    let again = store
        .create_user_with_identity(reader("ident-ana2"), &gh)
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { field: "identity" })),
        "{again:?}"
    );
    assert!(store.user_by_name("ident-ana2").await.unwrap().is_none());
    let mut same_name = reader("ident-ana");
    same_name.email = paperfeed_core::EmailAddress::parse("other-ana@example.com").unwrap();
    let taken = store
        .create_user_with_identity(same_name, &identity("github", "1003", None))
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { field: "username" })),
        "{taken:?}"
    );
    assert_eq!(
        store.user_by_identity("github", "1003").await.unwrap(),
        None,
        "nothing kept of a refused sign-up"
    );

    // Vouched addresses: Ana's (any case), not Ben's, whose password sign-up nobody checked.
    let ben = store.create_user(reader("ident-ben")).await.unwrap();
    assert_eq!(
        store
            .user_with_vouched_email("Ident-Ana@Example.com")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ana.id)
    );
    assert_eq!(
        store
            .user_with_vouched_email("ident-ben@example.com")
            .await
            .unwrap(),
        None
    );

    // Ana links a second provider; it is hers alone.
    let hf = identity("huggingface", "ana-hf", None);
    assert_eq!(
        store.link_identity(ana.id, &hf).await.unwrap(),
        LinkOutcome::Linked
    );
    assert_eq!(
        store.link_identity(ana.id, &hf).await.unwrap(),
        LinkOutcome::AlreadyLinked
    );
    assert_eq!(
        store.link_identity(ben.id, &hf).await.unwrap(),
        LinkOutcome::OtherAccount
    );
    let listed = store.identities(ana.id).await.unwrap();
    let keys: Vec<(&str, &str)> = listed
        .iter()
        .map(|i| (i.provider.as_str(), i.subject.as_str()))
        .collect();
    assert_eq!(keys, [("github", "1001"), ("huggingface", "ana-hf")]);
    assert_eq!(listed[0].login, "github-1001");
    assert_eq!(
        listed[0].verified_email.as_deref(),
        Some("ident-ana@example.com")
    );
    assert_eq!(listed[0].linked_at, gh.at);
    assert!(store.identities(ben.id).await.unwrap().is_empty());

    // A sign-in refreshes what the provider says.
    let mut later = gh.clone();
    later.login = "ana-renamed".into();
    later.at = gh.at + Duration::days(3);
    assert!(store.touch_identity(&later).await.unwrap());
    assert!(
        !store
            .touch_identity(&identity("github", "9999", None))
            .await
            .unwrap()
    );
    let listed = store.identities(ana.id).await.unwrap();
    assert_eq!(listed[0].login, "ana-renamed");
    assert_eq!(listed[0].last_used_at, Some(later.at));
    assert_eq!(listed[0].linked_at, gh.at);

    // Unlinking: never the last way in. Ana has no password.
    let ways = SignInWays {
        password: true,
        providers: vec!["github".into(), "huggingface".into()],
    };
    assert_eq!(
        store
            .unlink_identity(ben.id, "github", "1001", &ways)
            .await
            .unwrap(),
        UnlinkOutcome::NotLinked,
        "only the account's own"
    );
    // With HF no longer configured, GitHub is her only way in.
    let github_only = SignInWays {
        password: true,
        providers: vec!["github".into()],
    };
    assert_eq!(
        store
            .unlink_identity(ana.id, "github", "1001", &github_only)
            .await
            .unwrap(),
        UnlinkOutcome::LastWayToSignIn
    );
    assert_eq!(
        store
            .unlink_identity(ana.id, "github", "1001", &ways)
            .await
            .unwrap(),
        UnlinkOutcome::Unlinked
    );
    assert_eq!(
        store
            .unlink_identity(ana.id, "huggingface", "ana-hf", &ways)
            .await
            .unwrap(),
        UnlinkOutcome::LastWayToSignIn
    );
    assert_eq!(
        store.user_by_identity("github", "1001").await.unwrap(),
        None
    );
    // Ben's password counts while password sign-in is on.
    assert_eq!(
        store
            .link_identity(ben.id, &identity("orcid", "0000-0001", None))
            .await
            .unwrap(),
        LinkOutcome::Linked
    );
    let no_passwords = SignInWays {
        password: false,
        providers: vec!["orcid".into()],
    };
    assert_eq!(
        store
            .unlink_identity(ben.id, "orcid", "0000-0001", &no_passwords)
            .await
            .unwrap(),
        UnlinkOutcome::LastWayToSignIn
    );
    assert_eq!(
        store
            .unlink_identity(ben.id, "orcid", "0000-0001", &ways)
            .await
            .unwrap(),
        UnlinkOutcome::Unlinked
    );

    // Pending records: taken once; a peek leaves it; an expired one is never handed out; a
    // kind is its own.
    let now = Utc::now();
    store
        .put_pending("k1", "login", "{\"a\":1}", now + Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(store.peek_pending("k1", "signup", now).await.unwrap(), None);
    assert_eq!(
        store
            .peek_pending("k1", "login", now)
            .await
            .unwrap()
            .as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(
        store
            .take_pending("k1", "login", now)
            .await
            .unwrap()
            .as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(store.take_pending("k1", "login", now).await.unwrap(), None);
    store
        .put_pending("k2", "login", "old", now + Duration::minutes(1))
        .await
        .unwrap();
    store
        .put_pending("k2", "login", "new", now + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_pending("k2", "login", now + Duration::minutes(2))
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.take_pending("k2", "login", now).await.unwrap(), None);

    assert_eq!(
        store.change_seq().await.unwrap(),
        seq_before,
        "no page anybody else sees changed"
    );
    // Gone with the account.
    store.delete_user(ana.id).await.unwrap().unwrap();
    assert_eq!(
        store
            .user_by_identity("huggingface", "ana-hf")
            .await
            .unwrap(),
        None
    );
    assert!(store.identities(ana.id).await.unwrap().is_empty());
}
