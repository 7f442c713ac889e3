//! Signed, expiring links: `base64url(subscriber . purpose . expiry) . base64url(hmac)`.
//!
//! HMAC-SHA256 over the payload with the hub's secret key; verified in constant time. A forged,
//! tampered, expired or wrong-purpose token gets the same answer, [`InvalidLink`], so a link
//! reveals nothing about why it failed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    Confirm,
    Unsubscribe,
    Preferences,
}

impl LinkPurpose {
    fn tag(self) -> &'static str {
        match self {
            LinkPurpose::Confirm => "c",
            LinkPurpose::Unsubscribe => "u",
            LinkPurpose::Preferences => "p",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid link")]
pub struct InvalidLink;

pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

impl LinkSigner {
    /// `key`: the hub's secret (at least 32 random bytes).
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(payload.as_bytes());
        mac
    }

    /// A token for `subscriber` and `purpose`, valid until `expires`.
    pub fn sign(&self, subscriber: i64, purpose: LinkPurpose, expires: DateTime<Utc>) -> String {
        let payload = format!("{subscriber}.{}.{}", purpose.tag(), expires.timestamp());
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The subscriber a valid, unexpired token of this purpose names.
    pub fn verify(
        &self,
        token: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<i64, InvalidLink> {
        let (payload, tag) = token.split_once('.').ok_or(InvalidLink)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidLink)?;
        let payload = String::from_utf8(payload).map_err(|_| InvalidLink)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| InvalidLink)?;
        self.mac(&payload)
            .verify_slice(&tag)
            .map_err(|_| InvalidLink)?;
        let mut parts = payload.split('.');
        let (Some(id), Some(kind), Some(expires), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidLink);
        };
        let expires: i64 = expires.parse().map_err(|_| InvalidLink)?;
        if kind != purpose.tag() || now.timestamp() > expires {
            return Err(InvalidLink);
        }
        id.parse().map_err(|_| InvalidLink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn signer() -> LinkSigner {
        LinkSigner::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let now = Utc::now();
        let token = signer().sign(42, LinkPurpose::Confirm, now + Duration::hours(48));
        assert_eq!(signer().verify(&token, LinkPurpose::Confirm, now), Ok(42));
        assert_eq!(
            signer().verify(&token, LinkPurpose::Confirm, now + Duration::hours(49)),
            Err(InvalidLink)
        );
    }

    #[test]
    fn tampered_forged_or_misused_links_are_all_just_invalid() {
        let now = Utc::now();
        let later = now + Duration::days(365);
        let token = signer().sign(42, LinkPurpose::Unsubscribe, later);
        assert_eq!(
            signer().verify(&token, LinkPurpose::Confirm, now),
            Err(InvalidLink)
        );
        let other_key = LinkSigner::new(b"another key, another hub........");
        assert_eq!(
            other_key.verify(&token, LinkPurpose::Unsubscribe, now),
            Err(InvalidLink)
        );
        // Change the subscriber id in the payload, keep the tag.
        let (_, tag) = token.split_once('.').unwrap();
        let forged = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(format!("43.u.{}", later.timestamp()))
        );
        assert_eq!(
            signer().verify(&forged, LinkPurpose::Unsubscribe, now),
            Err(InvalidLink)
        );
        for junk in ["", ".", "a.b", "%%%.%%%", &token[..token.len() - 1]] {
            assert_eq!(
                signer().verify(junk, LinkPurpose::Unsubscribe, now),
                Err(InvalidLink)
            );
        }
    }
}
