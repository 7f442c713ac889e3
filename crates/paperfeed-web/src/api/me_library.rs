//! The reader's library over the API, with `Authorization: Bearer TOKEN`: saved papers
//! (`/api/me/library`) and collections (`/api/me/collections`), the same use cases the pages
//! run, under the same rate limits.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use paperfeed_app::library::import::{ImportConfig, ImportRequest, import_into_collection};
use paperfeed_app::library::{self, LibraryError};
use paperfeed_core::{ArxivId, ReadingState};
use paperfeed_store::{Collection, SavedPaper, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::{ApiError, ApiQuery, ErrorJson};
use crate::api::params;
use crate::community::auth::bearer_user;
use crate::community::rate_limit::Action;
use crate::state::AppState;

/// The library routes, merged into the API router (and its document).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_saved_papers))
        .routes(routes!(save_paper, unsave_paper))
        .routes(routes!(list_collections, create_collection))
        .routes(routes!(
            get_collection,
            change_collection,
            delete_collection
        ))
        .routes(routes!(add_to_collection, remove_from_collection))
        .routes(routes!(import_into))
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    bearer_user(state, headers).await?.ok_or_else(|| {
        ApiError::with_status(
            StatusCode::UNAUTHORIZED,
            "a valid API token is required: send Authorization: Bearer TOKEN",
        )
    })
}

fn limit(state: &AppState, action: Action, user: &User) -> Result<(), ApiError> {
    Ok(state.community.limit(action, &user.id.0.to_string())?)
}

fn refused(error: LibraryError) -> ApiError {
    match &error {
        LibraryError::NoSuchPaper(_) | LibraryError::NoSuchCollection => {
            ApiError::not_found(error.to_string())
        }
        LibraryError::Invalid(e) => ApiError::bad_parameter(e.field, e.reason.clone()),
        LibraryError::TooMany { .. } => {
            ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
        LibraryError::Store(_) => ApiError::internal(crate::error::error_chain(&error)),
    }
}

/// A JSON object body as `T`; `None` for no body or `null`. Arrays and other values are
/// refused (serde alone would read an array as a struct), as is a body not sent as JSON (415).
fn json_object<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    let refused = |why: String| ApiError::with_status(StatusCode::BAD_REQUEST, why);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as Content-Type: application/json",
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| refused(format!("the body is not JSON: {e}")))?;
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(_) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| refused(format!("the body is not as documented: {e}"))),
        _ => Err(refused("the body must be a JSON object".into())),
    }
}

fn collection_number(raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| ApiError::bad_parameter("collection", "a collection id is a number"))
}

/// A paper in the reader's library.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedPaperJson {
    #[schema(example = "2608.19880")]
    id: String,
    title: String,
    #[schema(value_type = String, format = DateTime)]
    saved_at: DateTime<Utc>,
    /// `to_read` or `read`.
    #[schema(example = "to_read")]
    state: String,
    /// The reader's private Markdown note (empty when none).
    note: String,
    /// The paper's page on this hub.
    url: String,
}

/// A reading state, as the API names it.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum StateParam {
    ToRead,
    Read,
}

