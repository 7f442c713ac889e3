//! The reader's mutes and "not interested" papers: the settings page `/account/mutes` that
//! lists every mute and dismissed paper with its undo, the forms that add a mute (also "Mute
//! author" on paper pages) and dismiss a paper (on every card). Every form is a POST with the
//! session's CSRF token, rate-limited per user, answered with a redirect back (no JavaScript).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use paperfeed_app::visibility::{self, VisibilityError};
use paperfeed_core::{ArxivId, MAX_MUTE_CHARS, MAX_MUTES, MuteKind};
use serde::Deserialize;

use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::error::{AppError, failed, render_error};
use crate::redirect::see_other;
use crate::state::AppState;

/// The settings page.
const PAGE: &str = "/account/mutes";

/// The routes of this module, merged into the hub's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(show_mutes).post(add_mute))
        .route("/account/mutes/{id}/remove", post(remove_mute))
        .route("/account/dismissed", post(dismiss_paper))
        .route("/account/dismissed/undo", post(undismiss_paper))
}

#[derive(Template)]
#[template(path = "mutes.html")]
struct MutesPage {
    csrf: String,
    error: Option<String>,
    /// The add form's values, kept after a refusal.
    kind: String,
    text: String,
    mutes: Vec<MuteView>,
    dismissed: Vec<DismissedView>,
    max_mutes: usize,
    max_chars: usize,
}

struct MuteView {
    id: i64,
    kind: &'static str,
    text: String,
    added: String,
}

struct DismissedView {
    id: String,
    title: String,
    when: String,
}

async fn mutes_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<(String, MuteForm)>,
) -> Result<Response, AppError> {
    let session = viewer.require(PAGE)?;
    let user = session.user.id;
    let mutes = state
        .store
        .mutes(user)
        .await?
        .into_iter()
        .map(|m| MuteView {
            id: m.id,
            kind: m.kind.as_str(),
            text: m.text,
            added: m.created_at.format("%b %-d, %Y").to_string(),
        })
        .collect();
    let dismissals = visibility::dismissed(&*state.store, user)
        .await
        .map_err(failed)?;
    let ids: Vec<ArxivId> = dismissals.iter().map(|d| d.paper.clone()).collect();
    let titles: std::collections::HashMap<ArxivId, String> = state
        .store
        .get_papers(&ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p.title))
        .collect();
    let dismissed = dismissals
        .into_iter()
        .map(|d| DismissedView {
            title: titles
                .get(&d.paper)
                .cloned()
                .unwrap_or_else(|| d.paper.to_string()),
            id: d.paper.to_string(),
            when: d.dismissed_at.format("%b %-d, %Y").to_string(),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let (error, form) = match error {
        Some((message, form)) => (Some(message), form),
        None => (None, MuteForm::default()),
    };
    let page = MutesPage {
        csrf: session.csrf_token.clone(),
        error,
        kind: form.kind,
        text: form.text,
        mutes,
        dismissed,
        max_mutes: MAX_MUTES,
        max_chars: MAX_MUTE_CHARS,
    };
    Ok((status, Html(page.render().map_err(render_error)?)).into_response())
}

/// `GET /account/mutes`.
pub async fn show_mutes(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    mutes_page(&state, &viewer, None).await
}

#[derive(Deserialize, Default)]
pub struct MuteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
    /// Where to go afterwards (the paper page for "Mute author"); the settings page if unset.
    #[serde(default)]
    back: String,
}

fn back_or_page(back: &str) -> &str {
    if back.trim().is_empty() { PAGE } else { back }
}

/// `POST /account/mutes`: add a mute, then back where the form was (a refusal is shown on the
/// settings page with the form filled in).
pub async fn add_mute(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<MuteForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    let user = session.user.id;
    state.community.limit(Action::Mute, &user.0.to_string())?;
    let Some(kind) = MuteKind::parse(&form.kind) else {
        return mutes_page(
            &state,
            &viewer,
            Some(("kind: choose author, keyword or category".to_owned(), form)),
        )
        .await;
    };
    match visibility::add_mute(&*state.store, user, kind, &form.text, Utc::now()).await {
        Ok(_) => Ok(see_other(back_or_page(&form.back))),
        Err(e) if e.is_refusal() => mutes_page(&state, &viewer, Some((e.to_string(), form))).await,
        Err(e) => Err(failed(e)),
    }
}

#[derive(Deserialize, Default)]
pub struct BackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
}

/// `POST /account/mutes/{id}/remove`: unmute.
pub async fn remove_mute(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<BackForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    let user = session.user.id;
    state.community.limit(Action::Mute, &user.0.to_string())?;
    match visibility::remove_mute(&*state.store, user, id).await {
        // Already gone (a second click): the page shows the list as it is.
        Ok(()) | Err(VisibilityError::NoSuchMute) => Ok(see_other(back_or_page(&form.back))),
        Err(e) => Err(failed(e)),
    }
}

#[derive(Deserialize, Default)]
pub struct PaperForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    paper: String,
    #[serde(default)]
    back: String,
}

impl PaperForm {
    /// The session (CSRF checked, rate limit taken) and the paper the form names.
    fn accept<'v>(
        &self,
        state: &AppState,
        viewer: &'v Viewer,
    ) -> Result<(&'v paperfeed_store::Session, ArxivId), AppError> {
        let session = viewer.require_csrf(&self.csrf, back_or_page(&self.back))?;
        state
            .community
            .limit(Action::Mute, &session.user.id.0.to_string())?;
        let id =
            ArxivId::parse(&self.paper).map_err(|e| AppError::BadRequest(format!("paper: {e}")))?;
        Ok((session, id))
    }
}

/// `POST /account/dismissed`: "Not interested" from a card or a paper page.
pub async fn dismiss_paper(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<PaperForm>,
) -> Result<Response, AppError> {
    let (session, id) = form.accept(&state, &viewer)?;
    match visibility::dismiss(&*state.store, session.user.id, &id, Utc::now()).await {
        Ok(()) => Ok(see_other(back_or_page(&form.back))),
        Err(VisibilityError::NoSuchPaper(id)) => Err(AppError::not_found(
            "No such paper",
            format!("Paper {id} is not on this hub."),
        )),
        Err(e) => Err(failed(e)),
    }
}

/// `POST /account/dismissed/undo`: take "not interested" back.
pub async fn undismiss_paper(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<PaperForm>,
) -> Result<Response, AppError> {
    let (session, id) = form.accept(&state, &viewer)?;
    visibility::undismiss(&*state.store, session.user.id, &id)
        .await
        .map_err(failed)?;
    Ok(see_other(back_or_page(&form.back)))
}
