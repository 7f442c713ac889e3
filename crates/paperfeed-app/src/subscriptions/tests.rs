//! The subscription use cases against a real SQLite store in a tempdir and a real SMTP
//! server on loopback.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use paperfeed_core::{EmailAddress, Frequency};
use paperfeed_mail::{LinkPurpose, LinkSigner};
use paperfeed_store::{MailStore, SqliteStore, SubscriberStatus};

use super::*;
use crate::metrics::{NoMetrics, SmtpFailure};
use crate::smtp_sink::SmtpSink;
use crate::test_support::SmtpFailures;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

struct Hub {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    links: MailLinks,
}

fn hub(mailer: Option<paperfeed_mail::Mailer>) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("hub.db")).unwrap());
    let links = MailLinks {
        signer: LinkSigner::new(KEY),
        store: store.clone(),
        mailer,
        from: "Daily Papers <papers@hub.test>".to_owned(),
        base_url: "https://hub.test".to_owned(),
        resend_after: Duration::minutes(60),
    };
    Hub {
        _dir: dir,
        store,
        links,
    }
}

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap()
}

/// The subscriber `id` as stored.
async fn fetch(hub: &Hub, id: i64) -> paperfeed_store::Subscriber {
    hub.store.subscriber(id).await.unwrap().unwrap()
}

/// Asks for `email` (daily) and returns the subscriber's id.
async fn subscribed(hub: &Hub, email: &str, now: DateTime<Utc>) -> i64 {
    subscribe(
        &hub.links,
        &address(email),
        Frequency::Daily,
        &NoMetrics,
        now,
    )
    .await
    .unwrap()
    .subscriber
}

