//! The messages: a digest and a confirmation mail, each multipart (plain text + HTML with
//! inline CSS, the layout mail clients render reliably). Paper text is untrusted: askama
//! escapes it in the HTML part; TeX stays as its readable `$…$` source (mail clients render no
//! MathML). Header values are built by lettre, which encodes them, so CR/LF in a title or
//! address can never start a new header.

use askama::Template;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

/// One paper in a digest.
#[derive(Clone, Debug)]
pub struct DigestItem {
    pub title: String,
    /// Absolute URL of the paper's page on the hub.
    pub link: String,
    pub authors_label: String,
    /// The abstract, cut to a few sentences.
    pub summary: String,
    pub upvotes: i64,
    /// When it was featured or published ("featured Nov 29, 2026"); empty when unknown.
    pub date_label: String,
}

/// New matches of one of the reader's saved searches: at most a few papers, the rest
/// counted with a link to see them.
#[derive(Clone, Debug)]
pub struct DigestSection {
    /// The search's name as the reader gave it.
    pub name: String,
    pub items: Vec<DigestItem>,
    /// Matches not shown here (beyond the section's cap).
    pub more: u64,
    /// Absolute URL of the search's results page.
    pub more_link: String,
}

/// One of the reader's recommendations, with why it was picked in one line.
#[derive(Clone, Debug)]
pub struct DigestPick {
    pub item: DigestItem,
    /// "because you saved “…”", "author you follow: …".
    pub reason: String,
}

/// Everything a digest mail says.
#[derive(Clone, Debug)]
pub struct Digest {
    pub to: String,
    pub from: String,
    /// "Daily" or "Weekly".
    pub frequency_label: String,
    pub period_label: String,
    pub items: Vec<DigestItem>,
    /// New matches of the reader's saved searches, a section per search (empty for a
    /// subscriber who is no reader, or whose searches found nothing new).
    pub sections: Vec<DigestSection>,
    /// The reader's "For you" picks (empty unless they chose them on their For you page).
    pub picks: Vec<DigestPick>,
    /// Absolute URL of the reader's For you page (where the picks are changed or stopped).
    pub for_you_url: String,
    /// Absolute URL of the reader's saved-searches page (where a search leaves the digest).
    pub searches_url: String,
    pub unsubscribe_url: String,
    pub preferences_url: String,
    /// Stable per job, so a receiving system can recognise a repeat.
    pub message_id: String,
}

#[derive(Template)]
#[template(path = "digest.html")]
struct DigestHtml<'a> {
    d: &'a Digest,
}

#[derive(Template)]
#[template(path = "digest.txt")]
struct DigestText<'a> {
    d: &'a Digest,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("address {address:?} is not usable: {reason}")]
    Address { address: String, reason: String },
    #[error("rendering the mail failed: {0}")]
    Render(String),
}

fn mailbox(address: &str) -> Result<Mailbox, ComposeError> {
    address
        .parse()
        .map_err(|e: lettre::address::AddressError| ComposeError::Address {
            address: address.to_owned(),
            reason: e.to_string(),
        })
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Cuts `text` to at most `max` characters at a sentence or word end, with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    let end = cut
        .rfind(". ")
        .filter(|&i| i > max / 2)
        .map(|i| i + 1)
        .or_else(|| cut.rfind(' '))
        .unwrap_or(cut.len());
    format!("{}…", cut[..end].trim_end())
}

impl Digest {
    pub fn subject(&self) -> String {
        let trending = match self.items.len() {
            1 => "1 trending paper".to_owned(),
            n => format!("{n} trending papers"),
        };
        let matches: usize = self.sections.iter().map(|s| s.items.len()).sum();
        let what = match (self.items.len(), matches, self.picks.len()) {
            (0, 0, 1) => "1 paper picked for you".to_owned(),
            (0, 0, k) if k > 0 => format!("{k} papers picked for you"),
            (_, 0, 0) => trending,
            (0, 1, 0) => "1 new match of your saved searches".to_owned(),
            (0, m, 0) => format!("{m} new matches of your saved searches"),
            (_, m, 0) => format!("{trending} and {m} from your saved searches"),
            (0, 1, k) => format!("1 new match of your saved searches and {k} picked for you"),
            (0, m, k) => format!("{m} new matches of your saved searches and {k} picked for you"),
            (_, 0, k) => format!("{trending} and {k} picked for you"),
            (_, m, k) => format!("{trending}, {m} from your saved searches and {k} picked for you"),
        };
        format!(
            "{} Papers: {what} · {}",
            self.frequency_label, self.period_label
        )
    }

