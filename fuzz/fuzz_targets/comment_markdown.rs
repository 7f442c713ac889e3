//! `render_comment`: a comment's Markdown (pulldown-cmark) cleaned by ammonia's allow-list.
//! Invariants: never panics; every `<` opens a whole tag; only the allowed elements come out,
//! with no attribute but a link's `href` (http, https or mailto) and `rel`; rendering is
//! deterministic.
#![no_main]

#[path = "common/html.rs"]
mod html;

use libfuzzer_sys::fuzz_target;
use paperfeed_web::rich_text::render_comment;

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
                    let scheme = value
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    assert!(
                        !value.contains(':')
                            || ["http", "https", "mailto"].contains(&scheme.as_str())
                            || value.starts_with('/')
                            || value.starts_with('#')
                            || value.starts_with('?')
                            || scheme.contains(['/', '?', '#']),
                        "link {value:?} in {out:?}"
                    );
                }
                _ => panic!("attribute {key}={value:?} on <{}> in {out:?}", tag.name),
            }
        }
    }
    assert_eq!(render_comment(input).as_str(), out);
});
