//! `GET /api/me`: who the caller's API token belongs to, with the sign-in providers their
//! account is linked to.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::community::caller;
use crate::api::error::{ApiError, ErrorJson};
use crate::state::AppState;

/// The caller's account.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeJson {
    #[schema(example = "ada")]
    username: String,
    is_admin: bool,
    /// The account has a password (accounts made through a provider have none until their
    /// reader sets one).
    has_password: bool,
    /// Password sign-in is on at this hub.
    password_sign_in: bool,
    /// The identity providers the account is linked to, by provider.
    identities: Vec<IdentityJson>,
}

/// One linked identity.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityJson {
    /// The provider's name at this hub (`github`, `huggingface`, `orcid`…).
    #[schema(example = "github")]
    provider: String,
    /// What the hub calls the provider.
    #[schema(example = "GitHub")]
    provider_name: String,
    /// The provider's id of the account (`sub`, GitHub's numeric id).
    #[schema(example = "583231")]
    subject: String,
    /// What the provider calls the account (its login or name).
    #[schema(example = "octocat")]
    login: String,
    /// When it was linked (RFC 3339).
    linked_at: String,
    /// When it was last used to sign in (RFC 3339).
    last_used_at: Option<String>,
}

/// Your account and the sign-in providers it is linked to.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your account", body = MeJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn get_me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<MeJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let identities = state.store.identities(user.id).await?;
    let name_of = |provider: &str| {
        state
            .sign_in
            .as_ref()
            .and_then(|s| s.provider(provider))
            .map_or_else(|| provider.to_owned(), |p| p.display_name.clone())
    };
    Ok(Json(MeJson {
        username: user.username.to_string(),
        is_admin: user.is_admin,
        has_password: !user.password_hash.is_empty(),
        password_sign_in: state.passwords_on(),
        identities: identities
            .into_iter()
            .map(|i| IdentityJson {
                provider_name: name_of(&i.provider),
                provider: i.provider,
                subject: i.subject,
                login: i.login,
                linked_at: i.linked_at.to_rfc3339(),
                last_used_at: i.last_used_at.map(|t| t.to_rfc3339()),
            })
            .collect(),
    }))
}
