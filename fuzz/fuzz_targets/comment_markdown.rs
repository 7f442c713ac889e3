//! `render_comment`: a comment's Markdown (pulldown-cmark) cleaned by ammonia's allow-list.
//! Invariants: never panics; every `<` opens a whole tag; only the allowed elements come out,
//! with no attribute but a link's `href` (http, https, mailto or relative, as a browser
//! would parse it) and `rel`; rendering is
//! deterministic.
#![no_main]

#[path = "common/html.rs"]
mod html;

use libfuzzer_sys::fuzz_target;
use paperfeed_web::rich_text::render_comment;

/// The scheme a browser would read in an `href` value as serialized: entities decoded,
/// leading and trailing spaces and controls dropped, tabs and newlines removed (WHATWG URL),
/// then `[a-z][a-z0-9+.-]*:`. `None` for a relative link.
fn scheme(value: &str) -> Option<String> {
    let decoded = value
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    assert!(
        !decoded.contains("&#"),
        "a numeric entity survived in {value:?}"
    );
    let cleaned: String = decoded
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let (head, _) = cleaned.split_once(':')?;
    let mut chars = head.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| head.to_ascii_lowercase())
}

const ALLOWED: &[&str] = &[
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
];

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let rendered = render_comment(input);
    let out = rendered.as_str();
    let tags = html::tags(out).unwrap_or_else(|e| panic!("{e} in {out:?}"));
    for tag in tags {
        assert!(
            ALLOWED.contains(&tag.name.as_str()),
            "element {} in {out:?}",
            tag.name
        );
        for (key, value) in &tag.attributes {
            match (tag.name.as_str(), key.as_str()) {
                ("a", "rel") => assert_eq!(value, "nofollow noopener noreferrer ugc"),
                ("a", "href") => {
                    let scheme = scheme(value);
                    assert!(
                        scheme
                            .as_ref()
                            .is_none_or(|s| ["http", "https", "mailto"].contains(&s.as_str())),
                        "link {value:?} (scheme {scheme:?}) in {out:?}"
                    );
                }
                _ => panic!("attribute {key}={value:?} on <{}> in {out:?}", tag.name),
            }
        }
    }
    assert_eq!(render_comment(input).as_str(), out);
});
