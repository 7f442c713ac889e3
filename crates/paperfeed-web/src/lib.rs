//! The HTTP face of paperfeed: an axum [`router`] serving server-rendered pages (no JS
//! framework; everything works without JavaScript), with one [`AppError`] for all page
//! handlers, and a JSON API under `/api/` in Hugging Face's shapes with its own one error
//! shape and an OpenAPI 3.1 document.
//!
//! This crate reads no files, environment or configuration of its own: the binary hands it a
//! ready [`AppState`] and a bound listener. All data comes through the `Store` trait.

mod api;
mod body_limit;
pub mod community;
mod conditional;
mod error;
pub mod metrics;
mod page_cache;
mod pages;
pub mod redirect;
pub mod rich_text;
mod server;
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
pub use metrics::{Metrics, SmtpFailure};
pub use pages::unsubscribe::MailLinks;
pub use server::ConnectionLimits;

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
    /// The process's metrics, shared with the binary's background tasks.
    pub metrics: Arc<Metrics>,
    /// `/metrics` on the main router (true) or only on [`metrics_router`]'s own listener.
    metrics_on_main: bool,
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
            metrics: Arc::default(),
            metrics_on_main: true,
        }
    }

    /// Shares `metrics` with whoever else counts into it (background tasks).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Serves `/metrics` only from [`metrics_router`] (on its own listener): the main router
    /// answers 404 for it.
    pub fn with_metrics_elsewhere(mut self) -> Self {
        self.metrics_on_main = false;
        self
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

/// A request id a client sent is kept only when it is short and plain (letters, digits,
/// `-_.:`): it goes into every log line of the request, which must carry no address or secret
/// a client chose to put there.
fn plain_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The log span of one request: its id, method and path (never the query string: links in
/// mails carry signed tokens there), and the matched route once routing knows it. Every
/// event logged while the request is handled carries these fields.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "http",
        request.id = %id,
        http.method = %request.method(),
        http.path = %request.uri().path(),
        http.route = tracing::field::Empty,
    )
}

/// The layers every router of the hub shares, outermost last: request ids (a client's plain
/// id is kept, anything else replaced), the request span and log, the id echoed in the
/// response.
fn with_request_layers(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // The request log: one line per answered request, in its span.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span::<axum::body::Body>)
                .on_request(())
                .on_eos(())
                .on_response(
                    |response: &axum::http::Response<axum::body::Body>,
                     latency: std::time::Duration,
                     _span: &tracing::Span| {
                        // A target of its own: `RUST_LOG=info,paperfeed_web::access=warn`
                        // keeps the other info lines without one line per request.
                        tracing::event!(
                            target: "paperfeed_web::access",
                            tracing::Level::INFO,
                            http.status = response.status().as_u16(),
                            // Microsecond precision is plenty in a log line.
                            duration_ms = (latency.as_secs_f64() * 1e6).round() / 1e3,
                            "request answered"
                        );
                    },
                ),
        )
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            CountingRequestIds::default(),
        ))
        .layer(axum::middleware::map_request(
            |mut request: Request<axum::body::Body>| async move {
                if request
                    .headers()
                    .get(REQUEST_ID)
                    .is_some_and(|v| !plain_request_id(v))
                {
                    request.headers_mut().remove(REQUEST_ID);
                }
                request
            },
        ))
}

/// `/metrics` alone, for a listener of its own (`serve.metrics_bind`).
pub fn metrics_router(state: AppState) -> Router {
    let registry = Arc::clone(&state.metrics);
    with_request_layers(
        Router::new()
            .route("/metrics", get(metrics::show_metrics))
            .with_state(state)
            .layer(axum::middleware::from_fn_with_state(
                registry,
                metrics::track,
            )),
    )
}

/// Every route of the hub.
pub fn router(state: AppState) -> Router {
    use pages::{account, community, feed, feeds, misc, paper, search};
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
        ))
        .route_layer(axum::middleware::from_fn(api::markdown::only_read_markdown));
    let app = Router::new()
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
            state.clone(),
            conditional::validate,
        ))
        // Outside the validators and every handler: an oversized body is refused (413)
        // before anything reads it.
        .layer(axum::middleware::from_fn(body_limit::limit_body));
    // After the validators: a scrape never gets a 304 or an ETag.
    let app = if state.metrics_on_main {
        app.merge(
            Router::new()
                .route("/metrics", get(metrics::show_metrics))
                .with_state(state.clone()),
        )
    } else {
        app
    };
    with_request_layers(
        app.layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            metrics::track,
        ))
        // Level 4 for both: brotli's default (11) costs milliseconds per page; 4 keeps most
        // of the saving at a fraction of the time.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4))),
    )
}

/// Serves the router on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve_router(listener, router(state), limits, shutdown).await
}

/// Serves only `/metrics` on `listener` (a separate, typically private, address) until
/// `shutdown` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve_router(listener, metrics_router(state), limits, shutdown).await
}
