//! The HTTP face of paperfeed: an axum [`router`] serving server-rendered pages (no JS
//! framework; everything works without JavaScript), with one [`AppError`] for all page
//! handlers, and a JSON API under `/api/` in Hugging Face's shapes with its own one error
//! shape and an OpenAPI 3.1 document.
//!
//! This crate reads no files, environment or configuration of its own: the binary hands it a
//! ready [`AppState`] and a bound listener. All data comes through the `Store` trait.

mod api;
mod conditional;
mod error;
mod page_cache;
mod pages;
pub mod rich_text;
mod syndication;
mod views;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::routing::get;
use paperfeed_search::SearchEngine;
use paperfeed_store::Store;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use error::AppError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub search: Arc<SearchEngine>,
    /// The hub's public address (`https://papers.example.org`) for absolute links in feeds;
    /// unset, links are built from the request's `Host`.
    pub public_url: Option<String>,
    pages: Arc<page_cache::PageCache>,
    first_seen: Arc<conditional::FirstSeen>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, search: Arc<SearchEngine>) -> Self {
        Self {
            store,
            search,
            public_url: None,
            pages: Arc::default(),
            first_seen: Arc::default(),
        }
    }

    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.public_url = url;
        self
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a per-process counter, short and greppable in logs.
#[derive(Clone, Default)]
struct CountingRequestIds(Arc<AtomicU64>);

impl MakeRequestId for CountingRequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{n:08x}"))
            .ok()
            .map(RequestId::new)
    }
}

/// Every route of the hub.
pub fn router(state: AppState) -> Router {
    use pages::{feed, feeds, misc, paper, search};
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("http", request.id = %id, http.method = %request.method(), http.path = %request.uri().path())
    });
    let pages = Router::new()
        .route("/", get(feed::show_latest_day))
        .route("/papers/date/{day}", get(feed::show_day))
        .route("/papers/week/{week}", get(feed::show_week))
        .route("/papers/month/{month}", get(feed::show_month))
        .route("/papers/{*id}", get(paper::show_paper))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page_cache::serve_cached,
        ));
    Router::new()
        .merge(pages)
        .merge(api::router(state.clone()))
        .route("/papers", get(search::search_papers))
        .route("/feed.xml", get(feeds::daily_rss))
        .route("/feed.atom", get(feeds::daily_atom))
        .route("/papers/feed.xml", get(feeds::daily_rss))
        .route("/papers/feed.atom", get(feeds::daily_atom))
        .route("/trending/feed.xml", get(feeds::trending_rss))
        .route("/trending/feed.atom", get(feeds::trending_atom))
        .route("/search", get(search::redirect_search))
        .route("/status", get(misc::show_status))
        .route("/subscribe", get(misc::show_subscribe))
        .route("/static/style.css", get(misc::style_css))
        .route("/favicon.svg", get(misc::favicon))
        .fallback(misc::not_found)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state,
            conditional::validate,
        ))
        // Level 4 for both: brotli's default (11) costs milliseconds per page; 4 keeps most of
        // the saving at a fraction of the time.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            CountingRequestIds::default(),
        ))
}

/// Serves the router on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