impl StateParam {
    fn reading(self) -> ReadingState {
        match self {
            StateParam::ToRead => ReadingState::ToRead,
            StateParam::Read => ReadingState::Read,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LibraryParams {
    /// Only papers in this reading state.
    #[serde(default)]
    state: Option<StateParam>,
}

async fn saved_json(
    state: &AppState,
    saved: Vec<SavedPaper>,
) -> Result<Vec<SavedPaperJson>, ApiError> {
    let ids: Vec<ArxivId> = saved.iter().map(|s| s.paper.clone()).collect();
    let papers = state.store.get_papers(&ids).await?;
    Ok(saved
        .into_iter()
        .filter_map(|s| {
            let paper = papers.iter().find(|p| p.id == s.paper)?;
            Some(SavedPaperJson {
                id: paper.id.to_string(),
                title: paper.title.clone(),
                saved_at: s.saved_at,
                state: s.state.as_str().to_owned(),
                note: s.note,
                url: format!("/papers/{}", paper.id),
            })
        })
        .collect())
}

/// The caller's saved papers, newest saved first.
#[utoipa::path(
    get,
    path = "/api/me/library",
    tag = "library",
    params(LibraryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved papers, newest saved first", body = Vec<SavedPaperJson>),
        (status = 400, description = "`state` is not `to_read` or `read`", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn list_saved_papers(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<LibraryParams>,
) -> Result<Json<Vec<SavedPaperJson>>, ApiError> {
    let user = caller(&state, &headers).await?;
    let filter = query.state.map(StateParam::reading);
    let saved = state.store.saved_papers(user.id, filter).await?;
    Ok(Json(saved_json(&state, saved).await?))
}

/// What to set on a saved paper (both optional).
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct SavedPaperChangeJson {
    state: Option<StateParam>,
    /// A private Markdown note, at most 20,000 characters; `""` removes it.
    note: Option<String>,
}

/// Save a paper to the caller's library (idempotent), optionally setting its reading state
/// and note. The body is optional.
#[utoipa::path(
    post,
    path = "/api/me/library/{paper}",
    tag = "library",
    params(("paper" = String, Path, description = "An arXiv id", example = "2608.19880")),
    request_body(content = Option<SavedPaperChangeJson>, description = "Optional: `state` and/or `note`"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The saved paper", body = SavedPaperJson),
        (status = 400, description = "Not an arXiv id, a bad state or a note over the limit", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "No such paper on this hub", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 422, description = "The library is full", body = ErrorJson),
        (status = 429, description = "Too many library writes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn save_paper(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(paper): Path<String>,
    body: Bytes,
) -> Result<Json<SavedPaperJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = params::arxiv_id("paper", &paper)?;
    // The body is optional; when sent, it is JSON.
    let change: SavedPaperChangeJson = json_object(&headers, &body)?.unwrap_or_default();
    limit(&state, Action::Library, &user)?;
    let reading = change.state.map(StateParam::reading);
    let now = Utc::now();
    if reading.is_none() && change.note.is_none() {
        library::save_paper(&*state.store, &user, &id, now)
            .await
            .map_err(refused)?;
    } else {
        library::update_saved_paper(
            &*state.store,
            &user,
            &id,
            reading,
            change.note.as_deref(),
            now,
        )
        .await
        .map_err(refused)?;
    }
    let saved = state
        .store
        .saved_paper(user.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("paper {id} is not on this hub")))?;
    saved_json(&state, vec![saved])
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("paper {id} is not on this hub")))
}

/// Whether the paper is saved after the request.
#[derive(Serialize, ToSchema)]
pub struct UnsavedJson {
    id: String,
    saved: bool,
}

/// Remove a paper (and its note) from the caller's library. Idempotent.
#[utoipa::path(
    delete,
    path = "/api/me/library/{paper}",
    tag = "library",
    params(("paper" = String, Path, description = "An arXiv id", example = "2608.19880")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Not saved any more", body = UnsavedJson),
        (status = 400, description = "Not an arXiv id", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 429, description = "Too many library writes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn unsave_paper(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(paper): Path<String>,
) -> Result<Json<UnsavedJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = params::arxiv_id("paper", &paper)?;
    limit(&state, Action::Library, &user)?;
    library::unsave_paper(&*state.store, &user, &id)
        .await
        .map_err(refused)?;
    Ok(Json(UnsavedJson {
        id: id.to_string(),
        saved: false,
    }))
}

/// A collection of the caller's.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CollectionJson {
    id: i64,
    name: String,
    /// Readable by anyone at `url` (with its feeds) when true; otherwise by its owner only.
    public: bool,
    papers: u64,
    /// Its page: `/collections/{id}-{slug}`.
    url: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    updated_at: DateTime<Utc>,
}

impl CollectionJson {
    fn of(c: &Collection) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            public: c.public,
            papers: c.papers,
            url: crate::saved::collection_href(c),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The caller's collections, by name.
#[utoipa::path(
    get,
    path = "/api/me/collections",
    tag = "library",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's collections", body = Vec<CollectionJson>),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn list_collections(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<CollectionJson>>, ApiError> {
    let user = caller(&state, &headers).await?;
    let collections = state.store.collections(user.id).await?;
    Ok(Json(collections.iter().map(CollectionJson::of).collect()))
}

/// A collection's new name and/or visibility.
#[derive(Deserialize, ToSchema)]
pub struct CollectionChangeJson {
    /// 1 to 100 characters, not all spaces, no control characters.
    #[schema(
        example = "Reading group",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: Option<String>,
    public: Option<bool>,
}

/// A new collection.
#[derive(Deserialize, ToSchema)]
pub struct NewCollectionJson {
    /// 1 to 100 characters, not all spaces, no control characters.
    #[schema(
        example = "Reading group",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
    /// Private unless true.
    public: Option<bool>,
}

/// Create a collection (private unless `public` is true).
#[utoipa::path(
    post,
    path = "/api/me/collections",
    tag = "library",
    request_body = NewCollectionJson,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new collection", body = CollectionJson),
        (status = 400, description = "No name, or a name that is empty or too long", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 415, description = "The body is not sent as `Content-Type: application/json`", body = ErrorJson),
        (status = 422, description = "The caller has as many collections as allowed", body = ErrorJson),
        (status = 429, description = "Too many library writes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn create_collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CollectionJson>), ApiError> {
    let user = caller(&state, &headers).await?;
    let body: NewCollectionJson = json_object(&headers, &body)?
        .ok_or_else(|| ApiError::with_status(StatusCode::BAD_REQUEST, "send {\"name\": \"…\"}"))?;
    limit(&state, Action::Library, &user)?;
    let now = Utc::now();
    let created = library::create_collection(&*state.store, &user, &body.name, now)
        .await
        .map_err(refused)?;
    let collection = if body.public == Some(true) {
        library::change_collection(&*state.store, &user, created.id, None, Some(true), now)
            .await
            .map_err(refused)?;
        library::own_collection(&*state.store, &user, created.id)
            .await
            .map_err(refused)?
    } else {
        created
    };
    Ok((StatusCode::CREATED, Json(CollectionJson::of(&collection))))
}

/// A paper in a collection.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CollectionPaperJson {
    id: String,
    title: String,
    #[schema(value_type = String, format = DateTime)]
    added_at: DateTime<Utc>,
}

