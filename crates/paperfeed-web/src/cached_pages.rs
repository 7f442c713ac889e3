//! The page routes' middleware: a GET for an anonymous reader is answered from the
//! [`PageCache`](crate::page_cache::PageCache) at the store's current change counter.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::api::markdown::wants_markdown;
use crate::conditional::Freshness;
use crate::error::AppError;
use crate::page_cache::request_key;
use crate::state::AppState;

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
    let Some(key) = request_key(&request) else {
        return Ok(next.run(request).await);
    };
    // The validators middleware already read the counter for this request.
    let change_seq = match request.extensions().get::<Freshness>() {
        Some(f) => f.change_seq,
        None => state.store.change_seq().await?,
    };
    state.pages.serve(change_seq, key, next.run(request)).await
}
