//! Escaping untrusted text for HTML and XML, the one rule every page, snippet and feed uses.

/// Appends `text` to `out` with the five markup-significant characters escaped, so it is safe
/// as HTML or XML element content and inside quoted attribute values.
pub fn escape_html(text: &str, out: &mut String) {
    let mut done = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // Every escaped character is ASCII, so `at` is always a character boundary.
        out.push_str(&text[done..at]);
        out.push_str(entity);
        done = at + 1;
    }
    out.push_str(&text[done..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped_and_the_rest_kept() {
        let mut out = String::from("kept: ");
        escape_html(r#"<b>"Tom" & 'Jerry'</b> — ∑ $x<y$"#, &mut out);
        assert_eq!(
            out,
            "kept: &lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt; — ∑ $x&lt;y$"
        );
    }

    #[test]
    fn plain_text_passes_through() {
        let mut out = String::new();
        escape_html("no markup at all", &mut out);
        assert_eq!(out, "no markup at all");
    }
}
