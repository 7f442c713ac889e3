//! One error type for every handler: 4xx carry a message safe to show, 5xx are opaque and
//! carry the request id that the log line also has.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use paperfeed_app::subscriptions::SubscriptionError;
use paperfeed_store::StoreError;

use crate::views::Link;

#[derive(Debug)]
pub enum AppError {
    /// Nothing here; `suggestions` point somewhere useful (nearest days, the latest feed).
    NotFound {
        title: String,
        message: String,
        suggestions: Vec<Link>,
    },
    /// The request itself was malformed; the message says which part and why.
    BadRequest(String),
    /// The request is not allowed (a missing or wrong CSRF token, someone else's comment).
    Forbidden(String),
    /// The page needs a logged-in user: answered with a redirect to the log-in page, which
    /// comes back to `next` afterwards.
    LogInFirst { next: String },
    /// A rate limit: 429 with `Retry-After`.
    TooManyRequests { retry_after_secs: u64 },
    /// A request body over the hub's limit: 413.
    PayloadTooLarge { limit_bytes: usize },
    /// Something the answer needs (arXiv, for a submission) cannot be reached just now: 503
    /// with `Retry-After`. The message is safe to show and says what to do.
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    /// We failed, for the reason `source` gives (logged with its whole chain of causes); the
    /// page only shows a reference.
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Failed(Box::new(e))
    }
}

impl From<SubscriptionError> for AppError {
    fn from(e: SubscriptionError) -> Self {
        match e {
            SubscriptionError::Store(e) => e.into(),
            SubscriptionError::InvalidLink(_) | SubscriptionError::UnknownSubscriber => {
                AppError::BadRequest("This link is invalid or has expired.".to_owned())
            }
            e @ SubscriptionError::NoMail => AppError::Failed(Box::new(e)),
        }
    }
}

/// An error and its causes, outermost first: `reading papers: database is locked`.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A page template that failed to render: our failure, shown as the opaque 500.
pub(crate) fn render_error(e: askama::Error) -> AppError {
    failed_at("rendering a template", e)
}

impl AppError {
    pub fn not_found(title: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::NotFound {
            title: title.into(),
            message: message.into(),
            suggestions: Vec::new(),
        }
    }

    pub fn with_suggestions(mut self, links: Vec<Link>) -> Self {
        if let AppError::NotFound { suggestions, .. } = &mut self {
            suggestions.extend(links);
        }
        self
    }
}

/// A 5xx: `detail` goes to the log, the page only shows a reference.
fn we_failed(detail: &str) -> (StatusCode, &'static str, &'static str, &'static [Link]) {
    tracing::error!(error = %detail, "request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The hub could not answer this request. It has been logged; please try again.",
        &[],
    )
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    suggestions: &'a [Link],
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let too_many;
        let too_large;
        let (status, title, message, suggestions) = match &self {
            AppError::LogInFirst { next } => {
                let to = format!("/login?next={}", crate::query::encode(next));
                return crate::redirect::see_other(&to);
            }
            AppError::TooManyRequests { retry_after_secs } => {
                too_many = format!(
                    "Too many attempts in a short time. Please wait {retry_after_secs} seconds \
                     and try again."
                );
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Slow down",
                    too_many.as_str(),
                    &[][..],
                )
            }
            AppError::PayloadTooLarge { limit_bytes } => {
                too_large = format!(
                    "The request is larger than this hub accepts ({limit_bytes} bytes). \
                     Please shorten it and send it again."
                );
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    too_large.as_str(),
                    &[][..],
                )
            }
            AppError::Unavailable { message, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                message.as_str(),
                &[][..],
            ),
            AppError::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                message.as_str(),
                &[][..],
            ),
            AppError::NotFound {
                title,
                message,
                suggestions,
            } => (
                StatusCode::NOT_FOUND,
                title.as_str(),
                message.as_str(),
                suggestions.as_slice(),
            ),
            AppError::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                "Bad request",
                message.as_str(),
                &[][..],
            ),
            AppError::Failed(e) => we_failed(&error_chain(e.as_ref())),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message,
            suggestions,
        };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message.to_owned()).into_response(),
        };
        if let AppError::TooManyRequests { retry_after_secs }
        | AppError::Unavailable {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
        }
        response
    }
}

impl From<paperfeed_app::search::SearchError> for AppError {
    /// A search that failed (never the searcher's input: the query was parsed before).
    fn from(e: paperfeed_app::search::SearchError) -> Self {
        failed(e)
    }
}

/// What we were doing when `source` failed: the outermost link of a failure's chain.
#[derive(Debug)]
struct Doing {
    what: &'static str,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for Doing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what)
    }
}

impl std::error::Error for Doing {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Our failure while doing `what` (`"rendering a page"`), its cause kept for the log line.
pub(crate) fn failed_at(
    what: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> AppError {
    AppError::Failed(Box::new(Doing {
        what,
        source: Box::new(source),
    }))
}

/// A use case's failure (not the caller's input) as a 500, its causes kept for the log line.
pub(crate) fn failed(error: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::Failed(Box::new(error))
}
