//! Rendered pages kept in memory and served again until the store changes.
//!
//! Every request asks the store for its change counter (one indexed row); a page rendered at
//! the same counter is still exactly right, whichever process or node wrote last. Only
//! successful HTML and JSON GETs (pages, and API answers serialized once) are kept, with
//! their content type, and all of them are dropped whenever the counter moves. Requests
//! that prefer Markdown pass by: the same address answers them differently.
//!
//! A page is keyed by the request as its handler reads it: the decoded path and only the
//! query parameters that route reads ([`known_params`]), so `?junk=N` cannot make a new entry
//! per request. The cache is bounded in bytes: past [`DEFAULT_BUDGET`] the least recently
//! used pages make room, and a page larger than an eighth of the budget is streamed to the
//! client without being kept (it is never buffered whole here).

use std::sync::{Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use lru::LruCache;

use crate::error::AppError;

/// Bytes of pages (bodies, keys and bookkeeping) kept at most.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;
/// What an entry costs beyond its key and body: the kept headers and the map's own nodes.
const ENTRY_OVERHEAD: usize = 256;

/// The query parameters each cached route's handler reads; anything else in the query does
/// not change the answer and is left out of the key. A route missing here is not cached, so
/// a new cached route must be added (with exactly what its handler reads, or the cache would
/// mix answers up).
fn known_params(route: &str) -> Option<&'static [&'static str]> {
    match route {
        // `FeedSort` in pages/feed.rs.
        "/" | "/papers/date/{day}" | "/papers/week/{week}" | "/papers/month/{month}" => {
            Some(&["sort"])
        }
        // The paper page reads no query.
        "/papers/{*id}" | "/api/papers/{id}" => Some(&[]),
        // `DailyPapersParams` in api/daily.rs.
        "/api/daily_papers" => Some(&["date", "week", "month", "submitter", "sort", "p", "limit"]),
        _ => None,
    }
}

/// The key of a request on `route`: its decoded path and the parameters the route reads,
/// exactly as given (the API refuses an empty or padded value that a page would trim, so
/// values are not normalised here), in a fixed order.
/// `None` (not cached) when the route is not known or a known parameter is repeated.
fn cache_key(route: &str, uri: &Uri) -> Option<String> {
    let known = known_params(route)?;
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    let mut key = path.into_owned();
    let mut found: Vec<(&str, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        let Some(name) = known.iter().find(|k| **k == name) else {
            continue;
        };
        if found.iter().any(|(n, _)| n == name) {
            return None;
        }
        found.push((name, value.into_owned()));
    }
    found.sort();
    for (i, (name, value)) in found.iter().enumerate() {
        key.push(if i == 0 { '?' } else { '&' });
        key.push_str(name);
        key.push('=');
        key.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
    }
    Some(key)
}

pub struct PageCache {
    inner: Mutex<Pages>,
    budget: usize,
}

struct Pages {
    change_seq: i64,
    pages: LruCache<String, Cached>,
    /// What the kept pages cost, by [`Cached::cost`].
    bytes: usize,
}

/// A kept answer: its body and the headers that describe it.
#[derive(Clone)]
struct Cached {
    headers: HeaderMap,
    body: Bytes,
}

impl Cached {
    fn cost(&self, key: &str) -> usize {
        key.len() + self.body.len() + ENTRY_OVERHEAD
    }
}

/// The response headers kept with a body.
const KEPT_HEADERS: [header::HeaderName; 2] = [header::CONTENT_TYPE, header::VARY];

impl Default for PageCache {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET)
    }
}

impl PageCache {
    /// A cache keeping at most `budget` bytes of pages.
    pub fn with_budget(budget: usize) -> Self {
        Self {
            inner: Mutex::new(Pages {
                change_seq: 0,
                pages: LruCache::unbounded(),
                bytes: 0,
            }),
            budget,
        }
    }

    /// The largest body kept; larger ones are streamed through.
    fn max_page(&self) -> usize {
        self.budget / 8
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pages> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, change_seq: i64, key: &str) -> Option<Cached> {
        let mut inner = self.lock();
        if inner.change_seq != change_seq {
            inner.pages.clear();
            inner.bytes = 0;
            inner.change_seq = change_seq;
            return None;
        }
        inner.pages.get(key).cloned()
    }

