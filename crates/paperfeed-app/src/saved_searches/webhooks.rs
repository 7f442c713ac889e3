//! Webhooks of saved searches: a signed JSON POST for each new match, at most once per paper
//! per hook, retried with backoff, logged.
//!
//! For receivers. Each POST carries one new paper (the `papers` array has one item today):
//!
//! ```text
//! POST <your URL>
//! Content-Type: application/json
//! User-Agent: paperfeed-webhooks
//! X-Paperfeed-Timestamp: 1764662400                 (Unix seconds of this attempt)
//! X-Paperfeed-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>", key: the hook's secret>
//! X-Paperfeed-Delivery: <id>                        (the same on every retry: deduplicate on it)
//! Idempotency-Key: paperfeed-delivery-<id>
//!
//! {"search": {"id", "name", "query", "mode", "sort"}, "papers": [<the API's paper shape>]}
//! ```
//!
//! Verify by recomputing the HMAC over the raw body bytes with the timestamp header, compare
//! in constant time, and refuse timestamps older than a few minutes (replays). Any 2xx answer
//! counts as delivered; anything else (or no answer within the timeout) is retried after
//! `first_retry` doubling up to `max_retry`, at most `max_attempts` times, then the delivery
//! is marked failed. Redirects are not followed (a 3xx is a failure).
//!
//! SSRF: a target's host is resolved and every address checked with
//! `paperfeed_core::is_internal_address` when the hook is saved and again at every attempt,
//! and the request connects to the address that was checked (no second lookup a DNS rebinding
//! could change), unless the operator set `allow_private_targets`.
//!
//! Sending: a delivery row per (hook, paper) is written with the match, before anything is
//! sent (see `SavedSearchStore::record_matches`); [`deliver_due`] claims due rows for a lease,
//! so several nodes never send one at once, and a process that dies mid-send leaves the row
//! to be retried once the lease ends — the only way a receiver sees a paper twice, with the
//! same delivery id.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use paperfeed_core::{ArxivId, Paper};
use paperfeed_store::{
    AttemptOutcome, ClaimedDelivery, SavedSearch, SavedSearchId, Store, StoreError, UserId, Webhook,
};
use sha2::Sha256;

/// The longest target URL, in characters.
pub const MAX_URL_CHARS: usize = 2000;
/// How much of a receiver's answer is read (and at most this much kept in the log).
const ANSWER_CAP: usize = 4096;
/// How much of an error is kept in the delivery log.
const ERROR_CAP: usize = 300;

/// The shape papers take in the body: the API's (the web's `PaperJson`), handed in by the
/// binary since this crate knows no HTTP view.
pub type PaperShape = Arc<dyn Fn(&Paper) -> serde_json::Value + Send + Sync>;

/// How webhooks are checked and sent.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The operator's `[webhooks] allow_private_targets`: lets hooks reach loopback, private
    /// and link-local addresses (tests, a hub inside a trusted network).
    pub allow_private_targets: bool,
    /// Connecting and the whole request, each.
    pub timeout: Duration,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: i64,
    /// The wait before the second attempt; doubles each time up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// How long a claimed delivery is left to its sender before another may take it.
    pub lease: Duration,
    /// Deliveries claimed per round.
    pub batch: usize,
    pub paper_shape: PaperShape,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("allow_private_targets", &self.allow_private_targets)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    /// The defaults: private targets refused, 10 s timeout, 8 attempts from 30 s doubling to
    /// an hour (about two hours in all).
    pub fn new(paper_shape: PaperShape) -> Self {
        WebhookConfig {
            allow_private_targets: false,
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
            batch: 20,
            paper_shape,
        }
    }

    /// When attempt number `attempts` (1-based) failed at `at`, the next try; `None`: give up.
    pub fn retry_at(&self, attempts: i64, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let shift = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let wait = self
            .first_retry
            .saturating_mul(1 << shift)
            .min(self.max_retry);
        Some(at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()))
    }
}

/// Why a webhook was not set (or an attempt could not start).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Your input: not an http(s) URL with a host, or too long.
    #[error("url: {0}")]
    InvalidUrl(String),
    /// Your input: the host resolves to an address inside the hub's network.
    #[error("url: {host} resolves to {address}, an internal address webhooks may not reach")]
    InternalTarget { host: String, address: IpAddr },
    /// Your input (or the network): the host does not resolve.
    #[error("url: {0} does not resolve")]
    Unresolved(String),
    /// Your input: no such saved search.
    #[error("no such saved search")]
    NotFound,
    /// We failed: the OS random source.
    #[error("the OS random source failed")]
    Random,
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl WebhookError {
    /// Whether it is the caller's input (safe to show) rather than our failure.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, WebhookError::Random | WebhookError::Store(_))
    }
}

