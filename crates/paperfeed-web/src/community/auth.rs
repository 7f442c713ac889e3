//! Who is asking: cookies, the [`Viewer`] extractor and CSRF checks. Passwords (argon2id) and
//! the random secrets known to the store only by their SHA-256 (session ids, API tokens) are
//! the application layer's ([`paperfeed_app::accounts`]), re-exported here.
//!
//! Sessions are server-side: the cookie holds a random 256-bit id, the store its hash, so a
//! leaked database lets nobody in. Every state-changing form carries a CSRF token: the
//! session's synchronizer token when logged in; for the anonymous forms (sign up, log in) a
//! double-submit token, the same random value in a cookie and in the form.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use paperfeed_app::accounts::AccountError;
pub use paperfeed_app::accounts::{
    hash_password, hash_secret, new_api_token, new_secret, verify_password,
};
use paperfeed_store::{Session, User};

use crate::error::AppError;
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "pf_session";
/// The double-submit CSRF cookie of anonymous forms.
pub const CSRF_COOKIE: &str = "pf_csrf";

impl From<AccountError> for AppError {
    /// An account use case's failure; a taken name or address is answered by the page that
    /// asked, before this.
    fn from(e: AccountError) -> Self {
        crate::error::failed(e)
    }
}

/// Runs slow password work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| crate::error::failed_at("hashing a password", e))
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path /, Secure when the hub is served over
/// https. `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static("pf_invalid=; Max-Age=0"))
}

/// Whether two secrets are equal, in time that depends only on their length.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The logged-in session of the request, if any.
#[derive(Clone, Debug)]
pub struct Viewer(pub Option<Session>);

impl Viewer {
    pub fn user(&self) -> Option<&User> {
        self.0.as_ref().map(|s| &s.user)
    }

    /// The session, or the answer that sends a logged-out visitor to log in.
    pub fn require(&self, back_to: &str) -> Result<&Session, AppError> {
        self.0.as_ref().ok_or_else(|| AppError::LogInFirst {
            next: back_to.to_owned(),
        })
    }

    /// The session whose synchronizer token `sent` matches; 403 otherwise. Logged out: 303 to
    /// the log-in page.
    pub fn require_csrf(&self, sent: &str, back_to: &str) -> Result<&Session, AppError> {
        let session = self.require(back_to)?;
        if same_secret(&session.csrf_token, sent) {
            Ok(session)
        } else {
            Err(csrf_refused())
        }
    }
}

pub fn csrf_refused() -> AppError {
    AppError::Forbidden(
        "This form's security token is missing or out of date (CSRF check). Go back, reload \
         the page and send the form again."
            .to_owned(),
    )
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // Read once per request by `reader_header::splice_header`, when it ran.
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
            return Ok(Viewer(None));
        };
        let session = state.store.session(&hash_secret(id), Utc::now()).await?;
        Ok(Viewer(session))
    }
}

/// The user an `Authorization: Bearer` API token belongs to.
pub async fn bearer_user(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, AppError> {
    let Some(token) = bearer_token(headers) else {
        return Ok(None);
    };
    Ok(state.store.user_by_api_token(&hash_secret(token)).await?)
}

/// The token of an `Authorization: Bearer TOKEN` header, trimmed; `None` when absent or empty.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x_pf_session=1; pf_session=abc"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None);
        let set = set_cookie(SESSION_COOKIE, "v", 60, true);
        let set = set.to_str().unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"));
    }
}
