//! What the private feeds (Following, For you, a saved search) share. A feed reader cannot sign
//! in, so these feeds are read at an address carrying a secret token of one reader for one feed.
//! One place for: the token's check against the feed it was made for, one "no such feed" answer
//! whatever was wrong (an unknown, revoked or other feed's token all look alike), and an answer
//! that no shared cache keeps. Each feed's document names its own address without the token, so
//! a document passed on does not carry it.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use chrono::Utc;
use paperfeed_app::feed_tokens::{self, FeedScope, FeedTokenError};
use paperfeed_store::UserId;
use serde::Deserialize;

use crate::error::{AppError, failed};
use crate::state::AppState;
use crate::syndication::{Feed, FeedFormat, respond};

/// `?token=` of a private feed's address.
#[derive(Deserialize, Default)]
pub struct TokenParams {
    #[serde(default)]
    token: String,
}

/// The format a private feed's file name asks for: `feed.xml` (RSS) or `feed.atom` (Atom).
pub fn format_of(file: &str) -> Option<FeedFormat> {
    match file {
        "feed.xml" => Some(FeedFormat::Rss),
        "feed.atom" => Some(FeedFormat::Atom),
        _ => None,
    }
}

/// The reader whose live token for `scope` the query carries. Anything else (no token, an
/// unknown or revoked one, one made for another feed) is the same "no such feed", which says
/// where a new address is made (`made_on`: "your Following page").
pub async fn feed_reader(
    state: &AppState,
    params: Result<Query<TokenParams>, QueryRejection>,
    scope: &FeedScope,
    made_on: &str,
) -> Result<UserId, AppError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let not_found = || no_such_feed(made_on);
    let (token, found) = feed_tokens::resolve_feed_token(&*state.store, &params.token, Utc::now())
        .await
        .map_err(failed)?
        .ok_or_else(not_found)?;
    if found != *scope {
        return Err(not_found());
    }
    Ok(token.user)
}

/// The one answer for a private feed address that leads nowhere, saying where a new one is made.
pub fn no_such_feed(made_on: &str) -> AppError {
    AppError::not_found(
        "No such feed",
        format!(
            "This private feed address is unknown or was revoked; make a new one on {made_on}."
        ),
    )
}

/// The feed in its format, for its reader only: no shared cache keeps it.
pub fn private_feed(feed: &Feed, format: FeedFormat) -> Response {
    private(respond(feed, format))
}

/// `Cache-Control: private, no-store` on a page or feed made for one reader.
pub fn private(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// A refused feed-address request (too many addresses, no such address) as the page shows it.
pub fn feed_token_refused(e: FeedTokenError) -> AppError {
    match e {
        FeedTokenError::TooMany => AppError::BadRequest(e.to_string()),
        FeedTokenError::NotFound => AppError::not_found("No such feed address", e.to_string()),
        other => failed(other),
    }
}
