//! `/subscribe` (the header's "Subscribe" button) and `/confirm?t=…`: the double opt-in.
//!
//! The answer to a subscription request is the same whatever the address's state (new,
//! pending, confirmed), so the form cannot be used to learn who is subscribed.

use askama::Template;
use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use paperfeed_app::subscriptions::{self, SubscriptionError};
use paperfeed_core::Frequency;
use serde::Deserialize;

use super::{TokenParam, mail_links, mail_unavailable, notice};
use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::error::{AppError, render_error};
use crate::forms::{anonymous_csrf, check_anonymous_csrf, with_cookie};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "subscribe.html")]
struct SubscribePage<'a> {
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    done: Option<&'a str>,
}

#[derive(Deserialize, Default)]
pub struct SubscribeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    /// `daily` or `weekly`; anything else is daily.
    #[serde(default)]
    frequency: String,
}

fn render(page: SubscribePage<'_>, status: StatusCode) -> Result<Response, AppError> {
    Ok((status, Html(page.render().map_err(render_error)?)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
) -> Result<Response, AppError> {
    if !mail_links(&state).is_some_and(|m| m.sends_mail()) {
        return mail_unavailable();
    }
    let (csrf, set) = anonymous_csrf(&state, &headers)?;
    // Logged in: the account's address is filled in, so subscribing is one click. It still
    // gets the confirmation mail: account addresses are not verified, and nobody may sign
    // someone else up for mail.
    let email = viewer
        .user()
        .map(|u| u.email.as_str().to_owned())
        .unwrap_or_default();
    let page = render(
        SubscribePage {
            csrf: &csrf,
            email: &email,
            error: None,
            done: None,
        },
        StatusCode::OK,
    )?;
    Ok(with_cookie(page, set))
}

pub async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    parts: axum::http::Extensions,
    Form(form): Form<SubscribeForm>,
) -> Result<Response, AppError> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    state
        .community
        .limit_client(Action::Subscribe, &headers, &parts)?;
    let Some(links) = mail_links(&state).filter(|m| m.sends_mail()) else {
        return mail_unavailable();
    };
    let email = match subscriptions::subscriber_address(&form.email) {
        Ok(email) => email,
        Err(reason) => {
            return render(
                SubscribePage {
                    csrf: &form.csrf,
                    email: &form.email,
                    error: Some(&reason),
                    done: None,
                },
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let frequency = form.frequency.parse().unwrap_or(Frequency::Daily);
    match subscriptions::subscribe(links, &email, frequency, state.metrics.as_ref(), Utc::now())
        .await
    {
        Ok(_) => {}
        Err(SubscriptionError::NoMail) => return mail_unavailable(),
        Err(e) => return Err(e.into()),
    }
    render(
        SubscribePage {
            csrf: &form.csrf,
            email: "",
            error: None,
            done: Some(
                "Thanks! If this address can receive digests, a confirmation mail is on its way: \
                 open its link to start receiving them.",
            ),
        },
        StatusCode::OK,
    )
}

pub async fn confirm(
    State(state): State<AppState>,
    params: Result<Query<TokenParam>, QueryRejection>,
) -> Result<Response, AppError> {
    let token = TokenParam::of(params);
    let confirmed = match mail_links(&state) {
        Some(links) => subscriptions::confirm(links, &token, Utc::now()).await,
        None => Err(SubscriptionError::NoMail),
    };
    match confirmed {
        Ok(_) => notice(
            StatusCode::OK,
            "You are subscribed",
            "Your first digest comes with the next run. Every digest has a one-click unsubscribe link.",
        ),
        Err(SubscriptionError::Store(e)) => Err(e.into()),
        Err(_) => notice(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            "This confirmation link is invalid or has expired. Subscribe again to get a new one.",
        ),
    }
}
