//! The community layer's web side: sessions ([`auth`]), rate limits ([`rate_limit`]), and the
//! call into the application layer's submission rules ([`submit_paper`]) that pages and the
//! API share.

pub mod auth;
pub mod rate_limit;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
pub use paperfeed_app::submit::{LOOKUP_DEADLINE, PaperLookup, SubmitRefusal, Submitted};
use paperfeed_app::submit::{LOOKUP_RETRY_AFTER_SECS, Submissions, SubmitConfig, SubmitError};
use paperfeed_store::User;

use crate::error::AppError;
use crate::state::AppState;
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

/// Submits the paper `raw` names as `user` through the hub's store, lookup and metrics: the
/// featured paper, or the refusal to show the submitter; a failure (503 "try again" when
/// arXiv could not be asked, else 500) as the error.
pub async fn submit_paper(
    state: &AppState,
    user: &User,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Result<Submitted, SubmitRefusal>, AppError> {
    let submissions = Submissions {
        store: &*state.store,
        lookup: state.community.lookup.as_deref(),
        metrics: &*state.metrics,
        config: SubmitConfig {
            window_days: state.community.settings.submit_window_days,
        },
    };
    match submissions.submit_paper(user, raw, now).await {
        Ok(done) => Ok(Ok(done)),
        Err(SubmitError::Refused(refusal)) => Ok(Err(refusal)),
        Err(SubmitError::LookupUnavailable { id, .. }) => Err(AppError::Unavailable {
            message: SubmitError::retry_message(&id),
            retry_after_secs: LOOKUP_RETRY_AFTER_SECS,
        }),
        Err(error) => Err(failed(&error)),
    }
}

impl From<paperfeed_app::search::SearchError> for AppError {
    /// A search that failed (never the searcher's input: the query was parsed before).
    fn from(e: paperfeed_app::search::SearchError) -> Self {
        failed(&e)
    }
}

/// A use case's failure (not the caller's input) as a 500, its causes in the log line.
pub(crate) fn failed(error: &dyn std::error::Error) -> AppError {
    let mut detail = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    AppError::Internal(detail)
}
