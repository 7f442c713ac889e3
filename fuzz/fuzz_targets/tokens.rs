//! Tokens that arrive from outside: signed mail links (`LinkSigner::verify`, in `/confirm`,
//! `/unsubscribe`, `/subscription`), the session cookie (`cookie`) and the API token
//! (`bearer_token`). Invariants: never panics; an arbitrary string never verifies unless it
//! is exactly what `sign` makes; a signed link verifies for its own purpose only, and no
//! prefix, suffix or one-byte change of it verifies.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use paperfeed_mail::{LinkPurpose, LinkSigner};
use paperfeed_web::community::auth::{SESSION_COOKIE, bearer_token, cookie};

const PURPOSES: [LinkPurpose; 3] = [
    LinkPurpose::Confirm,
    LinkPurpose::Unsubscribe,
    LinkPurpose::Preferences,
];

fuzz_target!(|data: &[u8]| {
    let signer = LinkSigner::new(b"fuzzing key, 32 bytes or more...");
    let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("a valid time");

    if let Ok(text) = std::str::from_utf8(data) {
        for purpose in PURPOSES {
            if let Ok(id) = signer.verify(text, purpose, now) {
                // Only a token this signer made can verify: it must be canonical.
                let again = signer.verify(text, purpose, now);
                assert_eq!(again, Ok(id));
            }
        }
    }

    // Sign what the bytes describe, then check it and its mutations.
    if data.len() >= 17 {
        let id = i64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let expires =
            i64::from_le_bytes(data[8..16].try_into().expect("8 bytes")).rem_euclid(8_000_000_000);
        let purpose = PURPOSES[usize::from(data[16]) % 3];
        if let Some(expires) = DateTime::<Utc>::from_timestamp(expires, 0) {
            let token = signer.sign(id, purpose, expires);
            let valid = now <= expires;
            assert_eq!(signer.verify(&token, purpose, now).is_ok(), valid);
            if valid {
                assert_eq!(signer.verify(&token, purpose, now), Ok(id));
            }
            for other in PURPOSES.into_iter().filter(|p| *p != purpose) {
                assert!(signer.verify(&token, other, now).is_err());
            }
            let cut = usize::from(data[16]) % token.len();
            if let Some(prefix) = token.get(..cut) {
                assert!(signer.verify(prefix, purpose, now).is_err());
            }
            if let Some(&flip) = data.get(17) {
                let mut bytes = token.clone().into_bytes();
                let at = usize::from(flip) % bytes.len();
                bytes[at] ^= 1 + (flip & 0x3f);
                if let Ok(changed) = String::from_utf8(bytes) {
                    if changed != token {
                        assert!(
                            signer.verify(&changed, purpose, now).is_err(),
                            "{changed:?}, a changed {token:?}, verified"
                        );
                    }
                }
            }
        }
    }

    // The raw bytes as a Cookie and an Authorization header.
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value.clone());
        headers.insert(header::AUTHORIZATION, value);
        if let Some(session) = cookie(&headers, SESSION_COOKIE) {
            assert!(!session.contains(';'));
        }
        if let Some(token) = bearer_token(&headers) {
            assert!(!token.is_empty() && token == token.trim());
        }
    }
});