/// A target that passed the check: the URL and the address to connect to.
#[derive(Clone, Debug)]
pub struct CheckedTarget {
    pub url: reqwest::Url,
    pub host: String,
    pub address: SocketAddr,
}

/// Parses `raw` and resolves its host; refuses internal addresses unless `allow_private`.
/// Every address the host resolves to must pass (a host with one public and one private
/// address is refused); the first is the one to connect to.
pub async fn check_target(raw: &str, allow_private: bool) -> Result<CheckedTarget, WebhookError> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(WebhookError::InvalidUrl(format!(
            "at most {MAX_URL_CHARS} characters"
        )));
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|e| WebhookError::InvalidUrl(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(WebhookError::InvalidUrl(
            "use an http:// or https:// URL".into(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookError::InvalidUrl(
            "no user name or password in the URL: the signature authenticates the hub".into(),
        ));
    }
    // IPv6 literals come bracketed (`[::1]`); the resolver takes them bare.
    let host = match url.host_str() {
        Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
        _ => return Err(WebhookError::InvalidUrl("the URL has no host".into())),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| WebhookError::InvalidUrl("the URL has no port".into()))?;
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| WebhookError::Unresolved(host.clone()))?
        .collect();
    let Some(first) = addresses.first().copied() else {
        return Err(WebhookError::Unresolved(host));
    };
    if !allow_private
        && let Some(bad) = addresses
            .iter()
            .find(|a| paperfeed_core::is_internal_address(a.ip()))
    {
        return Err(WebhookError::InternalTarget {
            host,
            address: bad.ip(),
        });
    }
    Ok(CheckedTarget {
        url,
        host,
        address: first,
    })
}

/// A hook just set: the secret is shown to the reader once, here.
#[derive(Clone, Debug)]
pub struct CreatedHook {
    pub hook: Webhook,
}

/// Sets (or replaces, with a new secret) the webhook of one of `user`'s saved searches, after
/// checking the target.
pub async fn set_webhook(
    store: &dyn Store,
    user: UserId,
    search: SavedSearchId,
    url: &str,
    allow_private: bool,
    now: DateTime<Utc>,
) -> Result<CreatedHook, WebhookError> {
    let target = check_target(url, allow_private).await?;
    let secret = new_secret()?;
    let hook = store
        .set_webhook(user, search, target.url.to_string(), secret, now)
        .await?
        .ok_or(WebhookError::NotFound)?;
    tracing::debug!(user.id = user.0, search.id = search.0, "webhook set");
    Ok(CreatedHook { hook })
}

/// Removes the webhook of one of `user`'s saved searches.
pub async fn delete_webhook(
    store: &dyn Store,
    user: UserId,
    search: SavedSearchId,
) -> Result<(), WebhookError> {
    if store.delete_webhook(user, search).await? {
        Ok(())
    } else {
        Err(WebhookError::NotFound)
    }
}