    fn put(&self, change_seq: i64, key: String, page: Cached) {
        let cost = page.cost(&key);
        if cost > self.budget {
            return;
        }
        let mut inner = self.lock();
        if inner.change_seq != change_seq {
            return;
        }
        if let Some(old) = inner.pages.pop(&key) {
            inner.bytes -= old.cost(&key);
        }
        while inner.bytes + cost > self.budget {
            match inner.pages.pop_lru() {
                Some((k, old)) => inner.bytes -= old.cost(&k),
                None => break,
            }
        }
        inner.bytes += cost;
        inner.pages.put(key, page);
    }

    /// Pages kept and what they cost, for tests.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.pages.len(), inner.bytes)
    }

    /// The kept answer for `key` at `change_seq`, or the one `render` makes, kept when it is
    /// a successful HTML or JSON page small enough. A larger body is passed on as it comes,
    /// after at most [`Self::max_page`] bytes held here.
    pub(crate) async fn serve(
        &self,
        change_seq: i64,
        key: String,
        render: impl Future<Output = Response>,
    ) -> Result<Response, AppError> {
        if let Some(page) = self.get(change_seq, &key) {
            return Ok((page.headers, page.body).into_response());
        }
        let response = render.await;
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
        let mut stream = body.into_data_stream();
        let mut held: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| crate::error::failed_at("rendering a page", e))?;
            if held.len() + chunk.len() > self.max_page() {
                // Too big to keep: what is held, then the rest as the handler makes it.
                let head = futures_util::stream::iter([
                    Ok::<Bytes, axum::Error>(Bytes::from(held)),
                    Ok(chunk),
                ]);
                return Ok(Response::from_parts(
                    parts,
                    Body::from_stream(head.chain(stream)),
                ));
            }
            held.extend_from_slice(&chunk);
        }
        let bytes = Bytes::from(held);
        self.put(
            change_seq,
            key,
            Cached {
                headers,
                body: bytes.clone(),
            },
        );
        Ok(Response::from_parts(parts, Body::from(bytes)))
    }
}

fn is_kept(content_type: &HeaderValue) -> bool {
    let v = content_type.as_bytes();
    v.starts_with(b"text/html") || v.starts_with(b"application/json")
}

/// The key of a request, from the route it matched (set by the router before route layers
/// run); `None` when it is not to be cached.
pub(crate) fn request_key(request: &Request) -> Option<String> {
    let route = request.extensions().get::<MatchedPath>()?;
    cache_key(route.as_str(), request.uri())
}

#[cfg(test)]
mod tests {
    use axum::middleware::Next;

    use super::*;

    fn key(route: &str, uri: &str) -> Option<String> {
        cache_key(route, &uri.parse::<Uri>().unwrap())
    }

    #[test]
    fn the_key_holds_only_what_the_handler_reads() {
        let month = "/papers/month/{month}";
        let plain = key(month, "/papers/month/2026-07");
        assert_eq!(plain.as_deref(), Some("/papers/month/2026-07"));
        for junk in [
            "/papers/month/2026-07?junk=1",
            "/papers/month/2026-07?junk=2&x=%00",
            "/papers/month/2026-07?",
            "/papers/month/2026-07?date=2026-07-01",
            "/papers/month/%32026-07",
        ] {
            assert_eq!(key(month, junk), plain, "{junk}");
        }
        // An empty or padded value is its own key: the API answers `?limit=` with a 400,
        // so it must never be served the page kept for a request without `limit`.
        assert_eq!(
            key(month, "/papers/month/2026-07?sort=").as_deref(),
            Some("/papers/month/2026-07?sort=")
        );
        assert_ne!(
            key("/api/daily_papers", "/api/daily_papers?limit="),
            key("/api/daily_papers", "/api/daily_papers")
        );
        assert_ne!(
            key("/api/daily_papers", "/api/daily_papers?limit=+5"),
            key("/api/daily_papers", "/api/daily_papers?limit=5")
        );
        assert_eq!(
            key(month, "/papers/month/2026-07?zzz=1&sort=trending").as_deref(),
            Some("/papers/month/2026-07?sort=trending")
        );
        assert_eq!(key(month, "/papers/month/2026-07?sort=a&sort=b"), None);
        assert_eq!(
            key(
                "/api/daily_papers",
                "/api/daily_papers?limit=5&date=2026-08-21&x=1"
            )
            .as_deref(),
            Some("/api/daily_papers?date=2026-08-21&limit=5")
        );
        assert_eq!(
            key("/papers/{*id}", "/papers/2608.19880?x=1").as_deref(),
            Some("/papers/2608.19880")
        );
        assert_eq!(
            key("/some/new/route", "/some/new/route"),
            None,
            "unknown routes are not kept"
        );
    }

