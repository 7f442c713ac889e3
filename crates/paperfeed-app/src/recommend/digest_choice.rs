//! The "for you" digest choice: a reader puts a few of their picks in their digest mail (a
//! "For you" section, each pick with its reason in one line) or takes them out. The section
//! comes with the digest the reader's address is subscribed to, so it is daily or weekly as
//! that subscription is; paused recommendations give no section. What the digest run does with
//! the choice: `crate::digests::for_you`.

use chrono::{DateTime, Utc};
use paperfeed_store::{ForYouDigest, Store, UserId};

use super::RecommendError;

/// The most picks one digest carries.
pub const MAX_DIGEST_PICKS: u8 = 10;
/// What the page offers first.
pub const DEFAULT_DIGEST_PICKS: u8 = 5;

/// How many picks `user`'s digest carries; `None`: the choice is off.
pub async fn digest_picks(store: &dyn Store, user: UserId) -> Result<Option<u8>, RecommendError> {
    Ok(store.for_you_digest(user).await?.map(|c| c.picks))
}

/// Sets the choice from what the reader typed: `off` (or `0`) takes the picks out of their
/// digest, a whole number from 1 to [`MAX_DIGEST_PICKS`] puts that many in. Returns the new
/// choice.
pub async fn set_digest_picks(
    store: &dyn Store,
    user: UserId,
    typed: &str,
    now: DateTime<Utc>,
) -> Result<Option<u8>, RecommendError> {
    let picks = parse_digest_picks(typed)?;
    let choice = picks.map(|picks| ForYouDigest {
        picks,
        updated_at: now,
    });
    store.set_for_you_digest(user, choice.as_ref()).await?;
    tracing::debug!(
        user.id = user.0,
        digest.picks = picks.unwrap_or(0),
        "for-you digest choice saved"
    );
    Ok(picks)
}

/// `off`/`0` → `None`; 1–[`MAX_DIGEST_PICKS`] → that many; anything else is refused, naming
/// the field.
pub fn parse_digest_picks(typed: &str) -> Result<Option<u8>, RecommendError> {
    let typed = typed.trim();
    if typed.eq_ignore_ascii_case("off") || typed == "0" {
        return Ok(None);
    }
    typed
        .parse::<u8>()
        .ok()
        .filter(|n| (1..=MAX_DIGEST_PICKS).contains(n))
        .map(Some)
        .ok_or(RecommendError::Invalid {
            field: "digest_picks",
            what: "off or a whole number of picks from 1 to 10",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_is_off_or_one_to_ten_picks_and_anything_else_names_the_field() {
        assert_eq!(parse_digest_picks("off").unwrap(), None);
        assert_eq!(parse_digest_picks(" 0 ").unwrap(), None);
        assert_eq!(parse_digest_picks("5").unwrap(), Some(5));
        assert_eq!(parse_digest_picks("10").unwrap(), Some(MAX_DIGEST_PICKS));
        for bad in ["11", "-1", "", "five", "300"] {
            let e = parse_digest_picks(bad).unwrap_err();
            assert!(e.is_refusal());
            assert!(e.to_string().starts_with("digest_picks must be"), "{e}");
        }
    }
}
