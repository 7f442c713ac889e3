//! What a checked identity does to the hub's accounts, on a real SQLite store. The protocol
//! itself is driven end to end against a real OpenID provider by the binary's tests.

use chrono::Utc;
use paperfeed_core::Username;
use paperfeed_store::IdentityStore as _;

use super::*;
use crate::test_support::{sqlite_store, user};

fn provider(name: &str, kind: ProviderKind) -> ProviderConfig {
    ProviderConfig {
        name: name.into(),
        display_name: kind.default_display_name().into(),
        kind,
        client_id: "client".into(),
        client_secret: Some(ClientSecret("s3cret".into())),
        scopes: vec!["openid".into()],
        endpoints: Endpoints::Discovery {
            issuer: "https://issuer.example".into(),
        },
        trust_email: kind.trusts_email_by_default(),
    }
}

fn service(passwords: bool) -> SignIn {
    SignIn::new(IdentityConfig {
        providers: vec![
            provider("github", ProviderKind::GitHub),
            provider("huggingface", ProviderKind::HuggingFace),
            provider("lab", ProviderKind::Oidc),
        ],
        passwords,
        ..IdentityConfig::default()
    })
    .unwrap()
}

fn someone(subject: &str, login: &str, email: Option<&str>, verified: bool) -> ProviderIdentity {
    ProviderIdentity {
        subject: subject.into(),
        login: Some(login.into()),
        name: None,
        email: email.map(str::to_owned),
        email_verified: verified,
    }
}

async fn settle(
    sign_in: &SignIn,
    store: &dyn Store,
    provider: &str,
    identity: ProviderIdentity,
    purpose: Purpose,
    signed_in: Option<UserId>,
) -> Result<Finished, SignInError> {
    let config = sign_in.provider(provider).unwrap().clone();
    sign_in
        .settle(
            store,
            &config,
            identity,
            purpose,
            "/next".into(),
            signed_in,
            Utc::now(),
        )
        .await
}

