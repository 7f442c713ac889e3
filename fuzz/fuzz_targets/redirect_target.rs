//! The one rule for redirect targets (`paperfeed_web::redirect`): `next` after log-in and
//! every other `Location` the hub sends. Invariants: never panics; whatever it accepts and
//! whatever `see_other` answers is a valid header value that a browser, reading it as a
//! Location against the hub (WHATWG rules, via the `url` crate), keeps on the hub's origin;
//! and an accepted target is accepted again unchanged (it is exactly what was checked).
#![no_main]

use axum::http::header;
use libfuzzer_sys::fuzz_target;
use paperfeed_web::redirect::{same_site, see_other};

fn stays_on_the_hub(location: &str) {
    let hub = url::Url::parse("https://hub.example:8443/papers/2608.19880?x=1#c")
        .expect("a valid base");
    assert!(location.starts_with('/') && !location.starts_with("//"), "{location:?}");
    let lands = hub.join(location).expect("a Location that parses");
    assert_eq!(lands.origin(), hub.origin(), "{location:?} leaves the hub");
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(target) = same_site(input) {
        stays_on_the_hub(&target);
        assert!(
            axum::http::HeaderValue::from_str(&target).is_ok(),
            "{target:?} is no header value"
        );
        assert_eq!(same_site(&target).as_deref(), Some(target.as_str()), "idempotent");
    }
    let answer = see_other(input);
    let location = answer.headers()[header::LOCATION]
        .to_str()
        .expect("an ASCII Location");
    stays_on_the_hub(location);
});
