//! HTTP validators for every GET: `ETag` / `If-None-Match` and `Last-Modified` /
//! `If-Modified-Since`, answered with 304 before any handler runs.
//!
//! Every response of the hub is a function of the request and of three things that change: the
//! store (its change counter), the search index's progress (papers indexed, vectors computed)
//! and the program itself. The ETag hashes exactly those, plus the parts of the request a
//! response can depend on (method, path and query, `Accept`, `Host`, and the credentials a later
//! community layer will read: `Cookie`, `Authorization`). So a client that revalidates gets its
//! 304 for the cost of one indexed read of the change counter, without rendering anything, and
//! every node of a multi-node deployment computes the same ETag for the same content.
//!
//! `Last-Modified` is when this process first saw the current state (a node cannot know when
//! another node wrote): coarser than the ETag, which clients prefer when they have both.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::http_date::http_date;
use crate::state::AppState;

/// The store state a request was answered at; handlers and the page cache read it from the
/// request's extensions instead of asking the store again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Freshness {
    pub change_seq: i64,
}

/// FNV-1a over a sequence of byte strings, each followed by a separator.
fn hash_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The version of everything a response can depend on, other than the request.
fn state_version(change_seq: i64, state: &AppState) -> u64 {
    hash_parts([
        env!("CARGO_PKG_VERSION").as_bytes(),
        &change_seq.to_le_bytes(),
        &state.search.progress().0.to_le_bytes(),
        &state.search.progress().1.to_le_bytes(),
    ])
}

/// The parts of a request a response can depend on, hashed.
pub(crate) fn request_hash(request: &Request) -> u64 {
    let headers = request.headers();
    let header_bytes = |name| headers.get(name).map_or(&b""[..], HeaderValue::as_bytes);
    // HEAD is GET without the body (RFC 9110 §9.3.2): the same representation, the same tag.
    let method = if request.method() == Method::HEAD {
        &Method::GET
    } else {
        request.method()
    };
    hash_parts([
        method.as_str().as_bytes(),
        request
            .uri()
            .path_and_query()
            .map_or(&b""[..], |pq| pq.as_str().as_bytes()),
        header_bytes(header::ACCEPT),
        // Feeds and API `Link` headers carry absolute URLs built from the host asked for.
        header_bytes(header::HOST),
        header_bytes(header::COOKIE),
        header_bytes(header::AUTHORIZATION),
    ])
}

fn etag_for(version: u64, request_hash: u64) -> HeaderValue {
    let hash = hash_parts([&version.to_le_bytes()[..], &request_hash.to_le_bytes()]);
    // Weak: the same content may be sent gzip-, brotli- or un-encoded.
    HeaderValue::from_str(&format!("W/\"{hash:016x}\""))
        .unwrap_or(HeaderValue::from_static("W/\"0\""))
}

/// The validators of an answer at `freshness` to a request hashing to `request_hash`.
pub(crate) fn validators_at(
    state: &AppState,
    freshness: Freshness,
    request_hash: u64,
) -> (HeaderValue, DateTime<Utc>) {
    let version = state_version(freshness.change_seq, state);
    (
        etag_for(version, request_hash),
        state.first_seen.at(version),
    )
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for it).
pub(crate) fn none_match_hits(headers: &HeaderMap, etag: &HeaderValue) -> Option<bool> {
    if_none_match_hits(headers.get(header::IF_NONE_MATCH), etag)
}

/// Whether an `If-None-Match` value names `etag`; `None` without one.
pub(crate) fn if_none_match_hits(
    if_none_match: Option<&HeaderValue>,
    etag: &HeaderValue,
) -> Option<bool> {
    let value = if_none_match?.to_str().ok()?;
    let ours = etag.to_str().ok()?.trim_start_matches("W/");
    Some(
        value
            .split(',')
            .map(str::trim)
            .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours),
    )
}

