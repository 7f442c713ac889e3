//! `/healthz` (the process answers) and `/readyz` (it can serve: the store answers with its
//! schema applied, and the search index is open), for load balancers and orchestrators.
//! Plain JSON, never cached.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn healthz() -> Response {
    no_store(Json(json!({ "status": "ok" })).into_response())
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    // The store is opened (and migrated) before the server starts, so a store that answers
    // has its schema; the engine exists once serving starts, caught up or not.
    let response = match state.store.change_seq().await {
        Ok(seq) => {
            let (indexed_up_to, vectors) = state.search.progress();
            (
                StatusCode::OK,
                Json(json!({
                    "status": "ready",
                    "store": { "change_seq": seq },
                    "index": {
                        "caught_up": indexed_up_to >= seq,
                        "vectors": vectors,
                    },
                })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "reason": "the store does not answer" })),
            )
                .into_response()
        }
    };
    no_store(response)
}
