//! "Download my data" and "delete my account", in account settings (and the download in the
//! API, `GET /api/me/data`). The use cases are `paperfeed_app::account_data`.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use paperfeed_app::account_data::{self, AccountDataError};
use paperfeed_store::MailStore;
use serde::Deserialize;

use crate::community::auth::{SESSION_COOKIE, Viewer, set_cookie};
use crate::community::rate_limit::Action;
use crate::error::{AppError, failed, render_error};
use crate::state::AppState;

/// The outbox store, when the hub sends mail (the subscription lives there).
pub(crate) fn mail_store(state: &AppState) -> Option<&dyn MailStore> {
    state.mail_links.as_ref().map(|links| &*links.store)
}

/// The document "download my data" hands out, as an attachment named after the account.
pub(crate) fn data_response(data: &account_data::AccountData) -> Result<Response, AppError> {
    let body = serde_json::to_vec_pretty(data).map_err(failed)?;
    let name = format!(
        "attachment; filename=\"paperfeed-{}-{}.json\"",
        data.account.username,
        data.exported_at.format("%Y-%m-%d")
    );
    let disposition = HeaderValue::from_str(&name).map_err(failed)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

/// `GET /account/data`: everything the hub keeps about the signed-in reader.
pub async fn download(State(state): State<AppState>, viewer: Viewer) -> Result<Response, AppError> {
    let session = viewer.require("/account/data")?;
    let data = account_data::download(
        &*state.store,
        mail_store(&state),
        session.user.id,
        Utc::now(),
    )
    .await
    .map_err(failed)?;
    data_response(&data)
}

#[derive(Template)]
#[template(path = "account_delete.html")]
struct DeletePage {
    username: String,
    csrf: String,
    error: Option<String>,
    /// Without one (made through a provider), the reader types their user name to confirm.
    has_password: bool,
}

#[derive(Template)]
#[template(path = "account_deleted.html")]
struct DeletedPage {
    votes: u64,
    comments: u64,
    submissions: u64,
    subscription: bool,
}

fn delete_page(
    user: &paperfeed_store::User,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let page = DeletePage {
        username: user.username.to_string(),
        csrf: csrf.to_owned(),
        error: error.map(str::to_owned),
        has_password: !user.password_hash.is_empty(),
    };
    Ok((status, Html(page.render().map_err(render_error)?)).into_response())
}

/// `GET /account/delete`: what goes and what stays, and the form that confirms.
pub async fn show_delete(viewer: Viewer) -> Result<Response, AppError> {
    let session = viewer.require("/account/delete")?;
    delete_page(&session.user, &session.csrf_token, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /account/delete`: the password confirms; the session cookie is cleared with the account.
pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/account/delete")?;
    // A password check: limited like a password change, per signed-in reader.
    state
        .community
        .limit(Action::ChangePassword, &session.user.id.0.to_string())?;
    let deleted =
        match account_data::delete_account(&*state.store, &session.user, form.password).await {
            Ok(deleted) => deleted,
            Err(AccountDataError::WrongPassword) => {
                return delete_page(
                    &session.user,
                    &session.csrf_token,
                    Some(if session.user.password_hash.is_empty() {
                        "That is not your user name; nothing was deleted."
                    } else {
                        "The password is wrong; nothing was deleted."
                    }),
                    StatusCode::BAD_REQUEST,
                );
            }
            Err(AccountDataError::NoSuchAccount) => {
                return Err(AppError::not_found(
                    "No such account",
                    "This account is already deleted.",
                ));
            }
            Err(other) => return Err(failed(other)),
        };
    let clear = set_cookie(
        SESSION_COOKIE,
        "",
        0,
        state.community.settings.secure_cookies,
    );
    let page = DeletedPage {
        votes: deleted.votes_withdrawn,
        comments: deleted.comments_deleted,
        submissions: deleted.submissions_anonymised,
        subscription: deleted.subscription_removed,
    };
    Ok((
        [(header::SET_COOKIE, clear)],
        Html(page.render().map_err(render_error)?),
    )
        .into_response())
}
