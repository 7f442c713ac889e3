//! HTTP dates: whole seconds, in the IMF-fixdate form `Last-Modified` carries.

use axum::http::HeaderValue;
use chrono::{DateTime, Utc};

/// `at` without its fraction of a second: HTTP dates have whole seconds, so a client's copy
/// compares equal.
pub(crate) fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

pub(crate) fn http_date(at: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}
