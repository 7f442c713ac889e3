//! Untrusted paper text to safe HTML: everything is escaped, and TeX between `$…$` (or
//! `$$…$$`) becomes MathML, which browsers render natively. TeX that does not convert is shown
//! as its escaped source, dollars included, so nothing is ever lost or injected.

use std::fmt::Write as _;
use std::sync::OnceLock;

use math_core::{LatexToMathML, MathCoreConfig, MathDisplay};

/// HTML that is safe to emit as is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafeHtml(String);

impl SafeHtml {
    /// Wraps HTML that another component already escaped (the search index's highlighted
    /// snippets, whose escaping is tested there).
    pub fn trusted(html: String) -> Self {
        SafeHtml(html)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub use paperfeed_core::escape_html;

fn converter() -> Option<&'static LatexToMathML> {
    static CONVERTER: OnceLock<Option<LatexToMathML>> = OnceLock::new();
    CONVERTER
        .get_or_init(|| LatexToMathML::new(MathCoreConfig::default()).ok())
        .as_ref()
}

/// Renders one line or paragraph of paper text: escaped, with its TeX as MathML.
pub fn render_inline(text: &str) -> SafeHtml {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    render_into(text, &mut out);
    SafeHtml(out)
}

/// Renders an abstract: paragraphs (separated by blank lines) become `<p>` elements.
pub fn render_paragraphs(text: &str) -> SafeHtml {
    let mut out = String::with_capacity(text.len() + 64);
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        out.push_str("<p>");
        render_into(paragraph, &mut out);
        out.push_str("</p>");
    }
    SafeHtml(out)
}

/// Renders a comment: a small Markdown subset (paragraphs, emphasis, code, quotes, lists,
/// links) by pulldown-cmark, then sanitised by ammonia with an allow-list of exactly those
/// elements, so raw HTML typed into a comment can never reach the page. Links may only be
/// http(s) or mailto and get `rel="nofollow noopener noreferrer ugc"`.
pub fn render_comment(markdown: &str) -> SafeHtml {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    let cleaner = CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.add_tags([
            "p",
            "br",
            "em",
            "strong",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
            "a",
        ])
        .add_tag_attributes("a", ["href"])
        .add_url_schemes(["http", "https", "mailto"])
        .link_rel(Some("nofollow noopener noreferrer ugc"));
        b
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    let parser = pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::empty());
    pulldown_cmark::html::push_html(&mut html, parser);
    SafeHtml(cleaner.clean(&html).to_string())
}

fn render_into(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(open) = find_unescaped_dollar(rest, 0) {
        let display = rest[open..].starts_with("$$");
        let delim = if display { 2 } else { 1 };
        let body_start = open + delim;
        let close = if display {
            rest[body_start..].find("$$").map(|i| body_start + i)
        } else {
            find_unescaped_dollar(rest, body_start)
        };
        let Some(close) = close else { break };
        let body = &rest[body_start..close];
        escape_html(&rest[..open], out);
        if !write_math(body, display, out) {
            escape_html(&rest[open..close + delim], out);
        }
        rest = &rest[close + delim..];
    }
    escape_html(rest, out);
}

fn find_unescaped_dollar(s: &str, from: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    (from..bytes.len()).find(|&i| bytes[i] == b'$' && (i == 0 || bytes[i - 1] != b'\\'))
}

