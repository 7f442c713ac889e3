//! `/subscription?t=…`: a subscriber's preferences (frequency, topics, papers per digest),
//! reached from the signed link in every digest, no login needed.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use paperfeed_app::subscriptions::{self, Preferences, PreferencesLink, SubscriptionError};
use paperfeed_core::Frequency;
use serde::Deserialize;

use super::{TokenParam, mail_links, notice};
use crate::error::{AppError, render_error};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesPage<'a> {
    email: &'a str,
    token: &'a str,
    unsubscribe: &'a str,
    weekly: bool,
    topics: &'a str,
    papers: u32,
    done: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Deserialize, Default)]
pub struct PreferencesForm {
    #[serde(default)]
    t: String,
    /// `daily` or `weekly`; anything else is daily.
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    topics: String,
    #[serde(default)]
    papers: String,
}

fn invalid() -> Result<Response, AppError> {
    notice(
        StatusCode::BAD_REQUEST,
        "Invalid link",
        "This preferences link is invalid. Use the link in your most recent digest.",
    )
}

/// The subscriber a preferences link names; `None` for a bad link (or a hub without mail).
async fn open(state: &AppState, token: &str) -> Result<Option<PreferencesLink>, AppError> {
    let Some(links) = mail_links(state) else {
        return Ok(None);
    };
    match subscriptions::open_preferences(links, token, Utc::now()).await {
        Ok(link) => Ok(Some(link)),
        Err(SubscriptionError::Store(e)) => Err(e.into()),
        Err(_) => Ok(None),
    }
}

fn render(page: PreferencesPage<'_>, status: StatusCode) -> Result<Response, AppError> {
    Ok((status, Html(page.render().map_err(render_error)?)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    params: Result<Query<TokenParam>, QueryRejection>,
) -> Result<Response, AppError> {
    let token = TokenParam::of(params);
    let Some(PreferencesLink {
        subscriber: s,
        unsubscribe_token,
    }) = open(&state, &token).await?
    else {
        return invalid();
    };
    render(
        PreferencesPage {
            email: s.email.as_str(),
            token: &token,
            unsubscribe: &unsubscribe_token,
            weekly: s.frequency == Frequency::Weekly,
            topics: &s.topics.join("\n"),
            papers: s.papers_per_digest,
            done: None,
            error: None,
        },
        StatusCode::OK,
    )
}

pub async fn save(
    State(state): State<AppState>,
    form: Result<Form<PreferencesForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Ok(Form(form)) = form else {
        return invalid();
    };
    let (
        Some(links),
        Some(PreferencesLink {
            subscriber: s,
            unsubscribe_token,
        }),
    ) = (mail_links(&state), open(&state, &form.t).await?)
    else {
        return invalid();
    };
    let frequency = form.frequency.parse().unwrap_or(Frequency::Daily);
    let preferences = match Preferences::parse(frequency, &form.topics, &form.papers) {
        Ok(p) => p,
        Err(e) => {
            return render(
                PreferencesPage {
                    email: s.email.as_str(),
                    token: &form.t,
                    unsubscribe: &unsubscribe_token,
                    weekly: frequency == Frequency::Weekly,
                    topics: &form.topics,
                    papers: s.papers_per_digest,
                    done: None,
                    error: Some(&e.reason),
                },
                StatusCode::BAD_REQUEST,
            );
        }
    };
    subscriptions::change_preferences(links, s.id, &preferences, Utc::now())
        .await
        .map_err(AppError::from)?;
    render(
        PreferencesPage {
            email: s.email.as_str(),
            token: &form.t,
            unsubscribe: &unsubscribe_token,
            weekly: preferences.frequency == Frequency::Weekly,
            topics: &preferences.topics.join("\n"),
            papers: preferences.papers_per_digest,
            done: Some("Saved. The next digest follows these preferences."),
            error: None,
        },
        StatusCode::OK,
    )
}
