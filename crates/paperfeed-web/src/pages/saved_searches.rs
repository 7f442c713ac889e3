//! Saved searches in the browser: "Save this search" on the results page (POST), and
//! `/account/searches`: the reader's searches with rename, delete, whether each is in their
//! digest (and where their digest subscription stands), their webhooks (set, remove, the
//! secret shown once) and the webhook delivery log. Every form is POST with the session's
//! CSRF token, works without JavaScript and goes through the rate limiter.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use paperfeed_app::digests::topics::PAPERS_PER_SEARCH;
use paperfeed_app::feed_tokens::{self, FeedScope, FeedTokenError};
use paperfeed_app::saved_searches::webhooks::{self, WebhookError};
use paperfeed_app::saved_searches::{
    self, MAX_NAME_CHARS, MAX_SAVED_SEARCHES, SavedSearchError, SearchSpec,
};
use paperfeed_app::subscriptions::{self, DigestStatus};
use paperfeed_store::{SavedSearchId, Session};

use serde::Deserialize;

use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::error::{AppError, failed, render_error};
use crate::private_feed::{TokenParams, feed_reader, no_such_feed, private_feed};
use crate::query::encode;
use crate::redirect::see_other;
use crate::state::AppState;
use crate::syndication::{Feed, FeedFormat, FeedItem, base_url};

/// Deliveries the account page lists.
const LOG_ROWS: usize = 50;
const PAGE: &str = "/account/searches";

/// The routes of this module, merged into the hub's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(show_searches).post(save_search))
        .route("/account/searches/{id}/rename", post(rename_search))
        .route("/account/searches/{id}/delete", post(delete_search))
        .route("/account/searches/{id}/digest", post(set_in_digest))
        .route("/account/searches/{id}/webhook", post(set_webhook))
        .route(
            "/account/searches/{id}/webhook/delete",
            post(delete_webhook),
        )
        .route("/account/searches/{id}/feed-token", post(create_feed_token))
        .route(
            "/account/searches/feed-tokens/{id}/revoke",
            post(revoke_feed_token),
        )
        .route("/searches/{id}/feed.xml", get(search_feed_rss))
        .route("/searches/{id}/feed.atom", get(search_feed_atom))
}

struct SearchView {
    id: i64,
    name: String,
    query: String,
    href: String,
    mode: String,
    sort: String,
    webhook_url: Option<String>,
    /// Whether its new matches go into the reader's digest.
    in_digest: bool,
    /// Its private feed addresses: id and creation day (the secret is shown once only).
    feeds: Vec<(i64, String)>,
}

struct DeliveryView {
    search: String,
    paper: String,
    state: &'static str,
    attempts: i64,
    last_attempt: String,
    status: String,
    error: String,
}

#[derive(Template)]
#[template(path = "saved_searches.html")]
struct SavedSearchesPage {
    csrf: String,
    searches: Vec<SearchView>,
    /// Where the reader's digest stands, said above the searches.
    digest: DigestNote,
    /// The account's address (the one a digest subscription goes to).
    email: String,
    deliveries: Vec<DeliveryView>,
    max: usize,
    max_name: usize,
    notice: Option<String>,
    error: Option<String>,
    /// A webhook just set: its search's name and the secret, shown once.
    new_secret: Option<(String, String)>,
    /// A feed address just made: the search's name and its RSS and Atom URLs, shown once.
    new_feed: Option<(String, String, String)>,
}

/// What the page says about the reader's digest: [`DigestStatus`] as the template reads it.
struct DigestNote {
    status: DigestStatus,
    /// Most papers one search shows in a digest.
    per_search: usize,
}

impl DigestNote {
    /// "daily" or "weekly" when subscribed.
    fn frequency(&self) -> Option<&'static str> {
        match self.status {
            DigestStatus::Subscribed(f) => Some(f.as_str()),
            _ => None,
        }
    }

    fn pending(&self) -> bool {
        self.status == DigestStatus::Pending
    }

    fn suspended(&self) -> bool {
        self.status == DigestStatus::Suspended
    }

    fn not_subscribed(&self) -> bool {
        self.status == DigestStatus::NotSubscribed
    }
}

