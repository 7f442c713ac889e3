//! `/unsubscribe?t=…`: the link in every digest, and its one-click form (RFC 8058).
//!
//! The signed token is the only credential: no login, no CSRF token (a forged request would
//! need the secret-signed link itself). GET only shows a button, because mail scanners fetch
//! links; POST unsubscribes, which is what a one-click `List-Unsubscribe-Post` client sends
//! (with the token still in the query string). Unsubscribing twice is fine; a bad, expired or
//! tampered link says only that it is invalid.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use paperfeed_app::subscriptions::{self, SubscriptionError};

use super::{TokenParam, link_page, mail_links, notice};
use crate::error::AppError;
use crate::state::AppState;

fn invalid() -> Result<Response, AppError> {
    notice(
        StatusCode::BAD_REQUEST,
        "Invalid link",
        "This unsubscribe link is invalid. Use the link in your most recent digest.",
    )
}

pub async fn show(
    State(state): State<AppState>,
    params: Result<Query<TokenParam>, QueryRejection>,
) -> Result<Response, AppError> {
    let token = TokenParam::of(params);
    let valid = mail_links(&state).is_some_and(|links| {
        subscriptions::check_unsubscribe_link(links, &token, Utc::now()).is_ok()
    });
    if !valid {
        return invalid();
    }
    link_page(
        StatusCode::OK,
        "Unsubscribe from the digest?",
        "You will get no more digests from this hub. You can subscribe again at any time.",
        Some(&token),
    )
}

pub async fn confirm(
    State(state): State<AppState>,
    query: Result<Query<TokenParam>, QueryRejection>,
    form: Result<Form<TokenParam>, FormRejection>,
) -> Result<Response, AppError> {
    // One-click clients POST to the link itself (token in the query); the page's button sends
    // it in the form.
    let token = form
        .ok()
        .map(|f| f.0.t)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| TokenParam::of(query));
    let Some(links) = mail_links(&state) else {
        return invalid();
    };
    match subscriptions::unsubscribe(links, &token, Utc::now()).await {
        Ok(_) => notice(
            StatusCode::OK,
            "You are unsubscribed",
            "No more digests will be sent to you. Subscribe again any time.",
        ),
        Err(SubscriptionError::Store(e)) => Err(e.into()),
        Err(_) => invalid(),
    }
}
