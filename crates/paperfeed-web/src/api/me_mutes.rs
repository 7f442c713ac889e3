//! The reader's mutes and dismissed ("not interested") papers over the API, with
//! `Authorization: Bearer TOKEN`: list, add and remove, as on `/account/mutes`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use paperfeed_app::visibility::{self, VisibilityError};
use paperfeed_core::{MAX_MUTE_CHARS, MAX_MUTES, MuteKind, mute_matches_nothing};
use paperfeed_store::{Mute, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::community::{body_refused, caller};
use crate::api::error::{ApiError, ErrorJson};
use crate::api::params;
use crate::community::rate_limit::Action;
use crate::error::failed;
use crate::state::AppState;

/// The routes of this module, with their part of the OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_mutes, add_mute))
        .routes(routes!(remove_mute))
        .routes(routes!(list_dismissed, dismiss_paper))
        .routes(routes!(undismiss_paper))
}

/// What a mute matches.
#[derive(Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MuteKindJson {
    /// Papers with an author of the same normalised name (case and accents aside).
    Author,
    /// A search query (words, `"phrases"`, `author:`, `category:`); every part must match.
    Keyword,
    /// An arXiv category (`cs.CV`) or a whole archive (`cs`).
    Category,
}

impl From<MuteKindJson> for MuteKind {
    fn from(kind: MuteKindJson) -> Self {
        match kind {
            MuteKindJson::Author => MuteKind::Author,
            MuteKindJson::Keyword => MuteKind::Keyword,
            MuteKindJson::Category => MuteKind::Category,
        }
    }
}

impl From<MuteKind> for MuteKindJson {
    fn from(kind: MuteKind) -> Self {
        match kind {
            MuteKind::Author => MuteKindJson::Author,
            MuteKind::Keyword => MuteKindJson::Keyword,
            MuteKind::Category => MuteKindJson::Category,
        }
    }
}

/// One mute.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuteJson {
    id: i64,
    kind: MuteKindJson,
    /// As typed (trimmed).
    #[schema(example = "diffusion")]
    text: String,
    /// True when the mute can match no paper (only stop words or punctuation).
    matches_nothing: bool,
    created_at: String,
}

impl From<Mute> for MuteJson {
    fn from(m: Mute) -> Self {
        Self {
            id: m.id,
            kind: m.kind.into(),
            matches_nothing: mute_matches_nothing(m.kind, &m.text),
            text: m.text,
            created_at: m.created_at.to_rfc3339(),
        }
    }
}

/// A reader's mutes, oldest first, and how many they may keep.
#[derive(Serialize, ToSchema)]
pub struct MutesJson {
    mutes: Vec<MuteJson>,
    #[schema(example = 200)]
    max: usize,
}

/// A mute to add.
#[derive(Deserialize, ToSchema)]
pub struct NewMuteJson {
    kind: MuteKindJson,
    /// 1 to 200 characters, at least one of them not a space (kept trimmed).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t-\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
        example = "\"protein folding\""
    )]
    text: String,
}

/// Whether `c` is a space as the document's `text` pattern counts them: Unicode's White_Space
/// (what trimming removes) and the four separators U+001C..U+001F that Python's `\s` adds.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `text` checked exactly as the document states it (length before trimming, one non-space
/// character), so the server and the document never disagree on a value.
fn text_as_documented(text: &str) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_MUTE_CHARS || text.chars().all(is_space) {
        return Err(ApiError::bad_parameter(
            "text",
            format!("text must be 1 to {MAX_MUTE_CHARS} characters, not all spaces"),
        ));
    }
    Ok(())
}

async fn reader(state: &AppState, headers: &HeaderMap, writes: bool) -> Result<User, ApiError> {
    let user = caller(state, headers).await?;
    if writes {
        state
            .community
            .limit(Action::Mute, &user.id.0.to_string())?;
    }
    Ok(user)
}

fn refused(error: VisibilityError) -> ApiError {
    match error {
        VisibilityError::InvalidMute(e) => ApiError::bad_parameter("text", e.to_string()),
        VisibilityError::TooManyMutes { .. } => {
            ApiError::with_status(StatusCode::CONFLICT, error.to_string())
        }
        VisibilityError::NoSuchMute | VisibilityError::NoSuchPaper(_) => {
            ApiError::not_found(error.to_string())
        }
        VisibilityError::Store(_) => ApiError::from(failed(error)),
    }
}

