//! OpenID Connect through the `openidconnect` crate: the provider's metadata (discovered or
//! given), the authorization address, and the callback's code exchanged for tokens whose ID
//! token is checked (signature against the issuer's keys, `iss`, `aud`, `exp`, `nonce`), with
//! the userinfo endpoint's claims added when the provider has one.

use std::time::Instant;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthUrl, AuthorizationCode, ClaimsVerificationError, ClientId, CsrfToken, DiscoveryError,
    EmptyAdditionalClaims, EmptyAdditionalProviderMetadata, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, JsonWebKeySet, JsonWebKeySetUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, ResponseTypes, Scope,
    SignatureVerificationError, TokenResponse as _, TokenUrl, UserInfoUrl,
};

use super::http::{HttpClient, HttpError};
use super::{Endpoints, ProviderConfig, ProviderIdentity, Refusal};

pub(super) type Metadata = CoreProviderMetadata;

pub(super) type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A provider's metadata and keys, and when they were fetched.
pub(super) struct Cached {
    pub(super) metadata: Metadata,
    pub(super) fetched: Instant,
}

/// Why talking to the provider did not give an identity.
pub(super) enum Failure {
    /// Its answer, safe to show.
    Refused(Refusal),
    /// It could not be reached, or answered at the HTTP level with something unusable.
    Unreachable(Box<dyn std::error::Error + Send + Sync>),
}

fn bad(what: impl Into<String>) -> Failure {
    Failure::Refused(Refusal::BadAnswer(what.into()))
}

fn unreachable(e: HttpError) -> Failure {
    Failure::Unreachable(Box::new(e))
}

/// The signing algorithms accepted from an issuer whose endpoints are given (no discovery
/// document to list them): the asymmetric ones.
fn asymmetric_algs() -> Vec<CoreJwsSigningAlgorithm> {
    use CoreJwsSigningAlgorithm as A;
    vec![
        A::RsaSsaPkcs1V15Sha256,
        A::RsaSsaPkcs1V15Sha384,
        A::RsaSsaPkcs1V15Sha512,
        A::RsaSsaPssSha256,
        A::RsaSsaPssSha384,
        A::RsaSsaPssSha512,
        A::EcdsaP256Sha256,
        A::EcdsaP384Sha384,
        A::EdDsa,
    ]
}

/// The provider's metadata and keys: discovered from its issuer, or built from the endpoints
/// configured and the keys fetched from its JWKS address.
pub(super) async fn fetch_metadata(
    http: &HttpClient,
    config: &ProviderConfig,
) -> Result<Metadata, Failure> {
    match &config.endpoints {
        Endpoints::Discovery { issuer } => {
            let issuer = IssuerUrl::new(issuer.clone())
                .map_err(|e| bad(format!("the issuer's address: {e}")))?;
            CoreProviderMetadata::discover_async(issuer, http)
                .await
                .map_err(|e| match e {
                    DiscoveryError::Request(e) => unreachable(e),
                    other => bad(format!("its discovery document: {other}")),
                })
        }
        Endpoints::Explicit {
            issuer,
            authorization,
            token,
            jwks,
            userinfo,
        } => {
            let metadata = CoreProviderMetadata::new(
                IssuerUrl::new(issuer.clone())
                    .map_err(|e| bad(format!("the issuer's address: {e}")))?,
                AuthUrl::from_url(authorization.clone()),
                JsonWebKeySetUrl::from_url(jwks.clone()),
                vec![ResponseTypes::new(vec![CoreResponseType::Code])],
                vec![CoreSubjectIdentifierType::Public],
                asymmetric_algs(),
                EmptyAdditionalProviderMetadata {},
            )
            .set_token_endpoint(Some(TokenUrl::from_url(token.clone())))
            .set_userinfo_endpoint(userinfo.clone().map(UserInfoUrl::from_url));
            let keys = fetch_keys(http, &metadata).await?;
            Ok(metadata.set_jwks(keys))
        }
        Endpoints::GitHub { .. } => Err(bad("GitHub is not an OpenID Connect issuer")),
    }
}

async fn fetch_keys(
    http: &HttpClient,
    metadata: &Metadata,
) -> Result<JsonWebKeySet<openidconnect::core::CoreJsonWebKey>, Failure> {
    JsonWebKeySet::fetch_async(metadata.jwks_uri(), http)
        .await
        .map_err(|e| match e {
            DiscoveryError::Request(e) => unreachable(e),
            other => bad(format!("its signing keys: {other}")),
        })
}

pub(super) fn client(config: &ProviderConfig, metadata: Metadata) -> Client {
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        config
            .client_secret
            .as_ref()
            .map(|s| openidconnect::ClientSecret::new(s.0.clone())),
    )
}

