//! Downloading one pinned file from a Hub: `GET {endpoint}/{repo}/resolve/{commit}/{path}`,
//! the Hub's redirect for a file in Git LFS followed, the body streamed into a temporary file
//! and hashed on the way, then checked (size and SHA-256) before it takes its blob's name.
//!
//! No token is sent (the model is public), so following a redirect to the Hub's storage
//! host gives nothing away; the pinned hashes make a mirror or a plain-http endpoint unable to
//! change a byte. Redirects: at most [`MAX_REDIRECTS`], never from https down to http.
//! A broken connection, a cut-off body or a 5xx / 429 is tried again ([`FetchConfig`]); a
//! refusal, a wrong size or a wrong hash is not.

use std::time::{Duration, Instant};

use reqwest::Url;
use sha2::{Digest as _, Sha256};

use super::FetchError;
use super::hub_cache::{RepoCache, hex};
use super::pin::PinnedFile;
use super::progress::Progress;

/// Redirects followed for one file (the Hub uses one, to its storage).
pub const MAX_REDIRECTS: usize = 5;

/// How files are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Attempts per file for failures worth another try.
    pub attempts: u32,
    /// Wait before the second attempt; it doubles with each further one.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// The longest wait for the next bytes of an answer (no limit on a whole download: 90 MB
    /// on a slow line takes what it takes).
    pub read_timeout: Duration,
    pub user_agent: String,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            user_agent: paperfeed_ingest::fetch::HttpConfig::default_user_agent(),
        }
    }
}

/// A reqwest error with its causes ("error sending request: connection refused").
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why a redirect to `next` after `previous` (the URLs asked so far) is not followed, if it
/// is not: one too many, or a step down from https to plain http.
pub fn redirect_refusal(previous: &[Url], next: &Url) -> Option<&'static str> {
    if previous.len() > MAX_REDIRECTS {
        Some("too many redirects")
    } else if next.scheme() != "https" && previous.iter().any(|u| u.scheme() == "https") {
        Some("redirected from https to plain http")
    } else {
        None
    }
}

/// Fetches files of one repository at one commit from one endpoint.
pub struct Downloader {
    client: reqwest::Client,
    config: FetchConfig,
    /// `{endpoint}/{repo}/resolve/{commit}/`
    base: Url,
}

impl Downloader {
    pub fn new(
        config: &FetchConfig,
        endpoint: &str,
        repo: &str,
        revision: &str,
    ) -> Result<Self, FetchError> {
        let bad_endpoint = || FetchError::Endpoint {
            endpoint: endpoint.to_owned(),
        };
        let mut base = Url::parse(endpoint).map_err(|_| bad_endpoint())?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad_endpoint());
        }
        base.path_segments_mut()
            .map_err(|()| bad_endpoint())?
            .pop_if_empty()
            .extend(repo.split('/'))
            .extend(["resolve", revision, ""]);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::custom(
                |attempt| match redirect_refusal(attempt.previous(), attempt.url()) {
                    Some(why) => attempt.error(why),
                    None => attempt.follow(),
                },
            ))
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(FetchError::Client)?;
        Ok(Self {
            client,
            config: config.clone(),
            base,
        })
    }

    pub fn url_of(&self, file: &PinnedFile) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop().extend(file.path.split('/'));
        }
        url
    }

    /// Downloads `file` into its blob in `repo`, trying again when that may help.
    pub async fn fetch(
        &self,
        repo: &RepoCache,
        file: &PinnedFile,
        progress: &mut Progress,
    ) -> Result<(), FetchError> {
        let url = self.url_of(file);
        progress.start(file, &url);
        let mut attempt = 1;
        loop {
            match self.fetch_once(&url, repo, file, progress).await {
                Ok(()) => {
                    progress.done();
                    return Ok(());
                }
                Err(e) if e.worth_retrying() && attempt < self.config.attempts => {
                    let wait = self.config.backoff * 2u32.saturating_pow(attempt - 1);
                    tracing::warn!(
                        file = file.path,
                        attempt,
                        error = %e,
                        retry_in_seconds = wait.as_secs_f64(),
                        "fetching a model file failed; trying again"
                    );
                    progress.restart();
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn fetch_once(
        &self,
        url: &Url,
        repo: &RepoCache,
        file: &PinnedFile,
        progress: &mut Progress,
    ) -> Result<(), FetchError> {
        let mut response =
            self.client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| FetchError::Unreachable {
                    url: url.to_string(),
                    reason: chain(&e),
                })?;
        // The URL after redirects, for messages, without its query: the Hub's storage links are
        // signed there, and a signature has no place in a log.
        let mut from = response.url().clone();
        from.set_query(None);
        let from = from.to_string();
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Refused {
                url: from,
                status: status.as_u16(),
            });
        }
        if let Some(announced) = response.content_length()
            && announced != file.size
        {
            return Err(FetchError::WrongSize {
                path: file.path,
                url: from,
                announced,
                size: file.size,
            });
        }
        let mut blob = repo.temp_blob(file)?;
        let mut hasher = Sha256::new();
        let mut got = 0u64;
        let started = Instant::now();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    return Err(FetchError::Truncated {
                        path: file.path,
                        url: from,
                        got,
                        size: file.size,
                        reason: chain(&e),
                    });
                }
            };
            got += chunk.len() as u64;
            if got > file.size {
                return Err(FetchError::Mismatch {
                    path: file.path,
                    url: from,
                    found: format!("longer than its {} bytes", file.size),
                });
            }
            hasher.update(&chunk);
            blob.write(&chunk)?;
            progress.advance(chunk.len() as u64);
        }
        if got < file.size {
            return Err(FetchError::Truncated {
                path: file.path,
                url: from,
                got,
                size: file.size,
                reason: "the connection was closed".to_owned(),
            });
        }
        let sha256 = hex(&hasher.finalize());
        if sha256 != file.sha256 {
            return Err(FetchError::Mismatch {
                path: file.path,
                url: from,
                found: format!("SHA-256 {sha256}, expected {}", file.sha256),
            });
        }
        blob.commit()?;
        tracing::debug!(
            file = file.path,
            bytes = got,
            seconds = started.elapsed().as_secs_f64(),
            "model file checked and in the cache"
        );
        Ok(())
    }
}
