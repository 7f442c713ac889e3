//! `/subscription?t=…`: a subscriber's preferences (frequency, topics, papers per digest),
//! reached from the signed link in every digest, no login needed.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use paperfeed_mail::LinkPurpose;
use paperfeed_store::Subscriber;
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::pages::feed::render_error;
use crate::pages::unsubscribe::{TokenParam, notice};

const MAX_TOPICS: usize = 20;
const MAX_TOPIC_CHARS: usize = 200;

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

/// The subscriber a valid preferences token names, with the page's unsubscribe token.
async fn subscriber(
    state: &AppState,
    token: &str,
) -> Result<Option<(Subscriber, String)>, AppError> {
    let Some(links) = state.mail_links.clone() else {
        return Ok(None);
    };
    let Ok(id) = links
        .signer
        .verify(token, LinkPurpose::Preferences, Utc::now())
    else {
        return Ok(None);
    };
    let Some(subscriber) = links.store.subscriber(id).await? else {
        return Ok(None);
    };
    let unsubscribe = links.signer.sign(
        id,
        LinkPurpose::Unsubscribe,
        Utc::now() + chrono::Duration::days(30),
    );
    Ok(Some((subscriber, unsubscribe)))
}

/// Topics from the textarea: one per line, trimmed, empty lines dropped; the reason when too
/// many or too long.
fn parse_topics(text: &str) -> Result<Vec<String>, String> {
    let topics: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if topics.len() > MAX_TOPICS {
        return Err(format!("at most {MAX_TOPICS} topics, not {}", topics.len()));
    }
    if let Some(long) = topics.iter().find(|t| t.chars().count() > MAX_TOPIC_CHARS) {
        return Err(format!(
            "a topic has at most {MAX_TOPIC_CHARS} characters: {:?}…",
            long.chars().take(40).collect::<String>()
        ));
    }
    // A topic is a search: it must parse as one (the parser says what is wrong).
    for topic in &topics {
        paperfeed_search::KeywordQuery::parse(topic)
            .map_err(|e| format!("topic {topic:?} is not a search: {e}"))?;
    }
    Ok(topics)
}

fn render(page: PreferencesPage<'_>, status: StatusCode) -> Result<Response, AppError> {
    Ok((status, Html(page.render().map_err(render_error)?)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    params: Result<Query<TokenParam>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let token = params.map(|Query(p)| p.t).unwrap_or_default();
    let Some((s, unsubscribe)) = subscriber(&state, &token).await? else {
        return invalid();
    };
    render(
        PreferencesPage {
            email: s.email.as_str(),
            token: &token,
            unsubscribe: &unsubscribe,
            weekly: s.frequency == paperfeed_core::Frequency::Weekly,
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
    form: Result<Form<PreferencesForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, AppError> {
    let Ok(Form(form)) = form else {
        return invalid();
    };
    let Some((s, unsubscribe)) = subscriber(&state, &form.t).await? else {
        return invalid();
    };
    let weekly = form.frequency == "weekly";
    let papers = form
        .papers
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=50).contains(n));
    let checked = parse_topics(&form.topics).and_then(|topics| {
        papers
            .map(|p| (topics, p))
            .ok_or_else(|| "papers per digest must be a number from 1 to 50".to_owned())
    });
    let (topics, papers) = match checked {
        Ok(ok) => ok,
        Err(reason) => {
            return render(
                PreferencesPage {
                    email: s.email.as_str(),
                    token: &form.t,
                    unsubscribe: &unsubscribe,
                    weekly,
                    topics: &form.topics,
                    papers: s.papers_per_digest,
                    done: None,
                    error: Some(&reason),
                },
                StatusCode::BAD_REQUEST,
            );
        }
    };
    if let Some(links) = state.mail_links.clone() {
        links
            .store
            .update_preferences(
                s.id,
                if weekly {
                    paperfeed_core::Frequency::Weekly
                } else {
                    paperfeed_core::Frequency::Daily
                },
                topics.clone(),
                papers,
                Utc::now(),
            )
            .await?;
        tracing::info!(
            subscriber.id = s.id,
            digest.weekly = weekly,
            digest.topics = topics.len(),
            digest.papers = papers,
            "digest preferences saved"
        );
    }
    render(
        PreferencesPage {
            email: s.email.as_str(),
            token: &form.t,
            unsubscribe: &unsubscribe,
            weekly,
            topics: &topics.join("\n"),
            papers,
            done: Some("Saved. The next digest follows these preferences."),
            error: None,
        },
        StatusCode::OK,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_topics;

    #[test]
    fn topics_are_lines_with_limits_and_reasons() {
        assert_eq!(
            parse_topics(" diffusion \n\n category:cs.RO robots\n").unwrap(),
            ["diffusion", "category:cs.RO robots"]
        );
        assert!(
            parse_topics(&"t\n".repeat(21))
                .unwrap_err()
                .contains("at most 20")
        );
        assert!(
            parse_topics(&"x".repeat(201))
                .unwrap_err()
                .contains("200 characters")
        );
    }
}
