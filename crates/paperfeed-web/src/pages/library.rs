//! A reader's library: `/library` (saved papers, newest saved first, by reading state, each
//! with its private Markdown note), `/collections` (the reader's named lists) and one
//! collection's page, feeds and exports, and importing a reference list into a collection.
//! Every write is a POST with the session's CSRF token, goes through the rate limiter and
//! answers with a redirect back, so everything works without JavaScript.
//!
//! A collection lives at `/collections/{id}-{slug}`: the number finds it, the slug (from its
//! name) is for people and follows renames (other slugs redirect). It is private until its
//! owner makes it public; a private collection is "not found" (404) to everyone else, feeds
//! and exports included, so its existence is not revealed.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use paperfeed_app::library::import::{ImportConfig, ImportRequest, import_into_collection};
use paperfeed_app::library::{self, LibraryError};
use paperfeed_core::{ArxivId, Paper, ReadingState};
use paperfeed_store::User;
use serde::Deserialize;

use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::error::{AppError, failed, render_error};
use crate::exports::Export;
use crate::redirect::see_other;
use crate::rich_text::{SafeHtml, render_comment, render_inline};
use crate::saved::collection_href;
use crate::state::AppState;
use crate::syndication::{Feed, FeedFormat, FeedItem, base_url, respond};
use crate::views::{Link, human_date};

/// Papers in a collection's feed: the latest added.
const FEED_ITEMS: usize = 100;
/// Papers "more like this collection" lists.
const MORE_LIKE_IT: usize = 10;

/// The library's routes, merged into the hub's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/library", get(show_library))
        .route("/library.bib", get(export_library_bib))
        .route("/library.ris", get(export_library_ris))
        .route("/library.csl.json", get(export_library_csl))
        .route("/library/save", post(save_paper))
        .route("/library/update", post(update_saved_paper))
        .route(
            "/collections",
            get(show_collections).post(create_collection),
        )
        .route("/collections/add", post(add_from_paper_page))
        .route("/collections/{key}", get(show_collection))
        .route(
            "/collections/{key}/{what}",
            get(collection_feed)
                .post(collection_action)
                // Imports are bounded by the hub's body limit for them (`body_limit.rs`).
                .layer(DefaultBodyLimit::disable()),
        )
}

/// Every field any library form sends; each handler reads its own.
#[derive(Deserialize, Default)]
pub struct LibraryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    paper: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    state: String,
    note: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    public: String,
    #[serde(default)]
    collection: String,
    #[serde(default)]
    text: String,
}

/// A library act the application layer refused (or failed), as the page's answer.
fn refused(error: LibraryError) -> AppError {
    match error {
        LibraryError::NoSuchPaper(id) => {
            AppError::not_found("No such paper", format!("Paper {id} is not on this hub."))
        }
        LibraryError::NoSuchCollection => no_such_collection(),
        LibraryError::Invalid(_) | LibraryError::TooMany { .. } => {
            AppError::BadRequest(error.to_string())
        }
        LibraryError::Store(_) => failed(error),
    }
}

fn no_such_collection() -> AppError {
    AppError::not_found(
        "No such collection",
        "There is no collection at this address, or it is private.",
    )
    .with_suggestions(vec![Link::new("/collections", "Your collections")])
}

