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
    retry_after_secs: Option<u64>,
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
            retry_after_secs: None,
        }
    }

    pub fn not_found(error: impl Into<String>) -> Self {
        Self::with_status(StatusCode::NOT_FOUND, error)
    }

    /// A 404 for a period that has the right shape but is not on the calendar (`2026-02-30`,
    /// week 53 of a 52-week year): well formed, so not a 400; there is nothing there.
    pub fn no_such_period(parameter: &str, error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: ErrorJson {
                error: error.into(),
                parameter: Some(parameter.to_owned()),
            },
            retry_after_secs: None,
        }
    }

    /// A 413 for a request body over `limit_bytes`.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than this hub accepts ({limit_bytes} bytes)"),
        )
    }

    /// The status this error answers with.
    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// An error with `status` and no parameter at fault.
    pub fn with_status(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorJson {
                error: error.into(),
                parameter: None,
            },
            retry_after_secs: None,
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
            retry_after_secs: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(crate::error::error_chain(&e))
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
            retry_after_secs: None,
        }
    }
}

impl From<crate::error::AppError> for ApiError {
    /// Page errors met on the way (rate limits, store failures) in the API's shape.
    fn from(e: crate::error::AppError) -> Self {
        use crate::error::AppError;
        match e {
            AppError::TooManyRequests { retry_after_secs } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::with_status(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many requests; retry after {retry_after_secs} seconds"),
                )
            },
            AppError::NotFound { title, .. } => Self::not_found(title),
            AppError::BadRequest(m) => Self::with_status(StatusCode::BAD_REQUEST, m),
            AppError::Forbidden(m) => Self::with_status(StatusCode::FORBIDDEN, m),
            AppError::LogInFirst { .. } => Self::with_status(
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer TOKEN (create one in your account settings)",
            ),
            AppError::PayloadTooLarge { limit_bytes } => Self::payload_too_large(limit_bytes),
            AppError::Unavailable {
                message,
                retry_after_secs,
            } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::with_status(StatusCode::SERVICE_UNAVAILABLE, message)
            },
            AppError::Failed(e) => Self::internal(crate::error::error_chain(e.as_ref())),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
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
            error: "this route does not answer this method; see /api/openapi.json".to_owned(),
            parameter: None,
        },
        retry_after_secs: None,
    }
}

/// Unknown routes under `/api/`.
pub async fn no_such_route() -> ApiError {
    ApiError::not_found("no such API route; the routes are listed in /api/openapi.json")
}
