//! The HTTP face of paperfeed: an axum [`router`] serving server-rendered pages (no JS
//! framework; everything works without JavaScript), with one [`AppError`] for all page
//! handlers, and a JSON API under `/api/` in Hugging Face's shapes with its own one error
//! shape and an OpenAPI 3.1 document.
//!
//! This crate reads no files, environment or configuration of its own: the binary hands it a
//! ready [`AppState`] and a bound listener. All data comes through the `Store` trait.

mod api;
pub mod community;
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
use axum::routing::{get, post};
use paperfeed_search::SearchEngine;
use paperfeed_store::Store;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

pub use community::auth::{hash_password, hash_secret, new_api_token};
pub use community::rate_limit::{Limit, RateLimits};
pub use community::{CommunitySettings, PaperLookup};
pub use error::AppError;
pub use pages::unsubscribe::MailLinks;

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
    /// Signed digest links (unsubscribe); `None` when the hub sends no mail.
    mail_links: Option<Arc<pages::unsubscribe::MailLinks>>,
    community: Arc<community::Community>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, search: Arc<SearchEngine>) -> Self {
        Self {
            store,
            search,
            public_url: None,
            pages: Arc::default(),
            first_seen: Arc::default(),
            mail_links: None,
            community: Arc::new(community::Community::new(CommunitySettings::default())),
        }
    }

    /// Cookie security, the submission window and rate limits. Resets the rate limiter and
    /// keeps the paper lookup.
    pub fn with_community(mut self, settings: CommunitySettings) -> Self {
        let lookup = self.community.lookup.clone();
        let mut community = community::Community::new(settings);
        community.lookup = lookup;
        self.community = Arc::new(community);
        self
    }

    /// Where submissions of papers not in the store are looked up (the arXiv API client).
    pub fn with_paper_lookup(mut self, lookup: Arc<dyn PaperLookup>) -> Self {
        let mut community = community::Community::new(self.community.settings.clone());
        community.lookup = Some(lookup);
        self.community = Arc::new(community);
        self
    }

    /// Lets `/unsubscribe` check the links digests carry and update the subscriber.
    pub fn with_mail_links(mut self, links: MailLinks) -> Self {
        self.mail_links = Some(Arc::new(links));
        self
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
    use pages::{account, community, feed, feeds, misc, paper, search};
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
        .route(
            "/papers/{*id}",
            get(paper::show_paper).post(community::paper_action),
        )
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
        .route("/healthz", get(pages::health::healthz))
        .route("/readyz", get(pages::health::readyz))
        .route(
            "/subscribe",
            get(pages::subscribe::show).post(pages::subscribe::request),
        )
        .route("/confirm", get(pages::subscribe::confirm))
        .route(
            "/subscription",
            get(pages::preferences::show).post(pages::preferences::save),
        )
        .route(
            "/unsubscribe",
            get(pages::unsubscribe::show).post(pages::unsubscribe::confirm),
        )
        .route("/signup", get(account::show_signup).post(account::sign_up))
        .route("/login", get(account::show_login).post(account::log_in))
        .route("/logout", post(account::log_out))
        .route("/account", get(account::show_account))
        .route(
            "/account/password",
            get(account::show_password).post(account::change_password),
        )
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route(
            "/submit",
            get(community::show_submit).post(community::submit),
        )
        .route("/comments/{id}/{action}", post(community::comment_action))
        .route("/static/community.js", get(misc::community_js))
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
    // The peer address keys the rate limits of anonymous forms (sign up, log in).
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
