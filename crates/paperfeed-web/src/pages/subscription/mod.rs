//! The digest's pages: `/subscribe` and `/confirm` (the double opt-in), `/subscription` (a
//! subscriber's preferences) and `/unsubscribe`. Each parses its form or link, calls its use
//! case in [`paperfeed_app::subscriptions`], and renders; what they share is here.

pub mod preferences;
pub mod subscribe;
pub mod unsubscribe;

use askama::Template;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use paperfeed_app::subscriptions::MailLinks;
use serde::Deserialize;

use crate::error::{AppError, render_error};
use crate::state::AppState;

/// `?t=…` (or a form field `t`): the signed token of a link in a mail.
#[derive(Deserialize, Default)]
pub struct TokenParam {
    #[serde(default)]
    t: String,
}

impl TokenParam {
    /// The token of the query string; empty when there is none.
    fn of(query: Result<Query<TokenParam>, QueryRejection>) -> String {
        query.map(|Query(p)| p.t).unwrap_or_default()
    }
}

/// The mail side of the hub, when it has one.
fn mail_links(state: &AppState) -> Option<&MailLinks> {
    state.mail_links.as_deref()
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct LinkPage<'a> {
    title: &'a str,
    message: &'a str,
    /// The unsubscribe token the page's button sends; `None` for a plain notice.
    token: Option<&'a str>,
}

/// The page a mailed link opens: a title, a message and, with `token`, the unsubscribe button.
fn link_page(
    status: StatusCode,
    title: &str,
    message: &str,
    token: Option<&str>,
) -> Result<Response, AppError> {
    let html = LinkPage {
        title,
        message,
        token,
    }
    .render()
    .map_err(render_error)?;
    Ok((status, Html(html)).into_response())
}

/// A page with a title and a message, and no form.
fn notice(status: StatusCode, title: &str, message: &str) -> Result<Response, AppError> {
    link_page(status, title, message, None)
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoMailPage<'a> {
    title: &'a str,
    message: &'a str,
    query: &'a str,
}

/// `/subscribe` on a hub without a mail server: honest about it.
fn mail_unavailable() -> Result<Response, AppError> {
    let page = NoMailPage {
        title: "Email digests are not available on this hub",
        message: "This hub has no mail server configured, so there is nothing to subscribe to and \
                  no address is collected. The daily pages and the RSS and Atom feeds are always \
                  here.",
        query: "",
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}
