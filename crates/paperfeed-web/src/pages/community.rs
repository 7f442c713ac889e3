//! Community actions from pages: upvotes (a form POST answered with a redirect back, or JSON
//! for the page's small script), comments (add, edit and delete your own; admins hide any)
//! and submitting a paper. Every one is a POST carrying the session's CSRF token.

use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use paperfeed_app::community::{self, CommentAction, CommunityError};
use paperfeed_core::ArxivId;
use serde::Deserialize;

use crate::community::SubmitRefusal;
use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::error::AppError;
use crate::error::failed;
use crate::forms::{FieldView, FormPage};
use crate::redirect::see_other;
use crate::state::AppState;
use crate::submission::submit_paper;
use crate::views::Link;

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
            let outcome = community::vote(&*state.store, user, &id, up)
                .await
                .map_err(refused)?;
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
            let comment = community::add_comment(&*state.store, user, &id, &form.body, Utc::now())
                .await
                .map_err(refused)?;
            Ok(see_other(&format!("{back}#comment-{}", comment.id)))
        }
        _ => Err(AppError::not_found(
            "No such action",
            "Papers take upvotes and comments.",
        )),
    }
}

/// A vote or comment the application layer refused (or failed), as the page's answer.
fn refused(error: CommunityError) -> AppError {
    match error {
        CommunityError::NoSuchPaper(id) => {
            AppError::not_found("No such paper", format!("Paper {id} is not on this hub."))
        }
        CommunityError::InvalidComment { .. } => AppError::BadRequest(error.to_string()),
        CommunityError::NotModerator => {
            AppError::Forbidden("Only moderators can hide comments.".into())
        }
        CommunityError::NotYours => {
            AppError::Forbidden("You can only edit or delete your own comments.".into())
        }
        CommunityError::Store(_) => failed(error),
    }
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
    let action = match what.as_str() {
        "edit" => {
            state
                .community
                .limit(Action::Comment, &user.id.0.to_string())?;
            CommentAction::Edit(form.body)
        }
        "delete" => CommentAction::Delete,
        "hide" => CommentAction::Hide(true),
        "show" => CommentAction::Hide(false),
        _ => {
            return Err(AppError::not_found(
                "No such action",
                "Comments can be edited or deleted.",
            ));
        }
    };
    community::act_on_comment(&*state.store, user, comment_id, action)
        .await
        .map_err(refused)?;
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
        providers: Vec::new(),
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
