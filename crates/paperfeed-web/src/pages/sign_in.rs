//! Signing in through identity providers (`paperfeed_app::identity`): the "Sign in with …"
//! forms start a sign-in (`POST /auth/{provider}/start`), the provider sends the browser back
//! to `GET /auth/{provider}/callback`, a new reader picks a user name at `/auth/signup`, and a
//! signed-in reader links (`POST /account/identities/{provider}/link`) and unlinks
//! (`POST /account/identities/unlink`) identities on the account page.
//!
//! The browser that starts a sign-in gets a cookie (`pf_oidc`, path `/auth`, ten minutes)
//! whose hash the pending sign-in keeps: a callback from another browser (a link someone was
//! sent, a login-CSRF attempt) is refused. Starts and callbacks are rate-limited per client
//! address, links and unlinks per reader.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use paperfeed_app::identity::{Callback, Finished, Purpose, SignIn, SignInError};
use serde::Deserialize;

use crate::community::auth::{Viewer, cookie};
use crate::community::rate_limit::Action;
use crate::error::{AppError, failed};
use crate::forms::{FieldView, FormPage, anonymous_csrf, check_anonymous_csrf, with_cookie};
use crate::redirect::see_other;
use crate::sessions::start_session;
use crate::state::AppState;
use crate::syndication::base_url;
use crate::views::Link;

/// The sign-in routes: mounted after the validators, since what they answer depends on
/// cookies and pending sign-ins, never on the store's change counter.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/auth/{provider}/start", post(start))
        .route("/auth/{provider}/callback", get(callback))
        .route("/auth/signup", get(show_signup).post(finish_signup))
        .route("/account/identities/{provider}/link", post(link))
        .route("/account/identities/unlink", post(unlink))
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::body_limit::limit_body))
}

/// `error` and its causes, `: `-separated, for one log line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The browser's half of a sign-in in flight.
const LOGIN_COOKIE: &str = "pf_oidc";
/// The browser's claim on a sign-up waiting for a user name.
const SIGNUP_COOKIE: &str = "pf_oidc_signup";

fn service(state: &AppState) -> Result<&SignIn, AppError> {
    state
        .sign_in
        .as_deref()
        .filter(|s| !s.providers().is_empty())
        .ok_or_else(|| AppError::NotFound {
            title: "No sign-in providers".into(),
            message: "This hub signs nobody in through another site.".into(),
            suggestions: vec![Link::new("/login", "Log in")],
        })
}

/// A cookie under `/auth` only, for `max_age_secs` (0 deletes it).
fn auth_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.community.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static("pf_invalid=; Max-Age=0"))
}

/// The address the provider sends the browser back to.
fn callback_url(state: &AppState, headers: &HeaderMap, provider: &str) -> String {
    format!("{}/auth/{provider}/callback", base_url(state, headers))
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Refused(refusal) => {
                AppError::BadRequest(format!("Sign-in refused: {refusal}."))
            }
            SignInError::Unreachable { ref provider, .. } => {
                tracing::warn!(error = %chain(&e), "a sign-in provider failed");
                AppError::Unavailable {
                    message: format!("{provider} could not be reached just now; try again soon."),
                    retry_after_secs: 30,
                }
            }
            SignInError::Account(_) => failed(e),
        }
    }
}

