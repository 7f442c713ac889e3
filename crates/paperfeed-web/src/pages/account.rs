//! Accounts: sign up, log in, log out, change password, and API tokens in account settings.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use paperfeed_app::accounts::{self, AccountError, NewAccount};
use paperfeed_core::{EmailAddress, Password, Username};
use serde::Deserialize;

use crate::community::auth::{
    SESSION_COOKIE, Viewer, blocking, hash_password, set_cookie, verify_password,
};
use crate::community::client_ip;
use crate::community::rate_limit::{Action, MAX_LOGIN_DELAY};
use crate::error::{AppError, render_error};
use crate::forms::{
    FieldView, FormPage, ProviderButton, anonymous_csrf, check_anonymous_csrf, provider_buttons,
    with_cookie,
};
use crate::redirect::see_other;
use crate::sessions::start_session;
use crate::state::AppState;
use crate::views::Link;

/// Where to go after logging in: a path on this hub as a browser reads it, else the front
/// page (the one rule of [`crate::redirect`]).
fn safe_next(next: Option<&str>) -> String {
    next.map_or_else(
        || crate::redirect::FALLBACK.to_owned(),
        crate::redirect::same_site_or_home,
    )
}

#[derive(Deserialize, Default)]
pub struct NextParam {
    next: Option<String>,
}

fn passwords_off() -> AppError {
    AppError::Forbidden(
        "Password sign-in is turned off on this hub: sign in with one of the providers on the \
         log-in page."
            .to_owned(),
    )
}

fn signup_page(
    state: &AppState,
    csrf: String,
    next: Option<String>,
    form: &SignupForm,
    error: Option<String>,
) -> FormPage {
    let passwords = state.passwords_on();
    FormPage {
        title: "Sign up",
        action: "/signup",
        csrf,
        next,
        note: Some(if passwords {
            "Pick a user name (letters, digits, - and _) and a password of at least 10 characters."
                .into()
        } else {
            "Sign up with one of these accounts; you pick your user name next.".into()
        }),
        error,
        fields: if passwords {
            vec![
                FieldView::new("username", "User name", "text").filled(&form.username, "username"),
                FieldView::new("email", "Email", "email").filled(&form.email, "email"),
                FieldView::new("password", "Password", "password").filled("", "new-password"),
            ]
        } else {
            Vec::new()
        },
        submit_label: "Sign up",
        links: vec![Link::new("/login", "Already have an account? Log in")],
        providers: provider_buttons(state, "Sign up"),
    }
}

fn login_page(
    state: &AppState,
    csrf: String,
    next: Option<String>,
    username: &str,
    error: Option<String>,
) -> FormPage {
    FormPage {
        title: "Log in",
        action: "/login",
        csrf,
        next,
        note: None,
        error,
        fields: if state.passwords_on() {
            vec![
                FieldView::new("username", "User name", "text").filled(username, "username"),
                FieldView::new("password", "Password", "password").filled("", "current-password"),
            ]
        } else {
            Vec::new()
        },
        submit_label: "Log in",
        links: vec![Link::new("/signup", "No account yet? Sign up")],
        providers: provider_buttons(state, "Sign in"),
    }
}

pub async fn show_signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<NextParam>,
) -> Result<Response, AppError> {
    let (csrf, set) = anonymous_csrf(&state, &headers)?;
    let page =
        signup_page(&state, csrf, q.next, &SignupForm::default(), None).respond(StatusCode::OK)?;
    Ok(with_cookie(page, set))
}

pub async fn show_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<NextParam>,
) -> Result<Response, AppError> {
    let (csrf, set) = anonymous_csrf(&state, &headers)?;
    let page = login_page(&state, csrf, q.next, "", None).respond(StatusCode::OK)?;
    Ok(with_cookie(page, set))
}

