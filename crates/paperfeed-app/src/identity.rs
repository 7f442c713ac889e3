//! Signing in through identity providers: OpenID Connect (Hugging Face, ORCID, any issuer, by
//! discovery or explicit endpoints) and GitHub's OAuth 2.0 with its user API.
//!
//! The protocol is the `openidconnect` crate's (authorization code flow with PKCE, `state`,
//! `nonce`, ID tokens checked against the issuer's keys — fetched again once when a token names
//! a key the hub does not know, so a provider can rotate them —, `iss`, `aud`, `exp`); this
//! module decides what a checked identity means for the hub's accounts:
//!
//! - a sign-in in flight is a pending record in the store under the hash of its `state`, bound
//!   to the browser that started it by a second secret (a cookie the web sets), and taken once:
//!   a replayed or forged callback finds nothing;
//! - an identity already linked signs its account in;
//! - an unknown identity whose address the provider vouches for (and whose provider is trusted
//!   to) joins the account with that address only when a provider already vouched for the
//!   address there; any other account with that address is never joined silently: its reader
//!   signs in and links from the account page (a reader's own action, [`Purpose::Link`]);
//! - otherwise the reader picks a user name on a sign-up form ([`SignIn::pending_signup`],
//!   [`SignIn::complete_signup`]), suggested from the provider's login with a suffix when taken;
//! - an identity is unlinked only while another way to sign in remains
//!   ([`SignIn::unlink`]).
//!
//! Secrets (client secrets, codes, tokens, the PKCE verifier) never reach a log line or a
//! `Debug` output.

mod github;
mod http;
mod oidc;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use paperfeed_core::{EmailAddress, Username};
use paperfeed_store::{
    LinkOutcome, NO_PASSWORD, NewIdentity, NewUser, SignInWays, Store, StoreError, UnlinkOutcome,
    User, UserId,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::accounts::{AccountError, hash_secret, new_secret};
pub use http::HttpError;

/// How long a started sign-in may take before its callback is refused.
pub const LOGIN_MINUTES: i64 = 10;
/// How long a provider's identity waits for its reader to pick a user name.
pub const SIGNUP_MINUTES: i64 = 15;
/// How long discovered provider metadata and keys are kept before they are fetched again.
pub const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Names tried with a suffix before the suggestion gives up on the provider's login.
const SUFFIXES_TRIED: u32 = 20;

const PENDING_LOGIN: &str = "oidc_login";
const PENDING_SIGNUP: &str = "oidc_signup";

/// A value that must never be printed: Debug shows a mask.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(pub String);

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// What kind of provider, and so which protocol and which defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenID Connect at `https://huggingface.co`.
    HuggingFace,
    /// OAuth 2.0 and the REST API at `https://api.github.com`.
    GitHub,
    /// OpenID Connect at `https://orcid.org`.
    Orcid,
    /// Any OpenID Connect issuer.
    Oidc,
}

impl ProviderKind {
    /// The kind a provider named `name` has when none is given.
    pub fn from_name(name: &str) -> Self {
        match name {
            "huggingface" | "hf" => ProviderKind::HuggingFace,
            "github" => ProviderKind::GitHub,
            "orcid" => ProviderKind::Orcid,
            _ => ProviderKind::Oidc,
        }
    }

    pub fn default_display_name(self) -> &'static str {
        match self {
            ProviderKind::HuggingFace => "Hugging Face",
            ProviderKind::GitHub => "GitHub",
            ProviderKind::Orcid => "ORCID",
            ProviderKind::Oidc => "OpenID Connect",
        }
    }

    pub fn default_issuer(self) -> Option<&'static str> {
        match self {
            ProviderKind::HuggingFace => Some("https://huggingface.co"),
            ProviderKind::Orcid => Some("https://orcid.org"),
            ProviderKind::GitHub | ProviderKind::Oidc => None,
        }
    }

    pub fn default_scopes(self) -> &'static str {
        match self {
            ProviderKind::HuggingFace | ProviderKind::Oidc => "openid profile email",
            ProviderKind::GitHub => "read:user user:email",
            ProviderKind::Orcid => "openid",
        }
    }

    /// Whether the provider's word that an address is verified links accounts by default.
    /// A generic issuer's is not taken unless the operator says so: some let their users set
    /// any address.
    pub fn trusts_email_by_default(self) -> bool {
        !matches!(self, ProviderKind::Oidc)
    }
}

