//! The layers every router of the hub shares: request ids (a per-process counter, or a
//! client's own when it is plain), the request span, and the one-line access log.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a per-process counter, short and greppable in logs.
#[derive(Clone, Default)]
struct CountingRequestIds(Arc<AtomicU64>);

impl MakeRequestId for CountingRequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{n:08x}"))
            .ok()
            .map(RequestId::new)
    }
}

/// A request id a client sent is kept only when it is short and plain (letters, digits,
/// `-_.:`): it goes into every log line of the request, which must carry no address or secret
/// a client chose to put there.
fn plain_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The log span of one request: its id, method and path (never the query string: links in
/// mails carry signed tokens there), and the matched route once routing knows it. Every
/// event logged while the request is handled carries these fields.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "http",
        request.id = %id,
        http.method = %request.method(),
        http.path = %request.uri().path(),
        http.route = tracing::field::Empty,
    )
}

/// The layers every router of the hub shares, outermost last: request ids (a client's plain
/// id is kept, anything else replaced), the request span and log, the id echoed in the
/// response.
pub(crate) fn with_request_layers(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // The request log: one line per answered request, in its span.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span::<axum::body::Body>)
                .on_request(())
                .on_eos(())
                .on_response(
                    |response: &axum::http::Response<axum::body::Body>,
                     latency: std::time::Duration,
                     _span: &tracing::Span| {
                        // A target of its own: `RUST_LOG=info,paperfeed_web::access=warn`
                        // keeps the other info lines without one line per request.
                        tracing::event!(
                            target: "paperfeed_web::access",
                            tracing::Level::INFO,
                            http.status = response.status().as_u16(),
                            // Microsecond precision is plenty in a log line.
                            duration_ms = (latency.as_secs_f64() * 1e6).round() / 1e3,
                            "request answered"
                        );
                    },
                ),
        )
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            CountingRequestIds::default(),
        ))
        .layer(axum::middleware::map_request(
            |mut request: Request<axum::body::Body>| async move {
                if request
                    .headers()
                    .get(REQUEST_ID)
                    .is_some_and(|v| !plain_request_id(v))
                {
                    request.headers_mut().remove(REQUEST_ID);
                }
                request
            },
        ))
}
