//! Subscriptions to the email digest: the double opt-in (ask, then confirm from a mailed
//! link), unsubscribing (the link in every digest, also as RFC 8058 one-click), and a
//! subscriber's preferences, reached from the signed link in every digest.
//!
//! The signed link is the only credential: no account, no password. A request to subscribe is
//! answered the same whatever the address's state, so nobody learns who is subscribed; a
//! confirmation mail goes out at most once per [`MailLinks::resend_after`].

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use paperfeed_core::{EmailAddress, Frequency};
use paperfeed_mail::{InvalidLink, LinkPurpose, LinkSigner, Mailer};
use paperfeed_store::{MailStore, StoreError, Subscriber, SubscriberStatus};

use crate::metrics::{Metrics, SmtpFailure};

/// How long a confirmation link stays valid.
pub const CONFIRM_HOURS: i64 = 48;
/// How long the unsubscribe link on the preferences page stays valid.
const PREFERENCES_UNSUBSCRIBE_DAYS: i64 = 30;
/// The most topics a subscriber may follow.
pub const MAX_TOPICS: usize = 20;
/// The longest topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 200;
/// Papers per digest a subscriber may ask for.
pub const PAPERS_PER_DIGEST: std::ops::RangeInclusive<u32> = 1..=50;

/// The mail side of subscriptions: the key that signs links, the outbox, and (when the hub
/// sends mail) the SMTP mailer for confirmation mails.
pub struct MailLinks {
    pub signer: LinkSigner,
    pub store: Arc<dyn MailStore>,
    pub mailer: Option<Mailer>,
    pub from: String,
    /// Absolute base of links in mails.
    pub base_url: String,
    /// At most one confirmation mail per address per this long.
    pub resend_after: Duration,
}

impl MailLinks {
    /// Whether the hub can mail a confirmation, so taking subscriptions makes sense.
    pub fn sends_mail(&self) -> bool {
        self.mailer.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// The link is malformed, expired, tampered with or made for another purpose.
    #[error("the link is invalid or has expired")]
    InvalidLink(#[from] InvalidLink),
    /// The link was good but names no subscriber (any more).
    #[error("the link names no subscriber")]
    UnknownSubscriber,
    /// No SMTP server is configured: nothing to subscribe to.
    #[error("this hub sends no mail")]
    NoMail,
    #[error("the subscriber store failed")]
    Store(#[from] StoreError),
}

/// An address the hub takes subscriptions for: one a mail server accepts (the reason says
/// why not, safe to show) that is also a valid [`EmailAddress`].
pub fn subscriber_address(raw: &str) -> Result<EmailAddress, String> {
    let address = paperfeed_mail::compose::parse_address(raw)?;
    EmailAddress::parse(&address).map_err(|e| format!("{address:?} is not an email address ({e})"))
}

/// What came of a request to subscribe. The visitor is told the same either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requested {
    pub subscriber: i64,
    /// A confirmation mail was due (and tried): none went out in the resend interval and the
    /// address is not confirmed yet.
    pub confirmation_due: bool,
}

/// Someone asked to get the digest at `email`: the address becomes pending (a confirmed one
/// stays confirmed) and, when due, gets a mail with a confirmation link. A mail that cannot
/// be built or delivered is logged (without the address) and counted, not an error: the
/// visitor may ask again after the resend interval.
pub async fn subscribe(
    links: &MailLinks,
    email: &EmailAddress,
    frequency: Frequency,
    metrics: &dyn Metrics,
    now: DateTime<Utc>,
) -> Result<Requested, SubscriptionError> {
    let mailer = links.mailer.as_ref().ok_or(SubscriptionError::NoMail)?;
    let (subscriber, due) = links
        .store
        .request_subscription(email, frequency, now, links.resend_after)
        .await?;
    // The subscriber's id only: logs never hold addresses.
    tracing::info!(
        subscriber.id = subscriber.id,
        confirmation.mail = due,
        "subscription requested"
    );
    if due {
        let token = links.signer.sign(
            subscriber.id,
            LinkPurpose::Confirm,
            now + Duration::hours(CONFIRM_HOURS),
        );
        let url = format!("{}/confirm?t={token}", links.base_url);
        match paperfeed_mail::compose::confirmation(&links.from, email.as_str(), &url) {
            Ok(message) => {
                if let Err(e) = mailer.send(message).await {
                    // The SMTP layer redacts addresses from replies.
                    metrics.record_smtp_failure(SmtpFailure::of(&e));
                    tracing::warn!(subscriber.id = subscriber.id, error = %e, "confirmation mail not sent");
                }
            }
            Err(e) => {
                let error = paperfeed_mail::redact_addresses(&e.to_string());
                tracing::warn!(subscriber.id = subscriber.id, %error, "confirmation mail not built");
            }
        }
    }
    Ok(Requested {
        subscriber: subscriber.id,
        confirmation_due: due,
    })
}

/// The confirmation link was opened: the subscriber named by `token` is confirmed. Returns
/// its id.
pub async fn confirm(
    links: &MailLinks,
    token: &str,
    now: DateTime<Utc>,
) -> Result<i64, SubscriptionError> {
    let id = links.signer.verify(token, LinkPurpose::Confirm, now)?;
    links
        .store
        .set_subscriber_status(id, SubscriberStatus::Confirmed, now)
        .await?;
    tracing::info!(subscriber.id = id, "subscription confirmed");
    Ok(id)
}

/// The subscriber an unsubscribe link names, without changing anything (the page a link
/// opens asks first: mail scanners follow links).
pub fn check_unsubscribe_link(
    links: &MailLinks,
    token: &str,
    now: DateTime<Utc>,
) -> Result<i64, SubscriptionError> {
    Ok(links.signer.verify(token, LinkPurpose::Unsubscribe, now)?)
}

/// Unsubscribes the subscriber an unsubscribe link names (the page's button, or a one-click
/// `List-Unsubscribe-Post` from a mail client). Twice is fine. Returns its id.
pub async fn unsubscribe(
    links: &MailLinks,
    token: &str,
    now: DateTime<Utc>,
) -> Result<i64, SubscriptionError> {
    let id = check_unsubscribe_link(links, token, now)?;
    links
        .store
        .set_subscriber_status(id, SubscriberStatus::Unsubscribed, now)
        .await?;
    tracing::info!(subscriber.id = id, "unsubscribed");
    Ok(id)
}

/// A subscriber reached through a preferences link, with a fresh unsubscribe link's token for
/// the page.
#[derive(Clone, Debug)]
pub struct PreferencesLink {
    pub subscriber: Subscriber,
    pub unsubscribe_token: String,
}

/// The subscriber a preferences link names.
pub async fn open_preferences(
    links: &MailLinks,
    token: &str,
    now: DateTime<Utc>,
) -> Result<PreferencesLink, SubscriptionError> {
    let id = links.signer.verify(token, LinkPurpose::Preferences, now)?;
    let subscriber = links
        .store
        .subscriber(id)
        .await?
        .ok_or(SubscriptionError::UnknownSubscriber)?;
    let unsubscribe_token = links.signer.sign(
        id,
        LinkPurpose::Unsubscribe,
        now + Duration::days(PREFERENCES_UNSUBSCRIBE_DAYS),
    );
    Ok(PreferencesLink {
        subscriber,
        unsubscribe_token,
    })
}

/// How often, about what and how much a subscriber is mailed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preferences {
    pub frequency: Frequency,
    pub topics: Vec<String>,
    pub papers_per_digest: u32,
}

/// Preferences as typed were refused; the reason is safe to show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidPreferences {
    pub reason: String,
}

