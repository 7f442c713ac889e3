//! Small pages: the header's search and subscribe targets (honest about what is not built
//! yet), static assets and the fallback 404.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperfeed_core::ArxivId;
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::pages::feed::render_error;
use crate::views::Link;

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage<'a> {
    title: &'a str,
    message: &'a str,
    query: &'a str,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Until the search engine lands, the box does the one thing it can do honestly: jump to a
/// paper by arXiv id or URL. Anything else gets a page saying search is not available yet.
pub async fn search_papers(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(SearchQuery { q }) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    if let Ok(id) = ArxivId::parse(&q)
        && state.store.get_paper(&id).await?.is_some()
    {
        return Ok(Redirect::to(&format!("/papers/{id}")).into_response());
    }
    let page = NoticePage {
        title: "Search is not available yet",
        message: "Keyword and semantic search are not built into this hub yet. You can already \
                  jump straight to a paper by typing its arXiv id (for example 2403.06634) or \
                  pasting its arXiv URL.",
        query: &q,
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}

pub async fn show_subscribe() -> Result<Response, AppError> {
    let page = NoticePage {
        title: "Email digests are not available yet",
        message: "This hub does not send digests yet, so there is nothing to subscribe to and no \
                  address is collected. The daily pages are always here in the meantime.",
        query: "",
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}

pub async fn not_found() -> AppError {
    AppError::not_found("Page not found", "There is no page at this address.")
        .with_suggestions(vec![Link::new("/", "The latest papers")])
}

const STYLE_CSS: &str = include_str!("../../assets/style.css");
const FAVICON_SVG: &str = include_str!("../../assets/favicon.svg");

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