/// The token of the first `marker…` link in a raw mail (quoted-printable undone).
fn link_token(raw: &str, marker: &str) -> String {
    let text = raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    text.split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no {marker} link in {text}"))
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

/// A link of `purpose` for `subscriber`, valid for a day after `now`.
fn sign(hub: &Hub, subscriber: i64, purpose: LinkPurpose, now: DateTime<Utc>) -> String {
    hub.links
        .signer
        .sign(subscriber, purpose, now + Duration::days(1))
}

#[tokio::test]
async fn a_request_mails_one_confirmation_per_interval_and_its_link_confirms() {
    let sink = SmtpSink::start();
    let hub = hub(Some(sink.mailer()));
    let now = Utc::now();
    let eve = address("eve@example.test");

    let first = subscribe(&hub.links, &eve, Frequency::Weekly, &NoMetrics, now)
        .await
        .unwrap();
    assert!(first.confirmation_due);
    let mails = sink.received();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["eve@example.test"]);
    assert!(
        mails[0]
            .data
            .contains("Subject: Confirm your Daily Papers subscription")
    );
    let token = link_token(&mails[0].data, "https://hub.test/confirm?t=");

    let stored = fetch(&hub, first.subscriber).await;
    assert_eq!(stored.status, SubscriberStatus::Pending);
    assert_eq!(stored.frequency, Frequency::Weekly);

    // Asked again within the interval: the same subscriber, no second mail.
    let again = subscribe(&hub.links, &eve, Frequency::Weekly, &NoMetrics, now)
        .await
        .unwrap();
    assert_eq!(again.subscriber, first.subscriber);
    assert!(!again.confirmation_due);
    assert_eq!(sink.received().len(), 1);

    assert!(matches!(
        confirm(&hub.links, &format!("{token}x"), now).await,
        Err(SubscriptionError::InvalidLink(_))
    ));
    assert_eq!(
        confirm(&hub.links, &token, now).await.unwrap(),
        first.subscriber
    );
    let stored = fetch(&hub, first.subscriber).await;
    assert_eq!(stored.status, SubscriberStatus::Confirmed);

    // Confirmed, and the interval over: still no mail (nobody learns who is subscribed).
    let later = subscribe(
        &hub.links,
        &eve,
        Frequency::Daily,
        &NoMetrics,
        now + Duration::hours(2),
    )
    .await
    .unwrap();
    assert!(!later.confirmation_due);
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_confirmation_link_expires_and_is_for_confirming_only() {
    let hub = hub(None);
    let now = Utc::now();
    let token = hub.links.signer.sign(
        7,
        LinkPurpose::Confirm,
        now + Duration::hours(CONFIRM_HOURS),
    );
    assert!(matches!(
        confirm(&hub.links, &token, now + Duration::hours(CONFIRM_HOURS + 1)).await,
        Err(SubscriptionError::InvalidLink(_))
    ));
    assert!(matches!(
        unsubscribe(&hub.links, &token, now).await,
        Err(SubscriptionError::InvalidLink(_))
    ));
}

#[tokio::test]
async fn a_refused_confirmation_mail_is_counted_and_the_request_still_succeeds() {
    let sink = SmtpSink::refusing("bounce");
    let hub = hub(Some(sink.mailer()));
    let failures = SmtpFailures::default();
    let requested = subscribe(
        &hub.links,
        &address("bounce@example.test"),
        Frequency::Daily,
        &failures,
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(requested.confirmation_due);
    assert!(sink.received().is_empty());
    assert_eq!(failures.kinds(), [SmtpFailure::Permanent]);
}

#[tokio::test]
async fn without_a_mail_server_nothing_is_stored() {
    let hub = hub(None);
    assert!(!hub.links.sends_mail());
    let refused = subscribe(
        &hub.links,
        &address("ada@example.test"),
        Frequency::Daily,
        &NoMetrics,
        Utc::now(),
    )
    .await;
    assert!(matches!(refused, Err(SubscriptionError::NoMail)));
    let ada = address("ada@example.test");
    assert!(hub.store.subscriber_by_email(&ada).await.unwrap().is_none());
}

#[tokio::test]
async fn an_unsubscribe_link_unsubscribes_once_or_twice_and_a_bad_one_changes_nothing() {
    let sink = SmtpSink::start();
    let hub = hub(Some(sink.mailer()));
    let now = Utc::now();
    let ada = subscribed(&hub, "ada@example.test", now).await;
    let token = sign(&hub, ada, LinkPurpose::Unsubscribe, now);

    assert_eq!(
        check_unsubscribe_link(&hub.links, &token, now).unwrap(),
        ada
    );
    assert!(matches!(
        check_unsubscribe_link(&hub.links, "SECRETLINKTOKEN42.abc", now),
        Err(SubscriptionError::InvalidLink(_))
    ));
    // Looking at the link changes nothing: mail scanners follow links.
    let stored = fetch(&hub, ada).await;
    assert_eq!(stored.status, SubscriberStatus::Pending);

    assert_eq!(unsubscribe(&hub.links, &token, now).await.unwrap(), ada);
    assert_eq!(unsubscribe(&hub.links, &token, now).await.unwrap(), ada);
    let stored = fetch(&hub, ada).await;
    assert_eq!(stored.status, SubscriberStatus::Unsubscribed);
}

#[tokio::test]
async fn preferences_open_from_their_link_and_are_saved() {
    let sink = SmtpSink::start();
    let hub = hub(Some(sink.mailer()));
    let now = Utc::now();
    let ada = subscribed(&hub, "ada@example.test", now).await;
    let token = sign(&hub, ada, LinkPurpose::Preferences, now);

    let opened = open_preferences(&hub.links, &token, now).await.unwrap();
    assert_eq!(opened.subscriber.id, ada);
    assert_eq!(opened.subscriber.email.as_str(), "ada@example.test");
    // The page's unsubscribe link works.
    assert_eq!(
        check_unsubscribe_link(&hub.links, &opened.unsubscribe_token, now).unwrap(),
        ada
    );

    let chosen =
        Preferences::parse(Frequency::Weekly, "diffusion\ncategory:cs.RO robots", "5").unwrap();
    change_preferences(&hub.links, ada, &chosen, now)
        .await
        .unwrap();
    let stored = fetch(&hub, ada).await;
    assert_eq!(stored.frequency, Frequency::Weekly);
    assert_eq!(stored.topics, ["diffusion", "category:cs.RO robots"]);
    assert_eq!(stored.papers_per_digest, 5);

    // A link for someone the store does not know, or for another purpose, opens nothing.
    let stranger = sign(&hub, ada + 1000, LinkPurpose::Preferences, now);
    assert!(matches!(
        open_preferences(&hub.links, &stranger, now).await,
        Err(SubscriptionError::UnknownSubscriber)
    ));
    assert!(matches!(
        open_preferences(&hub.links, &opened.unsubscribe_token, now).await,
        Err(SubscriptionError::InvalidLink(_))
    ));
}

#[test]
fn preferences_are_checked_with_a_reason() {
    let parsed = Preferences::parse(
        Frequency::Daily,
        " diffusion \n\n category:cs.RO robots\n",
        " 10 ",
    )
    .unwrap();
    assert_eq!(parsed.topics, ["diffusion", "category:cs.RO robots"]);
    assert_eq!(parsed.papers_per_digest, 10);
    let reason = |topics: &str, papers: &str| {
        Preferences::parse(Frequency::Daily, topics, papers)
            .unwrap_err()
            .reason
    };
    assert!(reason(&"t\n".repeat(21), "10").contains("at most 20"));
    assert!(reason(&"x".repeat(201), "10").contains("200 characters"));
    assert!(reason("\"unclosed", "10").contains("is not a search"));
    for papers in ["0", "51", "ten", ""] {
        assert_eq!(
            reason("diffusion", papers),
            "papers per digest must be a number from 1 to 50"
        );
    }
    // The topics' reason comes first.
    assert!(reason(&"t\n".repeat(21), "0").contains("at most 20"));
}

#[test]
fn a_subscriber_address_is_one_a_mail_server_takes() {
    assert_eq!(
        subscriber_address(" ada@example.test ").unwrap().as_str(),
        "ada@example.test"
    );
    assert!(
        subscriber_address("not-an-address")
            .unwrap_err()
            .contains("is not an email address")
    );
    assert!(subscriber_address("ada@example.test\r\nBcc: x@y.z").is_err());
}

#[tokio::test]
async fn an_accounts_digest_status_follows_its_subscription() {
    let sink = SmtpSink::start();
    let silent = hub(None);
    let hub = hub(Some(sink.mailer()));
    let ada = address("ada@example.test");
    assert_eq!(
        digest_status(None, &ada).await.unwrap(),
        DigestStatus::NoMail
    );
    assert_eq!(
        digest_status(Some(&silent.links), &ada).await.unwrap(),
        DigestStatus::NoMail,
        "no mail server: no digest"
    );
    assert_eq!(
        digest_status(Some(&hub.links), &ada).await.unwrap(),
        DigestStatus::NotSubscribed
    );
    let id = subscribed(&hub, "ada@example.test", Utc::now()).await;
    assert_eq!(
        digest_status(Some(&hub.links), &ada).await.unwrap(),
        DigestStatus::Pending
    );
    for (status, expected) in [
        (
            SubscriberStatus::Confirmed,
            DigestStatus::Subscribed(Frequency::Daily),
        ),
        (SubscriberStatus::Suspended, DigestStatus::Suspended),
        (SubscriberStatus::Unsubscribed, DigestStatus::NotSubscribed),
    ] {
        hub.store
            .set_subscriber_status(id, status, Utc::now())
            .await
            .unwrap();
        assert_eq!(
            digest_status(Some(&hub.links), &ada).await.unwrap(),
            expected
        );
    }
}
