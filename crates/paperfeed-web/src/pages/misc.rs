//! Small pages: the status page, static assets and the fallback 404.

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::error::{AppError, render_error};
use crate::state::AppState;
use crate::views::Link;

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    papers: u64,
    featured_days: u64,
    change_seq: i64,
    indexed_papers: usize,
    watermark: i64,
    vectors: usize,
    backlog: u64,
    approximate: bool,
    semantic_off: Option<String>,
}

/// What the hub holds and how far its derived data has caught up.
pub async fn show_status(State(state): State<AppState>) -> Result<Response, AppError> {
    let stats = state.store.stats().await?;
    let search = state.search.status();
    let backlog = if search.semantic_off.is_none() {
        state
            .store
            .count_embedding_backlog(paperfeed_search::MODEL_NAME)
            .await?
    } else {
        0
    };
    let page = StatusPage {
        papers: stats.papers,
        featured_days: stats.featured_days,
        change_seq: stats.change_seq,
        indexed_papers: search.indexed_papers,
        watermark: search.watermark,
        vectors: search.vectors,
        backlog,
        approximate: search.approximate_vectors,
        semantic_off: search.semantic_off,
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}

pub async fn not_found() -> AppError {
    AppError::not_found("Page not found", "There is no page at this address.")
        .with_suggestions(vec![Link::new("/", "The latest papers")])
}

const STYLE_CSS: &str = include_str!("../../assets/style.css");
const FAVICON_SVG: &str = include_str!("../../assets/favicon.svg");

const COMMUNITY_JS: &str = include_str!("../../assets/community.js");
const SUGGEST_JS: &str = include_str!("../../assets/suggest.js");

/// Suggestions while typing in the search boxes (progressive enhancement: the boxes are plain
/// forms without it).
pub async fn suggest_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SUGGEST_JS,
    )
}

pub async fn community_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        COMMUNITY_JS,
    )
}

pub async fn style_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE_CSS,
    )
}

pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON_SVG,
    )
}
