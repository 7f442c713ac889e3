//! What the hub's plain forms share: the one form page (sign-up, log-in, password,
//! submission) and the double-submit CSRF token of forms sent without a session.

use askama::Template;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::community::SESSION_DAYS;
use crate::community::auth::{
    CSRF_COOKIE, cookie, csrf_refused, new_secret, same_secret, set_cookie,
};
use crate::error::{AppError, render_error};
use crate::state::AppState;
use crate::views::Link;

pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub autocomplete: &'static str,
}

impl FieldView {
    pub fn new(name: &'static str, label: &'static str, kind: &'static str) -> Self {
        Self {
            name,
            label,
            kind,
            value: String::new(),
            autocomplete: "off",
        }
    }

    pub fn filled(mut self, value: &str, autocomplete: &'static str) -> Self {
        self.value = value.to_owned();
        self.autocomplete = autocomplete;
        self
    }
}

/// A "Sign in with …" button: a POST form to `/auth/{name}/start`.
pub struct ProviderButton {
    pub name: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub title: &'static str,
    pub action: &'static str,
    pub csrf: String,
    pub next: Option<String>,
    pub note: Option<String>,
    pub error: Option<String>,
    pub fields: Vec<FieldView>,
    pub submit_label: &'static str,
    pub links: Vec<Link>,
    /// Identity providers to sign in with (log-in and sign-up pages), each a form of its own
    /// carrying `csrf` and `next`. With no `fields`, they are the page's only forms.
    pub providers: Vec<ProviderButton>,
}

impl FormPage {
    pub fn respond(&self, status: StatusCode) -> Result<Response, AppError> {
        Ok((status, Html(self.render().map_err(render_error)?)).into_response())
    }
}

/// The "Sign in with …" buttons of the configured providers (`verb`: "Sign in", "Sign up").
pub(crate) fn provider_buttons(state: &AppState, verb: &str) -> Vec<ProviderButton> {
    state
        .sign_in
        .as_ref()
        .map(|s| {
            s.providers()
                .iter()
                .map(|p| ProviderButton {
                    name: p.name.clone(),
                    label: format!("{verb} with {}", p.display_name),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The double-submit token of an anonymous form: the one in the visitor's cookie, or a new one
/// with the `Set-Cookie` that gives it.
pub(crate) fn anonymous_csrf(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, Option<Response>), AppError> {
    if let Some(token) = cookie(headers, CSRF_COOKIE).filter(|t| t.len() >= 32) {
        return Ok((token.to_owned(), None));
    }
    let token = new_secret()?;
    let set = set_cookie(
        CSRF_COOKIE,
        &token,
        SESSION_DAYS * 86_400,
        state.community.settings.secure_cookies,
    );
    Ok((
        token,
        Some(([(header::SET_COOKIE, set)], ()).into_response()),
    ))
}

/// Sends `page` with the CSRF cookie when a new one was made.
pub(crate) fn with_cookie(page: Response, set: Option<Response>) -> Response {
    match set {
        Some(cookie_source) => {
            let mut page = page;
            for v in cookie_source.headers().get_all(header::SET_COOKIE) {
                page.headers_mut().append(header::SET_COOKIE, v.clone());
            }
            page
        }
        None => page,
    }
}

pub(crate) fn check_anonymous_csrf(headers: &HeaderMap, sent: &str) -> Result<(), AppError> {
    match cookie(headers, CSRF_COOKIE) {
        Some(token) if token.len() >= 32 && same_secret(token, sent) => Ok(()),
        _ => Err(csrf_refused()),
    }
}
