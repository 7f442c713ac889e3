//! One limit on request bodies for every route, enforced before any handler runs: a body over
//! [`MAX_BODY_BYTES`] gets 413, whether its `Content-Length` says so up front (answered
//! without reading a byte) or a chunked body grows past it (answered as soon as it does). The
//! API's 413 is in the API's error shape, the pages' is the HTML error page.
//!
//! Bodies are read here, up to the limit, and handed on whole, so no extractor behind this
//! layer ever meets a body over the limit and turns that into a 400 of its own.

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::error::AppError;

/// The largest request body accepted. The largest form (a 5,000-character comment of
/// four-byte characters, percent-encoded: 60,000 bytes) fits with room; the API's JSON bodies
/// are a few dozen bytes.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// The limit of the library's larger bodies: a note (20,000 characters of four-byte
/// characters, percent-encoded: 240,000 bytes) and an import (2 MiB of text, up to three
/// times that percent-encoded in a form).
fn limit_for(path: &str) -> usize {
    let import = (path.starts_with("/collections/") || path.starts_with("/api/me/collections/"))
        && path.ends_with("/import");
    if import {
        3 * paperfeed_app::library::import::MAX_IMPORT_BYTES + 64 * 1024
    } else if path == "/library/update" || path.starts_with("/api/me/library/") {
        256 * 1024
    } else {
        MAX_BODY_BYTES
    }
}

/// The middleware: 413 for bodies over [`MAX_BODY_BYTES`], the body buffered otherwise.
pub async fn limit_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = limit_for(request.uri().path());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(request.uri().path());
    }
    if HttpBody::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            next.run(Request::from_parts(parts, Body::from(collected.to_bytes())))
                .await
        }
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => too_large(parts.uri.path()),
        // The client stopped sending mid-body (or sent a broken chunk).
        Err(e) => {
            tracing::debug!(error = %e, "request body could not be read");
            answer(
                parts.uri.path(),
                AppError::BadRequest("the request body could not be read".to_owned()),
            )
        }
    }
}

fn too_large(path: &str) -> Response {
    answer(
        path,
        AppError::PayloadTooLarge {
            limit_bytes: limit_for(path),
        },
    )
}

/// `error` in the shape of the route asked: the API's JSON under `/api/`, else the HTML page.
fn answer(path: &str, error: AppError) -> Response {
    if path.starts_with("/api/") {
        crate::api::error_response(error)
    } else {
        error.into_response()
    }
}