fn paper_id(raw: &str) -> Result<ArxivId, AppError> {
    ArxivId::parse(raw).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// `next`, when the form sent one, else `fallback`.
fn back_to(next: &str, fallback: &str) -> String {
    if next.trim().is_empty() {
        fallback.to_owned()
    } else {
        next.trim().to_owned()
    }
}

fn limit(state: &AppState, action: Action, user: &User) -> Result<(), AppError> {
    state.community.limit(action, &user.id.0.to_string())
}

/// The id in a collection's address segment (`12`, `12-reading-group`, `12-x.bib`), the rest
/// of the segment and the export its suffix names.
fn parse_key(key: &str) -> Result<(i64, &str, Option<Export>), AppError> {
    let (key, export) = Export::for_lists(key);
    let digits = key.bytes().take_while(u8::is_ascii_digit).count();
    let id = key
        .get(..digits)
        .and_then(|d| d.parse::<i64>().ok())
        .ok_or_else(no_such_collection)?;
    let rest = key.get(digits..).unwrap_or("");
    Ok((id, rest, export))
}

/// Papers by id, in the order given (a paper that vanished is skipped).
async fn papers(state: &AppState, ids: &[ArxivId]) -> Result<Vec<Paper>, AppError> {
    Ok(state.store.get_papers(ids).await?)
}

// --- Saving.

/// `POST /library/save`: `action=save|unsave`, back to `next`.
pub async fn save_paper(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LibraryForm>,
) -> Result<Response, AppError> {
    let next = back_to(&form.next, "/library");
    let session = viewer.require_csrf(&form.csrf, &next)?;
    let user = &session.user;
    limit(&state, Action::Library, user)?;
    let id = paper_id(&form.paper)?;
    if form.action == "unsave" {
        library::unsave_paper(&*state.store, user, &id)
            .await
            .map_err(refused)?;
    } else {
        library::save_paper(&*state.store, user, &id, Utc::now())
            .await
            .map_err(refused)?;
    }
    Ok(see_other(&next))
}

/// `POST /library/update`: a saved paper's reading state (`state`) and/or note (`note`).
pub async fn update_saved_paper(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LibraryForm>,
) -> Result<Response, AppError> {
    let next = back_to(&form.next, "/library");
    let session = viewer.require_csrf(&form.csrf, &next)?;
    let user = &session.user;
    limit(&state, Action::Library, user)?;
    let id = paper_id(&form.paper)?;
    let reading = if form.state.trim().is_empty() {
        None
    } else {
        Some(ReadingState::parse(&form.state).map_err(|e| AppError::BadRequest(e.to_string()))?)
    };
    library::update_saved_paper(
        &*state.store,
        user,
        &id,
        reading,
        form.note.as_deref(),
        Utc::now(),
    )
    .await
    .map_err(refused)?;
    Ok(see_other(&next))
}

// --- The library page.

struct SavedView {
    id: String,
    anchor: String,
    href: String,
    title: SafeHtml,
    saved_on: String,
    state: ReadingState,
    /// The state the toggle sets.
    toggle_to: ReadingState,
    note_html: Option<SafeHtml>,
    note_source: String,
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage {
    csrf: String,
    /// `""`, `to_read` or `read`.
    filter: &'static str,
    items: Vec<SavedView>,
    collections: Vec<Link>,
    max_note: usize,
    /// Where the forms come back to.
    here: String,
}

#[derive(Deserialize, Default)]
pub struct LibraryQuery {
    #[serde(default)]
    state: String,
}

/// `GET /library?state=to_read|read`.
pub async fn show_library(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<LibraryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let session = viewer.require("/library")?;
    let user = &session.user;
    let filter = match query.state.trim() {
        "" | "all" => None,
        raw => Some(ReadingState::parse(raw).map_err(|e| AppError::BadRequest(e.to_string()))?),
    };
    let saved = state.store.saved_papers(user.id, filter).await?;
    let ids: Vec<ArxivId> = saved.iter().map(|s| s.paper.clone()).collect();
    let found = papers(&state, &ids).await?;
    let items = saved
        .into_iter()
        .filter_map(|s| {
            let paper = found.iter().find(|p| p.id == s.paper)?;
            Some(SavedView {
                id: paper.id.to_string(),
                anchor: format!("saved-{}", paper.id.as_str().replace('/', "-")),
                href: format!("/papers/{}", paper.id),
                title: render_inline(&paper.title),
                saved_on: human_date(s.saved_at.date_naive()),
                state: s.state,
                toggle_to: match s.state {
                    ReadingState::ToRead => ReadingState::Read,
                    ReadingState::Read => ReadingState::ToRead,
                },
                note_html: (!s.note.is_empty()).then(|| render_comment(&s.note)),
                note_source: s.note,
            })
        })
        .collect();
    let collections = state
        .store
        .collections(user.id)
        .await?
        .iter()
        .map(|c| Link::new(collection_href(c), c.name.clone()))
        .collect();
    let page = LibraryPage {
        csrf: session.csrf_token.clone(),
        filter: filter.map_or("", ReadingState::as_str),
        here: match filter {
            Some(f) => format!("/library?state={f}"),
            None => "/library".into(),
        },
        items,
        collections,
        max_note: paperfeed_core::Note::MAX_CHARS,
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}

async fn export_library(
    state: AppState,
    viewer: Viewer,
    export: Export,
) -> Result<Response, AppError> {
    let session = viewer.require("/library")?;
    let saved = state.store.saved_papers(session.user.id, None).await?;
    let ids: Vec<ArxivId> = saved.into_iter().map(|s| s.paper).collect();
    export.list(&papers(&state, &ids).await?, "library")
}

/// `GET /library.bib`: the whole library as BibTeX.
pub async fn export_library_bib(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    export_library(state, viewer, Export::BibTex).await
}

/// `GET /library.ris`.
pub async fn export_library_ris(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    export_library(state, viewer, Export::Ris).await
}

/// `GET /library.csl.json`.
pub async fn export_library_csl(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    export_library(state, viewer, Export::CslJson).await
}

// --- Collections.

struct CollectionView {
    href: String,
    name: String,
    papers: u64,
    public: bool,
}

#[derive(Template)]
#[template(path = "collections.html")]
struct CollectionsPage {
    csrf: String,
    collections: Vec<CollectionView>,
    max_collections: usize,
}

/// `GET /collections`: the reader's collections and a form to make one.
pub async fn show_collections(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let session = viewer.require("/collections")?;
    let collections = state
        .store
        .collections(session.user.id)
        .await?
        .iter()
        .map(|c| CollectionView {
            href: collection_href(c),
            name: c.name.clone(),
            papers: c.papers,
            public: c.public,
        })
        .collect();
    let page = CollectionsPage {
        csrf: session.csrf_token.clone(),
        collections,
        max_collections: paperfeed_core::library::MAX_COLLECTIONS,
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}

/// `POST /collections`: a new private collection named `name`.
pub async fn create_collection(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LibraryForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/collections")?;
    limit(&state, Action::Library, &session.user)?;
    let collection =
        library::create_collection(&*state.store, &session.user, &form.name, Utc::now())
            .await
            .map_err(refused)?;
    Ok(see_other(&collection_href(&collection)))
}

/// `POST /collections/add`: the paper page's "Add to collection" (`collection`, `paper`).
pub async fn add_from_paper_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LibraryForm>,
) -> Result<Response, AppError> {
    let next = back_to(&form.next, "/collections");
    let session = viewer.require_csrf(&form.csrf, &next)?;
    limit(&state, Action::Library, &session.user)?;
    let id = form
        .collection
        .trim()
        .parse::<i64>()
        .map_err(|_| no_such_collection())?;
    let paper = paper_id(&form.paper)?;
    library::add_to_collection(&*state.store, &session.user, id, &paper, Utc::now())
        .await
        .map_err(refused)?;
    Ok(see_other(&next))
}

struct EntryView {
    id: String,
    href: String,
    title: SafeHtml,
    authors: String,
    added_on: String,
}

#[derive(Template)]
#[template(path = "collection.html")]
struct CollectionPage {
    name: String,
    href: String,
    public: bool,
    /// The owner's CSRF token: the management forms are shown to the owner only.
    owner_csrf: Option<String>,
    entries: Vec<EntryView>,
    max_import_entries: usize,
    /// "More like this collection": papers like its own, each with why.
    more: Vec<crate::picks::PickCard>,
}

/// `GET /collections/{id}-{slug}` (and `.bib`, `.ris`, `.csl.json`): the collection for its
/// owner, or for anyone when it is public; 404 otherwise.
pub async fn show_collection(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> Result<Response, AppError> {
    let (id, rest, export) = parse_key(&key)?;
    let viewer_id = viewer.user().map(|u| u.id);
    let collection = library::visible_collection(&*state.store, viewer_id, id)
        .await
        .map_err(refused)?;
    let href = collection_href(&collection);
    let entries = state.store.collection_papers(id).await?;
    let ids: Vec<ArxivId> = entries.iter().map(|e| e.paper.clone()).collect();
    let found = papers(&state, &ids).await?;
    if let Some(export) = export {
        let name = href.trim_start_matches("/collections/").to_owned();
        return export.list(&found, &name);
    }
    if href != format!("/collections/{id}{rest}") {
        return Ok(crate::redirect::permanent(&href));
    }
    let entries = entries
        .iter()
        .filter_map(|e| {
            let paper = found.iter().find(|p| p.id == e.paper)?;
            Some(EntryView {
                id: paper.id.to_string(),
                href: format!("/papers/{}", paper.id),
                title: render_inline(&paper.title),
                authors: paper
                    .visible_authors()
                    .take(3)
                    .map(|a| a.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                added_on: human_date(e.added_at.date_naive()),
            })
        })
        .collect();
    let owner_csrf = viewer
        .0
        .as_ref()
        .filter(|s| s.user.id == collection.owner)
        .map(|s| s.csrf_token.clone());
    let more = state
        .recommender
        .more_like_collection(&*state.store, &collection, viewer_id, MORE_LIKE_IT)
        .await
        .map_err(failed)?;
    let more = crate::picks::plain_cards(&more);
    let page = CollectionPage {
        name: collection.name,
        href,
        public: collection.public,
        owner_csrf,
        entries,
        max_import_entries: ImportConfig::default().max_entries,
        more,
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}

/// `GET /collections/{key}/feed.xml|feed.atom`: the latest added papers, newest first.
pub async fn collection_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path((key, what)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let format = match what.as_str() {
        "feed.xml" => FeedFormat::Rss,
        "feed.atom" => FeedFormat::Atom,
        _ => return Err(no_such_collection()),
    };
    let (id, _, _) = parse_key(&key)?;
    let collection = library::visible_collection(&*state.store, viewer.user().map(|u| u.id), id)
        .await
        .map_err(refused)?;
    let base = base_url(&state, &headers);
    let mut entries = state.store.collection_papers(id).await?;
    entries.truncate(FEED_ITEMS);
    let ids: Vec<ArxivId> = entries.iter().map(|e| e.paper.clone()).collect();
    let found = papers(&state, &ids).await?;
    let items: Vec<FeedItem> = entries
        .iter()
        .filter_map(|e| {
            let paper = found.iter().find(|p| p.id == e.paper)?;
            Some(FeedItem::for_paper(&base, paper, e.added_at))
        })
        .collect();
    let href = collection_href(&collection);
    let feed = Feed {
        title: format!("{} · paperfeed collection", collection.name),
        description: format!("Papers in the collection “{}”", collection.name),
        html_url: format!("{base}{href}"),
        self_url: format!("{base}{href}/feed.{}", format.extension()),
        updated: entries
            .first()
            .map_or(collection.updated_at, |e| e.added_at),
        items,
    };
    Ok(respond(&feed, format))
}

struct ReportLineView {
    label: String,
    id: Option<String>,
    outcome: String,
    added: bool,
}

#[derive(Template)]
#[template(path = "collection_import.html")]
struct ImportPage {
    name: String,
    href: String,
    format: &'static str,
    added: usize,
    already: usize,
    not_added: usize,
    truncated: bool,
    max_entries: usize,
    lines: Vec<ReportLineView>,
}

/// `POST /collections/{id}/{rename|visibility|delete|add|remove|import}`, the owner's only.
pub async fn collection_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((key, what)): Path<(String, String)>,
    Form(form): Form<LibraryForm>,
) -> Result<Response, AppError> {
    let (id, _, _) = parse_key(&key)?;
    let back = format!("/collections/{id}");
    let session = viewer.require_csrf(&form.csrf, &back)?;
    let user = &session.user;
    let store = &*state.store;
    let now = Utc::now();
    let action = if what == "import" {
        Action::Import
    } else {
        Action::Library
    };
    limit(&state, action, user)?;
    match what.as_str() {
        "rename" => {
            library::change_collection(store, user, id, Some(&form.name), None, now)
                .await
                .map_err(refused)?;
        }
        "visibility" => {
            let public = matches!(form.public.as_str(), "true" | "on" | "1" | "public");
            library::change_collection(store, user, id, None, Some(public), now)
                .await
                .map_err(refused)?;
        }
        "delete" => {
            library::delete_collection(store, user, id)
                .await
                .map_err(refused)?;
            return Ok(see_other("/collections"));
        }
        "add" => {
            let paper = paper_id(&form.paper)?;
            library::add_to_collection(store, user, id, &paper, now)
                .await
                .map_err(refused)?;
        }
        "remove" => {
            let paper = paper_id(&form.paper)?;
            library::remove_from_collection(store, user, id, &paper)
                .await
                .map_err(refused)?;
        }
        "import" => return import(&state, user, id, form.text.as_bytes()).await,
        _ => return Err(no_such_collection()),
    }
    Ok(see_other(&back_to(&form.next, &back)))
}

async fn import(
    state: &AppState,
    user: &User,
    id: i64,
    upload: &[u8],
) -> Result<Response, AppError> {
    let config = ImportConfig::default();
    let report = import_into_collection(ImportRequest {
        store: &*state.store,
        lookup: state.community.lookup.as_deref(),
        metrics: &*state.metrics,
        config,
        user,
        collection: id,
        upload,
        now: Utc::now(),
    })
    .await
    .map_err(refused)?;
    let collection = library::own_collection(&*state.store, user, id)
        .await
        .map_err(refused)?;
    let page = ImportPage {
        href: collection_href(&collection),
        name: collection.name,
        format: report.format.name(),
        added: report.added(),
        already: report.already_there(),
        not_added: report.not_added(),
        truncated: report.truncated,
        max_entries: config.max_entries,
        lines: report
            .lines
            .iter()
            .map(|l| ReportLineView {
                label: l.label.clone(),
                id: l.id.as_ref().map(ToString::to_string),
                outcome: l.outcome.describe(),
                added: l.outcome.added(),
            })
            .collect(),
    };
    Ok((StatusCode::OK, Html(page.render().map_err(render_error)?)).into_response())
}
