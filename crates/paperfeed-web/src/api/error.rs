//! The API's one error shape, `{"error": "...", "parameter": "..."}`, for every failure under
//! `/api/`: bad parameters (named, with the reason), malformed query strings (the extractor's
//! rejection is wrapped), unknown papers and routes, and opaque 5xx.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use paperfeed_store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// What every API error answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorJson {
    /// What went wrong, safe to show.
    #[schema(example = "limit=0 must be a whole number from 1 to 100")]
    pub error: String,
    /// The query or path parameter at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "limit")]
    pub parameter: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorJson,
}

impl ApiError {
    /// A 400 naming the parameter at fault and why.
    pub fn bad_parameter(parameter: &str, error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: ErrorJson {
                error: error.into(),
                parameter: Some(parameter.to_owned()),
            },
        }
    }

    pub fn not_found(error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: ErrorJson {
                error: error.into(),
                parameter: None,
            },
        }
    }

    /// We failed: logged here, opaque to the caller (the response carries `x-request-id`).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "api request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: ErrorJson {
                error: "the hub could not answer this request; it has been logged".to_owned(),
                parameter: None,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::bad_parameter("id", e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    /// Our query types take every parameter as an optional string, so the one way a query
    /// string fails to deserialize is a repeated parameter; serde names it in backticks.
    fn from(e: QueryRejection) -> Self {
        let text = e.body_text();
        let parameter = text
            .split('`')
            .nth(1)
            .map_or_else(|| "query".to_owned(), str::to_owned);
        Self {
            status: StatusCode::BAD_REQUEST,
            body: ErrorJson {
                error: format!("malformed query string: {text}"),
                parameter: Some(parameter),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// `Query<T>` whose rejection answers in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// A known route asked with a method it does not answer (the API only reads).
pub async fn wrong_method() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        body: ErrorJson {
            error: "this route only answers GET (and HEAD)".to_owned(),
            parameter: None,
        },
    }
}

/// Unknown routes under `/api/`.
pub async fn no_such_route() -> ApiError {
    ApiError::not_found("no such API route; the routes are listed in /api/openapi.json")
}