/// Where a provider's endpoints are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoints {
    /// OpenID Connect discovery from the issuer (as written: tokens name it exactly so, with
    /// or without a trailing `/`).
    Discovery { issuer: String },
    /// OpenID Connect with endpoints given (no discovery document read).
    Explicit {
        issuer: String,
        authorization: Url,
        token: Url,
        jwks: Url,
        userinfo: Option<Url>,
    },
    /// GitHub (or GitHub Enterprise): OAuth 2.0 endpoints and the REST API's base.
    GitHub {
        authorization: Url,
        token: Url,
        api: Url,
    },
}

/// One configured provider.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The name in addresses (`/auth/{name}/start`) and stored with each identity.
    pub name: String,
    /// What buttons say: "Sign in with {display_name}".
    pub display_name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Option<ClientSecret>,
    pub scopes: Vec<String>,
    pub endpoints: Endpoints,
    /// Whether the provider's word that an address is verified may link accounts.
    pub trust_email: bool,
}

/// What the sign-in use cases are configured with.
#[derive(Clone, Debug)]
pub struct IdentityConfig {
    pub providers: Vec<ProviderConfig>,
    /// Password sign-in and sign-up are on.
    pub passwords: bool,
    /// Plain-http endpoints on loopback addresses are accepted (tests only; every other
    /// endpoint must be https).
    pub allow_loopback_http: bool,
    /// Each request to a provider gives up after this long.
    pub timeout: Duration,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            passwords: true,
            allow_loopback_http: false,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a sign-in was refused: the visitor's request or the provider's answer, safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("there is no sign-in provider by that name")]
    UnknownProvider,
    #[error("the provider did not sign you in ({0})")]
    ProviderSaid(String),
    #[error("this sign-in link was already used, has expired or was not started here: start again")]
    UnknownState,
    #[error("this sign-in was started in another browser: start again here")]
    WrongBrowser,
    #[error("the provider's answer did not check out: {0}")]
    BadAnswer(String),
    #[error("this {0} account is linked to another account here")]
    IdentityTaken(String),
    #[error(
        "an account with the address {0} exists here: log in to it and link {1} from your account page"
    )]
    EmailTaken(String, String),
    #[error("log in to the account you want to link first")]
    NotSignedIn,
    #[error("this sign-up has expired or was finished: sign in with the provider again")]
    NoPendingSignUp,
    #[error("{0}")]
    Field(paperfeed_core::FieldError),
    #[error("the user name {0} is taken: pick another")]
    NameTaken(String),
    #[error("that is your last way to sign in: link another provider or set a password first")]
    LastWayToSignIn,
    #[error("that identity is not linked to your account")]
    NotLinked,
}

/// Why a sign-in use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The visitor's request or the provider's answer: safe to show.
    #[error("{0}")]
    Refused(Refusal),
    /// We failed: the provider could not be reached or answered nonsense at the HTTP level.
    #[error("{provider} could not be reached")]
    Unreachable {
        provider: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// We failed: the store, the random source.
    #[error("the account store failed")]
    Account(#[source] AccountError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::Account(AccountError::Store(e))
    }
}

impl From<AccountError> for SignInError {
    fn from(e: AccountError) -> Self {
        SignInError::Account(e)
    }
}

fn refused(r: Refusal) -> SignInError {
    SignInError::Refused(r)
}

/// What a started sign-in is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// Sign in, or sign up.
    SignIn,
    /// Link the identity to this signed-in reader's account.
    Link(i64),
}

/// A started sign-in: where to send the browser, and the secret the browser must bring back
/// (its cookie).
pub struct Begun {
    pub authorize_url: String,
    pub browser_secret: String,
}

impl std::fmt::Debug for Begun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Begun { .. }")
    }
}

/// What a provider's callback carried.
#[derive(Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider says.
    pub iss: Option<String>,
}

/// The identity a provider vouched for at one sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderIdentity {
    pub subject: String,
    /// Its login or preferred user name, when it has one.
    pub login: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The provider says it verified `email`.
    pub email_verified: bool,
}

