//! `/api/me/searches`: a reader's saved searches with `Authorization: Bearer TOKEN` — list,
//! save, put in or take out of the digest, read one's matching papers, delete.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use paperfeed_app::saved_searches::{self, MATCHES_LIMIT, SavedSearchError, SearchSpec};
use paperfeed_store::{SavedSearch, SavedSearchId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::community::{body_refused, caller};
use crate::api::error::{ApiError, ErrorJson};
use crate::api::json::PaperJson;
use crate::community::rate_limit::Action;
use crate::error::failed;
use crate::state::AppState;

/// The routes of this module, with their OpenAPI descriptions.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_searches, create_search))
        .routes(routes!(update_search, delete_search))
        .routes(routes!(list_search_papers))
}

/// A saved search.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedSearchJson {
    id: i64,
    name: String,
    /// The query as typed in the search box (words, phrases and filters).
    #[schema(example = "diffusion category:cs.LG")]
    q: String,
    /// `keyword`, `semantic` or `hybrid`.
    mode: String,
    /// `relevance`, `newest` or `votes`.
    sort: String,
    created_at: String,
    /// The search page showing it.
    url: String,
    /// Its webhook's target, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_url: Option<String>,
    /// Whether its new matches go into the caller's email digest (a section per search, each
    /// paper once), when the caller's address is subscribed to one.
    in_digest: bool,
}

impl SavedSearchJson {
    fn new(search: SavedSearch) -> Self {
        let url = SearchSpec::of(&search).href(crate::query::encode);
        SavedSearchJson {
            id: search.id.0,
            name: search.name,
            q: search.query,
            mode: search.mode,
            sort: search.sort,
            created_at: search.created_at.to_rfc3339(),
            url,
            webhook_url: search.webhook_url,
            in_digest: search.in_digest,
        }
    }
}

/// A search to save: as the search page takes it.
#[derive(Deserialize, ToSchema)]
pub struct NewSavedSearchJson {
    /// 1 to 100 characters, no control characters, unique among the caller's searches
    /// (case-insensitively).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\t-\r \x00-\x1f\x7f-\x9f\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// The query as typed in the search box, 1 to 500 characters.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
        example = "diffusion category:cs.LG"
    )]
    q: String,
    /// `keyword`, `semantic` or `hybrid` (empty: hybrid).
    #[serde(default)]
    #[schema(pattern = "^(?:|keyword|semantic|hybrid)$")]
    mode: String,
    /// `relevance` (empty: relevance), `newest` or `votes`.
    #[serde(default)]
    #[schema(pattern = "^(?:|relevance|newest|votes)$")]
    sort: String,
}

fn refused(e: SavedSearchError) -> ApiError {
    match e {
        SavedSearchError::NotFound => ApiError::not_found("no such saved search of yours"),
        SavedSearchError::InvalidName => ApiError::bad_parameter("name", e.to_string()),
        SavedSearchError::NameTaken(_) => {
            ApiError::with_status(StatusCode::CONFLICT, e.to_string())
        }
        SavedSearchError::InvalidQuery(_) => ApiError::bad_parameter("q", e.to_string()),
        SavedSearchError::InvalidChoice { field, .. } => {
            ApiError::bad_parameter(field, e.to_string())
        }
        SavedSearchError::TooMany => ApiError::with_status(StatusCode::CONFLICT, e.to_string()),
        other => ApiError::from(failed(other)),
    }
}

/// The caller's saved searches, by name.
#[utoipa::path(
    get,
    path = "/api/me/searches",
    tag = "saved searches",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's saved searches", body = Vec<SavedSearchJson>),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn list_searches(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<SavedSearchJson>>, ApiError> {
    let user = caller(&state, &headers).await?;
    let searches = saved_searches::saved_searches(&*state.store, user.id)
        .await
        .map_err(refused)?;
    Ok(Json(
        searches.into_iter().map(SavedSearchJson::new).collect(),
    ))
}

/// Save a search by name (at most 50 per reader).
#[utoipa::path(
    post,
    path = "/api/me/searches",
    tag = "saved searches",
    request_body = NewSavedSearchJson,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Saved", body = SavedSearchJson),
        (status = 400, description = "A bad name, query, mode or sort; `parameter` names it", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 409, description = "The caller has as many saved searches as allowed, or one by this name", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 415, description = "The body is not sent as `Content-Type: application/json`", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn create_search(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewSavedSearchJson>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedSearchJson>), ApiError> {
    let user = caller(&state, &headers).await?;
    let Json(body) = body.map_err(bad_body)?;
    state
        .community
        .limit(Action::SavedSearch, &user.id.0.to_string())?;
    let spec = SearchSpec::parse(&body.q, &body.mode, &body.sort).map_err(refused)?;
    let saved = saved_searches::save_search(&*state.store, user.id, &body.name, &spec, Utc::now())
        .await
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(SavedSearchJson::new(saved))))
}