impl Preferences {
    /// From the preferences form: topics one per line (trimmed, empty lines dropped, each a
    /// search), papers per digest a number in [`PAPERS_PER_DIGEST`].
    pub fn parse(
        frequency: Frequency,
        topics: &str,
        papers_per_digest: &str,
    ) -> Result<Self, InvalidPreferences> {
        let papers = papers_per_digest
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| PAPERS_PER_DIGEST.contains(n));
        let topics = parse_topics(topics).map_err(|reason| InvalidPreferences { reason })?;
        let papers_per_digest = papers.ok_or_else(|| InvalidPreferences {
            reason: format!(
                "papers per digest must be a number from {} to {}",
                PAPERS_PER_DIGEST.start(),
                PAPERS_PER_DIGEST.end()
            ),
        })?;
        Ok(Self {
            frequency,
            topics,
            papers_per_digest,
        })
    }
}

/// Topics from the textarea: one per line, trimmed, empty lines dropped; the reason when too
/// many, too long, or not a search.
fn parse_topics(text: &str) -> Result<Vec<String>, String> {
    let topics: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if topics.len() > MAX_TOPICS {
        return Err(format!("at most {MAX_TOPICS} topics, not {}", topics.len()));
    }
    if let Some(long) = topics.iter().find(|t| t.chars().count() > MAX_TOPIC_CHARS) {
        return Err(format!(
            "a topic has at most {MAX_TOPIC_CHARS} characters: {:?}…",
            long.chars().take(40).collect::<String>()
        ));
    }
    // A topic is a search: it must parse as one (the parser says what is wrong).
    for topic in &topics {
        paperfeed_search::KeywordQuery::parse(topic)
            .map_err(|e| format!("topic {topic:?} is not a search: {e}"))?;
    }
    Ok(topics)
}

/// Saves a subscriber's preferences (the subscriber from [`open_preferences`]).
pub async fn change_preferences(
    links: &MailLinks,
    subscriber: i64,
    preferences: &Preferences,
    now: DateTime<Utc>,
) -> Result<(), SubscriptionError> {
    links
        .store
        .update_preferences(
            subscriber,
            preferences.frequency,
            preferences.topics.clone(),
            preferences.papers_per_digest,
            now,
        )
        .await?;
    tracing::info!(
        subscriber.id = subscriber,
        digest.frequency = preferences.frequency.as_str(),
        digest.topics = preferences.topics.len(),
        digest.papers = preferences.papers_per_digest,
        "digest preferences saved"
    );
    Ok(())
}

/// Where the digest under a reader's address stands, as their account pages say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestStatus {
    /// This hub sends no mail: there is no digest to get.
    NoMail,
    /// Nothing under the address, or it was unsubscribed: the subscribe page offers one.
    NotSubscribed,
    /// Asked for; the confirmation link mailed to the address was not opened yet.
    Pending,
    /// Stopped after the mail server refused the address again and again.
    Suspended,
    Subscribed(Frequency),
}

/// The digest status of `email` (the account's address) on this hub; `links` is `None` when
/// the hub sends no mail.
pub async fn digest_status(
    links: Option<&MailLinks>,
    email: &EmailAddress,
) -> Result<DigestStatus, StoreError> {
    let Some(links) = links.filter(|l| l.sends_mail()) else {
        return Ok(DigestStatus::NoMail);
    };
    let Some(subscriber) = links.store.subscriber_by_email(email).await? else {
        return Ok(DigestStatus::NotSubscribed);
    };
    Ok(match subscriber.status {
        SubscriberStatus::Confirmed => DigestStatus::Subscribed(subscriber.frequency),
        SubscriberStatus::Pending => DigestStatus::Pending,
        SubscriberStatus::Suspended => DigestStatus::Suspended,
        SubscriberStatus::Unsubscribed => DigestStatus::NotSubscribed,
    })
}

#[cfg(test)]
mod tests;
