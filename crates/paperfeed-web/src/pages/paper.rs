//! The paper page: everything the hub knows about one paper.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use paperfeed_core::ArxivId;

use crate::AppState;
use crate::api::markdown::{markdown_response, wants_markdown};
use crate::error::AppError;
use crate::pages::feed::render_error;
use crate::views::{Link, PaperView};

#[derive(Template)]
#[template(path = "paper.html")]
struct PaperPage {
    paper: PaperView,
    canonical: String,
    similar: Vec<Link>,
    similar_note: Option<&'static str>,
}

/// Papers shown under "Similar papers".
const SIMILAR: usize = 5;

/// `/papers/{id}` (HTML, or Markdown for `Accept: text/markdown`) and `/papers/{id}.md`.
pub async fn show_paper(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Result<Response, AppError> {
    let (raw_id, suffix) = match raw_id.strip_suffix(".md") {
        Some(id) => (id.to_owned(), ".md"),
        None => (raw_id, ""),
    };
    let as_markdown = !suffix.is_empty() || wants_markdown(&headers);
    let id = ArxivId::parse(&raw_id).map_err(|e| AppError::BadRequest(e.to_string()))?;
    // `/papers/2309.11523v2` and friends land on the one canonical address.
    if id.as_str() != raw_id {
        return Ok(Redirect::permanent(&format!("/papers/{id}{suffix}")).into_response());
    }
    let Some(paper) = state.store.get_paper(&id).await? else {
        return Err(AppError::not_found(
            format!("Paper {id} is not on this hub"),
            "No paper with this arXiv id has been ingested or submitted here yet.",
        )
        .with_suggestions(vec![
            Link::new(id.abs_url(), format!("{id} on arXiv")),
            Link::new("/", "The latest papers"),
        ]));
    };
    if as_markdown {
        return Ok(markdown_response(&paper));
    }
    let mut similar = Vec::new();
    for neighbour in state.search.similar(&id, SIMILAR) {
        if let Some(p) = state.store.get_paper(&neighbour.id).await? {
            similar.push(Link::new(format!("/papers/{}", p.id), p.title));
        }
    }
    let similar_note = similar
        .is_empty()
        .then_some(if state.search.semantic_off().is_some() {
            "Similar papers need semantic search, which is off on this hub."
        } else {
            "Similar papers appear once this paper's embedding has been computed."
        });
    let page = PaperPage {
        canonical: format!("/papers/{id}"),
        paper: PaperView::new(&paper),
        similar,
        similar_note,
    };
    let mut response = Html(page.render().map_err(render_error)?).into_response();
    // The same address answers `Accept: text/markdown` with Markdown.
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    Ok(response)
}