    #[tokio::test]
    async fn route_layers_see_the_matched_route_so_pages_are_keyed() {
        use tower::ServiceExt as _;
        let keys = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = keys.clone();
        let app = axum::Router::new()
            .route(
                "/papers/month/{month}",
                axum::routing::get(|| async { "m" }),
            )
            .route("/papers/{*id}", axum::routing::get(|| async { "p" }))
            .route_layer(axum::middleware::from_fn(
                move |request: Request, next: Next| {
                    seen.lock().unwrap().push(request_key(&request));
                    next.run(request)
                },
            ));
        for uri in ["/papers/month/2026-07?junk=1", "/papers/2608.19880?x=2"] {
            let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        assert_eq!(
            *keys.lock().unwrap(),
            [
                Some("/papers/month/2026-07".to_owned()),
                Some("/papers/2608.19880".to_owned())
            ]
        );
    }

    fn html(body: Vec<u8>) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response()
    }

    async fn body_of(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn a_page_too_big_to_keep_is_served_whole_and_not_kept() {
        let cache = PageCache::with_budget(8 * 1024 * 1024);
        let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let answer = cache
            .serve(1, "/big".into(), async { html(big.clone()) })
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(body_of(answer).await, big);
        assert_eq!(cache.usage().0, 0, "not kept");
        // The default budget keeps what the old 2 MiB limit turned into an error.
        let cache = PageCache::default();
        let answer = cache
            .serve(1, "/big".into(), async { html(big.clone()) })
            .await
            .unwrap();
        assert_eq!(body_of(answer).await, big);
        assert_eq!(cache.usage().0, 1);
    }

    #[tokio::test]
    async fn a_full_cache_evicts_the_least_recently_used_and_stays_in_its_budget() {
        let budget = 1024 * 1024;
        let cache = PageCache::with_budget(budget);
        let page = |n: usize| html(format!("{n:>10000}").into_bytes());
        for n in 0..5000 {
            cache
                .serve(7, format!("/p/{n}"), async move { page(n) })
                .await
                .unwrap();
            if n % 97 == 0 {
                // Keep the first page in use: it must survive.
                assert!(cache.get(7, "/p/0").is_some(), "page 0 evicted at {n}");
            }
        }
        let (pages, bytes) = cache.usage();
        assert!(bytes <= budget, "{bytes} > {budget}");
        assert!(pages >= 90, "the budget is used: {pages} pages");
        assert!(cache.get(7, "/p/4999").is_some(), "a fresh page is kept");
        assert!(
            cache.get(7, "/p/1").is_none(),
            "an old unused page made room"
        );
        // A new store state starts from nothing.
        assert!(cache.get(8, "/p/4999").is_none());
        assert_eq!(cache.usage(), (0, 0));
    }

    #[tokio::test]
    async fn only_successful_html_and_json_are_kept() {
        let cache = PageCache::default();
        let missing = (StatusCode::NOT_FOUND, "no").into_response();
        cache
            .serve(1, "/a".into(), async { missing })
            .await
            .unwrap();
        let text = ([(header::CONTENT_TYPE, "text/markdown")], "# x").into_response();
        cache.serve(1, "/b".into(), async { text }).await.unwrap();
        assert_eq!(cache.usage().0, 0);
        let hit = cache
            .serve(1, "/c".into(), async { html(b"<p>c</p>".to_vec()) })
            .await
            .unwrap();
        assert_eq!(body_of(hit).await, b"<p>c</p>");
        let again = cache
            .serve(1, "/c".into(), async { html(b"changed".to_vec()) })
            .await
            .unwrap();
        assert_eq!(body_of(again).await, b"<p>c</p>", "served from the cache");
    }
}