impl ProviderIdentity {
    /// What the account page calls it.
    fn shown(&self) -> String {
        self.login
            .clone()
            .or_else(|| self.name.clone())
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| self.subject.clone())
            .chars()
            .take(200)
            .collect()
    }

    /// The address the provider vouches for, lowercased, when it is trusted to.
    fn vouched_email(&self, trusted: bool) -> Option<String> {
        let email = self.email.as_deref()?;
        (trusted && self.email_verified && EmailAddress::parse(email).is_ok())
            .then(|| email.trim().to_lowercase())
    }
}

/// How a callback ended.
#[derive(Debug)]
pub enum Finished {
    /// The identity's account, signed in; then go to `next`.
    SignedIn { user: User, next: String },
    /// Linked to the signed-in reader's account (or it was already).
    Linked { user: UserId, provider: String },
    /// A new reader: the sign-up form, under `secret` (the browser's cookie).
    NeedsSignUp { secret: String },
}

/// A provider's identity waiting for its reader to pick a user name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingSignUp {
    pub provider: String,
    pub identity: ProviderIdentity,
    /// The name offered: the provider's login, made valid, with a suffix when taken.
    pub suggested_username: String,
    /// The address the provider vouched for; the form asks for one when `None`.
    pub verified_email: Option<String>,
    /// The address the provider gave without vouching for it, offered as a default.
    pub unverified_email: Option<String>,
    pub next: String,
}

/// What a pending sign-in keeps between its start and its callback.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    provider: String,
    browser_hash: String,
    pkce_verifier: String,
    nonce: String,
    redirect_uri: String,
    purpose: Purpose,
    next: String,
}

/// The sign-in service: the configured providers, their cached metadata and the HTTP client
/// that reaches them. One per process.
pub struct SignIn {
    config: IdentityConfig,
    http: http::HttpClient,
    /// Discovered metadata and keys per provider, with when they were fetched.
    metadata: Mutex<HashMap<String, oidc::Cached>>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    pub fn new(config: IdentityConfig) -> Result<Self, HttpError> {
        let http = http::HttpClient::new(config.timeout, config.allow_loopback_http)?;
        Ok(Self {
            config,
            http,
            metadata: Mutex::new(HashMap::new()),
        })
    }

    pub fn providers(&self) -> &[ProviderConfig] {
        &self.config.providers
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.config.providers.iter().find(|p| p.name == name)
    }

    /// Password sign-in and sign-up are on.
    pub fn passwords(&self) -> bool {
        self.config.passwords
    }

    /// The ways to sign in that count for `user` (for unlinking).
    fn ways(&self) -> SignInWays {
        SignInWays {
            password: self.config.passwords,
            providers: self
                .config
                .providers
                .iter()
                .map(|p| p.name.clone())
                .collect(),
        }
    }

    /// Starts a sign-in at `provider`: a pending record under the hash of a fresh `state`, and
    /// the provider's authorization address with PKCE and a nonce.
    pub async fn begin(
        &self,
        store: &dyn Store,
        provider: &str,
        purpose: Purpose,
        redirect_uri: &str,
        next: String,
        now: DateTime<Utc>,
    ) -> Result<Begun, SignInError> {
        let config = self
            .provider(provider)
            .ok_or(refused(Refusal::UnknownProvider))?;
        let state = new_secret()?;
        let nonce = new_secret()?;
        let pkce_verifier = new_secret()?;
        let browser_secret = new_secret()?;
        let authorize_url = match &config.endpoints {
            Endpoints::GitHub { .. } => {
                github::authorize_url(config, redirect_uri, &state, &pkce_verifier)
            }
            _ => {
                let client = oidc::client(config, self.oidc_metadata(config).await?);
                oidc::authorize_url(
                    &client,
                    config,
                    redirect_uri,
                    &state,
                    &nonce,
                    &pkce_verifier,
                )
            }
        }
        .map_err(|e| refused(Refusal::BadAnswer(e)))?;
        let pending = PendingLogin {
            provider: provider.to_owned(),
            browser_hash: hash_secret(&browser_secret),
            pkce_verifier,
            nonce,
            redirect_uri: redirect_uri.to_owned(),
            purpose,
            next,
        };
        store
            .put_pending(
                &hash_secret(&state),
                PENDING_LOGIN,
                &serde_json::to_string(&pending)
                    .map_err(|e| StoreError::Corrupt(format!("encoding a pending sign-in: {e}")))?,
                now + chrono::Duration::minutes(LOGIN_MINUTES),
            )
            .await?;
        tracing::info!(
            auth.provider = provider,
            auth.link = matches!(purpose, Purpose::Link(_)),
            "sign-in started"
        );
        Ok(Begun {
            authorize_url,
            browser_secret,
        })
    }