/// The provider's authorization address (another site: not through the same-site rule of
/// [`see_other`]), with the browser's cookie.
fn to_provider(state: &AppState, authorize_url: &str, browser_secret: &str) -> Response {
    let location =
        HeaderValue::from_str(authorize_url).unwrap_or_else(|_| HeaderValue::from_static("/login"));
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (
                header::SET_COOKIE,
                auth_cookie(
                    state,
                    LOGIN_COOKIE,
                    browser_secret,
                    paperfeed_app::identity::LOGIN_MINUTES * 60,
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

#[derive(Deserialize, Default)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// `POST /auth/{provider}/start`: a "Sign in with …" button of the log-in or sign-up page.
pub async fn start(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    parts: axum::http::Extensions,
    Form(form): Form<StartForm>,
) -> Result<Response, AppError> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    state
        .community
        .limit_client(Action::SignInStart, &headers, &parts)?;
    let sign_in = service(&state)?;
    let next = form
        .next
        .as_deref()
        .map_or_else(|| "/".to_owned(), crate::redirect::same_site_or_home);
    let begun = sign_in
        .begin(
            &*state.store,
            &provider,
            Purpose::SignIn,
            &callback_url(&state, &headers, &provider),
            next,
            Utc::now(),
        )
        .await?;
    Ok(to_provider(
        &state,
        &begun.authorize_url,
        &begun.browser_secret,
    ))
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /account/identities/{provider}/link`: the signed-in reader links a provider.
pub async fn link(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    viewer: Viewer,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/account")?;
    state
        .community
        .limit(Action::SignInStart, &format!("user:{}", session.user.id.0))?;
    let begun = service(&state)?
        .begin(
            &*state.store,
            &provider,
            Purpose::Link(session.user.id.0),
            &callback_url(&state, &headers, &provider),
            "/account#identities".to_owned(),
            Utc::now(),
        )
        .await?;
    Ok(to_provider(
        &state,
        &begun.authorize_url,
        &begun.browser_secret,
    ))
}

#[derive(Deserialize, Default)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// `GET /auth/{provider}/callback`: where the provider sends the browser back.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    parts: axum::http::Extensions,
    viewer: Viewer,
    Query(params): Query<CallbackParams>,
) -> Result<Response, AppError> {
    state
        .community
        .limit_client(Action::SignInCallback, &headers, &parts)?;
    let sign_in = service(&state)?;
    let finished = sign_in
        .finish(
            &*state.store,
            &provider,
            Callback {
                code: params.code,
                state: params.state,
                error: params.error,
                iss: params.iss,
            },
            cookie(&headers, LOGIN_COOKIE),
            viewer.user().map(|u| u.id),
            Utc::now(),
        )
        .await;
    let clear = auth_cookie(&state, LOGIN_COOKIE, "", 0);
    let mut response = match finished {
        Ok(Finished::SignedIn { user, next }) => {
            start_session(&state, &headers, &user, &next).await?
        }
        Ok(Finished::Linked { .. }) => see_other("/account#identities"),
        Ok(Finished::NeedsSignUp { secret }) => {
            let mut response = see_other("/auth/signup");
            response.headers_mut().append(
                header::SET_COOKIE,
                auth_cookie(
                    &state,
                    SIGNUP_COOKIE,
                    &secret,
                    paperfeed_app::identity::SIGNUP_MINUTES * 60,
                ),
            );
            response
        }
        Err(e) => {
            let mut response = AppError::from(e).into_response();
            response.headers_mut().append(header::SET_COOKIE, clear);
            return Ok(response);
        }
    };
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

fn signup_form(
    pending: &paperfeed_app::identity::PendingSignUp,
    provider_label: &str,
    csrf: String,
    username: &str,
    email: &str,
    error: Option<String>,
) -> FormPage {
    let mut fields =
        vec![FieldView::new("username", "User name", "text").filled(username, "username")];
    let note = match &pending.verified_email {
        Some(address) => format!(
            "You are signing up with your {provider_label} account. Your address {address} is \
             the one {provider_label} verified. Pick a user name (letters, digits, - and _)."
        ),
        None => {
            fields.push(FieldView::new("email", "Email", "email").filled(email, "email"));
            format!(
                "You are signing up with your {provider_label} account. Pick a user name \
                 (letters, digits, - and _) and give your email address."
            )
        }
    };
    FormPage {
        title: "Sign up",
        action: "/auth/signup",
        csrf,
        next: None,
        note: Some(note),
        error,
        fields,
        submit_label: "Create my account",
        links: vec![Link::new("/login", "Already have an account? Log in")],
        providers: Vec::new(),
    }
}

fn provider_label(sign_in: &SignIn, name: &str) -> String {
    sign_in
        .provider(name)
        .map_or_else(|| name.to_owned(), |p| p.display_name.clone())
}

fn no_pending() -> AppError {
    AppError::BadRequest(
        "This sign-up has expired or was finished: sign in with the provider again.".into(),
    )
}

/// `GET /auth/signup`: the user name form of a new reader who came through a provider.
pub async fn show_signup(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let sign_in = service(&state)?;
    let secret = cookie(&headers, SIGNUP_COOKIE).ok_or_else(no_pending)?;
    let pending = sign_in
        .pending_signup(&*state.store, secret, Utc::now())
        .await?
        .ok_or_else(no_pending)?;
    let (csrf, set) = anonymous_csrf(&state, &headers)?;
    let page = signup_form(
        &pending,
        &provider_label(sign_in, &pending.provider),
        csrf,
        &pending.suggested_username,
        pending.unverified_email.as_deref().unwrap_or_default(),
        None,
    )
    .respond(StatusCode::OK)?;
    let mut page = with_cookie(page, set);
    // It shows the address the provider gave: kept by no cache.
    page.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(page)
}

#[derive(Deserialize, Default)]
pub struct SignupForm {
    #[serde(default)]
    username: String,
    email: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// `POST /auth/signup`: creates the account (no password) with its first identity.
pub async fn finish_signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    parts: axum::http::Extensions,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    state
        .community
        .limit_client(Action::SignUp, &headers, &parts)?;
    let sign_in = service(&state)?;
    let secret = cookie(&headers, SIGNUP_COOKIE).ok_or_else(no_pending)?;
    match sign_in
        .complete_signup(
            &*state.store,
            secret,
            &form.username,
            form.email.as_deref(),
            Utc::now(),
        )
        .await
    {
        Ok((user, next)) => {
            let mut response = start_session(&state, &headers, &user, &next).await?;
            response.headers_mut().append(
                header::SET_COOKIE,
                auth_cookie(&state, SIGNUP_COOKIE, "", 0),
            );
            Ok(response)
        }
        Err(SignInError::Refused(refusal)) => {
            // The form again, with what was typed and why it was refused, while the sign-up
            // waits.
            let pending = sign_in
                .pending_signup(&*state.store, secret, Utc::now())
                .await?
                .ok_or_else(no_pending)?;
            let typed_name: String = form.username.chars().take(64).collect();
            let typed_email: String = form.email.unwrap_or_default().chars().take(254).collect();
            signup_form(
                &pending,
                &provider_label(sign_in, &pending.provider),
                form.csrf.clone(),
                &typed_name,
                &typed_email,
                Some(format!("{}.", capitalise(&refusal.to_string()))),
            )
            .respond(StatusCode::BAD_REQUEST)
        }
        Err(e) => Err(e.into()),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[derive(Deserialize, Default)]
pub struct UnlinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    subject: String,
}

/// `POST /account/identities/unlink`: unlinks one identity while another way in remains.
pub async fn unlink(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<UnlinkForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/account")?;
    state
        .community
        .limit(Action::SignInStart, &format!("user:{}", session.user.id.0))?;
    let Some(sign_in) = state.sign_in.as_deref() else {
        return Err(AppError::BadRequest(
            "That identity is not linked to your account.".into(),
        ));
    };
    sign_in
        .unlink(
            &*state.store,
            session.user.id,
            &form.provider,
            &form.subject,
        )
        .await?;
    Ok(see_other("/account#identities"))
}