/// Appends the MathML for `tex`; false (and nothing appended) when it does not convert.
fn write_math(tex: &str, display: bool, out: &mut String) -> bool {
    if tex.trim().is_empty() {
        return false;
    }
    let Some(converter) = converter() else {
        return false;
    };
    let mode = if display {
        MathDisplay::Block
    } else {
        MathDisplay::Inline
    };
    match converter.convert_with_local_state(tex, mode) {
        Ok(result) => {
            // Keep the source for copy/paste and screen readers that skip MathML.
            let mut alt = String::new();
            escape_html(tex, &mut alt);
            let _ = write!(
                out,
                "<span class=\"tex\" title=\"{alt}\">{}</span>",
                result.mathml
            );
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_keep_their_markdown_and_lose_every_script() {
        let html = render_comment(
            "**bold** and `code`\n\n<script>alert(1)</script><img src=x onerror=alert(1)>\n\n\
             [ok](https://arxiv.org) [bad](javascript:alert(1)) <a href=\"x\" onclick=\"y\">z</a>",
        );
        let html = html.as_str();
        assert!(
            html.contains("<strong>bold</strong>") && html.contains("<code>code</code>"),
            "{html}"
        );
        assert!(
            html.contains(
                r#"<a href="https://arxiv.org" rel="nofollow noopener noreferrer ugc">ok</a>"#
            ),
            "{html}"
        );
        for bad in ["<script", "onerror", "javascript:", "onclick", "<img"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            render_inline("<script>alert(1)</script> & \"q\"").as_str(),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn tex_becomes_mathml_and_its_source_is_escaped() {
        let html = render_inline("if $x<y$ then & more");
        let s = html.as_str();
        assert!(
            s.starts_with("if <span class=\"tex\" title=\"x&lt;y\"><math"),
            "{s}"
        );
        assert!(s.contains("<mo>&lt;</mo>") || s.contains("&lt;"), "{s}");
        assert!(!s.contains("<y"), "raw < must never survive: {s}");
        assert!(s.ends_with(" then &amp; more"), "{s}");
    }

    #[test]
    fn tex_that_does_not_parse_falls_back_to_escaped_source() {
        let s = render_inline("broken $\\frac{a$ here").to_string();
        assert_eq!(s, "broken $\\frac{a$ here");
        let s = render_inline("injected $\\text{<img src=x onerror=alert(1)>}$").to_string();
        assert!(!s.contains("<img"), "{s}");
    }

    #[test]
    fn unpaired_and_escaped_dollars_stay_text() {
        assert_eq!(
            render_inline("costs \\$20 and $5").as_str(),
            "costs \\$20 and $5"
        );
    }

    /// Found by `scripts/fuzz` (target `rich_text`, minimised to `$\\emph\x01$`): math-core
    /// writes `\\emph`, `\\textbf` … runs as HTML styles inside `<mtext>`. Those elements are
    /// its own; the text inside stays escaped.
    #[test]
    fn tex_text_styles_are_html_inside_mtext_with_their_text_escaped() {
        let s = render_inline("$\\emph\u{1}$").to_string();
        assert!(s.contains("<mtext><em>\u{1}</em></mtext>"), "{s}");
        let s = render_inline("$\\emph{<script>alert(1)</script>}$ $\\textbf{<img src=x>}$")
            .to_string();
        assert!(s.contains("<em>&lt;script&gt;"), "{s}");
        assert!(!s.contains("<script") && !s.contains("<img"), "{s}");
    }

    /// Found by `scripts/fuzz` (target `comment_markdown`): `java%7Bcript:` is no scheme (`%`
    /// cannot be in one), so the link stays, as a harmless relative one; the real schemes
    /// hidden by entities, tabs or case are removed.
    #[test]
    fn comment_links_are_http_mailto_or_relative_however_a_scheme_is_disguised() {
        let html = render_comment("[a](java%7Bcript:alert(1))");
        assert!(
            html.as_str().contains(r#"href="java%7Bcript:alert(1)""#),
            "{html}"
        );
        // A tab inside the scheme is percent-encoded by the Markdown renderer: relative too.
        let html = render_comment("[d](<java\tscript:alert(1)>)");
        assert!(
            html.as_str().contains(r#"href="java%09script:alert(1)""#),
            "{html}"
        );
        for disguised in [
            "[b](java&#115;cript:alert(1))",
            "[c](JaVaScRiPt:alert(1))",
            "[e](data:text/html,<script>alert(1)</script>)",
            "[f](vbscript:msgbox(1))",
        ] {
            let html = render_comment(disguised);
            assert!(!html.as_str().contains("href"), "{disguised}: {html}");
        }
    }

    #[test]
    fn paragraphs_become_p_elements() {
        assert_eq!(
            render_paragraphs("one\n\ntwo").as_str(),
            "<p>one</p><p>two</p>"
        );
    }
}
