//! Where the hub sends a browser: the one rule for every redirect target.
//!
//! A target is read the way a browser reads a `Location` (the WHATWG URL parser, through the
//! `url` crate): tabs and newlines are dropped, a backslash is a slash, `.` and `..` segments
//! collapse. Only a target that, resolved against this hub, stays on this hub's origin is
//! followed, and what goes into `Location` is the parsed path, query and fragment serialised
//! again, so a browser reads exactly what was checked. Anything else goes to the front page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

/// A stand-in origin for "this hub": targets are resolved against it and must keep it.
const HUB: &str = "http://hub.invalid/";

/// Where a refused target sends the browser instead.
pub const FALLBACK: &str = "/";

/// `target` as a same-site `path?query#fragment`, or `None` when a browser could read it as
/// another origin (or it is no path at all).
pub fn same_site(target: &str) -> Option<String> {
    // A path, not a URL: relative references ("papers") and scheme-relative ones are not
    // what any of our forms send.
    if !target.starts_with('/') {
        return None;
    }
    let hub = Url::parse(HUB).ok()?;
    let url = hub.join(target).ok()?;
    if url.origin() != hub.origin() || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let path = url.path();
    // `/.//evil.example` parses to the path `//evil.example`, which a browser reading it
    // again as a Location takes for another host.
    if path.starts_with("//") {
        return None;
    }
    let mut out = path.to_owned();
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(query);
    }
    if let Some(fragment) = url.fragment() {
        out.push('#');
        out.push_str(fragment);
    }
    Some(out)
}

/// `target` if it is same-site, else [`FALLBACK`].
pub fn same_site_or_home(target: &str) -> String {
    same_site(target).unwrap_or_else(|| FALLBACK.to_owned())
}

fn redirect(status: StatusCode, target: &str) -> Response {
    let location = HeaderValue::from_str(&same_site_or_home(target))
        .unwrap_or(HeaderValue::from_static(FALLBACK));
    (status, [(header::LOCATION, location)]).into_response()
}

/// 303 See Other to `target` (after a form, or to log in first).
pub fn see_other(target: &str) -> Response {
    redirect(StatusCode::SEE_OTHER, target)
}

/// 308 Permanent Redirect to `target` (a canonical address).
pub fn permanent(target: &str) -> Response {
    redirect(StatusCode::PERMANENT_REDIRECT, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass_unchanged() {
        for ok in [
            "/",
            "/account",
            "/papers/2608.19880#vote",
            "/papers?q=graph+neural&mode=keyword",
            "/login?next=%2Faccount",
            "/papers/hep-th/9901001",
        ] {
            assert_eq!(same_site(ok).as_deref(), Some(ok));
        }
    }

    #[test]
    fn targets_a_browser_reads_as_another_origin_go_home() {
        for bad in [
            "//evil.example/x",
            "/\t/evil.example/x",
            "/\n/evil.example/x",
            "/\r/evil.example/x",
            "/\r\n/evil.example",
            "\t//evil.example",
            "/\\evil.example/x",
            "\\/evil.example",
            "\\\\evil.example",
            "/.//evil.example/x",
            "/..//evil.example",
            "/a/..//evil.example",
            "/%2e//evil.example",
            "https://evil.example/",
            "http://hub.invalid/x",
            "javascript:alert(1)",
            "evil.example",
            "",
            " /x",
        ] {
            assert_eq!(same_site(bad), None, "{bad:?}");
            assert_eq!(same_site_or_home(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn controls_and_encoded_forms_stay_paths_on_this_hub() {
        // Encoded slashes and tabs are data, not separators: the browser keeps them encoded.
        assert_eq!(
            same_site("/%09/evil.example/x").as_deref(),
            Some("/%09/evil.example/x")
        );
        assert_eq!(
            same_site("/%2F%2Fevil.example").as_deref(),
            Some("/%2F%2Fevil.example")
        );
        // A vertical tab, NUL or DEL is encoded, never a raw byte in a header.
        assert_eq!(same_site("/a\x0bb").as_deref(), Some("/a%0Bb"));
        assert_eq!(same_site("/a\0b\x7f").as_deref(), Some("/a%00b%7F"));
        // Tabs and newlines vanish as a browser drops them.
        assert_eq!(same_site("/acc\tou\nnt").as_deref(), Some("/account"));
        assert_eq!(same_site("/ä b").as_deref(), Some("/%C3%A4%20b"));
    }

    #[test]
    fn every_answer_is_a_valid_location_on_this_hub() {
        for target in ["/\x0b", "/\r\n\r\nSet-Cookie: x=1", "/\u{2028}", "/#\x7f"] {
            let r = see_other(target);
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let location = r.headers()[header::LOCATION].to_str().unwrap();
            assert!(location.starts_with('/') && !location.starts_with("//"));
        }
        assert_eq!(permanent("//evil.example").headers()[header::LOCATION], "/");
    }

    /// The fuzz target's invariant (fuzz/fuzz_targets/redirect_target.rs) over every string
    /// of up to four pieces from an alphabet of what browsers treat specially.
    #[test]
    fn no_combination_of_special_pieces_leaves_the_hub() {
        let hub = Url::parse("https://hub.example:8443/papers/2608.19880?x=1#c").unwrap();
        let pieces = [
            "/",
            "\\",
            "\t",
            "\n",
            "\r",
            "\x0b",
            " ",
            ".",
            "..",
            "%2e",
            "%2F",
            "%5C",
            "%09",
            "@",
            ":",
            "?",
            "#",
            "evil.example",
            "http:",
            "//",
            "\0",
            "\u{7f}",
            "é",
        ];
        let mut inputs = vec![String::new()];
        let mut last = inputs.clone();
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|s| pieces.iter().map(move |p| format!("{s}{p}")))
                .collect();
            inputs.extend(last.iter().cloned());
        }
        for input in &inputs {
            let redirected = see_other(input).headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned();
            for location in same_site(input).into_iter().chain([redirected]) {
                assert!(
                    location.starts_with('/') && !location.starts_with("//"),
                    "{input:?} -> {location:?}"
                );
                assert!(HeaderValue::from_str(&location).is_ok(), "{input:?}");
                let lands = hub.join(&location).unwrap();
                assert_eq!(lands.origin(), hub.origin(), "{input:?} -> {location:?}");
                assert_eq!(
                    same_site(&location).as_deref(),
                    Some(location.as_str()),
                    "{input:?}: accepted again unchanged"
                );
            }
        }
    }
}
