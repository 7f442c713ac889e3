//! `/subscribe` (the header's "Subscribe" button) and `/confirm?t=…`: the double opt-in.
//!
//! The answer to a subscription request is the same whatever the address's state (new,
//! pending, confirmed), so the form cannot be used to learn who is subscribed. A confirmation
//! mail goes out at most once per resend interval; unconfirmed addresses get nothing else.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use paperfeed_mail::LinkPurpose;
use paperfeed_store::SubscriberStatus;
use serde::Deserialize;

use crate::AppState;
use crate::community::auth::Viewer;
use crate::community::client_ip;
use crate::community::rate_limit::Action;
use crate::error::AppError;
use crate::pages::account::{anonymous_csrf, check_anonymous_csrf, with_cookie};
use crate::pages::feed::render_error;
use crate::pages::unsubscribe::TokenParam;

/// How long a confirmation link stays valid.
const CONFIRM_HOURS: i64 = 48;

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
    if state.mail_links.as_ref().is_none_or(|m| m.mailer.is_none()) {
        return crate::pages::misc::show_subscribe().await;
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
        .limit(Action::Subscribe, &client_ip(&parts))?;
    let Some(links) = state.mail_links.clone() else {
        return crate::pages::misc::show_subscribe().await;
    };
    let Some(mailer) = links.mailer.as_ref() else {
        return crate::pages::misc::show_subscribe().await;
    };
    let email = match paperfeed_mail::compose::parse_address(&form.email)
        .and_then(|e| paperfeed_core::EmailAddress::parse(&e).map_err(|e| e.to_string()))
    {
        Ok(e) => e,
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
    let frequency = if form.frequency == "weekly" {
        paperfeed_core::Frequency::Weekly
    } else {
        paperfeed_core::Frequency::Daily
    };
    let (subscriber, send) = links
        .store
        .request_subscription(&email, frequency, Utc::now(), links.resend_after)
        .await?;
    // The subscriber's id only: logs never hold addresses.
    tracing::info!(
        subscriber.id = subscriber.id,
        confirmation.mail = send,
        "subscription requested"
    );
    if send {
        let token = links.signer.sign(
            subscriber.id,
            LinkPurpose::Confirm,
            Utc::now() + chrono::Duration::hours(CONFIRM_HOURS),
        );
        let url = format!("{}/confirm?t={token}", links.base_url);
        match paperfeed_mail::compose::confirmation(&links.from, email.as_str(), &url) {
            Ok(message) => {
                if let Err(e) = mailer.send(message).await {
                    // Logged without the address (the SMTP layer redacts replies); the visitor
                    // may ask again after the interval.
                    state
                        .metrics
                        .record_smtp_failure(crate::SmtpFailure::of(&e));
                    tracing::warn!(subscriber.id = subscriber.id, error = %e, "confirmation mail not sent");
                }
            }
            Err(e) => {
                let error = paperfeed_mail::redact_addresses(&e.to_string());
                tracing::warn!(subscriber.id = subscriber.id, %error, "confirmation mail not built")
            }
        }
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
    params: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let token = params.map(|Query(p)| p.t).unwrap_or_default();
    let verified = state.mail_links.clone().and_then(|links| {
        links
            .signer
            .verify(&token, LinkPurpose::Confirm, Utc::now())
            .ok()
            .map(|id| (id, links))
    });
    let Some((id, links)) = verified else {
        return crate::pages::unsubscribe::notice(
            StatusCode::BAD_REQUEST,
            "Invalid link",
            "This confirmation link is invalid or has expired. Subscribe again to get a new one.",
        );
    };
    links
        .store
        .set_subscriber_status(id, SubscriberStatus::Confirmed, Utc::now())
        .await?;
    tracing::info!(subscriber.id = id, "subscription confirmed");
    crate::pages::unsubscribe::notice(
        StatusCode::OK,
        "You are subscribed",
        "Your first digest comes with the next run. Every digest has a one-click unsubscribe link.",
    )
}