    /// The message, with one-click unsubscribe headers (RFC 8058).
    pub fn message(&self) -> Result<Message, ComposeError> {
        let html = DigestHtml { d: self }
            .render()
            .map_err(|e| ComposeError::Render(e.to_string()))?;
        let text = DigestText { d: self }
            .render()
            .map_err(|e| ComposeError::Render(e.to_string()))?;
        Message::builder()
            .from(mailbox(&self.from)?)
            .to(mailbox(&self.to)?)
            .subject(self.subject())
            .message_id(Some(self.message_id.clone()))
            .raw_header(header(
                "List-Unsubscribe",
                format!("<{}>", self.unsubscribe_url),
            ))
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| ComposeError::Render(e.to_string()))
    }
}

/// The double opt-in mail: one link, nothing else.
pub fn confirmation(from: &str, to: &str, confirm_url: &str) -> Result<Message, ComposeError> {
    let text = format!(
        "Someone (hopefully you) asked to receive trending papers from this Daily Papers hub.\n\n\
         Confirm your subscription:\n{confirm_url}\n\n\
         If it was not you, ignore this mail: nothing will be sent.\n"
    );
    let mut link = String::new();
    paperfeed_core::escape_html(confirm_url, &mut link);
    let html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827\">\
         <p>Someone (hopefully you) asked to receive trending papers from this Daily Papers hub.</p>\
         <p><a href=\"{link}\" style=\"display:inline-block;background:#b45309;color:#ffffff;padding:10px 16px;border-radius:6px;text-decoration:none\">Confirm your subscription</a></p>\
         <p style=\"color:#6b7280\">If it was not you, ignore this mail: nothing will be sent.</p></body></html>"
    );
    Message::builder()
        .from(mailbox(from)?)
        .to(mailbox(to)?)
        .subject("Confirm your Daily Papers subscription")
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| ComposeError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        Digest {
            to: "ada@example.test".into(),
            from: "Daily Papers <papers@hub.test>".into(),
            frequency_label: "Daily".into(),
            period_label: "Nov 30, 2026\r\nBcc: evil@example.test".into(),
            items: vec![DigestItem {
                title: "<script>x</script> & $O(n^2)$\r\nBcc: evil@example.test".into(),
                link: "https://hub.test/papers/2608.19880".into(),
                authors_label: "3 authors".into(),
                summary: "We show $a<b$ & more.".into(),
                upvotes: 12,
                date_label: "featured Nov 29, 2026".into(),
            }],
            sections: Vec::new(),
            picks: Vec::new(),
            for_you_url: "https://hub.test/for-you".into(),
            searches_url: "https://hub.test/account/searches".into(),
            unsubscribe_url: "https://hub.test/unsubscribe?t=abc".into(),
            preferences_url: "https://hub.test/subscription?t=def".into(),
            message_id: "<digest-1-2026-11-30@hub.test>".into(),
        }
    }

    #[test]
    fn a_digest_has_both_parts_escaped_html_and_one_click_unsubscribe() {
        let raw = String::from_utf8(digest().message().unwrap().formatted()).unwrap();
        assert!(raw.contains("List-Unsubscribe: <https://hub.test/unsubscribe?t=abc>"));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("Message-ID: <digest-1-2026-11-30@hub.test>"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers.contains("\r\nBcc:"),
            "no header can be injected: {headers}"
        );
        let d = digest();
        let html = DigestHtml { d: &d }.render().unwrap();
        assert!(
            html.contains("&#60;script&#62;x&#60;/script&#62; &#38; $O(n^2)$"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        let text = DigestText { d: &d }.render().unwrap();
        assert!(
            text.contains("We show $a<b$ & more."),
            "plain text stays plain: {text}"
        );
    }

    fn with_sections() -> Digest {
        let mut d = digest();
        let item = |title: &str| DigestItem {
            title: title.into(),
            link: "https://hub.test/papers/2612.00001".into(),
            authors_label: "1 author".into(),
            summary: "An abstract & more.".into(),
            upvotes: 3,
            date_label: String::new(),
        };
        d.sections = vec![
            DigestSection {
                name: "<b>Diffusion</b> & co".into(),
                items: vec![item("Matched <i>one</i>"), item("Matched two")],
                more: 4,
                more_link: "https://hub.test/papers?q=diffusion&mode=keyword".into(),
            },
            DigestSection {
                name: "Robots".into(),
                items: vec![item("Grasping")],
                more: 0,
                more_link: "https://hub.test/papers?q=robots".into(),
            },
        ];
        d
    }

    #[test]
    fn for_you_picks_come_with_their_reason_escaped_in_both_parts_and_in_the_subject() {
        let mut d = digest();
        d.items.clear();
        d.picks = vec![DigestPick {
            item: DigestItem {
                title: "Picked <i>one</i>".into(),
                link: "https://hub.test/papers/2612.00002".into(),
                authors_label: "2 authors".into(),
                summary: "An abstract.".into(),
                upvotes: 4,
                date_label: String::new(),
            },
            reason: "because you saved \u{201C}<b>Bold</b> & co\u{201D}".into(),
        }];
        assert!(
            d.subject()
                .starts_with("Daily Papers: 1 paper picked for you · "),
            "{}",
            d.subject()
        );
        let html = DigestHtml { d: &d }.render().unwrap();
        assert!(html.contains("Picked for you"), "{html}");
        assert!(
            html.contains("Why: because you saved \u{201C}&#60;b&#62;Bold&#60;/b&#62; &#38; co"),
            "{html}"
        );
        assert!(!html.contains("<b>Bold"), "{html}");
        assert!(html.contains("https://hub.test/for-you"), "{html}");
        let text = DigestText { d: &d }.render().unwrap();
        assert!(
            text.contains(" - Picked <i>one</i>\n   Why: because you saved"),
            "{text}"
        );
        assert!(
            text.contains("Change or stop your picks: https://hub.test/for-you"),
            "{text}"
        );
        let mut all = with_sections();
        all.picks = d.picks.clone();
        assert!(
            all.subject().starts_with(
                "Daily Papers: 1 trending paper, 3 from your saved searches and 1 picked for you · "
            ),
            "{}",
            all.subject()
        );
        let plain = digest();
        let text = DigestText { d: &plain }.render().unwrap();
        assert!(!text.contains("for-you"), "no picks, no link: {text}");
    }

    #[test]
    fn saved_search_sections_are_in_both_parts_escaped_capped_and_counted_in_the_subject() {
        let d = with_sections();
        assert!(
            d.subject()
                .starts_with("Daily Papers: 1 trending paper and 3 from your saved searches · "),
            "{}",
            d.subject()
        );
        let html = DigestHtml { d: &d }.render().unwrap();
        assert!(
            html.contains("&#60;b&#62;Diffusion&#60;/b&#62; &#38; co"),
            "the name is escaped: {html}"
        );
        assert!(
            html.contains("Matched &#60;i&#62;one&#60;/i&#62;"),
            "{html}"
        );
        assert!(!html.contains("<b>Diffusion"), "{html}");
        assert!(
            html.contains(
                "href=\"https://hub.test/papers?q=diffusion&#38;mode=keyword\" style=\"color:#b45309\">and 4 more</a>"
            ),
            "{html}"
        );
        assert_eq!(
            html.matches("more</a>").count(),
            1,
            "no count without more: {html}"
        );
        assert!(html.contains("https://hub.test/account/searches"));
        let text = DigestText { d: &d }.render().unwrap();
        assert!(text.contains("From your saved searches"), "{text}");
        assert!(
            text.contains("“<b>Diffusion</b> & co”"),
            "plain text stays plain: {text}"
        );
        assert!(
            text.contains(" and 4 more: https://hub.test/papers?q=diffusion&mode=keyword"),
            "{text}"
        );
        assert!(text.contains(" - Grasping"), "{text}");

        let mut only = with_sections();
        only.items.clear();
        assert!(
            only.subject()
                .starts_with("Daily Papers: 3 new matches of your saved searches · ")
        );
        let text = DigestText { d: &only }.render().unwrap();
        assert!(
            text.contains("Nothing new among the trending papers"),
            "{text}"
        );
        only.sections.truncate(1);
        only.sections[0].items.truncate(1);
        assert!(
            only.subject()
                .starts_with("Daily Papers: 1 new match of your saved searches · ")
        );
        assert!(
            !DigestText { d: &digest() }
                .render()
                .unwrap()
                .contains("saved searches"),
            "a digest without sections says nothing of them"
        );
    }

    #[test]
    fn shorten_cuts_at_a_sentence_or_word() {
        assert_eq!(shorten("Short.", 100), "Short.");
        assert_eq!(
            shorten("First sentence here. Second sentence is long enough", 30),
            "First sentence here.…"
        );
        assert_eq!(shorten("one two three four", 9), "one two…");
    }

    #[test]
    fn bad_addresses_are_refused_with_a_reason() {
        let mut d = digest();
        d.to = "not an address".into();
        assert!(matches!(d.message(), Err(ComposeError::Address { .. })));
    }
}

/// A subscriber's address, checked: trimmed, at most 254 characters, no control characters,
/// and parseable as a mail address. The error says what is wrong.
pub fn parse_address(input: &str) -> Result<String, String> {
    let address = input.trim();
    if address.is_empty() {
        return Err("an email address is needed".to_owned());
    }
    if address.len() > 254 {
        return Err("an email address has at most 254 characters".to_owned());
    }
    if address.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("an email address has no spaces or line breaks".to_owned());
    }
    address
        .parse::<lettre::Address>()
        .map(|a| a.to_string())
        .map_err(|e| format!("{address:?} is not an email address ({e})"))
}

#[cfg(test)]
mod address_tests {
    use super::parse_address;

    #[test]
    fn addresses_are_checked_with_a_reason() {
        assert_eq!(
            parse_address(" ada@example.test ").unwrap(),
            "ada@example.test"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "a b@example.test",
            "ada@example.test\r\nBcc: x@y.z",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?}");
        }
        assert!(parse_address(&format!("{}@example.test", "a".repeat(250))).is_err());
    }
}
