//! The HTTP client sign-ins reach providers with: reqwest (rustls when the binary is built
//! with TLS, as for the live sources), no redirects followed (a provider's endpoints answer
//! directly; following them would let an answer send the hub elsewhere), a timeout per request,
//! answers read up to [`MAX_ANSWER_BYTES`], and https only — plain http only to a loopback
//! address, and only when the operator allows it (tests).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

/// The most of a provider's answer read (discovery documents, keys and tokens are small).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a request to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0} is neither https nor allowed plain http on loopback")]
    Insecure(String),
    #[error("the request could not be made")]
    Build(#[source] reqwest::Error),
    #[error("the request failed")]
    Send(#[source] reqwest::Error),
    #[error("the answer is over {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("the request's task failed")]
    Task(#[source] tokio::task::JoinError),
    #[error("the answer could not be passed on")]
    Answer(#[source] openidconnect::http::Error),
}

#[derive(Clone)]
pub(super) struct HttpClient {
    client: reqwest::Client,
    allow_loopback_http: bool,
}

impl HttpClient {
    pub(super) fn new(timeout: Duration, allow_loopback_http: bool) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("paperfeed/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpError::Build)?;
        Ok(Self {
            client,
            allow_loopback_http,
        })
    }

    /// Whether `url` may be asked: https, or http on loopback when allowed.
    pub(super) fn check(&self, url: &url::Url) -> Result<(), HttpError> {
        allowed(url, self.allow_loopback_http)
            .then_some(())
            .ok_or_else(|| HttpError::Insecure(format!("{}://{}", url.scheme(), url.authority())))
    }

    pub(super) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` and reads its answer whole (up to the cap).
    pub(super) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(HttpError::Build)?;
        self.check(request.url())?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(HttpError::Send)?;
        read_capped(response).await
    }
}

/// The answer as `http` types, its body read up to [`MAX_ANSWER_BYTES`].
pub(super) async fn read_capped(
    mut response: reqwest::Response,
) -> Result<HttpResponse, HttpError> {
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(HttpError::Send)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(HttpError::Answer)
}

/// https anywhere; plain http only to a loopback address, and only when allowed.
pub(super) fn allowed(url: &url::Url, allow_loopback_http: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => allow_loopback_http && is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        // reqwest's futures are not `Sync`, which the trait asks for: the request runs as a
        // task of its own and this future only waits for it.
        let this = self.clone();
        let task = tokio::spawn(async move { this.send(request).await });
        Box::pin(async move {
            match task.await {
                Ok(answer) => answer,
                Err(e) => Err(HttpError::Task(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_allowed_loopback_http_is_asked() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert!(allowed(&url("https://huggingface.co/.well-known/x"), false));
        assert!(!allowed(&url("http://huggingface.co/"), true));
        assert!(!allowed(&url("http://127.0.0.1:4000/"), false));
        assert!(allowed(&url("http://127.0.0.1:4000/"), true));
        assert!(allowed(&url("http://[::1]:4000/"), true));
        assert!(allowed(&url("http://localhost:4000/"), true));
        assert!(!allowed(&url("http://10.0.0.1/"), true));
        assert!(!allowed(&url("ftp://127.0.0.1/"), true));
    }
}
