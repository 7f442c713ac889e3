//! The connection loop behind [`crate::serve`] and [`crate::serve_metrics`]: HTTP/1.1 over
//! hyper with the limits axum's own `serve` does not have, so slow or idle clients cannot hold
//! the server's connections (and file descriptors) for long:
//!
//! - a request's headers must arrive within [`ConnectionLimits::header_read_timeout`], counted
//!   from the connection's opening, or on a kept-alive connection from the first byte of the
//!   next request (a half-sent request — slowloris — is closed then);
//! - a kept-alive connection with no new request for [`ConnectionLimits::idle_timeout`] is
//!   closed;
//! - at most [`ConnectionLimits::max_connections`] connections are served at once; beyond,
//!   connections wait in the listen queue until one ends, and reaching the limit is logged.
//!   While connections wait, the ones held without use make room: a connection that has not
//!   sent a complete request within [`EVICT_AFTER`] of opening is closed, and kept-alive
//!   ones are closed once idle. Otherwise a client holding the limit's worth of connections
//!   would keep everyone else waiting for a whole header or idle timeout.
//!
//! On shutdown the listener closes, idle connections close, requests in flight finish, and the
//! loop returns once every connection has ended.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

/// How long and how many clients may hold connections. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Warnings about a limit reached are repeated at most this often (with a count), so an attack
/// cannot flood the log.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Under pressure (a connection waiting to be accepted), connections open this long without
/// a complete request are closed: real clients send their headers at once.
const EVICT_AFTER: Duration = Duration::from_secs(1);

/// After an accept error that is not about one connection (out of file descriptors), wait this
/// long before accepting again: connections ending meanwhile free descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then drains.
pub(crate) async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (closing, closing_seen) = watch::channel(false);
    // Bumped whenever a connection must wait for a free slot.
    let (pressure, pressure_seen) = watch::channel(0u64);
    let mut shutdown = pin!(shutdown);
    let mut at_limit = RateLimitedWarning::default();
    let mut out_of_files = RateLimitedWarning::default();
    loop {
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                pressure.send_modify(|n| *n = n.wrapping_add(1));
                at_limit.warn(|times| {
                    tracing::warn!(
                        max_connections = max,
                        times,
                        "connection limit reached: new connections wait until one ends \
                         (serve.max_connections)"
                    );
                });
                // Until a slot frees, remind the connections now and then: those that were
                // too young to close at the last reminder may be old enough now.
                let mut acquire = pin!(Arc::clone(&permits).acquire_owned());
                let waited = loop {
                    tokio::select! {
                        permit = &mut acquire => break permit.ok(),
                        () = tokio::time::sleep(EVICT_AFTER / 2) => {
                            pressure.send_modify(|n| *n = n.wrapping_add(1));
                        }
                        () = &mut shutdown => break None,
                    }
                };
                match waited {
                    Some(permit) => permit,
                    None => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_about_one_connection(&e) => continue,
                Err(e) => {
                    out_of_files.warn(|times| {
                        tracing::error!(
                            error = %e,
                            times,
                            "accepting a connection failed (is the open-files limit reached?); \
                             retrying"
                        );
                    });
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let signals = Signals {
            closing: closing_seen.clone(),
            pressure: pressure_seen.clone(),
        };
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, signals).await;
            drop(permit);
        });
    }
    // Stop accepting: connections not yet accepted are refused from here on.
    drop(listener);
    let _ = closing.send(true);
    // Each connection holds a permit until it ends: all permits back means all ended.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
    Ok(())
}

/// What the accept loop tells every connection: the server is closing; connections wait.
struct Signals {
    closing: watch::Receiver<bool>,
    pressure: watch::Receiver<u64>,
}

