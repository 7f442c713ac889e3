//! The per-reader part of every page's header, spliced into pages on their way out.
//!
//! Pages are rendered (and, for anonymous readers, cached and shared) with two markers in the
//! header instead of what depends on who asks and on the hub's configuration:
//! [`READER_MARKER`] becomes the account links (a signed-in reader's name, library, for-you,
//! following and a log-out form with their CSRF token; log in and sign up for anyone else),
//! [`BANNER_MARKER`] the banner (the digest's "Subscribe" where the hub sends mail, its RSS and
//! Atom feeds where it does not). So a cached page holds no reader's name, and the one copy
//! serves every anonymous reader.
//!
//! The middleware reads the session once, before the handler, and leaves it in the request's
//! extensions, where the [`Viewer`] extractor finds it instead of asking the store again. After
//! a form (POST) the session is read again: logging out, a password change or deleting the
//! account change who the page is for.
//!
//! Only the head of a page is held: the markers are looked for in the first
//! [`MAX_HEAD`] bytes, the rest of the body passes as it comes (a large page stays streamed).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

use crate::community::auth::{SESSION_COOKIE, Viewer, cookie, hash_secret};
use crate::error::AppError;
use crate::state::AppState;

/// Where the account links go (in `templates/base.html`).
pub const READER_MARKER: &[u8] = b"<!--paperfeed:reader-->";
/// Where the banner goes, after [`READER_MARKER`].
pub const BANNER_MARKER: &[u8] = b"<!--paperfeed:banner-->";
/// How far into a page the markers are looked for; past it the page passes unchanged.
const MAX_HEAD: usize = 64 * 1024;

/// The signed-in reader the header names.
struct HeaderReader {
    name: String,
    csrf: String,
}

#[derive(Template)]
#[template(path = "reader_links.html")]
struct ReaderLinks {
    reader: Option<HeaderReader>,
    /// `?next=…` back to this page on the log-in and sign-up links, or empty.
    next: String,
}

#[derive(Template)]
#[template(path = "banner.html")]
struct Banner {
    /// The hub can mail a confirmation, so the digest can be subscribed to.
    subscribe: bool,
}

