//! One subscriber's digest as a mail: the chosen papers, signed links back to the hub (valid
//! for a year), and a message id stable per job so a receiving system can recognise a repeat.

use chrono::{DateTime, Utc};
use paperfeed_core::{DigestPeriod, FeedEntry, Frequency};
use paperfeed_mail::compose::{Digest, DigestItem, shorten};
use paperfeed_mail::{LinkPurpose, LinkSigner};
use paperfeed_store::DigestJob;

/// Characters of abstract shown per paper.
const SUMMARY_CHARS: usize = 320;
/// How long links in a digest stay valid.
const LINK_DAYS: i64 = 365;

/// Who digests come from and where their links point.
pub struct Letterhead {
    pub signer: LinkSigner,
    /// The absolute base of links: `https://papers.example.org`.
    pub base_url: String,
    pub from: String,
}

impl Letterhead {
    /// The digest of `job` in `period`, carrying `chosen` (best first), as of `now`.
    pub fn digest(
        &self,
        job: &DigestJob,
        period: &DigestPeriod,
        chosen: &[&FeedEntry],
        now: DateTime<Utc>,
    ) -> Digest {
        let subscriber = &job.subscriber;
        let expires = now + chrono::Duration::days(LINK_DAYS);
        let unsubscribe = self
            .signer
            .sign(subscriber.id, LinkPurpose::Unsubscribe, expires);
        let preferences = self
            .signer
            .sign(subscriber.id, LinkPurpose::Preferences, expires);
        Digest {
            to: subscriber.email.as_str().to_owned(),
            from: self.from.clone(),
            frequency_label: match period.frequency {
                Frequency::Daily => "Daily".to_owned(),
                Frequency::Weekly => "Weekly".to_owned(),
            },
            period_label: period.label(),
            items: chosen.iter().map(|e| self.item(e)).collect(),
            unsubscribe_url: format!("{}/unsubscribe?t={unsubscribe}", self.base_url),
            preferences_url: format!("{}/subscription?t={preferences}", self.base_url),
            message_id: format!("<digest-{}-{}@{}>", job.id, period.key(), self.host()),
        }
    }

    fn item(&self, e: &FeedEntry) -> DigestItem {
        DigestItem {
            title: e
                .paper
                .title
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            link: format!("{}/papers/{}", self.base_url, e.paper.id),
            authors_label: match e.paper.authors.len() {
                1 => "1 author".to_owned(),
                n => format!("{n} authors"),
            },
            summary: shorten(&e.paper.abstract_text, SUMMARY_CHARS),
            upvotes: e.paper.upvotes,
            featured_label: e.day.format("%b %-d, %Y").to_string(),
        }
    }

    /// The host of the base URL, for message ids.
    fn host(&self) -> &str {
        self.base_url
            .split("://")
            .nth(1)
            .unwrap_or("paperfeed.local")
            .split([':', '/'])
            .next()
            .unwrap_or("paperfeed.local")
    }
}
