//! `GET /api/me/data`: "download my data" for scripts, with an API token.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use paperfeed_app::account_data;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::community::caller;
use crate::api::error::{ApiError, ErrorJson};
use crate::error::failed;
use crate::pages::account_data::{data_response, mail_store};
use crate::state::AppState;

/// Everything the hub keeps about the caller's account: `format`
/// (`paperfeed-account-data`), `version`, `exported_at`, `account`, `api_tokens` (names and
/// dates only), `votes`, `comments`, `subscription`, and one section per part of the
/// reader's library. Never a secret.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct AccountDataJson(serde_json::Value);

/// Download everything the hub keeps about your account, as one JSON document.
#[utoipa::path(
    get,
    path = "/api/me/data",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your data, as an attachment", body = AccountDataJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn my_data(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = caller(&state, &headers).await?;
    let data = account_data::download(&*state.store, mail_store(&state), user.id, Utc::now())
        .await
        .map_err(failed)?;
    Ok(data_response(&data)?)
}