/// A new signing secret: 32 random bytes, `whsec_` + base64url.
fn new_secret() -> Result<String, WebhookError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| WebhookError::Random)?;
    Ok(format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The signature header's value: `sha256=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"`
/// keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The body of a delivery: the search and its new papers.
pub fn body(search: &SavedSearch, papers: &[Paper], shape: &PaperShape) -> Vec<u8> {
    let value = serde_json::json!({
        "search": {
            "id": search.id.0,
            "name": search.name,
            "query": search.query,
            "mode": search.mode,
            "sort": search.sort,
        },
        "papers": papers.iter().map(|p| shape(p)).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// What one round of sending did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub failed: usize,
}

/// Claims the deliveries due at `now` and attempts each once, recording how it went.
pub async fn deliver_due(
    store: &dyn Store,
    config: &WebhookConfig,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, StoreError> {
    let lease_until = now + chrono::Duration::from_std(config.lease).unwrap_or_default();
    let claimed = store
        .claim_deliveries(now, lease_until, config.batch)
        .await?;
    let mut report = DeliveryReport::default();
    if claimed.is_empty() {
        return Ok(report);
    }
    let ids: Vec<ArxivId> = claimed.iter().map(|c| c.delivery.paper.clone()).collect();
    let papers = store.get_papers(&ids).await?;
    for claim in claimed {
        let paper = papers.iter().find(|p| p.id == claim.delivery.paper);
        let outcome = attempt(&claim, paper, config).await;
        let at = Utc::now();
        let outcome = match outcome {
            Ok(status) => {
                report.delivered += 1;
                AttemptOutcome::Delivered { status }
            }
            Err((status, error)) => {
                report.failed += 1;
                let retry_at = config.retry_at(claim.delivery.attempts, at);
                tracing::info!(
                    webhook.id = claim.hook.id,
                    delivery.id = claim.delivery.id,
                    delivery.attempts = claim.delivery.attempts,
                    delivery.gave_up = retry_at.is_none(),
                    error = %error,
                    "webhook delivery failed"
                );
                AttemptOutcome::Failed {
                    status,
                    error,
                    retry_at,
                }
            }
        };
        store
            .finish_delivery(claim.delivery.id, outcome, at)
            .await?;
    }
    Ok(report)
}

/// The sender `serve` runs: every `interval`, sends what is due (each node claims its own
/// deliveries, so several nodes share the work without sending one twice) until `stop`.
pub async fn run(
    store: Arc<dyn Store>,
    config: WebhookConfig,
    interval: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        match deliver_due(&*store, &config, Utc::now()).await {
            // A full batch: more may be due at once.
            Ok(report) if report.delivered + report.failed >= config.batch => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "sending webhooks failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stop.cancelled() => {
                tracing::info!("webhook sender stopped");
                return;
            }
        }
    }
}

/// One attempt: the answer's status when 2xx, else the status (if any) and why.
async fn attempt(
    claim: &ClaimedDelivery,
    paper: Option<&Paper>,
    config: &WebhookConfig,
) -> Result<i64, (Option<i64>, String)> {
    let Some(paper) = paper else {
        return Err((None, "the paper is no longer on the hub".into()));
    };
    let target = check_target(&claim.hook.url, config.allow_private_targets)
        .await
        .map_err(|e| (None, cap(&e.to_string())))?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.timeout)
        .timeout(config.timeout)
        .user_agent("paperfeed-webhooks")
        // Connect to the address that was checked, not to a second lookup's answer.
        .resolve(&target.host, target.address)
        .no_proxy()
        .build()
        .map_err(|e| (None, cap(&format!("building the client: {e}"))))?;
    let body = body(
        &claim.search,
        std::slice::from_ref(paper),
        &config.paper_shape,
    );
    let timestamp = Utc::now().timestamp();
    let response = client
        .post(target.url)
        .header("content-type", "application/json")
        .header("x-paperfeed-timestamp", timestamp.to_string())
        .header(
            "x-paperfeed-signature",
            signature(&claim.hook.secret, timestamp, &body),
        )
        .header("x-paperfeed-delivery", claim.delivery.id.to_string())
        .header(
            "idempotency-key",
            format!("paperfeed-delivery-{}", claim.delivery.id),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| (None, cap(&describe(&e))))?;
    let status = i64::from(response.status().as_u16());
    let ok = response.status().is_success();
    let answer = read_capped(response).await;
    if ok {
        Ok(status)
    } else {
        Err((
            Some(status),
            cap(&format!("HTTP {status}: {}", answer.trim())),
        ))
    }
}

/// At most [`ANSWER_CAP`] bytes of an answer, as text.
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < ANSWER_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = ANSWER_CAP - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// A reqwest error with its causes, without the URL (it may carry a reader's secret path).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn cap(text: &str) -> String {
    text.chars().take(ERROR_CAP).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_of_timestamp_dot_body() {
        // The value Python's hmac.new(b"whsec_test", b"1700000000.{}", "sha256").hexdigest()
        // gives: what a receiver computes.
        let sig = signature("whsec_test", 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "sha256=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        assert_ne!(sig, signature("whsec_other", 1_700_000_000, b"{}"));
        assert_ne!(sig, signature("whsec_test", 1_700_000_001, b"{}"));
    }

    #[test]
    fn retries_double_up_to_the_cap_then_stop() {
        let mut config = WebhookConfig::new(Arc::new(|_| serde_json::Value::Null));
        config.first_retry = Duration::from_secs(10);
        config.max_retry = Duration::from_secs(35);
        config.max_attempts = 4;
        let at = Utc::now();
        let wait = |n| config.retry_at(n, at).map(|t| (t - at).num_seconds());
        assert_eq!(wait(1), Some(10));
        assert_eq!(wait(2), Some(20));
        assert_eq!(wait(3), Some(35));
        assert_eq!(wait(4), None);
    }

    #[tokio::test]
    async fn the_default_refuses_loopback_private_and_link_local_targets() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://[::1]:9000/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:127.0.0.1]/hook",
            "http://100.64.1.1/hook",
        ] {
            match check_target(url, false).await {
                Err(WebhookError::InternalTarget { .. }) => {}
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(
            check_target("http://127.0.0.1:8080/hook", true)
                .await
                .is_ok()
        );
        for url in [
            "ftp://example.org/",
            "http://user:pw@example.org/",
            "not a url",
        ] {
            assert!(matches!(
                check_target(url, true).await,
                Err(WebhookError::InvalidUrl(_))
            ));
        }
    }
}
