//! Rendered pages kept in memory and served again until the store changes.
//!
//! Every request asks the store for its change counter (one indexed row); a page rendered at
//! the same counter is still exactly right, whichever process or node wrote last. Only
//! successful HTML GETs are kept, in a bounded map that is emptied whenever the counter moves.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
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
    pages: HashMap<String, Bytes>,
}

impl PageCache {
    fn get(&self, change_seq: i64, key: &str) -> Option<Bytes> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.change_seq != change_seq {
            inner.pages.clear();
            inner.change_seq = change_seq;
            return None;
        }
        inner.pages.get(key).cloned()
    }

    fn put(&self, change_seq: i64, key: String, body: Bytes) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.change_seq == change_seq && inner.pages.len() < MAX_PAGES {
            inner.pages.insert(key, body);
        }
    }
}

fn html(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// Middleware for the page routes.
pub async fn serve_cached(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if request.method() != Method::GET {
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
    if let Some(body) = state.pages.get(change_seq, &key) {
        return Ok(html(body));
    }
    let response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if response.status() != StatusCode::OK || !is_html {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| AppError::Internal(format!("buffering a page: {e}")))?;
    state.pages.put(change_seq, key, bytes.clone());
    Ok(Response::from_parts(parts, Body::from(bytes)))
}