/// The provider's authorization address for this sign-in.
pub(super) fn authorize_url(
    client: &Client,
    config: &ProviderConfig,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    pkce_verifier: &str,
) -> Result<String, String> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| format!("the callback address: {e}"))?;
    let (state, nonce) = (state.to_owned(), nonce.to_owned());
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.into()));
    let (url, _, _) = client
        .clone()
        .set_redirect_uri(redirect)
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        )
        // `openid` is always asked for by the client itself.
        .add_scopes(
            config
                .scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .map(|s| Scope::new(s.clone())),
        )
        .set_pkce_challenge(challenge)
        .url();
    Ok(url.to_string())
}

/// The identity behind `code`: the code exchanged (with the PKCE verifier) for tokens, the ID
/// token checked against `metadata`'s keys — fetched once more when it names a key they lack —
/// and the userinfo claims added. Also hands back the metadata with new keys when they were
/// fetched, for the caller to keep.
pub(super) async fn identity(
    http: &HttpClient,
    config: &ProviderConfig,
    metadata: Metadata,
    code: &str,
    redirect_uri: &str,
    pkce_verifier: &str,
    nonce: &str,
) -> Result<(ProviderIdentity, Option<Metadata>), Failure> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| bad(format!("the callback address: {e}")))?;
    let mut client = client(config, metadata.clone()).set_redirect_uri(redirect.clone());
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| bad(format!("the issuer has no token endpoint ({e})")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(answer) => Failure::Refused(Refusal::ProviderSaid(
                answer.error().as_ref().chars().take(60).collect(),
            )),
            RequestTokenError::Request(e) => unreachable(e),
            RequestTokenError::Parse(e, _) => bad(format!("its token answer: {}", e.inner())),
            RequestTokenError::Other(e) => bad(format!("its token answer: {e}")),
        })?;
    let id_token = token
        .id_token()
        .ok_or_else(|| bad("no ID token in its answer"))?;
    let nonce = Nonce::new(nonce.to_owned());
    let mut refreshed = None;
    let first = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .cloned();
    let claims = match first {
        Ok(claims) => claims,
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            // A key the hub does not know: the issuer may have rotated its keys. Fetched once
            // more; a token still unmatched is refused.
            tracing::info!(
                auth.provider = config.name,
                "an ID token names an unknown key: fetching the issuer's keys again"
            );
            let keys = fetch_keys(http, &metadata).await?;
            let metadata = metadata.set_jwks(keys);
            client = super::oidc::client(config, metadata.clone()).set_redirect_uri(redirect);
            refreshed = Some(metadata);
            id_token
                .claims(&client.id_token_verifier(), &nonce)
                .map_err(refusal)?
                .clone()
        }
        Err(e) => return Err(refusal(e)),
    };
    let mut identity = ProviderIdentity {
        subject: claims.subject().as_str().to_owned(),
        login: claims.preferred_username().map(|u| u.as_str().to_owned()),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified().unwrap_or(false),
    };
    if client.user_info_url().is_some() {
        let info =
            match client.user_info(token.access_token().clone(), Some(claims.subject().clone())) {
                Ok(request) => request
                    .request_async::<EmptyAdditionalClaims, _, CoreGenderClaim>(http)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
        match info {
            Ok(info) => {
                if identity.login.is_none() {
                    identity.login = info.preferred_username().map(|u| u.as_str().to_owned());
                }
                if identity.name.is_none() {
                    identity.name = info
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned());
                }
                // An address and its verification come from the same answer.
                if identity.email.is_none() {
                    identity.email = info.email().map(|e| e.as_str().to_owned());
                    identity.email_verified = info.email_verified().unwrap_or(false);
                }
            }
            // The ID token is what proves the sign-in; without its claims the reader types
            // what is missing on the sign-up form.
            Err(reason) => tracing::warn!(
                auth.provider = config.name,
                error = %reason,
                "the userinfo endpoint did not answer; going on with the ID token's claims"
            ),
        }
    }
    Ok((identity, refreshed))
}

/// A checked ID token's refusal, said plainly.
fn refusal(e: ClaimsVerificationError) -> Failure {
    let what = match &e {
        ClaimsVerificationError::Expired(_) => "the ID token has expired".to_owned(),
        ClaimsVerificationError::InvalidAudience(_) => {
            "the ID token was issued to another client".to_owned()
        }
        ClaimsVerificationError::InvalidIssuer(_) => {
            "the ID token comes from another issuer".to_owned()
        }
        ClaimsVerificationError::InvalidNonce(_) => {
            "the ID token belongs to another sign-in".to_owned()
        }
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature does not check out".to_owned()
        }
        other => format!("the ID token: {other}"),
    };
    bad(what)
}