#[derive(Deserialize, Default)]
pub struct SignupForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn sign_up(
    State(state): State<AppState>,
    headers: HeaderMap,
    parts: axum::http::Extensions,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    if !state.passwords_on() {
        return Err(passwords_off());
    }
    state
        .community
        .limit_client(Action::SignUp, &headers, &parts)?;
    let parsed = Username::parse(&form.username).and_then(|u| {
        Ok((
            u,
            EmailAddress::parse(&form.email)?,
            Password::parse(&form.password)?,
        ))
    });
    let again = |error: String| {
        signup_page(
            &state,
            form.csrf.clone(),
            form.next.clone(),
            &form,
            Some(error),
        )
        .respond(StatusCode::BAD_REQUEST)
    };
    let (username, email, password) = match parsed {
        Ok(p) => p,
        Err(e) => return again(format!("{} {}.", capitalised(e.field), e.reason)),
    };
    let account = NewAccount {
        username,
        email,
        password,
        is_admin: false,
    };
    let user = match accounts::create_user(&*state.store, account, Utc::now()).await {
        Ok(user) => user,
        Err(AccountError::Taken { field }) => {
            return again(format!(
                "{} is already taken: choose another.",
                capitalised(field)
            ));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user.id = user.id.0, "signed up");
    start_session(&state, &headers, &user, &safe_next(form.next.as_deref())).await
}

fn capitalised(field: &str) -> String {
    match field {
        "username" => "User name".into(),
        "email" => "Email".into(),
        "password" => "Password".into(),
        other => other.into(),
    }
}

/// The most of a typed user name shown again after a failed log-in.
const MAX_ECHOED_NAME: usize = 100;

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn log_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    parts: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    if !state.passwords_on() {
        return Err(passwords_off());
    }
    // Guessing is refused per address, and per address at one account; the account itself
    // (whose name is public) is only ever slowed down, so a stranger guessing at it from
    // somewhere else cannot lock its owner out.
    let ip = client_ip(&state.community.settings, &headers, &parts);
    state.community.limit(Action::LogIn, &ip)?;
    let name = form.username.trim().to_ascii_lowercase();
    state
        .community
        .limit(Action::LogIn, &format!("user:{name}\n{ip}"))?;
    let wait = state
        .community
        .limiter
        .delay(Action::LogInAccount, &name, MAX_LOGIN_DELAY);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let user = state.store.user_by_name(&name).await?;
    // An account without a password (made through a provider) costs the decoy's check, like
    // an unknown name, and never matches.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .filter(|h| !h.is_empty());
    let password = form.password.clone();
    // The same work and the same answer whether the name is unknown or the password wrong.
    let ok = blocking(move || verify_password(&password, hash.as_deref())).await?;
    match user.filter(|_| ok) {
        Some(user) => {
            tracing::info!(user.id = user.id.0, "logged in");
            start_session(&state, &headers, &user, &safe_next(form.next.as_deref())).await
        }
        None => login_page(
            &state,
            form.csrf.clone(),
            form.next.clone(),
            // Longer is no user name: not worth a page of megabytes back.
            &form
                .username
                .chars()
                .take(MAX_ECHOED_NAME)
                .collect::<String>(),
            Some("Wrong user name or password.".into()),
        )
        .respond(StatusCode::UNAUTHORIZED),
    }
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn log_out(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/")?;
    state.store.delete_session(&session.id_hash).await?;
    tracing::info!(user.id = session.user.id.0, "logged out");
    let clear = set_cookie(
        SESSION_COOKIE,
        "",
        0,
        state.community.settings.secure_cookies,
    );
    Ok(([(header::SET_COOKIE, clear)], see_other("/")).into_response())
}

/// The password form; an account made through a provider has none yet and sets one without
/// a current one (its session is the proof).
fn password_page(csrf: String, has_password: bool, error: Option<String>) -> FormPage {
    let mut fields = Vec::new();
    if has_password {
        fields.push(
            FieldView::new("current", "Current password", "password")
                .filled("", "current-password"),
        );
    }
    fields.push(
        FieldView::new("password", "New password (10+ characters)", "password")
            .filled("", "new-password"),
    );
    FormPage {
        title: if has_password {
            "Change password"
        } else {
            "Set a password"
        },
        action: "/account/password",
        csrf,
        next: None,
        note: Some(if has_password {
            "Other sessions of yours are logged out when the password changes.".into()
        } else {
            "Your account has no password: you sign in through a provider. A password is one \
             more way in."
                .into()
        }),
        error,
        fields,
        submit_label: if has_password {
            "Change password"
        } else {
            "Set password"
        },
        links: vec![Link::new("/account", "Back to your account")],
        providers: Vec::new(),
    }
}

pub async fn show_password(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    let session = viewer.require("/account/password")?;
    if !state.passwords_on() {
        return Err(passwords_off());
    }
    password_page(
        session.csrf_token.clone(),
        !session.user.password_hash.is_empty(),
        None,
    )
    .respond(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/account/password")?;
    if !state.passwords_on() {
        return Err(passwords_off());
    }
    // Only the logged-in user can spend this: keyed by them, apart from log-in attempts.
    state
        .community
        .limit(Action::ChangePassword, &session.user.id.0.to_string())?;
    let has_password = !session.user.password_hash.is_empty();
    let again = |error: &str| {
        password_page(
            session.csrf_token.clone(),
            has_password,
            Some(error.to_owned()),
        )
        .respond(StatusCode::BAD_REQUEST)
    };
    let new = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(e) => return again(&format!("New password {}.", e.reason)),
    };
    let (current, hash) = (form.current.clone(), session.user.password_hash.clone());
    if has_password && !blocking(move || verify_password(&current, Some(&hash))).await? {
        return again("The current password is wrong.");
    }
    let new_hash = blocking(move || hash_password(&new)).await??;
    state
        .store
        .set_password_hash(session.user.id, new_hash, Some(session.id_hash.clone()))
        .await?;
    tracing::info!(
        user.id = session.user.id.0,
        "password changed; the user's other sessions ended"
    );
    Ok(see_other("/account"))
}

pub struct TokenView {
    id: i64,
    name: String,
    created: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    username: String,
    csrf: String,
    tokens: Vec<TokenView>,
    new_token: Option<String>,
    /// Private feed addresses (the Following feed, saved searches), revocable here.
    feed_tokens: Vec<FeedTokenView>,
    /// Linked identities at providers, each with its unlink form.
    identities: Vec<IdentityView>,
    /// Configured providers not linked yet, each with its link form.
    linkable: Vec<ProviderButton>,
    /// The account has a password (else: "Set a password").
    has_password: bool,
    /// Password sign-in is on.
    passwords: bool,
}

pub struct IdentityView {
    provider: String,
    provider_label: String,
    subject: String,
    login: String,
    linked: String,
}

pub struct FeedTokenView {
    id: i64,
    scope: String,
    created: String,
    last_used: String,
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    new_token: Option<String>,
) -> Result<Response, AppError> {
    let session = viewer.require("/account")?;
    let tokens = state
        .store
        .api_tokens(session.user.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            created: t.created_at.format("%Y-%m-%d").to_string(),
        })
        .collect();
    let feed_tokens = state
        .store
        .feed_tokens(session.user.id)
        .await?
        .into_iter()
        .map(|t| FeedTokenView {
            id: t.id,
            scope: match t.scope.as_str() {
                "following" => "Following feed".to_owned(),
                "for_you" => "For you feed".to_owned(),
                other => other.replacen("search:", "Saved search #", 1),
            },
            created: t.created_at.format("%Y-%m-%d").to_string(),
            last_used: t.last_used_at.map_or_else(
                || "never used".to_owned(),
                |at| format!("last used {}", at.format("%Y-%m-%d %H:%M")),
            ),
        })
        .collect();
    let linked = state.store.identities(session.user.id).await?;
    let label = |name: &str| {
        state
            .sign_in
            .as_ref()
            .and_then(|s| s.provider(name))
            .map_or_else(|| name.to_owned(), |p| p.display_name.clone())
    };
    let identities = linked
        .iter()
        .map(|i| IdentityView {
            provider: i.provider.clone(),
            provider_label: label(&i.provider),
            subject: i.subject.clone(),
            login: i.login.clone(),
            linked: i.linked_at.format("%Y-%m-%d").to_string(),
        })
        .collect();
    let linkable = provider_buttons(state, "Link")
        .into_iter()
        .filter(|b| !linked.iter().any(|i| i.provider == b.name))
        .collect();
    let page = AccountPage {
        username: session.user.username.to_string(),
        csrf: session.csrf_token.clone(),
        tokens,
        new_token,
        feed_tokens,
        identities,
        linkable,
        has_password: !session.user.password_hash.is_empty(),
        passwords: state.passwords_on(),
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}

pub async fn show_account(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    account_page(&state, &viewer, None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    csrf: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<TokenForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/account")?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::BadRequest(
            "name: a token needs a name of 1 to 64 characters".into(),
        ));
    }
    let token = accounts::create_api_token(&*state.store, session.user.id, name.to_owned()).await?;
    account_page(&state, &viewer, Some(token)).await
}

pub async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/account")?;
    state.store.revoke_api_token(session.user.id, id).await?;
    tracing::info!(
        user.id = session.user.id.0,
        token.id = id,
        "API token revoked"
    );
    Ok(see_other("/account"))
}