async fn serve_connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    signals: Signals,
) {
    let Signals {
        mut closing,
        mut pressure,
    } = signals;
    pressure.mark_unchanged();
    let opened = Instant::now();
    let requests = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&requests);
    let _ = stream.set_nodelay(true);
    let received = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Counted {
        inner: stream,
        received: Arc::clone(&received),
    });
    // The peer address keys the rate limits of anonymous forms (sign up, log in).
    let service = app.map_request(move |mut request: Request<Incoming>| {
        counted.fetch_add(1, Ordering::Relaxed);
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(HeaderClock {
            received,
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            armed_before: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
        .header_read_timeout(limits.header_read_timeout);
    let mut connection = pin!(builder.serve_connection(io, TowerToHyperService::new(service)));
    let mut asked_to_close = false;
    let mut pressure_gone = false;
    loop {
        tokio::select! {
            changed = pressure.changed(), if !asked_to_close && !pressure_gone => {
                if changed.is_err() {
                    pressure_gone = true;
                    continue;
                }
                if requests.load(Ordering::Relaxed) == 0 {
                    if opened.elapsed() >= EVICT_AFTER {
                        tracing::debug!("closing a connection without a request to make room");
                        return;
                    }
                } else {
                    // Closes it now if idle, else after the answer in hand.
                    asked_to_close = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            result = connection.as_mut() => {
                if let Err(e) = result {
                    // Timeouts and clients going away: routine, not worth more than debug.
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = closing.wait_for(|closing| *closing), if !asked_to_close => {
                asked_to_close = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Accept errors that concern only the connection being accepted (it was reset before we
/// took it): take the next one at once.
fn is_about_one_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Logs the first time and then at most every [`WARN_EVERY`], with how often it happened.
#[derive(Default)]
struct RateLimitedWarning {
    last: Option<Instant>,
    times: u64,
}

impl RateLimitedWarning {
    fn warn(&mut self, log: impl FnOnce(u64)) {
        self.times += 1;
        if self.last.is_none_or(|last| last.elapsed() >= WARN_EVERY) {
            log(self.times);
            self.last = Some(Instant::now());
            self.times = 0;
        }
    }
}

/// The connection's socket, counting bytes received so [`HeaderClock`] knows when a request
/// starts arriving.
struct Counted {
    inner: TcpStream,
    received: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            self.received.fetch_add(read as u64, Ordering::Relaxed);
        }
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// hyper's timer for one connection. hyper starts its header-read timeout whenever it waits
/// for a request, including between kept-alive requests, so alone it would close idle
/// connections after the header timeout. This timer gives the first request the header
/// timeout from the opening; a later request gets the idle timeout until its first byte
/// arrives and the header timeout from then on.
struct HeaderClock {
    received: Arc<AtomicU64>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    /// Whether hyper has waited for a request on this connection before.
    armed_before: Arc<std::sync::atomic::AtomicBool>,
}

impl Timer for HeaderClock {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(Deadline::fixed(Instant::now() + duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        // hyper asks for no other deadline on a server HTTP/1 connection than the header one.
        if !self.armed_before.swap(true, Ordering::Relaxed) {
            return Box::pin(Deadline::fixed(deadline));
        }
        Box::pin(Deadline {
            sleep: Box::pin(tokio::time::sleep(self.idle_timeout)),
            waiting_for_first_byte: Some(FirstByte {
                received: Arc::clone(&self.received),
                seen: self.received.load(Ordering::Relaxed),
                header_read_timeout: self.header_read_timeout,
            }),
        })
    }
}

/// A deadline that, while `waiting_for_first_byte`, moves to "header timeout from now" once a
/// byte has arrived. hyper polls it right after each read that did not complete the headers,
/// so "now" is when that byte arrived.
struct Deadline {
    sleep: Pin<Box<tokio::time::Sleep>>,
    waiting_for_first_byte: Option<FirstByte>,
}

struct FirstByte {
    received: Arc<AtomicU64>,
    seen: u64,
    header_read_timeout: Duration,
}

impl Deadline {
    fn fixed(at: Instant) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep_until(at.into())),
            waiting_for_first_byte: None,
        }
    }
}

impl Sleep for Deadline {}

impl Future for Deadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let Some(first) = &this.waiting_for_first_byte
            && first.received.load(Ordering::Relaxed) != first.seen
        {
            let at = tokio::time::Instant::now() + first.header_read_timeout;
            this.sleep.as_mut().reset(at);
            this.waiting_for_first_byte = None;
        }
        this.sleep.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elapsed_ms(start: Instant) -> u128 {
        start.elapsed().as_millis()
    }

    #[tokio::test]
    async fn a_later_request_gets_the_idle_timeout_then_the_header_timeout_from_its_first_byte() {
        let clock = HeaderClock {
            received: Arc::new(AtomicU64::new(0)),
            header_read_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(2000),
            armed_before: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        // The first request: hyper's deadline as given.
        let start = Instant::now();
        clock.sleep_until(start + Duration::from_millis(200)).await;
        let first = elapsed_ms(start);
        assert!((200..1500).contains(&first), "{first} ms");
        // A later one with nothing arriving: the idle timeout, not the header one.
        let start = Instant::now();
        clock.sleep_until(start + Duration::from_millis(200)).await;
        let idle = elapsed_ms(start);
        assert!(idle >= 2000, "{idle} ms");
        // A later one whose first byte arrives after 300 ms: 200 ms from then.
        let start = Instant::now();
        let mut deadline = clock.sleep_until(start + Duration::from_millis(200));
        tokio::time::sleep(Duration::from_millis(300)).await;
        clock.received.fetch_add(1, Ordering::Relaxed);
        std::future::poll_fn(|cx| {
            let _ = deadline.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
        deadline.await;
        let later = elapsed_ms(start);
        assert!((500..1900).contains(&later), "{later} ms");
    }
}
