//! Stopping on SIGTERM / SIGINT: the first signal cancels a token that the server and the
//! background tasks watch (stop accepting, finish what is in hand, claim nothing new); a
//! second signal exits at once with status 130. [`Tasks`] names what was running and waits
//! for it, bounded, saying what it waited for.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Exit status for "stopped by a second signal", as shells report an interrupted program.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Installs the signal handlers and returns the token the first signal cancels. The handlers
/// are in place when this returns, so a signal from then on no longer kills the process
/// outright.
pub fn on_signals() -> anyhow::Result<CancellationToken> {
    let token = CancellationToken::new();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let stop = token.clone();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!(
                signal = name,
                "stopping: no new work is taken; a second signal exits at once"
            );
            stop.cancel();
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::warn!(signal = name, "second signal: exiting now");
            std::process::exit(EXIT_INTERRUPTED);
        });
    }
    #[cfg(not(unix))]
    {
        let stop = token.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("stopping: no new work is taken; a second Ctrl-C exits at once");
                stop.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(EXIT_INTERRUPTED);
            }
        });
    }
    Ok(token)
}

/// Background tasks of `serve`, by name, so shutdown can say what it waits for.
#[derive(Default)]
pub struct Tasks {
    running: Vec<(String, JoinHandle<()>)>,
}

impl Tasks {
    pub fn spawn(
        &mut self,
        name: impl Into<String>,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.running.push((name.into(), tokio::spawn(task)));
    }

    /// Waits until `deadline` for every task (they were told to stop); logs which finished
    /// and which were still running when the time was up (those are dropped with the
    /// process).
    pub async fn wait_until(self, deadline: Instant) {
        for (name, mut handle) in self.running {
            let started = Instant::now();
            if !handle.is_finished() {
                tracing::info!(task = %name, "waiting for a background task to finish");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, &mut handle).await {
                Ok(_) => tracing::info!(
                    task = %name,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "background task finished"
                ),
                Err(_) => {
                    tracing::warn!(task = %name, "background task still running at the shutdown deadline; stopping it");
                    handle.abort();
                }
            }
        }
    }
}

/// Waits for `server` (already told to stop) until `deadline`; says how many requests were
/// still in flight when time was up. Returns the server's own result when it ended.
pub async fn drain(
    server: &mut JoinHandle<std::io::Result<()>>,
    deadline: Instant,
    grace: Duration,
    in_flight: impl Fn() -> i64,
    what: &str,
) -> Option<std::io::Result<()>> {
    let started = Instant::now();
    let n = in_flight();
    if n > 0 {
        tracing::info!(
            requests = n,
            listener = what,
            "waiting for in-flight requests"
        );
    }
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, &mut *server).await {
        Ok(result) => {
            if n > 0 {
                tracing::info!(
                    listener = what,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "in-flight requests finished"
                );
            }
            Some(result.unwrap_or_else(|e| Err(std::io::Error::other(e))))
        }
        Err(_) => {
            tracing::warn!(
                listener = what,
                requests = in_flight(),
                grace_seconds = grace.as_secs_f64(),
                "requests still in flight at the shutdown deadline: exiting without them"
            );
            server.abort();
            None
        }
    }
}