/// The page, with a notice or an error.
async fn render_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    new_secret: Option<(String, String)>,
) -> Result<Response, AppError> {
    render_page_with_feed(state, session, status, notice, error, new_secret, None).await
}

/// The searches page again, saying why `error` was refused (400), when `refused`; otherwise
/// the failure it is.
async fn refused_or_failed<E>(
    state: &AppState,
    session: &Session,
    error: E,
    refused: bool,
) -> Result<Response, AppError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    if !refused {
        return Err(failed(error));
    }
    let reason = Some(error.to_string());
    render_page(state, session, StatusCode::BAD_REQUEST, None, reason, None).await
}

async fn render_page_with_feed(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    new_secret: Option<(String, String)>,
    new_feed: Option<(String, String, String)>,
) -> Result<Response, AppError> {
    let user = session.user.id;
    let saved = saved_searches::saved_searches(&*state.store, user)
        .await
        .map_err(search_error)?;
    let names: std::collections::HashMap<i64, String> =
        saved.iter().map(|s| (s.id.0, s.name.clone())).collect();
    let tokens = feed_tokens::feed_tokens(&*state.store, user)
        .await
        .map_err(failed)?;
    let feeds_of = |id: i64| -> Vec<(i64, String)> {
        tokens
            .iter()
            .filter(|t| FeedScope::parse(&t.scope) == Some(FeedScope::SavedSearch(id)))
            .map(|t| (t.id, t.created_at.format("%Y-%m-%d").to_string()))
            .collect()
    };
    let searches = saved
        .into_iter()
        .map(|s| {
            let spec = SearchSpec::of(&s);
            SearchView {
                id: s.id.0,
                href: spec.href(encode),
                name: s.name,
                query: s.query,
                mode: s.mode,
                sort: s.sort,
                webhook_url: s.webhook_url,
                in_digest: s.in_digest,
                feeds: feeds_of(s.id.0),
            }
        })
        .collect();
    let deliveries = state
        .store
        .webhook_deliveries(user, LOG_ROWS)
        .await?
        .into_iter()
        .map(|d| DeliveryView {
            search: names.get(&d.search.0).cloned().unwrap_or_default(),
            paper: d.paper.to_string(),
            state: d.state.as_str(),
            attempts: d.attempts,
            last_attempt: d
                .last_attempt_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "not yet".to_owned()),
            status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            error: d.last_error.unwrap_or_default(),
        })
        .collect();
    let digest = subscriptions::digest_status(state.mail_links.as_deref(), &session.user.email)
        .await
        .map_err(failed)?;
    let page = SavedSearchesPage {
        csrf: session.csrf_token.clone(),
        searches,
        digest: DigestNote {
            status: digest,
            per_search: PAPERS_PER_SEARCH,
        },
        email: session.user.email.as_str().to_owned(),
        deliveries,
        max: MAX_SAVED_SEARCHES,
        max_name: MAX_NAME_CHARS,
        notice,
        error,
        new_secret,
        new_feed,
    };
    Ok((status, Html(page.render().map_err(render_error)?)).into_response())
}

/// A use case's error: the reader's input shown on the page (400), ours a 500.
fn search_error(e: SavedSearchError) -> AppError {
    match e {
        SavedSearchError::NotFound => AppError::NotFound {
            title: "No such saved search".into(),
            message: "You have no saved search with this number.".into(),
            suggestions: vec![crate::views::Link::new(PAGE, "Your saved searches")],
        },
        e if e.is_refusal() => AppError::BadRequest(e.to_string()),
        e => failed(e),
    }
}

pub async fn show_searches(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let session = viewer.require(PAGE)?;
    render_page(&state, session, StatusCode::OK, None, None, None).await
}

#[derive(Deserialize, Default)]
pub struct SaveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    sort: String,
}

