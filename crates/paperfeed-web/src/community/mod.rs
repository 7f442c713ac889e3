//! The community layer: accounts and sessions ([`auth`]), rate limits ([`rate_limit`]), and
//! the rules shared by pages and the API for submitting papers.

pub mod auth;
pub mod rate_limit;

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Featuring, NewPaper, Paper, Submitter};
use paperfeed_store::{User, WriteMode};

use crate::AppState;
use crate::error::AppError;
use rate_limit::{Action, RateLimiter, RateLimits};

/// Finds a paper that is not in the store yet (the arXiv API client implements it).
#[async_trait]
pub trait PaperLookup: Send + Sync {
    /// The paper's metadata, `Ok(None)` when arXiv has no such paper, `Err` with the reason
    /// (for the log) when arXiv could not be asked or gave no usable answer. Called on the
    /// request path: [`submit_paper`] gives up after [`LOOKUP_DEADLINE`], so an implementation
    /// should not retry for longer.
    async fn lookup(&self, id: &ArxivId) -> Result<Option<NewPaper>, String>;
}

/// How long a submission waits for the lookup of a paper the store lacks. A person or a script
/// is waiting on the answer: past this, arXiv counts as unreachable (503 with `Retry-After`)
/// and nothing is stored.
pub const LOOKUP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// When to try again after arXiv could not be asked: its API asks clients to keep a few
/// seconds apart and recovers from most outages within a minute.
const LOOKUP_RETRY_AFTER_SECS: u64 = 30;

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

/// Why a submission was not featured. Each is a 4xx with a message safe to show.
#[derive(Debug)]
pub enum SubmitRefusal {
    /// The text is no arXiv id or URL.
    Invalid(String),
    /// Already on the daily feed: where.
    AlreadyFeatured { id: ArxivId, day: NaiveDate },
    /// Published longer ago than the window.
    TooOld { id: ArxivId, days: i64, window: i64 },
    /// Neither in the store nor found by the lookup (or no lookup configured).
    NotFound { id: ArxivId, reason: String },
}

impl SubmitRefusal {
    pub fn message(&self) -> String {
        match self {
            SubmitRefusal::Invalid(reason) => format!("arxivId: {reason}"),
            SubmitRefusal::AlreadyFeatured { id, day } => format!(
                "Paper {id} is already on the daily feed (featured on {day}): thank you all the \
                 same! It is at /papers/{id}."
            ),
            SubmitRefusal::TooOld { id, days, window } => format!(
                "Paper {id} was published {days} days ago; papers can be submitted up to \
                 {window} days after their arXiv publication."
            ),
            SubmitRefusal::NotFound { reason, .. } => reason.clone(),
        }
    }
}

/// The outcome of a submission that went through.
#[derive(Debug)]
pub struct Submitted {
    pub paper: Paper,
    pub day: NaiveDate,
}

/// Features the paper `raw` names (an arXiv id or URL) on `now`'s day with `user` as its
/// submitter: from the store, else from the lookup.
pub async fn submit_paper(
    state: &AppState,
    user: &User,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Result<Submitted, SubmitRefusal>, AppError> {
    let id = match ArxivId::parse(raw.trim()) {
        Ok(id) => id,
        Err(e) => return Ok(Err(SubmitRefusal::Invalid(e.to_string()))),
    };
    let today = now.date_naive();
    let featuring = Featuring {
        date: today,
        submitter: Some(Submitter {
            name: user.username.to_string(),
            fullname: None,
        }),
    };
    let stored = state.store.get_paper(&id).await?;
    let (published, from_lookup) = match &stored {
        Some(paper) => {
            if let Some(first) = paper.featured.first() {
                return Ok(Err(SubmitRefusal::AlreadyFeatured {
                    id,
                    day: first.date,
                }));
            }
            (paper.published_at, None)
        }
        None => {
            let Some(lookup) = &state.community.lookup else {
                return Ok(Err(SubmitRefusal::NotFound {
                    reason: format!(
                        "Paper {id} is not in this hub's store yet, and this hub has no arXiv \
                         lookup configured: it can be submitted once it has been ingested."
                    ),
                    id,
                }));
            };
            match tokio::time::timeout(LOOKUP_DEADLINE, lookup.lookup(&id)).await {
                Ok(Ok(Some(found))) => (found.published_at, Some(found)),
                Ok(Ok(None)) => {
                    return Ok(Err(SubmitRefusal::NotFound {
                        reason: format!("arXiv has no paper {id}."),
                        id,
                    }));
                }
                Ok(Err(reason)) => return Err(arxiv_unreachable(&id, &reason)),
                Err(_) => {
                    let reason = format!("no answer within {} s", LOOKUP_DEADLINE.as_secs());
                    return Err(arxiv_unreachable(&id, &reason));
                }
            }
        }
    };
    let window = state.community.settings.submit_window_days;
    if let Some(published) = published {
        let days = (now - published).num_days();
        if now - published > Duration::days(window) {
            return Ok(Err(SubmitRefusal::TooOld { id, days, window }));
        }
    }
    match from_lookup {
        Some(mut found) => {
            found.featured = Some(featuring);
            let outcomes = state
                .store
                .upsert_papers(vec![found], WriteMode::Commit)
                .await?;
            state.metrics.record_ingest("submission", &outcomes);
        }
        None => {
            state.store.feature_paper(&id, featuring).await?;
            // A paper already stored, now on the daily feed: an update of its record.
            state
                .metrics
                .record_ingest("submission", &[paperfeed_core::UpsertOutcome::Updated]);
        }
    }
    let paper = state
        .store
        .get_paper(&id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("submitted paper {id} vanished")))?;
    tracing::info!(user.id = user.id.0, paper.id = %id, "paper submitted to today's feed");
    Ok(Ok(Submitted { paper, day: today }))
}

/// The answer to a submission whose lookup failed: not "unknown to arXiv", which nobody
/// knows, but "try again", with nothing stored.
fn arxiv_unreachable(id: &ArxivId, reason: &str) -> AppError {
    tracing::warn!(paper.id = %id, reason, "arXiv lookup for a submission failed");
    AppError::Unavailable {
        message: format!(
            "Paper {id} is not on this hub yet and arXiv could not be asked just now; nothing \
             was changed. Please submit it again in {LOOKUP_RETRY_AFTER_SECS} seconds."
        ),
        retry_after_secs: LOOKUP_RETRY_AFTER_SECS,
    }
}
