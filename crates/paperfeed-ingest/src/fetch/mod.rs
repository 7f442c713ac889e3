//! Thin HTTP fetchers for the live sources: the arXiv API ([`ArxivClient`]), OAI-PMH harvesting
//! ([`OaiHarvester`]) and the Hugging Face daily feed ([`HfMirror`]). They fetch bytes politely
//! and hand them to the pure parsers of this crate; they never write anything.
//!
//! One [`Fetcher`] per remote service does every request: a descriptive User-Agent, a timeout
//! per request, a politeness gap between requests (arXiv asks for 3 s), retries with
//! exponential backoff on 5xx, timeouts and broken connections, and `503`/`429` with
//! `Retry-After` honoured, and a cap on the size of an answer (read in chunks; a larger one is
//! refused, not buffered). All waiting goes through a [`Clock`], so tests inject a
//! [`ManualClock`] and check the delays asked for without sleeping.

mod arxiv;
mod hf;
mod oai;
mod pdf;
#[cfg(feature = "testing")]
pub mod replay;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
pub use reqwest::Url;

pub use arxiv::{ArxivClient, ListingPage};
pub use hf::{DayPage, HfMirror};
pub use oai::{HarvestPage, OaiHarvester, OaiRequest};
pub use pdf::PdfClient;

use crate::RecordError;

/// Why a fetch failed. Every message names the URL and the reason.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Retries are spent: the service kept failing (5xx, timeouts, broken connections).
    #[error("{url}: unavailable after {attempts} attempt(s): {reason}")]
    Unavailable {
        url: String,
        attempts: u32,
        reason: String,
    },
    /// The service refused the request (4xx other than 429); retrying would not help.
    #[error("{url}: refused with HTTP {status}: {reason}")]
    Refused {
        url: String,
        status: u16,
        reason: String,
    },
    /// The answer arrived but is not a usable page: damaged or truncated XML/JSON, an arXiv
    /// API error entry, an OAI-PMH error.
    #[error("{url}: {reason}")]
    BadPage { url: String, reason: String },
    /// The answer is larger than [`HttpConfig::max_body_bytes`]; reading stopped there.
    #[error("{url}: the answer is larger than the {limit} allowed for one response; refused")]
    TooLarge { url: String, limit: String },
    /// A base URL or client setting that cannot work.
    #[error("{0}")]
    Setup(String),
}

/// Monotonic time and waiting, injectable: production uses [`TokioClock`], tests a
/// [`ManualClock`] that records every wait instead of sleeping.
#[async_trait]
pub trait Clock: Send + Sync + 'static {
    /// Time since an arbitrary fixed start.
    fn now(&self) -> Duration;
    async fn sleep(&self, duration: Duration);
}

/// Real time, through tokio's timer.
#[derive(Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }
}

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A clock that only moves when slept on, and remembers every sleep asked of it.
#[derive(Debug, Default)]
pub struct ManualClock {
    state: Mutex<(Duration, Vec<Duration>)>,
}

impl ManualClock {
    /// Every wait asked for so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }

    /// Moves time on without a sleep (time spent elsewhere).
    pub fn advance(&self, by: Duration) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0 += by;
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    async fn sleep(&self, duration: Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 += duration;
        state.1.push(duration);
    }
}

/// How one remote service is treated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    pub user_agent: String,
    /// For one whole request, connection to last body byte.
    pub timeout: Duration,
    /// At least this long between the end of one request and the start of the next.
    pub politeness_gap: Duration,
    /// Extra attempts after the first for 5xx, 429, timeouts and broken connections.
    pub retries: u32,
    /// The first backoff; it doubles with every retry.
    pub backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the fetch fails, saying so.
    pub max_retry_after: Duration,
    /// The largest answer body read; a larger one fails the fetch with
    /// [`FetchError::TooLarge`] without being held in memory.
    pub max_body_bytes: u64,
}

impl HttpConfig {
    /// Real pages are at most a few MiB (an OAI-PMH page of 1000 records, an API page of 2000
    /// entries); ten times that is damage or a wrong URL.
    pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 << 20;

