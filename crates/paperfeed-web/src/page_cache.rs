//! Rendered pages kept in memory and served again until the store changes.
//!
//! Every request asks the store for its change counter (one indexed row); a page rendered at
//! the same counter is still exactly right, whichever process or node wrote last. Only
//! successful HTML and JSON GETs (pages, and API answers serialized once) are kept, with
//! their content type, in a bounded map that is emptied whenever the counter moves. Requests
//! that prefer Markdown pass by: the same address answers them differently.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::api::markdown::wants_markdown;
use crate::conditional::Freshness;
use crate::error::AppError;

/// Pages kept per change counter; past this, new pages are rendered but not kept.
const MAX_PAGES: usize = 2048;
/// Larger bodies are not kept (none of ours come close).
const MAX_BODY: usize = 2 * 1024 * 1024;

#[derive(Default)]
pub struct PageCache {
    inner: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    change_seq: i64,
    pages: HashMap<String, Cached>,
}

/// A kept answer: its body and the headers that describe it.
#[derive(Clone)]
struct Cached {
    headers: HeaderMap,
    body: Bytes,
}

/// The response headers kept with a body.
const KEPT_HEADERS: [header::HeaderName; 2] = [header::CONTENT_TYPE, header::VARY];

impl PageCache {
    fn get(&self, change_seq: i64, key: &str) -> Option<Cached> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.change_seq != change_seq {
            inner.pages.clear();
            inner.change_seq = change_seq;
            return None;
        }
        inner.pages.get(key).cloned()
    }

    fn put(&self, change_seq: i64, key: String, page: Cached) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.change_seq == change_seq && inner.pages.len() < MAX_PAGES {
            inner.pages.insert(key, page);
        }
    }
}

fn is_kept(content_type: &HeaderValue) -> bool {
    let v = content_type.as_bytes();
    v.starts_with(b"text/html") || v.starts_with(b"application/json")
}

/// Middleware for the page routes.
pub async fn serve_cached(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    // Logged-in pages show per-user state (votes, comment controls): never shared.
    let logged_in =
        crate::community::auth::cookie(request.headers(), crate::community::auth::SESSION_COOKIE)
            .is_some();
    if request.method() != Method::GET || wants_markdown(request.headers()) || logged_in {
        return Ok(next.run(request).await);
    }
    let key = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |pq| pq.as_str().to_owned());
    // The validators middleware already read the counter for this request.
    let change_seq = match request.extensions().get::<Freshness>() {
        Some(f) => f.change_seq,
        None => state.store.change_seq().await?,
    };
    if let Some(page) = state.pages.get(change_seq, &key) {
        return Ok((page.headers, page.body).into_response());
    }
    let response = next.run(request).await;
    let kept = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(is_kept);
    if response.status() != StatusCode::OK || !kept {
        return Ok(response);
    }
    let mut headers = HeaderMap::new();
    for name in KEPT_HEADERS {
        if let Some(value) = response.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| AppError::Internal(format!("buffering a page: {e}")))?;
    state.pages.put(
        change_seq,
        key,
        Cached {
            headers,
            body: bytes.clone(),
        },
    );
    Ok(Response::from_parts(parts, Body::from(bytes)))
}
