//! Scripts upvote and submit through the API with `Authorization: Bearer TOKEN` (tokens are
//! created in account settings or with `paperfeed token create NAME`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use paperfeed_app::community::{self, CommunityError};
use paperfeed_store::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::error::{ApiError, ErrorJson};
use crate::api::params;
use crate::community::SubmitRefusal;
use crate::community::auth::bearer_user;
use crate::community::rate_limit::Action;
use crate::error::failed;
use crate::state::AppState;
use crate::submission::submit_paper;

/// A paper's votes after an upvote or its undoing.
#[derive(Serialize, ToSchema)]
pub struct UpvoteJson {
    #[schema(example = "2608.19880")]
    id: String,
    /// Imported and local upvotes together.
    upvotes: i64,
    /// Whether the caller's vote is counted now.
    voted: bool,
}

pub(crate) async fn caller(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    bearer_user(state, headers).await?.ok_or_else(|| {
        ApiError::with_status(
            StatusCode::UNAUTHORIZED,
            "a valid API token is required: send Authorization: Bearer TOKEN",
        )
    })
}

async fn vote(
    state: AppState,
    headers: HeaderMap,
    raw_id: String,
    up: bool,
) -> Result<Json<UpvoteJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = params::arxiv_id("id", &raw_id)?;
    state
        .community
        .limit(Action::Vote, &user.id.0.to_string())?;
    let outcome = community::vote(&*state.store, &user, &id, up)
        .await
        .map_err(|error| match error {
            CommunityError::NoSuchPaper(id) => {
                ApiError::not_found(format!("paper {id} is not on this hub"))
            }
            other => ApiError::from(failed(other)),
        })?;
    Ok(Json(UpvoteJson {
        id: id.to_string(),
        upvotes: outcome.upvotes,
        voted: outcome.voted,
    }))
}

/// Upvote a paper. Idempotent: a second upvote by the same user changes nothing.
#[utoipa::path(
    post,
    path = "/api/papers/{id}/upvote",
    tag = "community",
    params(("id" = String, Path, description = "An arXiv id", example = "2608.19880")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The paper's new vote count", body = UpvoteJson),
        (status = 400, description = "`id` is not an arXiv id", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "No such paper", body = ErrorJson),
        (status = 413, description = "A request body over the hub's limit (this route reads none)", body = ErrorJson),
        (status = 429, description = "Too many votes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn upvote_paper(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<UpvoteJson>, ApiError> {
    vote(state, headers, id, true).await
}

/// Withdraw an upvote. Idempotent.
#[utoipa::path(
    delete,
    path = "/api/papers/{id}/upvote",
    tag = "community",
    params(("id" = String, Path, description = "An arXiv id", example = "2608.19880")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The paper's new vote count", body = UpvoteJson),
        (status = 400, description = "`id` is not an arXiv id", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "No such paper", body = ErrorJson),
        (status = 429, description = "Too many votes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn withdraw_upvote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<UpvoteJson>, ApiError> {
    vote(state, headers, id, false).await
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitJson {
    /// An arXiv id (optionally `arXiv:`-prefixed, with a version) or its arXiv abs/pdf URL.
    #[schema(example = "2608.19880")]
    arxiv_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedJson {
    id: String,
    title: String,
    /// The day it is featured on (today).
    featured_on: String,
    url: String,
}

/// Submit a paper to today's daily feed, as the token's user.
#[utoipa::path(
    post,
    path = "/api/papers/submit",
    tag = "community",
    request_body = SubmitJson,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Featured today", body = SubmittedJson),
        (status = 400, description = "The body is not `{\"arxivId\": ...}` with an arXiv id or URL", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 409, description = "Already featured; the error says where", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 415, description = "The body is not sent as `Content-Type: application/json`", body = ErrorJson),
        (status = 422, description = "Published longer ago than the submission window, or arXiv has no such paper", body = ErrorJson),
        (status = 429, description = "Too many submissions", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The paper is not on this hub and arXiv could not be asked in time; nothing was changed", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait before sending the same request again"))),
    )
)]
pub async fn submit_paper_api(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SubmitJson>, JsonRejection>,
) -> Result<(StatusCode, Json<SubmittedJson>), ApiError> {
    let user = caller(&state, &headers).await?;
    let Json(body) = body.map_err(body_refused)?;
    let id = params::submitted_id("arxivId", &body.arxiv_id)?;
    state
        .community
        .limit(Action::Submit, &user.id.0.to_string())?;
    match submit_paper(&state, &user, id.as_str(), Utc::now()).await? {
        Ok(done) => Ok((
            StatusCode::CREATED,
            Json(SubmittedJson {
                id: done.paper.id.to_string(),
                title: done.paper.title.clone(),
                featured_on: done.day.to_string(),
                url: format!("/papers/{}", done.paper.id),
            }),
        )),
        Err(refusal) => Err(match &refusal {
            SubmitRefusal::Invalid(reason) => ApiError::bad_parameter("arxivId", reason.clone()),
            SubmitRefusal::AlreadyFeatured { .. } => {
                ApiError::with_status(StatusCode::CONFLICT, refusal.message())
            }
            SubmitRefusal::TooOld { .. } | SubmitRefusal::NotFound { .. } => {
                ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, refusal.message())
            }
        }),
    }
}

/// Why the submit body was refused, with the status axum chose for it: 415 for a body not sent
/// as JSON, 413 for one over the limit, 400 for JSON that is not `{"arxivId": "..."}`.
fn body_refused(rejection: JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as R;
    match &rejection {
        R::MissingJsonContentType(_) => ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as Content-Type: application/json",
        ),
        R::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::payload_too_large(crate::body_limit::MAX_BODY_BYTES)
        }
        _ => ApiError::bad_parameter("arxivId", rejection.body_text()),
    }
}
