//! RSS 2.0 and Atom 1.0 documents from one feed description.
//!
//! Written by hand rather than through a feed-writing crate: the documents are small and fixed
//! in shape, and every piece of untrusted text goes through the one escaping rule
//! (`paperfeed_core::escape_html`, which is also correct XML escaping). Text stays text: TeX is
//! kept as its `$…$` source (feed readers render no MathML) and markup in titles is escaped, so
//! a reader shows `<b>` literally rather than bold.
//!
//! RSS readers take `<title>` and `<description>` for HTML, so those are escaped twice: as HTML
//! (the text a reader should show) and then as XML (how that HTML is carried). Atom says what
//! its text is (`type="text"`, the default), so there it is escaped once. Characters XML 1.0
//! cannot carry (most C0 controls) are dropped, so a stray byte cannot break the document.

use chrono::{DateTime, Utc};
use paperfeed_core::escape_html;

/// Which syndication format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedFormat {
    Rss,
    Atom,
}

impl FeedFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            FeedFormat::Rss => "application/rss+xml; charset=utf-8",
            FeedFormat::Atom => "application/atom+xml; charset=utf-8",
        }
    }

    /// The path extension that selects this format.
    pub fn extension(self) -> &'static str {
        match self {
            FeedFormat::Rss => "xml",
            FeedFormat::Atom => "atom",
        }
    }
}

/// One feed, format-neutral. URLs are absolute.
#[derive(Clone, Debug)]
pub struct Feed {
    pub title: String,
    pub description: String,
    /// The page this feed follows.
    pub html_url: String,
    /// The feed's own URL (Atom `rel=self`, RSS `atom:link`).
    pub self_url: String,
    /// When the newest entry was featured or published; also the feed's `updated`.
    pub updated: DateTime<Utc>,
    pub items: Vec<FeedItem>,
}

/// One paper in a feed.
#[derive(Clone, Debug)]
pub struct FeedItem {
    /// Stable across hosts and time: the paper's arXiv abstract URL.
    pub guid: String,
    pub title: String,
    /// The paper's page on this hub.
    pub link: String,
    /// Plain text (the abstract); escaped when written.
    pub summary: String,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// When the paper entered this feed (featured day, else arXiv date).
    pub published: DateTime<Utc>,
    pub upvotes: i64,
}

impl FeedItem {
    /// `paper` as an item linking to its page under `base`, dated `published`.
    pub fn for_paper(base: &str, paper: &paperfeed_core::Paper, published: DateTime<Utc>) -> Self {
        FeedItem {
            guid: paper.id.abs_url(),
            title: paper.title.clone(),
            link: format!("{base}/papers/{}", paper.id),
            summary: paper.abstract_text.clone(),
            authors: paper.visible_authors().map(|a| a.name.clone()).collect(),
            categories: paper.categories.clone(),
            published,
            upvotes: paper.upvotes,
        }
    }
}

/// The absolute base of links: the configured public URL, else what the client asked for.
pub fn base_url(state: &crate::state::AppState, headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The feed as a response of its format's content type.
pub fn respond(feed: &Feed, format: FeedFormat) -> axum::response::Response {
    axum::response::IntoResponse::into_response((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(format.content_type()),
        )],
        render(feed, format),
    ))
}

pub fn render(feed: &Feed, format: FeedFormat) -> String {
    match format {
        FeedFormat::Rss => render_rss(feed),
        FeedFormat::Atom => render_atom(feed),
    }
}

/// The characters XML 1.0 allows in text.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `text` escaped for XML, without the characters XML cannot carry.
fn escape_xml(text: &str, out: &mut String) {
    if text.chars().all(xml_char) {
        escape_html(text, out);
    } else {
        escape_html(
            &text.chars().filter(|&c| xml_char(c)).collect::<String>(),
            out,
        );
    }
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_xml(text, &mut out);
    out
}

/// Appends `<tag>text</tag>` with the text escaped: plain text in XML.
fn element(out: &mut String, tag: &str, text: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    escape_xml(text, out);
    out.push_str("</");
    out.push_str(tag);
    out.push_str(">\n");
}

/// Appends `<tag>text</tag>` for an element readers take as HTML: the text escaped as HTML,
/// then that escaped as XML.
fn html_element(out: &mut String, tag: &str, text: &str) {
    let mut html = String::with_capacity(text.len());
    escape_html(text, &mut html);
    element(out, tag, &html);
}

fn summary_with_votes(item: &FeedItem) -> String {
    format!(
        "{}\n\n{} · ▲ {}",
        item.summary,
        match item.authors.len() {
            1 => "1 author".to_owned(),
            n => format!("{n} authors"),
        },
        item.upvotes
    )
}

