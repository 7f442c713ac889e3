//! `[auth]`: local passwords, and the identity providers readers sign in with
//! (`[auth.providers.NAME]`, `PAPERFEED_AUTH__PROVIDERS__NAME__CLIENT_ID`…), turned into the
//! typed config of `paperfeed_app::identity` and checked at start-up.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use paperfeed_app::identity::{
    ClientSecret, Endpoints, IdentityConfig, ProviderConfig, ProviderKind,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::Secret;

/// Sign-in (`[auth]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Password sign-in and sign-up. Off: readers sign in and up only through a provider
    /// (`paperfeed user add` still makes accounts with a password, for operators).
    pub passwords: bool,
    /// Accept plain-http provider endpoints on loopback addresses (tests against a local
    /// provider). Every other endpoint must be https.
    pub allow_loopback_http: bool,
    /// Seconds one request to a provider may take.
    pub timeout_seconds: u64,
    /// The providers, by the name their addresses use (`/auth/NAME/callback`).
    pub providers: BTreeMap<String, ProviderSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            passwords: true,
            allow_loopback_http: false,
            timeout_seconds: 10,
            providers: BTreeMap::new(),
        }
    }
}

/// One provider (`[auth.providers.NAME]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// `huggingface`, `github`, `orcid` or `oidc` (any OpenID Connect issuer). Unset: from the
    /// name (`huggingface`, `github`, `orcid`), else `oidc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ProviderKind>,
    /// What the buttons say ("Sign in with …"). Unset: the kind's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The client (application) id the provider issued.
    #[serde(default)]
    pub client_id: String,
    /// The client secret the provider issued (masked wherever settings are shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Space-separated scopes. Unset: `openid profile email` (Hugging Face, oidc), `openid`
    /// (ORCID), `read:user user:email` (GitHub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    /// The OpenID Connect issuer, whose discovery document gives the endpoints. Unset:
    /// `https://huggingface.co`, `https://orcid.org`; required for `oidc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Endpoints given instead of discovered (all three of authorization, token and JWKS for
    /// OpenID Connect); for GitHub, its OAuth endpoints (GitHub Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// GitHub's REST API. Unset: `https://api.github.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Let the provider's word that an address is verified link an account whose address a
    /// provider already vouched for. Unset: on for Hugging Face, GitHub and ORCID, off for
    /// `oidc` (some issuers let users set any address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_email: Option<bool>,
}

/// A provider's name: what its addresses and stored identities use.
fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl AuthSettings {
    /// The typed config of the sign-in use cases; a readable error naming the setting when a
    /// provider is configured wrong.
    pub fn identity_config(&self) -> anyhow::Result<IdentityConfig> {
        anyhow::ensure!(
            (1..=120).contains(&self.timeout_seconds),
            "auth.timeout_seconds must be between 1 and 120, not {}",
            self.timeout_seconds
        );
        let providers = self
            .providers
            .iter()
            .map(|(name, p)| p.to_config(name, self.allow_loopback_http))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(IdentityConfig {
            providers,
            passwords: self.passwords,
            allow_loopback_http: self.allow_loopback_http,
            timeout: Duration::from_secs(self.timeout_seconds),
        })
    }
}