    /// The User-Agent sent unless configured otherwise.
    pub fn default_user_agent() -> String {
        format!(
            "paperfeed/{} (self-hosted Daily Papers hub; https://github.com/paperfeed)",
            env!("CARGO_PKG_VERSION")
        )
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            user_agent: Self::default_user_agent(),
            timeout: Duration::from_secs(60),
            politeness_gap: Duration::from_secs(3),
            retries: 4,
            backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(600),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Does every request to one service, one at a time, politely.
pub struct Fetcher {
    client: reqwest::Client,
    config: HttpConfig,
    clock: Arc<dyn Clock>,
    /// When the last request ended, on `clock`; held for a whole request, so requests through
    /// one fetcher never overlap.
    last_done: tokio::sync::Mutex<Option<Duration>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to.
enum Attempt {
    Done(Vec<u8>),
    /// Worth another try, after at least this long (a `Retry-After`) or the backoff.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    Fail(FetchError),
}

impl Fetcher {
    pub fn new(config: HttpConfig, clock: Arc<dyn Clock>) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| FetchError::Setup(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            client,
            config,
            clock,
            last_done: tokio::sync::Mutex::new(None),
        })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// GETs `url` and returns the body of a 2xx answer, retrying what is worth retrying.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        check_scheme(url)?;
        let mut last_done = self.last_done.lock().await;
        let mut attempts = 0;
        let mut wait = Duration::ZERO;
        loop {
            attempts += 1;
            let since_last = last_done.map(|t| self.clock.now().saturating_sub(t));
            let polite = since_last.map_or(Duration::ZERO, |s| {
                self.config.politeness_gap.saturating_sub(s)
            });
            let pause = wait.max(polite);
            if !pause.is_zero() {
                self.clock.sleep(pause).await;
            }
            tracing::debug!(http.url = %url, http.attempt = attempts, "fetching");
            let attempt = self.attempt(url).await;
            *last_done = Some(self.clock.now());
            match attempt {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { reason, after } => {
                    if attempts > self.config.retries {
                        return Err(FetchError::Unavailable {
                            url: url.to_string(),
                            attempts,
                            reason,
                        });
                    }
                    if let Some(after) = after
                        && after > self.config.max_retry_after
                    {
                        return Err(FetchError::Unavailable {
                            url: url.to_string(),
                            attempts,
                            reason: format!(
                                "{reason}; Retry-After {} s is longer than the {} s allowed",
                                after.as_secs(),
                                self.config.max_retry_after.as_secs()
                            ),
                        });
                    }
                    let backoff = self
                        .config
                        .backoff
                        .saturating_mul(1 << (attempts - 1).min(16));
                    wait = after.unwrap_or(backoff);
                    tracing::warn!(
                        http.url = %url,
                        http.attempt = attempts,
                        retry_in_ms = wait.as_millis() as u64,
                        %reason,
                        "fetch failed; retrying"
                    );
                }
            }
        }
    }

    async fn attempt(&self, url: &Url) -> Attempt {
        let response = match self.client.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    reason: transport_reason(&e),
                    after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match self.read_body(url, response, status.is_success()).await {
            Ok(body) => body,
            Err(attempt) => return attempt,
        };
        if status.is_success() {
            return Attempt::Done(body);
        }
        let reason = format!("HTTP {status}: {}", body_excerpt(&body));
        if status.is_server_error() || status.as_u16() == 429 {
            Attempt::Retry {
                reason,
                after: retry_after,
            }
        } else {
            Attempt::Fail(FetchError::Refused {
                url: url.to_string(),
                status: status.as_u16(),
                reason: body_excerpt(&body),
            })
        }
    }
}

impl Fetcher {
    /// Reads the body in chunks up to the limit. A successful answer over it fails the fetch
    /// (retrying would fetch it again); of an error answer only the start is kept, for the
    /// message.
    async fn read_body(
        &self,
        url: &Url,
        mut response: reqwest::Response,
        success: bool,
    ) -> Result<Vec<u8>, Attempt> {
        /// Of an error answer, enough to quote.
        const ERROR_BODY_BYTES: u64 = 64 * 1024;
        let max = self.config.max_body_bytes;
        let too_large = || {
            Attempt::Fail(FetchError::TooLarge {
                url: url.to_string(),
                limit: describe_bytes(max),
            })
        };
        if success && response.content_length().is_some_and(|length| length > max) {
            return Err(too_large());
        }
        let keep = if success {
            max
        } else {
            max.min(ERROR_BODY_BYTES)
        };
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > keep {
                        if success {
                            return Err(too_large());
                        }
                        let room = usize::try_from(keep).unwrap_or(usize::MAX) - body.len();
                        body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                        return Ok(body);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    return Err(Attempt::Retry {
                        reason: format!("reading the answer: {}", transport_reason(&e)),
                        after: None,
                    });
                }
            }
        }
    }
}

/// A byte count in words: MiB when whole, else bytes.
fn describe_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

fn check_scheme(url: &Url) -> Result<(), FetchError> {
    match url.scheme() {
        "http" => Ok(()),
        "https" if cfg!(feature = "tls") => Ok(()),
        "https" => Err(FetchError::Setup(format!(
            "{url}: https needs paperfeed built with TLS (cargo build --release --features tls)"
        ))),
        other => Err(FetchError::Setup(format!(
            "{url}: only http(s) URLs can be fetched, not {other}:"
        ))),
    }
}

/// reqwest's error with its causes, which say what really happened (reset, refused …).
fn transport_reason(e: &reqwest::Error) -> String {
    let mut reason = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// The start of an error body, on one line, for messages.
fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "(empty body)".to_owned()
    } else {
        line
    }
}

/// Parses a configured base URL, naming the setting when it is wrong.
fn base_url(what: &str, base: &str) -> Result<Url, FetchError> {
    let url = Url::parse(base)
        .map_err(|e| FetchError::Setup(format!("{what} base URL {base:?}: {e}")))?;
    check_scheme(&url)?;
    Ok(url)
}

/// `base` with `path` appended to its path (keeping any prefix a proxy adds).
fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url.set_query(None);
    url
}

/// The records of a page split into papers, the rejections kept with their reasons and the
/// count of those only counted, or the page's fatal error.
fn split_records(
    url: &Url,
    parsed: crate::Parsed,
) -> Result<(Vec<paperfeed_core::NewPaper>, Rejections), FetchError> {
    if let Some(fatal) = parsed.fatal {
        return Err(FetchError::BadPage {
            url: url.to_string(),
            reason: fatal.to_string(),
        });
    }
    let mut papers = Vec::with_capacity(parsed.records.len());
    let mut rejected = Rejections {
        listed: Vec::new(),
        unlisted: parsed.rejected_not_kept,
    };
    for record in parsed.records {
        match record {
            Ok(p) => papers.push(p),
            Err(e) => rejected.listed.push(e),
        }
    }
    Ok((papers, rejected))
}

/// The records of a page that were rejected: the first ones with their reasons, the rest
/// only counted (a page of nothing but bad records must not cost a reason each).
#[derive(Debug, Default)]
pub struct Rejections {
    pub listed: Vec<RecordError>,
    pub unlisted: u64,
}

impl Rejections {
    /// All of them, listed or not.
    pub fn count(&self) -> u64 {
        self.listed.len() as u64 + self.unlisted
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }
}
