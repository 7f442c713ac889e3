//! Papers: one by id, a search, and the whole store listed by cursor.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use paperfeed_app::search::Correcting;
use paperfeed_core::ArxivId;
use paperfeed_search::{KeywordQuery, SearchMode};
use paperfeed_store::{FeedOrder, FeedQuery};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::error::{ApiError, ApiQuery, ErrorJson};
use crate::api::json::{DailyPaperJson, PaperDetailJson};
use crate::api::params::{self, given};
use crate::page_cache::Shows;
use crate::query::encode;
use crate::state::AppState;

/// One paper.
#[utoipa::path(
    get,
    path = "/api/papers/{id}",
    tag = "papers",
    params(("id" = String, Path, description = "An arXiv id (`2608.19880`; a version suffix or `arXiv:` prefix is accepted)", example = "2608.19880")),
    responses(
        (status = 200, description = "The paper", body = PaperDetailJson),
        (status = 400, description = "Not an arXiv id", body = ErrorJson),
        (status = 404, description = "No such paper on this hub", body = ErrorJson),
    )
)]
pub async fn get_paper(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = id?;
    let id = params::arxiv_id("id", &raw)?;
    match state.store.get_paper(&id).await? {
        Some(paper) => Ok((
            Extension(Shows::papers([id])),
            Json(PaperDetailJson::new(&paper)),
        )
            .into_response()),
        None => Err(ApiError::not_found(format!(
            "paper {id} is not on this hub"
        ))),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for: words, `"phrases"`, an arXiv id or title, and filters such as
    /// `author:`, `category:`, `published:2024-03`. Empty or absent lists the latest featured
    /// papers; text the filter syntax cannot read (an unclosed quote, `published:2024-13`) is
    /// searched as plain words.
    #[param(value_type = Option<String>, example = "agent environments")]
    q: Option<String>,
    /// Results, 1 to 100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// Search papers (hybrid keyword and semantic ranking; keyword only where semantic search is
/// off). Results are daily-paper entries, listed under their latest featured day, for exactly
/// the text asked for. When a word of it looks misspelt and its correction finds more papers,
/// the `did-you-mean` header carries the corrected text (the body keeps HF's shape, a list).
#[utoipa::path(
    get,
    path = "/api/papers/search",
    tag = "papers",
    params(SearchParams),
    responses(
        (status = 200, description = "Best matches first", body = Vec<DailyPaperJson>,
            headers(("did-you-mean" = String, description = "The query with its misspelt words corrected, percent-encoded (UTF-8), when the correction finds more papers than the query; absent otherwise"))),
        (status = 400, description = "A parameter is malformed; `parameter` names it", body = ErrorJson),
    )
)]
pub async fn search_papers(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Response, ApiError> {
    let limit = params::limit(&params.limit)?;
    let Some(text) = given(&params.q) else {
        let entries = state
            .store
            .featured_page(FeedQuery {
                days: None,
                submitter: None,
                order: FeedOrder::Newest,
                offset: 0,
                limit,
            })
            .await?;
        let body: Vec<DailyPaperJson> = entries
            .iter()
            .map(|e| DailyPaperJson::new(&e.paper, Some(e.day)))
            .collect();
        return Ok(Json(body).into_response());
    };
    // Any text is a query: what the filter syntax cannot read is searched as plain words, so
    // every string the document allows gets results rather than a 400.
    let mut query = KeywordQuery::parse(text).unwrap_or_else(|_| KeywordQuery::text(text));
    query.offset = 0;
    query.limit = limit;
    // JSON carries no marked HTML.
    query.highlight = false;
    // Answers keep meaning what was asked: a correction is offered, never searched instead.
    let found = paperfeed_app::search::search_typed(
        state.search.clone(),
        &*state.store,
        text,
        query,
        SearchMode::Hybrid,
        Correcting::OfferOnly,
    )
    .await
    .map_err(|e| ApiError::from(crate::error::AppError::from(e)))?;
    let body: Vec<DailyPaperJson> = found
        .papers
        .iter()
        .map(|(_, paper)| DailyPaperJson::new(paper, paper.featured.last().map(|f| f.date)))
        .collect();
    let mut response = Json(body).into_response();
    let suggestion = found.spelling.and_then(|s| {
        HeaderValue::from_str(&encode(&s.correction().text).replace('+', "%20")).ok()
    });
    if let Some(value) = suggestion {
        response.headers_mut().insert(DID_YOU_MEAN, value);
    }
    Ok(response)
}

/// The response header of `/api/papers/search` that carries a corrected query.
const DID_YOU_MEAN: header::HeaderName = header::HeaderName::from_static("did-you-mean");

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPapersParams {
    /// Where the previous page ended: the `Link: <…>; rel="next"` header of each page carries
    /// it (it is the last arXiv id listed).
    #[param(value_type = Option<String>, example = "2608.19880")]
    cursor: Option<String>,
    /// Papers per page, 1 to 100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// Every paper on the hub, by arXiv id descending, in pages linked by a `Link` header with
/// `rel="next"` (absent on the last page), as HF's paginated listings do.
#[utoipa::path(
    get,
    path = "/api/papers",
    tag = "papers",
    params(ListPapersParams),
    responses(
        (status = 200, description = "One page of papers", body = Vec<PaperDetailJson>,
            headers(("link" = String, description = "`<URL>; rel=\"next\"` when more papers follow"))),
        (status = 400, description = "A parameter is malformed; `parameter` names it", body = ErrorJson),
    )
)]
pub async fn list_papers(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ListPapersParams>,
) -> Result<Response, ApiError> {
    let limit = params::limit(&params.limit)?;
    let cursor = params
        .cursor
        .as_deref()
        .map(|c| params::canonical_arxiv_id("cursor", c))
        .transpose()?;
    let papers = state.store.papers_page(cursor, limit).await?;
    let body: Vec<PaperDetailJson> = papers.iter().map(PaperDetailJson::new).collect();
    let next = papers
        .last()
        .filter(|_| papers.len() == limit)
        .and_then(|last| next_link(&headers, &last.id, limit));
    let mut response = Json(body).into_response();
    if let Some(link) = next {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// The absolute URL of the next page (HF's client follows it as is), from the `Host` the
/// client used; `https` when a proxy says so.
fn next_link(headers: &HeaderMap, last: &ArxivId, limit: usize) -> Option<HeaderValue> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let cursor = last.as_str().replace('/', "%2F");
    HeaderValue::from_str(&format!(
        "<{scheme}://{host}/api/papers?cursor={cursor}&limit={limit}>; rel=\"next\""
    ))
    .ok()
}