/// `POST /account/searches`: saves the search the form carries.
pub async fn save_search(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SaveForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    let outcome = match SearchSpec::parse(&form.q, &form.mode, &form.sort) {
        Ok(spec) => {
            saved_searches::save_search(
                &*state.store,
                session.user.id,
                &form.name,
                &spec,
                Utc::now(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(saved) => {
            tracing::info!(
                user.id = session.user.id.0,
                search.id = saved.id.0,
                "search saved"
            );
            render_page(
                &state,
                session,
                StatusCode::OK,
                Some(format!("Saved “{}”.", saved.name)),
                None,
                None,
            )
            .await
        }
        Err(e) => {
            let refused = e.is_refusal();
            refused_or_failed(&state, session, e, refused).await
        }
    }
}

fn limit(state: &AppState, session: &Session) -> Result<(), AppError> {
    state
        .community
        .limit(Action::SavedSearch, &session.user.id.0.to_string())
}

#[derive(Deserialize, Default)]
pub struct RenameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub async fn rename_search(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<RenameForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    match saved_searches::rename_search(
        &*state.store,
        session.user.id,
        SavedSearchId(id),
        &form.name,
    )
    .await
    {
        Ok(()) => Ok(see_other(PAGE)),
        Err(e @ SavedSearchError::NotFound) => Err(search_error(e)),
        Err(e) => {
            let refused = e.is_refusal();
            refused_or_failed(&state, session, e, refused).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn delete_search(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    saved_searches::delete_search(&*state.store, session.user.id, SavedSearchId(id))
        .await
        .map_err(search_error)?;
    tracing::info!(
        user.id = session.user.id.0,
        search.id = id,
        "saved search deleted"
    );
    Ok(see_other(PAGE))
}

#[derive(Deserialize, Default)]
pub struct DigestForm {
    #[serde(default)]
    csrf: String,
    /// `true` (put the search in the digest) or `false` (take it out).
    #[serde(default)]
    in_digest: String,
}

/// `POST /account/searches/{id}/digest`: puts the search in the reader's digest or takes it
/// out.
pub async fn set_in_digest(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<DigestForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    let in_digest = match form.in_digest.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(AppError::BadRequest(format!(
                "in_digest: {other:?} is not one of true, false"
            )));
        }
    };
    saved_searches::set_in_digest(&*state.store, session.user.id, SavedSearchId(id), in_digest)
        .await
        .map_err(search_error)?;
    tracing::info!(
        user.id = session.user.id.0,
        search.id = id,
        search.in_digest = in_digest,
        "saved search's digest choice set"
    );
    Ok(see_other(&format!("{PAGE}#search-{id}")))
}

#[derive(Deserialize, Default)]
pub struct WebhookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

pub async fn set_webhook(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<WebhookForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    let search = saved_searches::saved_search(&*state.store, session.user.id, SavedSearchId(id))
        .await
        .map_err(search_error)?;
    match webhooks::set_webhook(
        &*state.store,
        session.user.id,
        search.id,
        &form.url,
        state.allow_private_webhooks,
        Utc::now(),
    )
    .await
    {
        Ok(created) => {
            tracing::info!(user.id = session.user.id.0, search.id = id, "webhook set");
            render_page(
                &state,
                session,
                StatusCode::OK,
                None,
                None,
                Some((search.name, created.hook.secret)),
            )
            .await
        }
        Err(e) => {
            let refused = e.is_refusal();
            refused_or_failed(&state, session, e, refused).await
        }
    }
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    match webhooks::delete_webhook(&*state.store, session.user.id, SavedSearchId(id)).await {
        Ok(()) | Err(WebhookError::NotFound) => Ok(see_other(PAGE)),
        Err(e) => Err(failed(e)),
    }
}

/// `POST /account/searches/{id}/feed-token`: a new private feed address for the search.
pub async fn create_feed_token(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    let search = saved_searches::saved_search(&*state.store, session.user.id, SavedSearchId(id))
        .await
        .map_err(search_error)?;
    let made = match feed_tokens::create_feed_token(
        &*state.store,
        session.user.id,
        &FeedScope::SavedSearch(id),
        Utc::now(),
    )
    .await
    {
        Ok(made) => made,
        Err(e @ FeedTokenError::TooMany) => return Err(AppError::BadRequest(e.to_string())),
        Err(e) => return Err(failed(e)),
    };
    let base = base_url(&state, &headers);
    let feed = |ext: &str| format!("{base}/searches/{id}/feed.{ext}?token={}", made.secret);
    render_page_with_feed(
        &state,
        session,
        StatusCode::OK,
        None,
        None,
        None,
        Some((search.name, feed("xml"), feed("atom"))),
    )
    .await
}

/// `POST /account/searches/feed-tokens/{id}/revoke`: the address stops working at once.
pub async fn revoke_feed_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, PAGE)?;
    limit(&state, session)?;
    match feed_tokens::revoke_feed_token(&*state.store, session.user.id, id).await {
        Ok(()) | Err(FeedTokenError::NotFound) => Ok(see_other(PAGE)),
        Err(e) => Err(failed(e)),
    }
}

pub async fn search_feed_rss(
    state: State<AppState>,
    headers: HeaderMap,
    id: Path<i64>,
    query: Result<Query<TokenParams>, QueryRejection>,
) -> Result<Response, AppError> {
    search_feed(state, headers, id, query, FeedFormat::Rss).await
}

pub async fn search_feed_atom(
    state: State<AppState>,
    headers: HeaderMap,
    id: Path<i64>,
    query: Result<Query<TokenParams>, QueryRejection>,
) -> Result<Response, AppError> {
    search_feed(state, headers, id, query, FeedFormat::Atom).await
}

/// A saved search's private feed: its matching papers, newest first, for whoever holds a
/// live token of its owner for it. Anything else is "no such feed" (nothing is revealed).
async fn search_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    query: Result<Query<TokenParams>, QueryRejection>,
    format: FeedFormat,
) -> Result<Response, AppError> {
    const MADE_ON: &str = "your Saved searches page";
    let reader = feed_reader(&state, query, &FeedScope::SavedSearch(id), MADE_ON).await?;
    let missing = || no_such_feed(MADE_ON);
    let search = match saved_searches::saved_search(&*state.store, reader, SavedSearchId(id)).await
    {
        Ok(search) => search,
        Err(SavedSearchError::NotFound) => return Err(missing()),
        Err(e) => return Err(failed(e)),
    };
    let papers = saved_searches::matching_papers(
        state.search.clone(),
        &*state.store,
        &search,
        saved_searches::MATCHES_LIMIT,
    )
    .await
    .map_err(failed)?;
    let base = base_url(&state, &headers);
    let items: Vec<FeedItem> = papers
        .iter()
        .map(|paper| FeedItem {
            guid: paper.id.abs_url(),
            title: paper.title.clone(),
            link: format!("{base}/papers/{}", paper.id),
            summary: paper.abstract_text.clone(),
            authors: paper.visible_authors().map(|a| a.name.clone()).collect(),
            categories: paper.categories.clone(),
            published: paper.published_at.unwrap_or(chrono::DateTime::UNIX_EPOCH),
            upvotes: paper.upvotes,
        })
        .collect();
    let spec = SearchSpec::of(&search);
    let feed = Feed {
        title: format!("“{}” · paperfeed saved search", search.name),
        description: format!("Papers matching “{}”, newest first", search.query),
        html_url: format!("{base}{}", spec.href(encode)),
        // The token stays out of the document: a feed shared onwards does not carry it.
        self_url: format!("{base}/searches/{id}/feed.{}", format.extension()),
        updated: items
            .iter()
            .map(|i| i.published)
            .max()
            .unwrap_or(chrono::DateTime::UNIX_EPOCH),
        items,
    };
    Ok(private_feed(&feed, format))
}