impl ProviderSettings {
    fn to_config(&self, name: &str, allow_loopback_http: bool) -> anyhow::Result<ProviderConfig> {
        anyhow::ensure!(
            valid_name(name),
            "auth.providers.{name}: a provider's name must be 1 to 32 of a-z, 0-9, - and _"
        );
        let kind = self.kind.unwrap_or_else(|| ProviderKind::from_name(name));
        let key = |field: &str| format!("auth.providers.{name}.{field}");
        anyhow::ensure!(
            !self.client_id.trim().is_empty(),
            "{} is required (the client id {} issued)",
            key("client_id"),
            kind.default_display_name()
        );
        let url = |field: &str, value: &str| -> anyhow::Result<Url> {
            let url = Url::parse(value.trim()).with_context(|| key(field))?;
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            let loopback_http = allow_loopback_http && url.scheme() == "http" && loopback;
            anyhow::ensure!(
                url.scheme() == "https" || loopback_http,
                "{} must be an https address (plain http only on loopback with \
                 auth.allow_loopback_http), not {value:?}",
                key(field)
            );
            Ok(url)
        };
        let opt = |field: &str, value: &Option<String>| -> anyhow::Result<Option<Url>> {
            value.as_deref().map(|v| url(field, v)).transpose()
        };
        let endpoints = match kind {
            ProviderKind::GitHub => Endpoints::GitHub {
                authorization: url(
                    "authorization_endpoint",
                    self.authorization_endpoint
                        .as_deref()
                        .unwrap_or("https://github.com/login/oauth/authorize"),
                )?,
                token: url(
                    "token_endpoint",
                    self.token_endpoint
                        .as_deref()
                        .unwrap_or("https://github.com/login/oauth/access_token"),
                )?,
                api: url(
                    "api_url",
                    self.api_url.as_deref().unwrap_or("https://api.github.com"),
                )?,
            },
            _ => {
                let issuer = self
                    .issuer
                    .as_deref()
                    .or(kind.default_issuer())
                    .with_context(|| {
                        format!("{} is required for an oidc provider", key("issuer"))
                    })?;
                url("issuer", issuer)?;
                let issuer = issuer.trim().to_owned();
                match (
                    opt("authorization_endpoint", &self.authorization_endpoint)?,
                    opt("token_endpoint", &self.token_endpoint)?,
                    opt("jwks_uri", &self.jwks_uri)?,
                ) {
                    (None, None, None) => {
                        anyhow::ensure!(
                            self.userinfo_endpoint.is_none(),
                            "{} is set without the other endpoints: give authorization_endpoint, \
                             token_endpoint and jwks_uri too, or none (discovery)",
                            key("userinfo_endpoint")
                        );
                        Endpoints::Discovery { issuer }
                    }
                    (Some(authorization), Some(token), Some(jwks)) => Endpoints::Explicit {
                        issuer,
                        authorization,
                        token,
                        jwks,
                        userinfo: opt("userinfo_endpoint", &self.userinfo_endpoint)?,
                    },
                    _ => anyhow::bail!(
                        "auth.providers.{name}: give all of authorization_endpoint, \
                         token_endpoint and jwks_uri, or none of them (discovery from the issuer)"
                    ),
                }
            }
        };
        let scopes: Vec<String> = self
            .scopes
            .as_deref()
            .unwrap_or(kind.default_scopes())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(ProviderConfig {
            name: name.to_owned(),
            display_name: self
                .display_name
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| kind.default_display_name().to_owned()),
            kind,
            client_id: self.client_id.trim().to_owned(),
            client_secret: self
                .client_secret
                .as_ref()
                .map(|s| ClientSecret(s.0.clone())),
            scopes,
            endpoints,
            trust_email: self
                .trust_email
                .unwrap_or_else(|| kind.trusts_email_by_default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(client_id: &str) -> ProviderSettings {
        ProviderSettings {
            client_id: client_id.into(),
            client_secret: Some(Secret("hunter2-secret".into())),
            ..ProviderSettings::default()
        }
    }

    #[test]
    fn known_names_get_their_kind_and_endpoints() {
        let mut auth = AuthSettings::default();
        for name in ["github", "huggingface", "orcid"] {
            auth.providers.insert(name.into(), provider("id"));
        }
        let config = auth.identity_config().unwrap();
        let by = |n: &str| config.providers.iter().find(|p| p.name == n).unwrap();
        assert_eq!(by("github").kind, ProviderKind::GitHub);
        assert!(matches!(by("github").endpoints, Endpoints::GitHub { .. }));
        assert_eq!(by("github").scopes, ["read:user", "user:email"]);
        assert!(matches!(
            &by("huggingface").endpoints,
            Endpoints::Discovery { issuer } if issuer == "https://huggingface.co"
        ));
        assert_eq!(by("orcid").display_name, "ORCID");
        assert!(by("orcid").trust_email);
    }

    #[test]
    fn a_generic_issuer_needs_its_address_and_https() {
        let mut auth = AuthSettings::default();
        auth.providers.insert("lab".into(), provider("id"));
        let e = auth.identity_config().unwrap_err().to_string();
        assert!(e.contains("auth.providers.lab.issuer is required"), "{e}");
        auth.providers.get_mut("lab").unwrap().issuer = Some("http://127.0.0.1:9000".into());
        let e = format!("{:#}", auth.identity_config().unwrap_err());
        assert!(e.contains("must be an https address"), "{e}");
        auth.allow_loopback_http = true;
        let config = auth.identity_config().unwrap();
        assert!(
            !config.providers[0].trust_email,
            "a generic issuer is not trusted by default"
        );
        auth.providers.get_mut("lab").unwrap().issuer = Some("http://10.1.2.3".into());
        assert!(
            auth.identity_config().is_err(),
            "plain http only on loopback"
        );
    }

    #[test]
    fn endpoints_are_all_given_or_none() {
        let mut auth = AuthSettings::default();
        let mut lab = provider("id");
        lab.issuer = Some("https://id.example.org".into());
        lab.token_endpoint = Some("https://id.example.org/token".into());
        auth.providers.insert("lab".into(), lab);
        let e = auth.identity_config().unwrap_err().to_string();
        assert!(e.contains("give all of"), "{e}");
        let lab = auth.providers.get_mut("lab").unwrap();
        lab.authorization_endpoint = Some("https://id.example.org/auth".into());
        lab.jwks_uri = Some("https://id.example.org/jwks".into());
        assert!(matches!(
            auth.identity_config().unwrap().providers[0].endpoints,
            Endpoints::Explicit { .. }
        ));
    }

    #[test]
    fn names_and_client_ids_are_checked_and_secrets_never_shown() {
        let mut auth = AuthSettings::default();
        auth.providers.insert("Bad Name".into(), provider("id"));
        assert!(auth.identity_config().is_err());
        let mut auth = AuthSettings::default();
        auth.providers.insert("github".into(), provider(" "));
        let e = auth.identity_config().unwrap_err().to_string();
        assert!(
            e.contains("auth.providers.github.client_id is required"),
            "{e}"
        );
        let mut auth = AuthSettings::default();
        auth.providers.insert("github".into(), provider("id"));
        let shown = format!(
            "{auth:?} {:?} {}",
            auth.identity_config().unwrap(),
            toml::to_string(&auth).unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
