//! The community layer's web side: sessions ([`auth`]), rate limits ([`rate_limit`]), and what
//! the binary configures about them.

pub mod auth;
pub mod client_addr;
pub mod rate_limit;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
pub use paperfeed_app::submit::{LOOKUP_DEADLINE, PaperLookup, SubmitRefusal, Submitted};

use crate::error::AppError;
pub use client_addr::TrustedProxies;
use rate_limit::{Action, RateLimiter, RateLimits};

/// What the binary configures about the community.
#[derive(Clone, Debug)]
pub struct CommunitySettings {
    /// Cookies get `Secure` (the hub is served over https).
    pub secure_cookies: bool,
    /// A paper can be submitted up to this many days after its arXiv publication.
    pub submit_window_days: i64,
    pub rate_limits: RateLimits,
    /// Reverse proxies believed about the client they forward for (`serve.trusted_proxies`).
    pub trusted_proxies: TrustedProxies,
}

impl Default for CommunitySettings {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            submit_window_days: 14,
            rate_limits: RateLimits::default(),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

pub struct Community {
    pub settings: CommunitySettings,
    pub limiter: RateLimiter,
    pub lookup: Option<Arc<dyn PaperLookup>>,
}

impl Community {
    pub fn new(settings: CommunitySettings) -> Self {
        Self {
            limiter: RateLimiter::new(settings.rate_limits),
            settings,
            lookup: None,
        }
    }

    /// One token of `action` for `key`, or a 429 saying when to come back.
    pub fn limit(&self, action: Action, key: &str) -> Result<(), AppError> {
        self.limiter
            .check(action, key)
            .map_err(|wait| AppError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            })
    }

    /// [`Community::limit`] keyed by the client's address ([`client_ip`]): the limits of
    /// anonymous actions (sign-up, log-in, subscribing, sign-in starts, suggestions).
    pub fn limit_client(
        &self,
        action: Action,
        headers: &HeaderMap,
        extensions: &axum::http::Extensions,
    ) -> Result<(), AppError> {
        self.limit(action, &client_ip(&self.settings, headers, extensions))
    }
}

/// Sessions last this long.
pub const SESSION_DAYS: i64 = 30;

/// The client's address, for keying anonymous rate limits: the TCP peer, or behind a trusted
/// reverse proxy the client it forwards for ([`TrustedProxies::client`]).
pub fn client_ip(
    settings: &CommunitySettings,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> String {
    extensions.get::<ConnectInfo<SocketAddr>>().map_or_else(
        || "unknown".to_owned(),
        |c| {
            settings
                .trusted_proxies
                .client(c.0.ip(), headers)
                .to_string()
        },
    )
}