/// A collection with its papers.
#[derive(Serialize, ToSchema)]
pub struct CollectionDetailJson {
    #[serde(flatten)]
    collection: CollectionJson,
    /// Latest added first.
    items: Vec<CollectionPaperJson>,
}

/// One of the caller's collections with its papers, latest added first.
#[utoipa::path(
    get,
    path = "/api/me/collections/{collection}",
    tag = "library",
    params(("collection" = i64, Path, description = "A collection id", example = 1)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The collection and its papers", body = CollectionDetailJson),
        (status = 400, description = "`collection` is not a number", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "The caller has no such collection", body = ErrorJson),
    )
)]
pub async fn get_collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(collection): Path<String>,
) -> Result<Json<CollectionDetailJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = collection_number(&collection)?;
    let collection = library::own_collection(&*state.store, &user, id)
        .await
        .map_err(refused)?;
    let entries = state.store.collection_papers(id).await?;
    let ids: Vec<ArxivId> = entries.iter().map(|e| e.paper.clone()).collect();
    let papers = state.store.get_papers(&ids).await?;
    let items = entries
        .iter()
        .filter_map(|e| {
            let paper = papers.iter().find(|p| p.id == e.paper)?;
            Some(CollectionPaperJson {
                id: paper.id.to_string(),
                title: paper.title.clone(),
                added_at: e.added_at,
            })
        })
        .collect();
    Ok(Json(CollectionDetailJson {
        collection: CollectionJson::of(&collection),
        items,
    }))
}

/// Rename a collection and/or make it public or private.
#[utoipa::path(
    patch,
    path = "/api/me/collections/{collection}",
    tag = "library",
    params(("collection" = i64, Path, description = "A collection id", example = 1)),
    request_body = CollectionChangeJson,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed collection", body = CollectionJson),
        (status = 400, description = "`collection` is not a number, or a bad name", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "The caller has no such collection", body = ErrorJson),
        (status = 413, description = "The body is over the hub's limit", body = ErrorJson),
        (status = 415, description = "The body is not sent as `Content-Type: application/json`", body = ErrorJson),
        (status = 429, description = "Too many library writes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn change_collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(collection): Path<String>,
    body: Bytes,
) -> Result<Json<CollectionJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = collection_number(&collection)?;
    let body: CollectionChangeJson = json_object(&headers, &body)?.ok_or_else(|| {
        ApiError::with_status(StatusCode::BAD_REQUEST, "send {\"name\"?, \"public\"?}")
    })?;
    limit(&state, Action::Library, &user)?;
    library::change_collection(
        &*state.store,
        &user,
        id,
        body.name.as_deref(),
        body.public,
        Utc::now(),
    )
    .await
    .map_err(refused)?;
    let collection = library::own_collection(&*state.store, &user, id)
        .await
        .map_err(refused)?;
    Ok(Json(CollectionJson::of(&collection)))
}

