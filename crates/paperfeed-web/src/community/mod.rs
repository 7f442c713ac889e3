//! The community layer's web side: sessions ([`auth`]), rate limits ([`rate_limit`]), and what
//! the binary configures about them.

pub mod auth;
pub mod rate_limit;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
pub use paperfeed_app::submit::{LOOKUP_DEADLINE, PaperLookup, SubmitRefusal, Submitted};

use crate::error::AppError;
use rate_limit::{Action, RateLimiter, RateLimits};

/// What the binary configures about the community.
#[derive(Clone, Debug)]
pub struct CommunitySettings {
    /// Cookies get `Secure` (the hub is served over https).
    pub secure_cookies: bool,
    /// A paper can be submitted up to this many days after its arXiv publication.
    pub submit_window_days: i64,
    pub rate_limits: RateLimits,
}

impl Default for CommunitySettings {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            submit_window_days: 14,
            rate_limits: RateLimits::default(),
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
}

/// Sessions last this long.
pub const SESSION_DAYS: i64 = 30;

/// The client's address (the TCP peer), for keying anonymous rate limits.
pub fn client_ip(parts_or_ext: &axum::http::Extensions) -> String {
    parts_or_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// `client_ip` from request parts.
pub fn client_ip_of(parts: &Parts) -> String {
    client_ip(&parts.extensions)
}
