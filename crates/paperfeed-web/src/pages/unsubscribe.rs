//! `/unsubscribe?t=…`: the link in every digest, and its one-click form (RFC 8058).
//!
//! The signed token is the only credential: no login, no CSRF token (a forged request would
//! need the secret-signed link itself). GET only shows a button, because mail scanners fetch
//! links; POST unsubscribes, which is what a one-click `List-Unsubscribe-Post` client sends
//! (with the token still in the query string). Unsubscribing twice is fine; a bad, expired or
//! tampered link says only that it is invalid.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use paperfeed_mail::{LinkPurpose, LinkSigner};
use paperfeed_store::{MailStore, SubscriberStatus};
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::pages::feed::render_error;

/// What the subscription pages need: the key that signs links, the outbox, and (when the hub
/// sends mail) the SMTP mailer for confirmation mails.
pub struct MailLinks {
    pub signer: LinkSigner,
    pub store: Arc<dyn MailStore>,
    pub mailer: Option<paperfeed_mail::Mailer>,
    pub from: String,
    /// Absolute base of links in mails.
    pub base_url: String,
    /// At most one confirmation mail per address per this long.
    pub resend_after: chrono::Duration,
}

#[derive(Deserialize, Default)]
pub struct TokenParam {
    #[serde(default)]
    pub(crate) t: String,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    title: &'a str,
    message: &'a str,
    token: Option<&'a str>,
}

fn page(
    status: StatusCode,
    title: &str,
    message: &str,
    token: Option<&str>,
) -> Result<Response, AppError> {
    let html = UnsubscribePage {
        title,
        message,
        token,
    }
    .render()
    .map_err(render_error)?;
    Ok((status, Html(html)).into_response())
}

/// A page with a title and a message, and no form.
pub(crate) fn notice(status: StatusCode, title: &str, message: &str) -> Result<Response, AppError> {
    page(status, title, message, None)
}

fn invalid() -> Result<Response, AppError> {
    page(
        StatusCode::BAD_REQUEST,
        "Invalid link",
        "This unsubscribe link is invalid. Use the link in your most recent digest.",
        None,
    )
}

/// The subscriber a valid unsubscribe token names.
fn subscriber(state: &AppState, token: &str) -> Option<(i64, Arc<MailLinks>)> {
    let links = state.mail_links.clone()?;
    let id = links
        .signer
        .verify(token, LinkPurpose::Unsubscribe, Utc::now())
        .ok()?;
    Some((id, links))
}

pub async fn show(
    State(state): State<AppState>,
    params: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let token = params.map(|Query(p)| p.t).unwrap_or_default();
    if subscriber(&state, &token).is_none() {
        return invalid();
    }
    page(
        StatusCode::OK,
        "Unsubscribe from the digest?",
        "You will get no more digests from this hub. You can subscribe again at any time.",
        Some(&token),
    )
}

pub async fn confirm(
    State(state): State<AppState>,
    query: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
    form: Result<axum::extract::Form<TokenParam>, axum::extract::rejection::FormRejection>,
) -> Result<Response, AppError> {
    // One-click clients POST to the link itself (token in the query); the page's button sends
    // it in the form.
    let token = form
        .ok()
        .map(|f| f.0.t)
        .filter(|t| !t.is_empty())
        .or_else(|| query.ok().map(|Query(p)| p.t))
        .unwrap_or_default();
    let Some((id, links)) = subscriber(&state, &token) else {
        return invalid();
    };
    links
        .store
        .set_subscriber_status(id, SubscriberStatus::Unsubscribed, Utc::now())
        .await?;
    tracing::info!(subscriber.id = id, "unsubscribed");
    page(
        StatusCode::OK,
        "You are unsubscribed",
        "No more digests will be sent to you. Subscribe again any time.",
        None,
    )
}