fn render_rss(feed: &Feed) -> String {
    let mut out = String::with_capacity(1024 + feed.items.len() * 1600);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(
        "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n",
    );
    html_element(&mut out, "title", &feed.title);
    element(&mut out, "link", &feed.html_url);
    html_element(&mut out, "description", &feed.description);
    out.push_str(&format!(
        "<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>\n",
        escaped(&feed.self_url)
    ));
    element(&mut out, "lastBuildDate", &feed.updated.to_rfc2822());
    element(&mut out, "generator", "paperfeed");
    for item in &feed.items {
        out.push_str("<item>\n");
        html_element(&mut out, "title", &item.title);
        element(&mut out, "link", &item.link);
        out.push_str(&format!(
            "<guid isPermaLink=\"true\">{}</guid>\n",
            escaped(&item.guid)
        ));
        element(&mut out, "pubDate", &item.published.to_rfc2822());
        for author in &item.authors {
            element(&mut out, "dc:creator", author);
        }
        for category in &item.categories {
            element(&mut out, "category", category);
        }
        html_element(&mut out, "description", &summary_with_votes(item));
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn render_atom(feed: &Feed) -> String {
    let mut out = String::with_capacity(1024 + feed.items.len() * 1600);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    element(&mut out, "title", &feed.title);
    element(&mut out, "subtitle", &feed.description);
    // The feed's id is its own URL: stable for a given query, different between queries.
    element(&mut out, "id", &feed.self_url);
    out.push_str(&format!(
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        escaped(&feed.self_url)
    ));
    out.push_str(&format!(
        "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        escaped(&feed.html_url)
    ));
    element(&mut out, "updated", &feed.updated.to_rfc3339());
    element(&mut out, "generator", "paperfeed");
    for item in &feed.items {
        out.push_str("<entry>\n");
        element(&mut out, "title", &item.title);
        element(&mut out, "id", &item.guid);
        out.push_str(&format!(
            "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            escaped(&item.link)
        ));
        element(&mut out, "published", &item.published.to_rfc3339());
        element(&mut out, "updated", &item.published.to_rfc3339());
        for author in &item.authors {
            out.push_str("<author>");
            element(&mut out, "name", author);
            out.push_str("</author>\n");
        }
        for category in &item.categories {
            out.push_str(&format!("<category term=\"{}\"/>\n", escaped(category)));
        }
        out.push_str("<summary type=\"text\">");
        escape_xml(&summary_with_votes(item), &mut out);
        out.push_str("</summary>\n</entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn feed() -> Feed {
        let when = Utc.with_ymd_and_hms(2026, 8, 21, 0, 0, 0).unwrap();
        Feed {
            title: "Daily Papers & more".into(),
            description: "Papers <featured> daily".into(),
            html_url: "http://hub.test/".into(),
            self_url: "http://hub.test/feed.xml?q=a&b".into(),
            updated: when,
            items: vec![FeedItem {
                guid: "https://arxiv.org/abs/2608.19880".into(),
                title: "<script>alert(1)</script> $O(n^2)$ & \"more\"".into(),
                link: "http://hub.test/papers/2608.19880".into(),
                summary: "We show $a<b$ & </summary> ]]> too.".into(),
                authors: vec!["Ada <Lovelace>".into()],
                categories: vec!["cs.CL".into()],
                published: when,
                upvotes: 7,
            }],
        }
    }

    #[test]
    fn rss_escapes_untrusted_text_as_html_then_as_xml_and_keeps_tex_source() {
        let rss = render(&feed(), FeedFormat::Rss);
        assert!(rss.contains(
            "<title>&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; $O(n^2)$ &amp;amp; \
             &amp;quot;more&amp;quot;</title>"
        ));
        assert!(rss.contains("<title>Daily Papers &amp;amp; more</title>"));
        assert!(rss.contains("<description>Papers &amp;lt;featured&amp;gt; daily</description>"));
        assert!(
            rss.contains("We show $a&amp;lt;b$ &amp;amp; &amp;lt;/summary&amp;gt; ]]&amp;gt; too.")
        );
        // Names and categories are no HTML to readers: escaped once.
        assert!(rss.contains("<dc:creator>Ada &lt;Lovelace&gt;</dc:creator>"));
        assert!(rss.contains("href=\"http://hub.test/feed.xml?q=a&amp;b\""));
        assert!(rss.contains("<pubDate>Fri, 21 Aug 2026 00:00:00 +0000</pubDate>"));
        assert!(!rss.contains("<script>") && !rss.contains("&lt;script&gt;"));
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let mut f = feed();
        f.items[0].title = "a\u{0}b\u{b}c\u{1b}d\u{fffe}\te".into();
        for format in [FeedFormat::Rss, FeedFormat::Atom] {
            let doc = render(&f, format);
            assert!(doc.contains("abcd\te</title>"), "{doc}");
        }
    }

    #[test]
    fn atom_escapes_untrusted_text_and_dates_are_rfc3339() {
        let atom = render(&feed(), FeedFormat::Atom);
        assert!(atom.contains("<id>https://arxiv.org/abs/2608.19880</id>"));
        assert!(atom.contains("<updated>2026-08-21T00:00:00+00:00</updated>"));
        assert!(atom.contains("<name>Ada &lt;Lovelace&gt;</name>"));
        assert!(atom.contains("We show $a&lt;b$ &amp; &lt;/summary&gt; ]]&gt; too."));
        assert!(!atom.contains("<script>"));
    }
}
