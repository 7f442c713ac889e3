//! `/healthz` (the process answers) and `/readyz` (it can serve: the store answers with its
//! schema applied, and the search index is being kept up to date and is not empty beside a
//! store that has papers), for load balancers and orchestrators. Plain JSON, never cached;
//! 503 says why.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

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
    no_store(readiness(&state).await)
}

async fn readiness(state: &AppState) -> Response {
    // The store is opened (and migrated) before the server starts, so a store that answers
    // has its schema; the engine exists once serving starts, caught up or not.
    let seq = match state.store.change_seq().await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the store does not answer");
            return unavailable("the store does not answer".to_owned());
        }
    };
    if let Some(problem) = state.search.problem() {
        return unavailable(format!(
            "the search index cannot be updated ({problem}); retrying"
        ));
    }
    // An empty index beside papers means searches answer nothing: not ready until the
    // indexer has put the first batch in (seconds), whatever emptied it.
    if state.search.indexed_documents() == 0 {
        match state.store.papers_changed_since(i64::MIN, 1).await {
            Ok(papers) if !papers.is_empty() => {
                return unavailable(
                    "the search index is empty while the store holds papers (it is being \
                     built)"
                        .to_owned(),
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "readiness check: the store does not answer");
                return unavailable("the store does not answer".to_owned());
            }
        }
    }
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

fn unavailable(reason: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": reason })),
    )
        .into_response()
}

/// `GET /metrics`.
pub async fn show_metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .refresh(state.store.as_ref(), &state.search)
        .await;
    match state.metrics.encode() {
        Ok(body) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                ),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: the exposition does not encode");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics could not be encoded",
            )
                .into_response()
        }
    }
}