    /// Completes a sign-in at its callback: the pending record taken (once), the browser
    /// checked, the code exchanged and the identity checked, then settled
    /// ([`SignIn::settle`]). `signed_in` is the reader whose session the callback came with.
    pub async fn finish(
        &self,
        store: &dyn Store,
        provider: &str,
        callback: Callback,
        browser_secret: Option<&str>,
        signed_in: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Finished, SignInError> {
        let config = self
            .provider(provider)
            .ok_or(refused(Refusal::UnknownProvider))?;
        let state = callback
            .state
            .as_deref()
            .filter(|s| !s.is_empty() && s.len() <= 200)
            .ok_or(refused(Refusal::UnknownState))?;
        // Taken whatever happens next: a callback is good once.
        let pending = store
            .take_pending(&hash_secret(state), PENDING_LOGIN, now)
            .await?
            .and_then(|payload| serde_json::from_str::<PendingLogin>(&payload).ok())
            .filter(|p| p.provider == provider)
            .ok_or(refused(Refusal::UnknownState))?;
        let same_browser = browser_secret
            .is_some_and(|secret| constant_time_eq(&hash_secret(secret), &pending.browser_hash));
        if !same_browser {
            tracing::warn!(
                auth.provider = provider,
                "sign-in callback from another browser"
            );
            return Err(refused(Refusal::WrongBrowser));
        }
        if let Some(error) = callback.error {
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(60)
                .collect();
            return Err(refused(Refusal::ProviderSaid(error)));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or(refused(Refusal::BadAnswer("no authorization code".into())))?;
        let identity = match &config.endpoints {
            Endpoints::GitHub { .. } => {
                github::identity(
                    &self.http,
                    config,
                    &code,
                    &pending.redirect_uri,
                    &pending.pkce_verifier,
                )
                .await?
            }
            _ => {
                let metadata = self.oidc_metadata(config).await?;
                // RFC 9207: an answer that names its issuer must name this provider's (a
                // mix-up between providers is refused before the code goes anywhere).
                if callback
                    .iss
                    .as_deref()
                    .is_some_and(|iss| iss != metadata.issuer().as_str())
                {
                    return Err(refused(Refusal::BadAnswer(
                        "the answer names another issuer".into(),
                    )));
                }
                let checked = oidc::identity(
                    &self.http,
                    config,
                    metadata,
                    &code,
                    &pending.redirect_uri,
                    &pending.pkce_verifier,
                    &pending.nonce,
                )
                .await;
                match checked {
                    Ok((identity, refreshed)) => {
                        if let Some(metadata) = refreshed {
                            self.remember(config, metadata);
                        }
                        identity
                    }
                    Err(e) => return Err(self.unreachable_or_refused(config, e)),
                }
            }
        };
        self.settle(
            store,
            config,
            identity,
            pending.purpose,
            pending.next,
            signed_in,
            now,
        )
        .await
    }

    /// What a checked identity means for the hub's accounts (see the module's notes).
    #[expect(
        clippy::too_many_arguments,
        reason = "one use case's inputs, each named"
    )]
    pub async fn settle(
        &self,
        store: &dyn Store,
        config: &ProviderConfig,
        identity: ProviderIdentity,
        purpose: Purpose,
        next: String,
        signed_in: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Finished, SignInError> {
        let vouched = identity.vouched_email(config.trust_email);
        let record = NewIdentity {
            provider: config.name.clone(),
            subject: identity.subject.clone(),
            login: identity.shown(),
            verified_email: vouched.clone(),
            at: now,
        };
        if let Purpose::Link(user) = purpose {
            let user = UserId(user);
            if signed_in != Some(user) {
                return Err(refused(Refusal::NotSignedIn));
            }
            return match store.link_identity(user, &record).await? {
                LinkOutcome::Linked | LinkOutcome::AlreadyLinked => {
                    tracing::info!(
                        user.id = user.0,
                        auth.provider = config.name,
                        "identity linked"
                    );
                    Ok(Finished::Linked {
                        user,
                        provider: config.name.clone(),
                    })
                }
                LinkOutcome::OtherAccount => {
                    Err(refused(Refusal::IdentityTaken(config.display_name.clone())))
                }
            };
        }
        if let Some(user) = store
            .user_by_identity(&config.name, &identity.subject)
            .await?
        {
            store.touch_identity(&record).await?;
            tracing::info!(
                user.id = user.id.0,
                auth.provider = config.name,
                "signed in"
            );
            return Ok(Finished::SignedIn { user, next });
        }
        if let Some(email) = &vouched
            && let Some(user) = store.user_with_vouched_email(email).await?
        {
            if store.link_identity(user.id, &record).await? == LinkOutcome::OtherAccount {
                return Err(refused(Refusal::IdentityTaken(config.display_name.clone())));
            }
            tracing::info!(
                user.id = user.id.0,
                auth.provider = config.name,
                "identity linked by an address its providers vouch for; signed in"
            );
            return Ok(Finished::SignedIn { user, next });
        }
        let suggested = self
            .suggest_username(store, &identity, &config.name)
            .await?;
        let pending = PendingSignUp {
            provider: config.name.clone(),
            verified_email: vouched,
            unverified_email: identity
                .email
                .clone()
                .filter(|e| EmailAddress::parse(e).is_ok()),
            identity,
            suggested_username: suggested.to_string(),
            next,
        };
        let secret = new_secret()?;
        store
            .put_pending(
                &hash_secret(&secret),
                PENDING_SIGNUP,
                &serde_json::to_string(&pending)
                    .map_err(|e| StoreError::Corrupt(format!("encoding a pending sign-up: {e}")))?,
                now + chrono::Duration::minutes(SIGNUP_MINUTES),
            )
            .await?;
        Ok(Finished::NeedsSignUp { secret })
    }

    /// A free user name for `identity`: its login (or name, or address), made valid, else
    /// `{provider}-user`; with `-2`, `-3`… when taken; a random suffix past that.
    async fn suggest_username(
        &self,
        store: &dyn Store,
        identity: &ProviderIdentity,
        provider: &str,
    ) -> Result<Username, SignInError> {
        let base = [
            identity.login.as_deref(),
            identity.name.as_deref(),
            identity.email.as_deref().and_then(|e| e.split('@').next()),
        ]
        .into_iter()
        .flatten()
        .find_map(Username::suggest)
        .or_else(|| Username::suggest(&format!("{provider}-user")))
        .ok_or(refused(Refusal::UnknownProvider))?;
        if store.user_by_name(base.as_str()).await?.is_none() {
            return Ok(base);
        }
        for n in 2..=SUFFIXES_TRIED {
            let candidate = base.with_suffix(n);
            if store.user_by_name(candidate.as_str()).await?.is_none() {
                return Ok(candidate);
            }
        }
        let mut random = [0u8; 4];
        getrandom::fill(&mut random)
            .map_err(|e| AccountError::Random(crate::accounts::RandomFailure(e)))?;
        Ok(base.with_suffix(u32::from_le_bytes(random) % 900_000 + 100_000))
    }

    /// The sign-up waiting under `secret` (the browser's cookie), left in place.
    pub async fn pending_signup(
        &self,
        store: &dyn Store,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingSignUp>, SignInError> {
        Ok(store
            .peek_pending(&hash_secret(secret), PENDING_SIGNUP, now)
            .await?
            .and_then(|payload| serde_json::from_str(&payload).ok()))
    }

    /// Creates the account of the sign-up waiting under `secret`, with the user name the
    /// reader picked and, when the provider vouched for none, the address they typed (not
    /// verified, like a password sign-up's). The account has no password.
    pub async fn complete_signup(
        &self,
        store: &dyn Store,
        secret: &str,
        username: &str,
        typed_email: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(User, String), SignInError> {
        let pending = self
            .pending_signup(store, secret, now)
            .await?
            .ok_or(refused(Refusal::NoPendingSignUp))?;
        let config = self
            .provider(&pending.provider)
            .ok_or(refused(Refusal::UnknownProvider))?;
        let username = Username::parse(username).map_err(|e| refused(Refusal::Field(e)))?;
        let email = match &pending.verified_email {
            Some(vouched) => EmailAddress::parse(vouched),
            None => EmailAddress::parse(typed_email.unwrap_or_default()),
        }
        .map_err(|e| refused(Refusal::Field(e)))?;
        let record = NewIdentity {
            provider: config.name.clone(),
            subject: pending.identity.subject.clone(),
            login: pending.identity.shown(),
            verified_email: pending.verified_email.clone(),
            at: now,
        };
        let user = NewUser {
            username: username.clone(),
            email: email.clone(),
            password_hash: NO_PASSWORD.to_owned(),
            is_admin: false,
            created_at: now,
        };
        let user = match store.create_user_with_identity(user, &record).await {
            Ok(user) => user,
            Err(StoreError::Conflict { field: "username" }) => {
                return Err(refused(Refusal::NameTaken(username.to_string())));
            }
            Err(StoreError::Conflict { field: "email" }) => {
                return Err(refused(Refusal::EmailTaken(
                    email.as_str().to_owned(),
                    config.display_name.clone(),
                )));
            }
            Err(StoreError::Conflict { .. }) => {
                return Err(refused(Refusal::IdentityTaken(config.display_name.clone())));
            }
            Err(e) => return Err(e.into()),
        };
        store
            .take_pending(&hash_secret(secret), PENDING_SIGNUP, now)
            .await?;
        tracing::info!(
            user.id = user.id.0,
            auth.provider = config.name,
            "signed up through a provider"
        );
        Ok((user, pending.next))
    }

    /// Unlinks `user`'s identity at `provider` / `subject` while another way to sign in
    /// remains: a password (when password sign-in is on) or an identity at a configured
    /// provider.
    pub async fn unlink(
        &self,
        store: &dyn Store,
        user: UserId,
        provider: &str,
        subject: &str,
    ) -> Result<(), SignInError> {
        match store
            .unlink_identity(user, provider, subject, &self.ways())
            .await?
        {
            UnlinkOutcome::Unlinked => {
                tracing::info!(
                    user.id = user.0,
                    auth.provider = provider,
                    "identity unlinked"
                );
                Ok(())
            }
            UnlinkOutcome::LastWayToSignIn => Err(refused(Refusal::LastWayToSignIn)),
            UnlinkOutcome::NotLinked => Err(refused(Refusal::NotLinked)),
        }
    }

    /// The provider's OpenID Connect metadata and keys, kept up to [`METADATA_TTL`].
    async fn oidc_metadata(&self, config: &ProviderConfig) -> Result<oidc::Metadata, SignInError> {
        let cached = {
            let cache = self
                .metadata
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache
                .get(&config.name)
                .filter(|c| c.fetched.elapsed() < METADATA_TTL)
                .map(|c| c.metadata.clone())
        };
        let metadata = match cached {
            Some(m) => m,
            None => {
                let metadata = oidc::fetch_metadata(&self.http, config)
                    .await
                    .map_err(|e| self.unreachable_or_refused(config, e))?;
                self.remember(config, metadata.clone());
                metadata
            }
        };
        Ok(metadata)
    }

    fn remember(&self, config: &ProviderConfig, metadata: oidc::Metadata) {
        self.metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                config.name.clone(),
                oidc::Cached {
                    metadata,
                    fetched: std::time::Instant::now(),
                },
            );
    }

    fn unreachable_or_refused(&self, config: &ProviderConfig, e: oidc::Failure) -> SignInError {
        match e {
            oidc::Failure::Refused(r) => refused(r),
            oidc::Failure::Unreachable(source) => SignInError::Unreachable {
                provider: config.display_name.clone(),
                source,
            },
        }
    }
}

/// Whether two hex digests are equal, in time that depends only on their length.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
