//! GitHub: OAuth 2.0 (authorization code with PKCE and `state`, through the `oauth2` crate) and
//! the REST API's `/user` (the numeric id is the subject: logins can be renamed and reused) and
//! `/user/emails` (only an address GitHub marks verified is vouched for; the primary one first).
//! GitHub signs no ID token, so the access token is used once, for these two reads, over TLS
//! to the configured API.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use serde::Deserialize;

use super::http::{HttpClient, read_capped};
use super::{Endpoints, ProviderConfig, ProviderIdentity, Refusal, SignInError};

type GitHubClient = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn endpoints(config: &ProviderConfig) -> Result<(&url::Url, &url::Url, &url::Url), String> {
    match &config.endpoints {
        Endpoints::GitHub {
            authorization,
            token,
            api,
        } => Ok((authorization, token, api)),
        _ => Err("not a GitHub provider".into()),
    }
}

fn client(config: &ProviderConfig, redirect_uri: &str) -> Result<GitHubClient, String> {
    let (authorization, token, _) = endpoints(config)?;
    let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(authorization.clone()))
        .set_token_uri(TokenUrl::from_url(token.clone()))
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_owned())
                .map_err(|e| format!("the callback address: {e}"))?,
        );
    if let Some(secret) = &config.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.0.clone()));
    }
    Ok(client)
}

pub(super) fn authorize_url(
    config: &ProviderConfig,
    redirect_uri: &str,
    state: &str,
    pkce_verifier: &str,
) -> Result<String, String> {
    let state = state.to_owned();
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.into()));
    let (url, _) = client(config, redirect_uri)?
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(config.scopes.iter().map(|s| Scope::new(s.clone())))
        .set_pkce_challenge(challenge)
        .url();
    Ok(url.to_string())
}

#[derive(Deserialize)]
struct UserJson {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct EmailJson {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

fn bad(what: impl Into<String>) -> SignInError {
    SignInError::Refused(Refusal::BadAnswer(what.into()))
}

fn unreachable(
    config: &ProviderConfig,
    e: impl std::error::Error + Send + Sync + 'static,
) -> SignInError {
    SignInError::Unreachable {
        provider: config.display_name.clone(),
        source: Box::new(e),
    }
}

/// The GitHub account behind `code`.
pub(super) async fn identity(
    http: &HttpClient,
    config: &ProviderConfig,
    code: &str,
    redirect_uri: &str,
    pkce_verifier: &str,
) -> Result<ProviderIdentity, SignInError> {
    let token = client(config, redirect_uri)
        .map_err(bad)?
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(answer) => SignInError::Refused(
                Refusal::ProviderSaid(answer.error().as_ref().chars().take(60).collect()),
            ),
            RequestTokenError::Request(e) => unreachable(config, e),
            // GitHub answers a spent or wrong code with 200 and an error document.
            RequestTokenError::Parse(..) => bad("GitHub did not hand out a token for this code"),
            RequestTokenError::Other(e) => bad(format!("its token answer: {e}")),
        })?;
    let access = token.access_token().secret().clone();
    let (_, _, api) = endpoints(config).map_err(bad)?;
    let user: UserJson = get_json(http, config, api, "user", &access).await?;
    // Without the `user:email` scope this is refused: no address is vouched for then.
    let emails: Vec<EmailJson> = get_json(http, config, api, "user/emails", &access)
        .await
        .unwrap_or_default();
    let vouched = emails
        .iter()
        .filter(|e| e.verified)
        .max_by_key(|e| e.primary)
        .map(|e| e.email.clone());
    Ok(ProviderIdentity {
        subject: user.id.to_string(),
        login: Some(user.login),
        name: user.name,
        email_verified: vouched.is_some(),
        email: vouched,
    })
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    config: &ProviderConfig,
    api: &url::Url,
    path: &str,
    access: &str,
) -> Result<T, SignInError> {
    let mut base = api.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let url = base
        .join(path)
        .map_err(|e| bad(format!("the API address: {e}")))?;
    http.check(&url).map_err(|e| unreachable(config, e))?;
    let response = http
        .client()
        .get(url)
        .bearer_auth(access)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .map_err(|e| unreachable(config, e))?;
    let answer = read_capped(response)
        .await
        .map_err(|e| unreachable(config, e))?;
    if !answer.status().is_success() {
        return Err(bad(format!(
            "GitHub's /{path} answered {}",
            answer.status()
        )));
    }
    serde_json::from_slice(answer.body()).map_err(|e| bad(format!("GitHub's /{path}: {e}")))
}
