//! The reader's follows and Following feed through the API, with `Authorization: Bearer`:
//! `GET/POST/DELETE /api/me/follows` and `GET /api/me/following`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use paperfeed_app::follows::{self, FollowError, cursor_text, page_size, parse_cursor};
use paperfeed_core::{FollowKind, FollowTarget};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::community::caller;
use crate::api::error::{ApiError, ApiQuery, ErrorJson};
use crate::community::rate_limit::Action;
use crate::error::failed;
use crate::state::AppState;

/// One thing the caller follows.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FollowJson {
    /// `author`, `organization`, `category` or `search`.
    #[schema(example = "author")]
    kind: String,
    /// An author's normalised name (`zoe muller`), an organisation or category name, a saved
    /// search's id.
    #[schema(example = "zoe muller")]
    key: String,
    /// When the follow began (RFC 3339).
    created_at: String,
}

fn follow_json(target: &FollowTarget, created_at: chrono::DateTime<Utc>) -> FollowJson {
    FollowJson {
        kind: target.kind().as_str().to_owned(),
        key: target.key(),
        created_at: created_at.to_rfc3339(),
    }
}

/// Which thing: `kind` and `key` (an author's key may also be given as its slug).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowParams {
    /// `author`, `organization`, `category` or `search`.
    kind: String,
    /// What to follow of that kind (`zoe-muller`, `google`, `cs.CL`, `12`); one that names
    /// nothing of that kind is a 404.
    key: String,
}

fn target_of(params: &FollowParams) -> Result<FollowTarget, ApiError> {
    let kind = FollowKind::parse(&params.kind).ok_or_else(|| {
        ApiError::bad_parameter(
            "kind",
            "kind must be author, organization, category or search",
        )
    })?;
    FollowTarget::parse(kind, &params.key).ok_or_else(|| {
        ApiError::not_found(format!("there is no {kind} {:?} to follow", params.key))
    })
}

fn refused(e: FollowError) -> ApiError {
    match e {
        FollowError::TooMany => ApiError::with_status(StatusCode::CONFLICT, e.to_string()),
        FollowError::Store(_) => ApiError::from(failed(e)),
    }
}

/// What the caller follows, newest first.
#[utoipa::path(
    get,
    path = "/api/me/follows",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's follows", body = [FollowJson]),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn list_follows(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<FollowJson>>, ApiError> {
    let user = caller(&state, &headers).await?;
    let list = follows::follows(&*state.store, user.id)
        .await
        .map_err(refused)?;
    Ok(Json(
        list.iter()
            .map(|f| follow_json(&f.target, f.created_at))
            .collect(),
    ))
}

/// Follow an author, organisation, category or saved search. Idempotent.
#[utoipa::path(
    post,
    path = "/api/me/follows",
    tag = "me",
    params(FollowParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Followed (now or already)", body = FollowJson),
        (status = 400, description = "`kind` is not a kind of thing to follow", body = ErrorJson),
        (status = 404, description = "`key` names nothing of that kind", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 409, description = "The caller follows the most things allowed", body = ErrorJson),
        (status = 429, description = "Too many follows", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn create_follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<FollowParams>,
) -> Result<Json<FollowJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let target = target_of(&params)?;
    state
        .community
        .limit(Action::Follow, &user.id.0.to_string())?;
    let now = Utc::now();
    follows::follow(&*state.store, user.id, &target, now)
        .await
        .map_err(refused)?;
    Ok(Json(follow_json(&target, now)))
}

/// Stop following. Idempotent.
#[utoipa::path(
    delete,
    path = "/api/me/follows",
    tag = "me",
    params(FollowParams),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Not followed (any more)"),
        (status = 400, description = "`kind` is not a kind of thing to follow", body = ErrorJson),
        (status = 404, description = "`key` names nothing of that kind", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn delete_follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<FollowParams>,
) -> Result<StatusCode, ApiError> {
    let user = caller(&state, &headers).await?;
    let target = target_of(&params)?;
    state
        .community
        .limit(Action::Follow, &user.id.0.to_string())?;
    follows::unfollow(&*state.store, user.id, &target)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A paper on the caller's Following feed and why.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FollowingItemJson {
    #[schema(example = "2608.19880")]
    id: String,
    title: String,
    authors: Vec<String>,
    /// When it counts as new: its arXiv publication (else its first featured day).
    published_at: String,
    url: String,
    /// Every reason it is on the feed (`author you follow: Zoë Müller`).
    reasons: Vec<String>,
}

/// A page of the Following feed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FollowingJson {
    items: Vec<FollowingItemJson>,
    /// Send as `before` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowingParams {
    /// The `next` of the previous page.
    before: Option<String>,
    /// Papers per page, 1 to 100 (default 30).
    limit: Option<String>,
}

/// The caller's Following feed: papers of followed authors, organisations and categories,
/// newest first, each once with every reason.
#[utoipa::path(
    get,
    path = "/api/me/following",
    tag = "me",
    params(FollowingParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the feed", body = FollowingJson),
        (status = 400, description = "`before` or `limit` is malformed", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn get_following(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<FollowingParams>,
) -> Result<Json<FollowingJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let before = match params.before.as_deref() {
        None => None,
        Some(text) => Some(parse_cursor(text).ok_or_else(|| {
            ApiError::bad_parameter("before", "before must be the `next` of a previous page")
        })?),
    };
    let limit = match params.limit.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<usize>()
                .ok()
                .filter(|n| (1..=follows::MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_parameter("limit", "limit must be a whole number from 1 to 100")
                })?,
        ),
    };
    let page = {
        let limit = page_size(limit);
        let matches = follows::saved_search_matches(
            state.search.clone(),
            &state.search_matches,
            &*state.store,
            user.id,
            before.as_ref(),
            limit,
        )
        .await?;
        let mut page =
            follows::following_feed(&*state.store, user.id, &matches, before, limit).await?;
        follows::without_hidden(&*state.store, &state.filters, user.id, &mut page, false).await?;
        page
    };
    Ok(Json(FollowingJson {
        items: page
            .items
            .iter()
            .map(|item| FollowingItemJson {
                id: item.paper.id.to_string(),
                title: item.paper.title.clone(),
                authors: item
                    .paper
                    .visible_authors()
                    .map(|a| a.name.clone())
                    .collect(),
                published_at: item.at.to_rfc3339(),
                url: format!("/papers/{}", item.paper.id),
                reasons: item.reasons.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        next: page.next.as_ref().map(cursor_text),
    }))
}
