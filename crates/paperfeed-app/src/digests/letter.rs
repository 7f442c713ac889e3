//! One subscriber's digest as a mail: the chosen papers, the reader's saved-search sections and
//! "For you" picks,
//! signed links back to the hub (valid for a year), and a message id stable per job so a
//! receiving system can recognise a repeat.

use chrono::{DateTime, Utc};
use paperfeed_core::{DigestPeriod, FeedEntry, Frequency, Paper};
use paperfeed_mail::compose::{Digest, DigestItem, DigestPick, DigestSection, shorten};
use paperfeed_mail::{LinkPurpose, LinkSigner};
use paperfeed_store::DigestJob;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::topics::Section;
use crate::recommend::ForYouItem;
use crate::saved_searches::SearchSpec;

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
    /// The digest of `job` in `period`, carrying `chosen` (best first), the reader's
    /// saved-search `sections` and their "For you" `picks`, as of `now`.
    pub fn digest(
        &self,
        job: &DigestJob,
        period: &DigestPeriod,
        chosen: &[&FeedEntry],
        sections: &[Section],
        picks: &[ForYouItem],
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
            items: chosen
                .iter()
                .map(|e| {
                    let featured = format!("featured {}", e.day.format("%b %-d, %Y"));
                    self.item(&e.paper, featured)
                })
                .collect(),
            sections: sections.iter().map(|s| self.section(s)).collect(),
            picks: picks
                .iter()
                .map(|p| DigestPick {
                    item: self.item(&p.paper, published(&p.paper)),
                    reason: p.reason_line(),
                })
                .collect(),
            for_you_url: format!("{}/for-you", self.base_url),
            searches_url: format!("{}/account/searches", self.base_url),
            unsubscribe_url: format!("{}/unsubscribe?t={unsubscribe}", self.base_url),
            preferences_url: format!("{}/subscription?t={preferences}", self.base_url),
            message_id: format!("<digest-{}-{}@{}>", job.id, period.key(), self.host()),
        }
    }

    fn item(&self, paper: &Paper, date_label: String) -> DigestItem {
        DigestItem {
            title: paper.title.split_whitespace().collect::<Vec<_>>().join(" "),
            link: format!("{}/papers/{}", self.base_url, paper.id),
            authors_label: match paper.authors.len() {
                1 => "1 author".to_owned(),
                n => format!("{n} authors"),
            },
            summary: shorten(&paper.abstract_text, SUMMARY_CHARS),
            upvotes: paper.upvotes,
            date_label,
        }
    }

    /// A saved search's section; "and N more" links to the search's results page.
    fn section(&self, section: &Section) -> DigestSection {
        let spec = SearchSpec::of(&section.search);
        let encode = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
        DigestSection {
            name: section.search.name.clone(),
            items: section
                .papers
                .iter()
                .map(|p| self.item(p, published(p)))
                .collect(),
            more: section.more,
            more_link: format!("{}{}", self.base_url, spec.href(encode)),
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

/// "published Nov 29, 2026", or nothing when unknown.
fn published(paper: &Paper) -> String {
    paper
        .published_at
        .map(|t| format!("published {}", t.format("%b %-d, %Y")))
        .unwrap_or_default()
}
