//! Paper titles and abstracts to HTML: `render_inline` / `render_paragraphs` escape the text
//! and turn `$…$` / `$$…$$` TeX into MathML (math-core). Titles and abstracts come from
//! anyone who submits a paper or from a feed, so this is untrusted input.
//! Invariants: never panics; without `$` the output is exactly the escaped text; with it,
//! every `<` opens a whole tag, every element is `span`, `p`, MathML or one of math-core's
//! text styles inside `<mtext>` (`b`, `i`, `em`, `code`, `s`, `u`), and no attribute is an
//! event handler or a link.
#![no_main]

#[path = "common/html.rs"]
mod html;

use libfuzzer_sys::fuzz_target;
use paperfeed_web::rich_text::{escape_html, render_inline, render_paragraphs};

fn is_mathml(name: &str) -> bool {
    (name.starts_with('m') && name.len() > 1) || matches!(name, "semantics" | "annotation" | "none")
}

fn check(out: &str) {
    let tags = html::tags(out).unwrap_or_else(|e| panic!("{e} in {out:?}"));
    for tag in tags {
        // math-core styles `\\text…`/`\\emph` runs with a few HTML elements inside `<mtext>`.
        let text_style = matches!(tag.name.as_str(), "b" | "i" | "em" | "code" | "s" | "u");
        assert!(
            tag.name == "span" || tag.name == "p" || is_mathml(&tag.name) || text_style,
            "element {} in {out:?}",
            tag.name
        );
        for (key, _) in &tag.attributes {
            assert!(!key.starts_with("on"), "event handler {key} in {out:?}");
            assert!(
                !key.contains("href") && key != "src",
                "a link {key} in {out:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let inline = render_inline(input);
    if !input.contains('$') {
        let mut escaped = String::new();
        escape_html(input, &mut escaped);
        assert_eq!(inline.as_str(), escaped);
    }
    check(inline.as_str());
    check(render_paragraphs(input).as_str());
});