/// A body that is JSON but not a search: said in this route's words; the rest as the other
/// JSON routes say it (415, 413).
fn bad_body(rejection: JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as R;
    if matches!(rejection, R::JsonDataError(_) | R::JsonSyntaxError(_)) {
        return ApiError::with_status(
            StatusCode::BAD_REQUEST,
            format!(
                "the body must be {{\"name\", \"q\", \"mode\"?, \"sort\"?}}: {}",
                rejection.body_text()
            ),
        );
    }
    body_refused(rejection, "q")
}

fn search_id(raw: &str) -> Result<SavedSearchId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(SavedSearchId)
        .ok_or_else(|| ApiError::bad_parameter("id", "a saved search's id is a positive number"))
}

/// What can change of a saved search.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedSearchChangeJson {
    /// Put its new matches in the caller's email digest (`true`) or leave them out.
    in_digest: bool,
}

/// Put one of the caller's saved searches in their email digest, or take it out. Taken out,
/// its new matches wait: put back, the next digest carries them.
#[utoipa::path(
    patch,
    path = "/api/me/searches/{search_id}",
    tag = "saved searches",
    params(("search_id" = String, Path, description = "The saved search's id", example = "1")),
    request_body = SavedSearchChangeJson,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = SavedSearchJson),
        (status = 400, description = "`search_id` is not a saved search's id, or the body is not `{\"inDigest\": true|false}`", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "No such saved search of the caller's", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 415, description = "The body is not sent as `Content-Type: application/json`", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn update_search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<SavedSearchChangeJson>, JsonRejection>,
) -> Result<Json<SavedSearchJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = search_id(&id)?;
    let Json(body) = body.map_err(bad_change)?;
    state
        .community
        .limit(Action::SavedSearch, &user.id.0.to_string())?;
    let changed = saved_searches::set_in_digest(&*state.store, user.id, id, body.in_digest)
        .await
        .map_err(refused)?;
    Ok(Json(SavedSearchJson::new(changed)))
}

/// A body that is JSON but not a change: said in this route's words; the rest as the other
/// JSON routes say it (415, 413).
fn bad_change(rejection: JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as R;
    if matches!(rejection, R::JsonDataError(_) | R::JsonSyntaxError(_)) {
        return ApiError::with_status(
            StatusCode::BAD_REQUEST,
            format!(
                "the body must be {{\"inDigest\": true|false}}: {}",
                rejection.body_text()
            ),
        );
    }
    body_refused(rejection, "inDigest")
}

/// Delete one of the caller's saved searches (with its webhook and delivery log).
#[utoipa::path(
    delete,
    path = "/api/me/searches/{search_id}",
    tag = "saved searches",
    params(("search_id" = String, Path, description = "The saved search's id", example = "1")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`id` is not a number", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "No such saved search of the caller's", body = ErrorJson),
        (status = 429, description = "Too many changes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn delete_search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = search_id(&id)?;
    state
        .community
        .limit(Action::SavedSearch, &user.id.0.to_string())?;
    saved_searches::delete_search(&*state.store, user.id, id)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The papers one of the caller's saved searches matches, newest first (at most 50): its
/// query's words and filters, as keyword search matches them.
#[utoipa::path(
    get,
    path = "/api/me/searches/{search_id}/papers",
    tag = "saved searches",
    params(("search_id" = String, Path, description = "The saved search's id", example = "1")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Matching papers, newest first", body = Vec<PaperJson>),
        (status = 400, description = "`id` is not a number", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "No such saved search of the caller's", body = ErrorJson),
    )
)]
pub async fn list_search_papers(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<PaperJson>>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = search_id(&id)?;
    let search = saved_searches::saved_search(&*state.store, user.id, id)
        .await
        .map_err(refused)?;
    let papers = saved_searches::matching_papers(
        state.search.clone(),
        &*state.store,
        &search,
        MATCHES_LIMIT,
    )
    .await
    .map_err(refused)?;
    Ok(Json(papers.iter().map(PaperJson::new).collect()))
}