/// The `?next=` query for the log-in and sign-up links of a page at `uri`: back here, except
/// from the account forms themselves.
fn next_query(method: &Method, path_and_query: &str) -> String {
    let path = path_and_query.split('?').next().unwrap_or("/");
    let own_form = ["/login", "/signup", "/logout"].contains(&path);
    if method != Method::GET || own_form || path == "/" {
        return String::new();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    format!("?next={encoded}")
}

/// The session of the request's cookie, if it names a live one.
async fn session_of(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Viewer, AppError> {
    let Some(id) = cookie(headers, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
        return Ok(Viewer(None));
    };
    let session = state
        .store
        .session(&hash_secret(id), chrono::Utc::now())
        .await?;
    Ok(Viewer(session))
}

/// Whether this request's handler may want the reader: pages and forms, not the JSON API
/// (tokens, not sessions) or static files.
fn reads_session(path: &str) -> bool {
    !(path.starts_with("/api/") || path.starts_with("/static/"))
}

/// Middleware for every route: reads the session once for the handlers, and splices the
/// header's account links and banner into HTML pages.
pub async fn splice_header(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let method = request.method().clone();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    let has_session = cookie(request.headers(), SESSION_COOKIE).is_some_and(|v| !v.is_empty());
    let mut viewer = if has_session && reads_session(request.uri().path()) {
        let viewer = session_of(&state, request.headers()).await?;
        request.extensions_mut().insert(viewer.clone());
        Some(viewer)
    } else {
        None
    };
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !is_html {
        return Ok(response);
    }
    if has_session && (viewer.is_none() || (method != Method::GET && method != Method::HEAD)) {
        // After a form the session may have ended or changed hands.
        viewer = Some(session_of(&state, &headers).await?);
    }
    let reader = viewer.and_then(|v| v.0).map(|session| HeaderReader {
        name: session.user.username.to_string(),
        csrf: session.csrf_token,
    });
    let links = ReaderLinks {
        next: if reader.is_some() {
            String::new()
        } else {
            next_query(&method, &target)
        },
        reader,
    }
    .render()
    .map_err(crate::error::render_error)?;
    let banner = Banner {
        subscribe: state.mail_links.as_ref().is_some_and(|m| m.sends_mail()),
    }
    .render()
    .map_err(crate::error::render_error)?;
    splice(response, Bytes::from(links), Bytes::from(banner)).await
}

/// `response` with its first [`READER_MARKER`] replaced by `links` and the first
/// [`BANNER_MARKER`] after it by `banner`; unchanged when they are not in its head.
async fn splice(response: Response, links: Bytes, banner: Bytes) -> Result<Response, AppError> {
    let (mut parts, mut body) = response.into_parts();
    let mut head: Vec<u8> = Vec::new();
    let mut first: Option<Bytes> = None;
    loop {
        let found = {
            let held = first.as_deref().unwrap_or(&head);
            find(held, READER_MARKER).and_then(|r| {
                let from = r + READER_MARKER.len();
                find(&held[from..], BANNER_MARKER).map(|b| (r, from + b))
            })
        };
        let held_len = first.as_ref().map_or(head.len(), Bytes::len);
        if found.is_some() || held_len > MAX_HEAD {
            let held = match first.take() {
                Some(bytes) => bytes,
                None => Bytes::from(head),
            };
            let mut chunks = VecDeque::new();
            match found {
                Some((r, b)) => {
                    chunks.push_back(held.slice(..r));
                    chunks.push_back(links);
                    chunks.push_back(held.slice(r + READER_MARKER.len()..b));
                    chunks.push_back(banner);
                    chunks.push_back(held.slice(b + BANNER_MARKER.len()..));
                    parts.headers.remove(header::CONTENT_LENGTH);
                }
                None => chunks.push_back(held),
            }
            let rest = Spliced { chunks, rest: body };
            return Ok(Response::from_parts(parts, Body::new(rest)));
        }
        let Some(frame) = http_body_util::BodyExt::frame(&mut body).await else {
            // The whole body is held and has no markers: as it was.
            let held = first.unwrap_or_else(|| Bytes::from(head));
            return Ok(Response::from_parts(parts, Body::from(held)));
        };
        let frame = frame.map_err(|e| crate::error::failed_at("rendering a page", e))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        // The common case, a page in one piece, is sliced without a copy.
        match first.take() {
            None if head.is_empty() => first = Some(data),
            None => head.extend_from_slice(&data),
            Some(bytes) => {
                head.extend_from_slice(&bytes);
                head.extend_from_slice(&data);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A body made of a few pieces in hand, then the rest of the original body.
struct Spliced {
    chunks: VecDeque<Bytes>,
    rest: Body,
}

impl http_body::Body for Spliced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        while let Some(chunk) = self.chunks.pop_front() {
            if !chunk.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.iter().all(Bytes::is_empty) && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let held: u64 = self.chunks.iter().map(|c| c.len() as u64).sum();
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + held);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + held);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse as _;

    async fn spliced(pieces: Vec<&'static [u8]>) -> String {
        let stream = futures_util::stream::iter(
            pieces
                .into_iter()
                .map(|p| Ok::<Bytes, std::io::Error>(Bytes::from_static(p))),
        );
        let response = (
            [(header::CONTENT_TYPE, "text/html")],
            Body::from_stream(stream),
        )
            .into_response();
        let out = splice(response, Bytes::from("LINKS"), Bytes::from("BANNER"))
            .await
            .unwrap();
        let body = axum::body::to_bytes(out.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn markers_are_replaced_however_the_body_is_cut() {
        let page: &[u8] =
            b"<header><!--paperfeed:reader--></div><!--paperfeed:banner--></header><main>x</main>";
        let want = "<header>LINKS</div>BANNER</header><main>x</main>";
        assert_eq!(spliced(vec![page]).await, want);
        for cut in 1..page.len() {
            let (a, b) = page.split_at(cut);
            assert_eq!(spliced(vec![a, b]).await, want, "cut at {cut}");
        }
        // Only the first of each: a later copy (never in a real page) stays as it is.
        let twice: &[u8] = b"<!--paperfeed:reader--><!--paperfeed:banner--><!--paperfeed:reader-->";
        assert_eq!(
            spliced(vec![twice]).await,
            "LINKSBANNER<!--paperfeed:reader-->"
        );
        assert_eq!(
            spliced(vec![b"no markers", b" at all"]).await,
            "no markers at all"
        );
    }

    #[test]
    fn log_in_links_lead_back_to_the_page() {
        assert_eq!(next_query(&Method::GET, "/"), "");
        assert_eq!(next_query(&Method::GET, "/login"), "");
        assert_eq!(next_query(&Method::POST, "/papers/1"), "");
        assert_eq!(
            next_query(&Method::GET, "/papers?q=a&b"),
            "?next=%2Fpapers%3Fq%3Da%26b"
        );
    }
}
