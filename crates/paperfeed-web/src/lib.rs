//! The HTTP face of paperfeed: an axum [`router`] serving server-rendered pages (no JS
//! framework; everything works without JavaScript), with one [`AppError`] for all page
//! handlers, and a JSON API under `/api/` in Hugging Face's shapes with its own one error
//! shape and an OpenAPI 3.1 document.
//!
//! This crate reads no files, environment or configuration of its own: the binary hands it a
//! ready [`AppState`] and a bound listener. All data comes through the `Store` trait.

mod api;
mod body_limit;
mod cache_key;
mod cached_pages;
pub mod community;
mod conditional;
mod error;
mod exports;
mod first_seen;
mod forms;
mod http_date;
pub mod metrics;
mod page_cache;
mod pages;
mod personal;
mod picks;
mod private_feed;
mod query;
mod reader_header;
pub mod redirect;
mod request_log;
pub mod rich_text;
mod saved;
mod search_params;
mod server;
mod sessions;
mod state;
mod submission;
mod syndication;
mod thumbnails;
mod trending_clock;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;

use crate::request_log::with_request_layers;

pub use api::paper_json;
pub use community::rate_limit::{Limit, RateLimits};
pub use community::{CommunitySettings, TrustedProxies};
pub use error::AppError;
pub use metrics::Metrics;
pub use server::ConnectionLimits;
pub use state::AppState;

/// `/metrics` alone, for a listener of its own (`serve.metrics_bind`).
pub fn metrics_router(state: AppState) -> Router {
    let registry = Arc::clone(&state.metrics);
    with_request_layers(
        Router::new()
            .route("/metrics", get(pages::health::show_metrics))
            .with_state(state)
            .layer(axum::middleware::from_fn_with_state(
                registry,
                metrics::track,
            )),
    )
}

/// Every route of the hub.
pub fn router(state: AppState) -> Router {
    use pages::subscription::{preferences, subscribe, unsubscribe};
    use pages::{account, community, feed, feeds, health, misc, paper, search};
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
            cached_pages::serve_cached,
        ))
        .route_layer(axum::middleware::from_fn(api::markdown::only_read_markdown));
    let app = Router::new()
        .merge(pages)
        .merge(api::router(state.clone()))
        .merge(pages::library::routes())
        .route("/papers", get(search::search_papers))
        .route("/feed.xml", get(feeds::daily_rss))
        .route("/feed.atom", get(feeds::daily_atom))
        .route("/papers/feed.xml", get(feeds::daily_rss))
        .route("/papers/feed.atom", get(feeds::daily_atom))
        .route("/trending/feed.xml", get(feeds::trending_rss))
        .route("/trending/feed.atom", get(feeds::trending_atom))
        .route("/search", get(search::redirect_search))
        .route("/status", get(misc::show_status))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/subscribe", get(subscribe::show).post(subscribe::request))
        .route("/confirm", get(subscribe::confirm))
        .route(
            "/subscription",
            get(preferences::show).post(preferences::save),
        )
        .route(
            "/unsubscribe",
            get(unsubscribe::show).post(unsubscribe::confirm),
        )
        .route("/signup", get(account::show_signup).post(account::sign_up))
        .route("/login", get(account::show_login).post(account::log_in))
        .route("/logout", post(account::log_out))
        .route("/account", get(account::show_account))
        .route(
            "/account/password",
            get(account::show_password).post(account::change_password),
        )
        .merge(pages::saved_searches::routes())
        .route("/account/tokens", post(account::create_token))
        .route("/account/data", get(pages::account_data::download))
        .route(
            "/account/delete",
            get(pages::account_data::show_delete).post(pages::account_data::delete),
        )
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route(
            "/submit",
            get(community::show_submit).post(community::submit),
        )
        .route("/comments/{id}/{action}", post(community::comment_action))
        .route("/static/community.js", get(misc::community_js))
        .route("/static/suggest.js", get(misc::suggest_js))
        .route("/static/style.css", get(misc::style_css))
        .route("/favicon.svg", get(misc::favicon))
        .route("/thumbnails/{*file}", get(thumbnails::show_thumbnail))
        .merge(pages::mutes::routes())
        .fallback(misc::not_found)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            conditional::validate,
        ))
        // Outside the validators and every handler: an oversized body is refused (413)
        // before anything reads it.
        .layer(axum::middleware::from_fn(body_limit::limit_body));
    // After the validators: pages that depend on the reader's follows (which do not move the
    // change counter) are never answered 304 from a stale ETag.
    let app = app
        .merge(pages::follows::routes(state.clone()))
        .merge(pages::recommend::routes(state.clone()))
        .merge(pages::sign_in::routes(state.clone()));
    // After the validators: a scrape never gets a 304 or an ETag.
    let app = if state.metrics_on_main {
        app.merge(
            Router::new()
                .route("/metrics", get(pages::health::show_metrics))
                .with_state(state.clone()),
        )
    } else {
        app
    };
    // Around every page: the header's account links and banner, per reader, spliced into
    // pages rendered (and cached) without them.
    let app = app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        reader_header::splice_header,
    ));
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
