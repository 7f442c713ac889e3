//! The page routes' middleware: a GET (or HEAD) for an anonymous reader is answered from the
//! [`PageCache`](crate::page_cache::PageCache) at the store's current change counter, with
//! the kept page's own validators (its entity tag and when this node made it), and 304 when
//! the client's copy is that page.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::cache_key::{CacheKey, cached_request_key};
use crate::conditional::{
    Freshness, if_modified_since_holds, if_none_match_hits, request_hash, set_validators,
};
use crate::error::AppError;
use crate::page_cache::{Cached, Served};
use crate::state::AppState;

/// Middleware for the page routes.
pub async fn serve_cached(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let key = match request.extensions_mut().remove::<CacheKey>() {
        Some(CacheKey(key)) => key,
        None => match cached_request_key(&request) {
            Some(key) => key,
            None => return Ok(next.run(request).await),
        },
    };
    // The validators middleware already read the counter for this request.
    let freshness = request.extensions().get::<Freshness>().copied();
    let change_seq = match freshness {
        Some(f) => f.change_seq,
        None => state.store.change_seq().await?,
    };
    let conditions = Conditions::of(&request);
    let served = state
        .pages
        .serve(&state.store, change_seq, key, next.run(request))
        .await?;
    Ok(match served {
        Served::Kept(page) => answer(&page, &conditions),
        Served::Passed(mut response) => {
            // Not kept (an error page, or one too big to keep): the validators of every
            // other answer, from the store's state.
            if let (Some(f), true) = (freshness, response.status() == StatusCode::OK) {
                let (etag, modified) =
                    crate::conditional::validators_at(&state, f, conditions.request_hash);
                set_validators(response.headers_mut(), etag, modified);
            }
            response
        }
    })
}

/// What of the request its answer from the cache depends on.
struct Conditions {
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
    /// For the validators of an answer that was not kept.
    request_hash: u64,
}

impl Conditions {
    fn of(request: &Request) -> Self {
        let headers = request.headers();
        Self {
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
            if_modified_since: headers.get(header::IF_MODIFIED_SINCE).cloned(),
            request_hash: request_hash(request),
        }
    }
}

/// A kept page, or 304 when the client holds it already.
fn answer(page: &Cached, conditions: &Conditions) -> Response {
    let current = match if_none_match_hits(conditions.if_none_match.as_ref(), &page.etag) {
        Some(hit) => hit,
        None => if_modified_since_holds(conditions.if_modified_since.as_ref(), page.modified),
    };
    let mut response = if current {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(axum::body::Body::from(page.body.clone()));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, page.content_type.clone());
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, page.etag.clone());
    headers.insert(header::LAST_MODIFIED, page.modified_header.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, crate::conditional::VARY_ALL);
    response
}