fn refusal(result: Result<impl std::fmt::Debug, SignInError>) -> Refusal {
    match result {
        Err(SignInError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_identity_signs_up_with_a_free_name_and_signs_in_after() {
    let (_dir, store) = sqlite_store().await;
    let sign_in = service(true);
    user(&store, "octocat", false).await;
    let id = someone("42", "OctoCat", Some("Octo@Example.org"), true);
    let Finished::NeedsSignUp { secret } = settle(
        &sign_in,
        &store,
        "github",
        id.clone(),
        Purpose::SignIn,
        None,
    )
    .await
    .unwrap() else {
        panic!("a new identity needs a sign-up")
    };
    let pending = sign_in
        .pending_signup(&store, &secret, Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pending.suggested_username, "octocat-2",
        "the login is taken"
    );
    assert_eq!(pending.verified_email.as_deref(), Some("octo@example.org"));
    assert!(
        sign_in
            .pending_signup(&store, "not the secret", Utc::now())
            .await
            .unwrap()
            .is_none()
    );

    // A taken or invalid name is refused and the sign-up waits.
    let taken = sign_in
        .complete_signup(&store, &secret, "octocat", None, Utc::now())
        .await;
    assert_eq!(refusal(taken), Refusal::NameTaken("octocat".into()));
    let invalid = sign_in
        .complete_signup(&store, &secret, "no spaces", None, Utc::now())
        .await;
    assert!(matches!(refusal(invalid), Refusal::Field(_)));
    let (made, next) = sign_in
        .complete_signup(
            &store,
            &secret,
            "octo",
            Some("ignored@example.org"),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(next, "/next");
    assert_eq!(
        made.email.as_str(),
        "octo@example.org",
        "the vouched address"
    );
    assert_eq!(made.password_hash, NO_PASSWORD, "no password");
    let again = sign_in
        .complete_signup(&store, &secret, "octo-again", None, Utc::now())
        .await;
    assert_eq!(refusal(again), Refusal::NoPendingSignUp, "taken once");

    let Finished::SignedIn { user, next } =
        settle(&sign_in, &store, "github", id, Purpose::SignIn, None)
            .await
            .unwrap()
    else {
        panic!("a linked identity signs in")
    };
    assert_eq!((user.id, next.as_str()), (made.id, "/next"));
}

#[tokio::test]
async fn an_address_links_only_an_account_a_provider_vouched_for_there() {
    let (_dir, store) = sqlite_store().await;
    let sign_in = service(true);
    // Ben signed up with a password; nobody checked his address.
    let ben = user(&store, "ben", false).await;
    let claims_ben = someone("7", "ben-gh", Some("ben@example.org"), true);
    let refused = settle(
        &sign_in,
        &store,
        "github",
        claims_ben,
        Purpose::SignIn,
        None,
    )
    .await;
    assert!(
        matches!(refused, Ok(Finished::NeedsSignUp { .. })),
        "no silent link to an unverified account: {refused:?}"
    );
    let Ok(Finished::NeedsSignUp { secret }) = settle(
        &sign_in,
        &store,
        "github",
        someone("7", "ben-gh", Some("ben@example.org"), true),
        Purpose::SignIn,
        None,
    )
    .await
    else {
        panic!()
    };
    let taken = sign_in
        .complete_signup(&store, &secret, "ben-gh", None, Utc::now())
        .await;
    assert!(
        matches!(refusal(taken), Refusal::EmailTaken(ref e, _) if e == "ben@example.org"),
        "the page says to log in and link"
    );

    // Ben links GitHub himself: now GitHub vouched for his address there.
    let linked = settle(
        &sign_in,
        &store,
        "github",
        someone("7", "ben-gh", Some("ben@example.org"), true),
        Purpose::Link(ben.id.0),
        Some(ben.id),
    )
    .await
    .unwrap();
    assert!(matches!(linked, Finished::Linked { .. }));
    // So Hugging Face's word for the same address signs him in, linked.
    let Finished::SignedIn { user, .. } = settle(
        &sign_in,
        &store,
        "huggingface",
        someone("hf-ben", "benhf", Some("BEN@example.org"), true),
        Purpose::SignIn,
        None,
    )
    .await
    .unwrap() else {
        panic!("linked by the vouched address")
    };
    assert_eq!(user.id, ben.id);
    assert_eq!(store.identities(ben.id).await.unwrap().len(), 2);

    // An unverified address, or a generic issuer nobody said to trust, links nothing.
    for (provider, verified) in [("huggingface", false), ("lab", true)] {
        let result = settle(
            &sign_in,
            &store,
            provider,
            someone(
                &format!("other-{provider}"),
                "x",
                Some("ben@example.org"),
                verified,
            ),
            Purpose::SignIn,
            None,
        )
        .await;
        assert!(
            matches!(result, Ok(Finished::NeedsSignUp { .. })),
            "{provider}: {result:?}"
        );
    }
}

#[tokio::test]
async fn linking_needs_the_reader_signed_in_and_an_identity_is_one_accounts() {
    let (_dir, store) = sqlite_store().await;
    let sign_in = service(true);
    let ada = user(&store, "ada", false).await;
    let ben = user(&store, "ben", false).await;
    let id = someone("1", "ada-gh", None, false);
    let not_signed_in = settle(
        &sign_in,
        &store,
        "github",
        id.clone(),
        Purpose::Link(ada.id.0),
        Some(ben.id),
    )
    .await;
    assert_eq!(refusal(not_signed_in), Refusal::NotSignedIn);
    settle(
        &sign_in,
        &store,
        "github",
        id.clone(),
        Purpose::Link(ada.id.0),
        Some(ada.id),
    )
    .await
    .unwrap();
    let stolen = settle(
        &sign_in,
        &store,
        "github",
        id,
        Purpose::Link(ben.id.0),
        Some(ben.id),
    )
    .await;
    assert_eq!(refusal(stolen), Refusal::IdentityTaken("GitHub".into()));
}

#[tokio::test]
async fn the_last_way_to_sign_in_stays_linked() {
    let (_dir, store) = sqlite_store().await;
    let with_passwords = service(true);
    let without_passwords = service(false);
    let ada = user(&store, "ada", false).await;
    let id = someone("1", "ada-gh", None, false);
    settle(
        &with_passwords,
        &store,
        "github",
        id,
        Purpose::Link(ada.id.0),
        Some(ada.id),
    )
    .await
    .unwrap();
    // Passwords off: her password is no way in, GitHub is her last.
    let kept = without_passwords
        .unlink(&store, ada.id, "github", "1")
        .await;
    assert_eq!(refusal(kept), Refusal::LastWayToSignIn);
    with_passwords
        .unlink(&store, ada.id, "github", "1")
        .await
        .unwrap();
    let gone = with_passwords.unlink(&store, ada.id, "github", "1").await;
    assert_eq!(refusal(gone), Refusal::NotLinked);
}

#[tokio::test]
async fn a_callback_is_good_once_and_only_in_the_browser_that_started_it() {
    let (_dir, store) = sqlite_store().await;
    let sign_in = service(true);
    // The pending record as `begin` leaves it (begin itself needs the provider's metadata).
    let pending = PendingLogin {
        provider: "github".into(),
        browser_hash: hash_secret("browser"),
        pkce_verifier: "v".repeat(43),
        nonce: "n".into(),
        redirect_uri: "http://127.0.0.1/auth/github/callback".into(),
        purpose: Purpose::SignIn,
        next: "/".into(),
    };
    let put = |state: &'static str| {
        let payload = serde_json::to_string(&pending).unwrap();
        let store = &store;
        async move {
            store
                .put_pending(
                    &hash_secret(state),
                    PENDING_LOGIN,
                    &payload,
                    Utc::now() + chrono::Duration::minutes(1),
                )
                .await
                .unwrap();
        }
    };
    let callback = |state: &str| Callback {
        code: Some("code".into()),
        state: Some(state.into()),
        error: None,
        iss: None,
    };
    put("s1").await;
    let elsewhere = sign_in
        .finish(
            &store,
            "github",
            callback("s1"),
            Some("other"),
            None,
            Utc::now(),
        )
        .await;
    assert_eq!(refusal(elsewhere), Refusal::WrongBrowser);
    let replayed = sign_in
        .finish(
            &store,
            "github",
            callback("s1"),
            Some("browser"),
            None,
            Utc::now(),
        )
        .await;
    assert_eq!(
        refusal(replayed),
        Refusal::UnknownState,
        "taken by the first try"
    );
    put("s2").await;
    let tampered = sign_in
        .finish(
            &store,
            "github",
            callback("s2x"),
            Some("browser"),
            None,
            Utc::now(),
        )
        .await;
    assert_eq!(refusal(tampered), Refusal::UnknownState);
    let wrong_provider = sign_in
        .finish(
            &store,
            "huggingface",
            callback("s2"),
            Some("browser"),
            None,
            Utc::now(),
        )
        .await;
    assert_eq!(refusal(wrong_provider), Refusal::UnknownState);
    put("s3").await;
    let denied = sign_in
        .finish(
            &store,
            "github",
            Callback {
                code: None,
                state: Some("s3".into()),
                error: Some("access_denied<script>".into()),
                iss: None,
            },
            Some("browser"),
            None,
            Utc::now(),
        )
        .await;
    assert_eq!(
        refusal(denied),
        Refusal::ProviderSaid("access_deniedscript".into()),
        "the provider's word, cut to plain characters"
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = provider("github", ProviderKind::GitHub);
    let shown = format!("{config:?} {:?}", service(true));
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("***"));
    assert!(Username::suggest("github-user").is_some());
}