/// Delete a collection (the list, not its papers).
#[utoipa::path(
    delete,
    path = "/api/me/collections/{collection}",
    tag = "library",
    params(("collection" = i64, Path, description = "A collection id", example = 1)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`collection` is not a number", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "The caller has no such collection", body = ErrorJson),
        (status = 429, description = "Too many library writes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn delete_collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(collection): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = collection_number(&collection)?;
    limit(&state, Action::Library, &user)?;
    library::delete_collection(&*state.store, &user, id)
        .await
        .map_err(refused)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the paper is in the collection after the request, and whether this request
/// changed that.
#[derive(Serialize, ToSchema)]
pub struct MembershipJson {
    id: String,
    collection: i64,
    member: bool,
    changed: bool,
}

/// Add a paper to a collection. Idempotent.
#[utoipa::path(
    post,
    path = "/api/me/collections/{collection}/papers/{paper}",
    tag = "library",
    params(
        ("collection" = i64, Path, description = "A collection id", example = 1),
        ("paper" = String, Path, description = "An arXiv id", example = "2608.19880"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "In the collection", body = MembershipJson),
        (status = 400, description = "`collection` is not a number or `paper` not an arXiv id", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "The caller has no such collection, or no such paper is on this hub", body = ErrorJson),
        (status = 422, description = "The collection is full", body = ErrorJson),
        (status = 429, description = "Too many library writes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn add_to_collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((collection, paper)): Path<(String, String)>,
) -> Result<Json<MembershipJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = collection_number(&collection)?;
    let paper = params::arxiv_id("paper", &paper)?;
    limit(&state, Action::Library, &user)?;
    let changed = library::add_to_collection(&*state.store, &user, id, &paper, Utc::now())
        .await
        .map_err(refused)?;
    Ok(Json(MembershipJson {
        id: paper.to_string(),
        collection: id,
        member: true,
        changed,
    }))
}

/// Remove a paper from a collection. Idempotent.
#[utoipa::path(
    delete,
    path = "/api/me/collections/{collection}/papers/{paper}",
    tag = "library",
    params(
        ("collection" = i64, Path, description = "A collection id", example = 1),
        ("paper" = String, Path, description = "An arXiv id", example = "2608.19880"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Not in the collection", body = MembershipJson),
        (status = 400, description = "`collection` is not a number or `paper` not an arXiv id", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "The caller has no such collection", body = ErrorJson),
        (status = 429, description = "Too many library writes", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn remove_from_collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((collection, paper)): Path<(String, String)>,
) -> Result<Json<MembershipJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = collection_number(&collection)?;
    let paper = params::arxiv_id("paper", &paper)?;
    limit(&state, Action::Library, &user)?;
    let changed = library::remove_from_collection(&*state.store, &user, id, &paper)
        .await
        .map_err(refused)?;
    Ok(Json(MembershipJson {
        id: paper.to_string(),
        collection: id,
        member: false,
        changed,
    }))
}

/// One entry of an import.
#[derive(Serialize, ToSchema)]
pub struct ImportLineJson {
    /// Where it stands in the upload: `line 3`, `entry 2 (key) at line 14`.
    entry: String,
    /// The arXiv id read from it, if any.
    id: Option<String>,
    added: bool,
    /// What became of it, in words.
    result: String,
}

/// What an import did.
#[derive(Serialize, ToSchema)]
pub struct ImportJson {
    /// `BibTeX`, `RIS` or `a list of arXiv ids`.
    format: String,
    added: usize,
    /// More entries followed the 1,000 read.
    truncated: bool,
    entries: Vec<ImportLineJson>,
}

/// Import a BibTeX or RIS file, or arXiv ids/URLs one per line, into a collection: the body
/// is the file as it is (at most 2 MiB, 1,000 entries). Papers not on this hub are fetched
/// from arXiv (at most 25 per import; import again to continue).
#[utoipa::path(
    post,
    path = "/api/me/collections/{collection}/import",
    tag = "library",
    params(("collection" = i64, Path, description = "A collection id", example = 1)),
    request_body(content = String, content_type = "text/plain", description = "A BibTeX or RIS file, or arXiv ids one per line"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A report on every entry", body = ImportJson),
        (status = 400, description = "`collection` is not a number, or the body is empty", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
        (status = 404, description = "The caller has no such collection", body = ErrorJson),
        (status = 413, description = "The body is over the limit", body = ErrorJson),
        (status = 422, description = "The upload is larger than an import reads", body = ErrorJson),
        (status = 429, description = "Too many imports", body = ErrorJson,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn import_into(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(collection): Path<String>,
    body: Bytes,
) -> Result<Json<ImportJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let id = collection_number(&collection)?;
    if body.is_empty() && !headers.contains_key(axum::http::header::CONTENT_TYPE) {
        return Err(ApiError::with_status(
            StatusCode::BAD_REQUEST,
            "the body is the file to import: send a BibTeX or RIS file or arXiv ids",
        ));
    }
    limit(&state, Action::Import, &user)?;
    let config = ImportConfig::default();
    let report = import_into_collection(ImportRequest {
        store: &*state.store,
        lookup: state.community.lookup.as_deref(),
        metrics: &*state.metrics,
        config,
        user: &user,
        collection: id,
        upload: &body,
        now: Utc::now(),
    })
    .await
    .map_err(refused)?;
    Ok(Json(ImportJson {
        format: report.format.name().to_owned(),
        added: report.added(),
        truncated: report.truncated,
        entries: report
            .lines
            .iter()
            .map(|l| ImportLineJson {
                entry: l.label.clone(),
                id: l.id.as_ref().map(ToString::to_string),
                added: l.outcome.added(),
                result: l.outcome.describe(),
            })
            .collect(),
    }))
}