/// Whether `If-Modified-Since` is at or after `modified`.
fn not_modified_since(headers: &HeaderMap, modified: DateTime<Utc>) -> bool {
    if_modified_since_holds(headers.get(header::IF_MODIFIED_SINCE), modified)
}

/// Whether an `If-Modified-Since` value is at or after `modified`.
pub(crate) fn if_modified_since_holds(
    since: Option<&HeaderValue>,
    modified: DateTime<Utc>,
) -> bool {
    since
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| since >= modified)
}

/// `Vary` on every validated answer.
pub(crate) const VARY_ALL: HeaderValue =
    HeaderValue::from_static("Accept, Accept-Encoding, Cookie, Authorization");

pub(crate) fn set_validators(headers: &mut HeaderMap, etag: HeaderValue, modified: DateTime<Utc>) {
    headers.insert(header::ETAG, etag);
    headers.insert(header::LAST_MODIFIED, http_date(modified));
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Keep a copy, but ask before using it: content changes whenever papers come in.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    headers.insert(header::VARY, VARY_ALL);
}

/// A request whose answer depends on one reader's own records: a signed-in session, or the
/// personal API (`/api/me/…`, Bearer tokens).
fn is_personal(request: &Request) -> bool {
    let auth = crate::community::auth::SESSION_COOKIE;
    crate::community::auth::cookie(request.headers(), auth).is_some_and(|v| !v.is_empty())
        || request.uri().path().starts_with("/api/me/")
}

/// Middleware for every route: validators on successful GETs, 304 when the client's copy is
/// current.
pub async fn validate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(next.run(request).await);
    }
    let change_seq = state.store.change_seq().await?;
    request.extensions_mut().insert(Freshness { change_seq });
    if let Some(key) = crate::cache_key::cached_request_key(&request) {
        // The page cache answers it, with the kept page's own validators.
        request
            .extensions_mut()
            .insert(crate::cache_key::CacheKey(key));
        return Ok(next.run(request).await);
    }
    if is_personal(&request) {
        // A signed-in reader's pages show their own marks (mutes, not interested, seen), which
        // change without the store's counter moving: never validated, never kept by browsers.
        let mut response = next.run(request).await;
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        return Ok(response);
    }
    let (etag, modified) = validators_at(&state, Freshness { change_seq }, request_hash(&request));
    let current = match none_match_hits(request.headers(), &etag) {
        Some(hit) => hit,
        None => not_modified_since(request.headers(), modified),
    };
    if current {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        set_validators(response.headers_mut(), etag, modified);
        return Ok(response);
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::OK {
        set_validators(response.headers_mut(), etag, modified);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let etag = HeaderValue::from_static("W/\"00000000000000ab\"");
        let hit = |v| none_match_hits(&headers(header::IF_NONE_MATCH, v), &etag);
        assert_eq!(hit("W/\"00000000000000ab\""), Some(true));
        assert_eq!(hit("\"00000000000000ab\""), Some(true));
        assert_eq!(hit("\"x\", W/\"00000000000000ab\""), Some(true));
        assert_eq!(hit("*"), Some(true));
        assert_eq!(hit("W/\"00000000000000ac\""), Some(false));
        assert_eq!(none_match_hits(&HeaderMap::new(), &etag), None);
    }

    #[test]
    fn if_modified_since_compares_http_dates() {
        let modified = DateTime::parse_from_rfc3339("2026-08-21T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let since = |v| not_modified_since(&headers(header::IF_MODIFIED_SINCE, v), modified);
        assert!(since("Fri, 21 Aug 2026 10:00:00 GMT"));
        assert!(since("Fri, 21 Aug 2026 11:00:00 GMT"));
        assert!(!since("Fri, 21 Aug 2026 09:59:59 GMT"));
        assert!(!since("yesterday"));
        assert_eq!(
            http_date(modified).to_str().unwrap(),
            "Fri, 21 Aug 2026 10:00:00 GMT"
        );
    }
}
