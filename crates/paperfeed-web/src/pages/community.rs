//! Community actions from pages: upvotes (a form POST answered with a redirect back, or JSON
//! for the page's small script), comments (add, edit and delete your own; admins hide any)
//! and submitting a paper. Every one is a POST carrying the session's CSRF token.

use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use paperfeed_core::ArxivId;
use paperfeed_store::NewComment;
use serde::Deserialize;

use crate::AppState;
use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::community::{SubmitRefusal, submit_paper};
use crate::error::AppError;
use crate::forms::{FieldView, FormPage};
use crate::redirect::see_other;
use crate::views::Link;

/// The longest comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 5000;

#[derive(Deserialize, Default)]
pub struct PaperActionForm {
    #[serde(default)]
    csrf: String,
    /// `up` or `undo`, for votes.
    #[serde(default)]
    action: String,
    /// A comment's Markdown.
    #[serde(default)]
    body: String,
}

/// `POST /papers/{id}/upvote` and `POST /papers/{id}/comments`.
pub async fn paper_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(rest): Path<String>,
    Form(form): Form<PaperActionForm>,
) -> Result<Response, AppError> {
    let (raw_id, what) = rest.rsplit_once('/').ok_or_else(|| {
        AppError::not_found("No such action", "Papers take upvotes and comments.")
    })?;
    let id = ArxivId::parse(raw_id).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let back = format!("/papers/{id}");
    let session = viewer.require_csrf(&form.csrf, &back)?;
    let user = &session.user;
    match what {
        "upvote" => {
            state
                .community
                .limit(Action::Vote, &user.id.0.to_string())?;
            let up = form.action != "undo";
            let outcome = state
                .store
                .set_vote(user.id, &id, up)
                .await?
                .ok_or_else(|| {
                    AppError::not_found("No such paper", format!("Paper {id} is not on this hub."))
                })?;
            tracing::debug!(user.id = user.id.0, paper.id = %id, vote.up = up, "vote recorded");
            let wants_json = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/json"));
            if wants_json {
                return Ok(Json(serde_json::json!({
                    "id": id.as_str(), "upvotes": outcome.upvotes, "voted": outcome.voted
                }))
                .into_response());
            }
            Ok(see_other(&format!("{back}#vote")))
        }
        "comments" => {
            state
                .community
                .limit(Action::Comment, &user.id.0.to_string())?;
            let body = comment_body(&form.body)?;
            let comment = state
                .store
                .add_comment(NewComment {
                    paper: id.clone(),
                    author: user.id,
                    body,
                    created_at: Utc::now(),
                })
                .await?
                .ok_or_else(|| {
                    AppError::not_found("No such paper", format!("Paper {id} is not on this hub."))
                })?;
            tracing::debug!(user.id = user.id.0, paper.id = %id, comment.id = comment.id, "comment added");
            Ok(see_other(&format!("{back}#comment-{}", comment.id)))
        }
        _ => Err(AppError::not_found(
            "No such action",
            "Papers take upvotes and comments.",
        )),
    }
}

/// A comment's text, trimmed: 1 to [`MAX_COMMENT_CHARS`] characters.
fn comment_body(raw: &str) -> Result<String, AppError> {
    let body = raw.trim();
    let n = body.chars().count();
    if n == 0 || n > MAX_COMMENT_CHARS {
        return Err(AppError::BadRequest(format!(
            "body: a comment must be 1 to {MAX_COMMENT_CHARS} characters long, not {n}"
        )));
    }
    Ok(body.to_owned())
}

/// `POST /comments/{id}/{edit|delete|hide|show}`.
pub async fn comment_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((comment_id, what)): Path<(i64, String)>,
    Form(form): Form<PaperActionForm>,
) -> Result<Response, AppError> {
    let comment = state.store.comment(comment_id).await?.ok_or_else(|| {
        AppError::not_found("No such comment", "It may have been deleted by its author.")
    })?;
    let back = format!("/papers/{}", comment.paper);
    let session = viewer.require_csrf(&form.csrf, &back)?;
    let user = &session.user;
    let done = match what.as_str() {
        "edit" => {
            state
                .community
                .limit(Action::Comment, &user.id.0.to_string())?;
            let body = comment_body(&form.body)?;
            state.store.edit_comment(comment_id, user.id, body).await?
        }
        "delete" => state.store.delete_comment(comment_id, user.id).await?,
        "hide" | "show" if user.is_admin => {
            state
                .store
                .set_comment_hidden(comment_id, what == "hide")
                .await?;
            true
        }
        "hide" | "show" => {
            return Err(AppError::Forbidden(
                "Only moderators can hide comments.".into(),
            ));
        }
        _ => {
            return Err(AppError::not_found(
                "No such action",
                "Comments can be edited or deleted.",
            ));
        }
    };
    if !done {
        return Err(AppError::Forbidden(
            "You can only edit or delete your own comments.".into(),
        ));
    }
    Ok(see_other(&format!("{back}#comments")))
}

fn submit_page(csrf: String, value: &str, error: Option<String>, link: Option<Link>) -> FormPage {
    FormPage {
        title: "Submit a paper",
        action: "/submit",
        csrf,
        next: None,
        note: Some(
            "Paste an arXiv id or URL. The paper is featured on today's daily feed with you as \
             its submitter."
                .into(),
        ),
        error,
        fields: vec![FieldView {
            value: value.to_owned(),
            ..FieldView::new("arxiv_id", "arXiv id or URL", "text")
        }],
        submit_label: "Submit",
        links: link.into_iter().collect(),
    }
}

pub async fn show_submit(viewer: Viewer) -> Result<Response, AppError> {
    let session = viewer.require("/submit")?;
    submit_page(session.csrf_token.clone(), "", None, None).respond(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    arxiv_id: String,
}

pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SubmitForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/submit")?;
    state
        .community
        .limit(Action::Submit, &session.user.id.0.to_string())?;
    match submit_paper(&state, &session.user, &form.arxiv_id, Utc::now()).await? {
        Ok(done) => Ok(see_other(&format!("/papers/{}", done.paper.id))),
        Err(refusal) => {
            let (status, link) = match &refusal {
                SubmitRefusal::AlreadyFeatured { id, .. } => (
                    StatusCode::CONFLICT,
                    Some(Link::new(
                        format!("/papers/{id}"),
                        format!("See paper {id}"),
                    )),
                ),
                SubmitRefusal::Invalid(_) => (StatusCode::BAD_REQUEST, None),
                SubmitRefusal::TooOld { .. } | SubmitRefusal::NotFound { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, None)
                }
            };
            submit_page(
                session.csrf_token.clone(),
                &form.arxiv_id,
                Some(refusal.message()),
                link,
            )
            .respond(status)
        }
    }
}