/// List your mutes.
#[utoipa::path(
    get,
    path = "/api/me/mutes",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your mutes, oldest first", body = MutesJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn list_mutes(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<MutesJson>, ApiError> {
    let user = reader(&state, &headers, false).await?;
    let mutes = state.store.mutes(user.id).await?;
    Ok(Json(MutesJson {
        mutes: mutes.into_iter().map(MuteJson::from).collect(),
        max: MAX_MUTES,
    }))
}

/// Mute an author, a keyword or phrase, or a category. Idempotent: the same mute again (same
/// kind and normalised text) answers 200 with the one kept.
#[utoipa::path(
    post,
    path = "/api/me/mutes",
    tag = "me",
    request_body = NewMuteJson,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = MuteJson),
        (status = 200, description = "You already had this mute", body = MuteJson),
        (status = 400, description = "The body is not `{\"kind\", \"text\"}` with a kind and 1 to 200 characters of text", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 409, description = "You already keep the most mutes allowed (200)", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 415, description = "The body is not sent as `Content-Type: application/json`", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn add_mute(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewMuteJson>, JsonRejection>,
) -> Result<(StatusCode, Json<MuteJson>), ApiError> {
    let user = reader(&state, &headers, true).await?;
    let Json(body) = body.map_err(|e| body_refused(e, "text"))?;
    text_as_documented(&body.text)?;
    let outcome = visibility::add_mute(
        &*state.store,
        user.id,
        body.kind.into(),
        &body.text,
        Utc::now(),
    )
    .await
    .map_err(refused)?;
    let status = if outcome.added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome.mute.into())))
}

/// Unmute.
#[utoipa::path(
    delete,
    path = "/api/me/mutes/{mute_id}",
    tag = "me",
    params(("mute_id" = i64, Path, description = "The mute's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`mute_id` is not a number", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "You have no such mute", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn remove_mute(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = reader(&state, &headers, true).await?;
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_parameter("mute_id", format!("{id:?} is not a mute id")))?;
    visibility::remove_mute(&*state.store, user.id, id)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A paper dismissed as "not interested".
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DismissedJson {
    #[schema(example = "2608.19880")]
    id: String,
    dismissed_at: String,
}

/// A paper to dismiss.
#[derive(Deserialize, ToSchema)]
pub struct DismissJson {
    /// An arXiv id.
    #[schema(example = "2608.19880")]
    id: String,
}

/// List the papers you dismissed ("not interested"), most recent first (at most 1000).
#[utoipa::path(
    get,
    path = "/api/me/dismissed",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your dismissed papers", body = Vec<DismissedJson>),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn list_dismissed(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<DismissedJson>>, ApiError> {
    let user = reader(&state, &headers, false).await?;
    let dismissed = visibility::dismissed(&*state.store, user.id)
        .await
        .map_err(refused)?;
    Ok(Json(
        dismissed
            .into_iter()
            .map(|d| DismissedJson {
                id: d.paper.to_string(),
                dismissed_at: d.dismissed_at.to_rfc3339(),
            })
            .collect(),
    ))
}

/// Not interested: hide a paper from your daily, week and month pages and your digests (and
/// mark it seen). Idempotent.
#[utoipa::path(
    post,
    path = "/api/me/dismissed",
    tag = "me",
    request_body = DismissJson,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Dismissed"),
        (status = 400, description = "The body is not `{\"id\"}` with an arXiv id", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "No such paper on this hub", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 415, description = "The body is not sent as `Content-Type: application/json`", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn dismiss_paper(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<DismissJson>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let user = reader(&state, &headers, true).await?;
    let Json(body) = body.map_err(|e| body_refused(e, "id"))?;
    let id = params::arxiv_id("id", &body.id)?;
    visibility::dismiss(&*state.store, user.id, &id, Utc::now())
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take "not interested" back. Idempotent.
#[utoipa::path(
    delete,
    path = "/api/me/dismissed/{id}",
    tag = "me",
    params(("id" = String, Path, description = "An arXiv id (old-style ids with their slash percent-encoded)", example = "2608.19880")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "No longer dismissed"),
        (status = 400, description = "`id` is not an arXiv id", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn undismiss_paper(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = reader(&state, &headers, true).await?;
    let id = params::arxiv_id("id", &id)?;
    visibility::undismiss(&*state.store, user.id, &id)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mute_text_is_checked_as_the_document_states_it() {
        for good in ["diffusion", " x ", "\u{3000}é", &"x".repeat(200)] {
            assert!(text_as_documented(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            " \t\u{1c}\u{85}\u{3000}",
            &"x".repeat(201),
            &format!(" {}", "x".repeat(200)),
        ] {
            assert!(text_as_documented(bad).is_err(), "{bad:?}");
        }
    }
}
