//! Which requests the page cache answers, and the key it answers them by: decided once, by
//! the validators middleware, and handed to the cache's middleware in the request.

use axum::extract::Request;
use axum::http::Method;

use crate::api::markdown::wants_markdown;
use crate::page_cache::request_key;

/// The page cache's key for `request` when the cache answers it: an anonymous GET or HEAD of
/// a cached route that does not ask for Markdown. The validators middleware leaves these to
/// the cache.
pub(crate) fn cached_request_key(request: &Request) -> Option<String> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return None;
    }
    // Logged-in pages show per-user state (votes, comment controls): never shared.
    let logged_in =
        crate::community::auth::cookie(request.headers(), crate::community::auth::SESSION_COOKIE)
            .is_some();
    if logged_in || wants_markdown(request.headers()) {
        return None;
    }
    request_key(request)
}

/// The page cache's key, as the validators middleware found it for the cache to answer.
#[derive(Clone)]
pub(crate) struct CacheKey(pub(crate) String);
