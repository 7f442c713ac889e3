//! Starting a signed-in session, after a password log-in or sign-up and after a sign-in
//! through an identity provider: what the account pages and the sign-in pages share.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use paperfeed_store::{NewSession, User};

use crate::community::SESSION_DAYS;
use crate::community::auth::{SESSION_COOKIE, cookie, hash_secret, new_secret, set_cookie};
use crate::error::AppError;
use crate::redirect::see_other;
use crate::state::AppState;

/// Starts a new session for `user` (a fresh random id: never one the client brought, so a
/// planted id is useless) and answers with its cookie and a redirect to `next`. The session
/// the request came with, if any, ends.
pub(crate) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    next: &str,
) -> Result<Response, AppError> {
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        state.store.delete_session(&hash_secret(old)).await?;
    }
    let id = new_secret()?;
    let now = Utc::now();
    state
        .store
        .create_session(NewSession {
            id_hash: hash_secret(&id),
            user: user.id,
            csrf_token: new_secret()?,
            created_at: now,
            expires_at: now + Duration::days(SESSION_DAYS),
        })
        .await?;
    let set = set_cookie(
        SESSION_COOKIE,
        &id,
        SESSION_DAYS * 86_400,
        state.community.settings.secure_cookies,
    );
    Ok(([(header::SET_COOKIE, set)], see_other(next)).into_response())
}
