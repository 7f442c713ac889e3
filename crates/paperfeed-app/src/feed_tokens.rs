//! Private feed tokens: the secret in a personal feed's URL (the Following feed, a saved
//! search's feed), so a feed reader can fetch it without a session. Generic over the feed by
//! a [`FeedScope`]; the store keeps only the SHA-256 of the secret, like API tokens. Listed on
//! the account page, revocable there; a revoked token stops working at once.

use std::fmt;

use chrono::{DateTime, Utc};
use paperfeed_store::{FeedToken, Store, StoreError, UserId};

use crate::accounts::{AccountError, hash_secret, new_secret};

/// Prefix of feed tokens, so a leaked one is recognisable (and tells itself from an API token).
pub const FEED_TOKEN_PREFIX: &str = "pff_";

/// The most feed tokens one reader holds at once.
pub const MAX_FEED_TOKENS: usize = 50;

/// Which personal feed a token opens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FeedScope {
    /// The reader's Following feed.
    Following,
    /// One of the reader's saved searches, by id.
    SavedSearch(i64),
    /// The reader's recommendations ("for you").
    ForYou,
}

impl FeedScope {
    /// The scope as stored: `following`, `search:<id>`, `for_you`. `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "following" => Some(FeedScope::Following),
            "for_you" => Some(FeedScope::ForYou),
            _ => text
                .strip_prefix("search:")
                .and_then(|id| id.parse::<i64>().ok())
                .filter(|id| *id > 0 && text == format!("search:{id}"))
                .map(FeedScope::SavedSearch),
        }
    }
}

impl fmt::Display for FeedScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedScope::Following => f.write_str("following"),
            FeedScope::SavedSearch(id) => write!(f, "search:{id}"),
            FeedScope::ForYou => f.write_str("for_you"),
        }
    }
}

/// A token just made: the stored record and the secret, shown to the reader once (it goes
/// into the feed's URL).
#[derive(Clone, Debug)]
pub struct NewFeedToken {
    pub token: FeedToken,
    pub secret: String,
}

/// Why a feed token use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum FeedTokenError {
    /// Your input: the reader holds [`MAX_FEED_TOKENS`] already.
    #[error("you have {MAX_FEED_TOKENS} feed addresses already; revoke one first")]
    TooMany,
    /// Your input: no such token of yours.
    #[error("no such feed address")]
    NotFound,
    /// We failed: making the secret.
    #[error("making a secret failed")]
    Secret(#[source] AccountError),
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// Makes a token opening `user`'s feed `scope`.
pub async fn create_feed_token(
    store: &dyn Store,
    user: UserId,
    scope: &FeedScope,
    now: DateTime<Utc>,
) -> Result<NewFeedToken, FeedTokenError> {
    if store.feed_tokens(user).await?.len() >= MAX_FEED_TOKENS {
        return Err(FeedTokenError::TooMany);
    }
    let secret = format!(
        "{FEED_TOKEN_PREFIX}{}",
        new_secret().map_err(FeedTokenError::Secret)?
    );
    let token = store
        .create_feed_token(user, scope.to_string(), hash_secret(&secret), now)
        .await?;
    tracing::info!(
        user.id = user.0,
        feed_token.id = token.id,
        "feed token created"
    );
    Ok(NewFeedToken { token, secret })
}

/// `user`'s feed tokens, oldest first.
pub async fn feed_tokens(
    store: &dyn Store,
    user: UserId,
) -> Result<Vec<FeedToken>, FeedTokenError> {
    Ok(store.feed_tokens(user).await?)
}

/// Revokes one of `user`'s tokens: its feed URL stops working at once.
pub async fn revoke_feed_token(
    store: &dyn Store,
    user: UserId,
    id: i64,
) -> Result<(), FeedTokenError> {
    if !store.revoke_feed_token(user, id).await? {
        return Err(FeedTokenError::NotFound);
    }
    tracing::info!(user.id = user.0, feed_token.id = id, "feed token revoked");
    Ok(())
}

/// The token a feed URL carries, if it is a live one, with its scope parsed: `None` for a
/// secret that is malformed, unknown, revoked, or whose stored scope no longer parses. Notes
/// the use (see `FeedTokenStore::feed_token_by_hash`).
pub async fn resolve_feed_token(
    store: &dyn Store,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<(FeedToken, FeedScope)>, FeedTokenError> {
    // Bounded and shaped like ours before anything is hashed or asked.
    if !secret.starts_with(FEED_TOKEN_PREFIX) || secret.len() > 100 {
        return Ok(None);
    }
    let Some(token) = store.feed_token_by_hash(&hash_secret(secret), now).await? else {
        return Ok(None);
    };
    Ok(FeedScope::parse(&token.scope).map(|scope| (token, scope)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{sqlite_store, user};

    #[test]
    fn scopes_round_trip_and_odd_ones_are_refused() {
        for scope in [
            FeedScope::Following,
            FeedScope::SavedSearch(12),
            FeedScope::ForYou,
        ] {
            assert_eq!(FeedScope::parse(&scope.to_string()), Some(scope));
        }
        for odd in [
            "",
            "search:",
            "search:0",
            "search:-1",
            "search:01",
            "Following",
        ] {
            assert_eq!(FeedScope::parse(odd), None, "{odd}");
        }
    }

    #[tokio::test]
    async fn a_feed_token_opens_its_feed_until_it_is_revoked() {
        let (_dir, store) = sqlite_store().await;
        let ada = user(&store, "ada", false).await;
        let now = Utc::now();
        let made = create_feed_token(&store, ada.id, &FeedScope::SavedSearch(3), now)
            .await
            .unwrap();
        assert!(made.secret.starts_with(FEED_TOKEN_PREFIX));
        let (token, scope) = resolve_feed_token(&store, &made.secret, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((token.user, scope), (ada.id, FeedScope::SavedSearch(3)));
        assert!(
            resolve_feed_token(&store, "pff_not-a-token", now)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            revoke_feed_token(&store, ada.id, token.id + 1).await,
            Err(FeedTokenError::NotFound)
        ));
        revoke_feed_token(&store, ada.id, token.id).await.unwrap();
        assert!(
            resolve_feed_token(&store, &made.secret, now)
                .await
                .unwrap()
                .is_none()
        );
    }
}
