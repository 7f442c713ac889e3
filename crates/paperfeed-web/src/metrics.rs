//! `GET /metrics` in the Prometheus text format (0.0.4), from one [`Metrics`] registry owned by
//! the app state and shared with the background jobs, which count through the application
//! layer's interface (`paperfeed_app::metrics::Metrics`, implemented here).
//!
//! Counted as things happen: HTTP requests and their latency per matched route (axum's
//! `MatchedPath`, never the raw path, whose values are unbounded; `unmatched` for the 404
//! fallback), records ingested by the serving process (polling, submissions) per source and
//! outcome, SMTP failures per kind. Read at scrape time: papers in the store, documents in the
//! search index, vectors computed and pending, digest jobs of the current periods by state.
//!
//! The endpoint is mounted outside the HTTP validators and the page cache (a scrape must never
//! get a 304 or a stale copy), and can be moved to a listener of its own (see
//! [`metrics_router`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use paperfeed_app::metrics::IngestCounts;
pub use paperfeed_app::metrics::SmtpFailure;
use paperfeed_search::SearchEngine;
use paperfeed_store::{MailStore, Store};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// Seconds: from a cached page (sub-millisecond) to a slow hybrid search or an SMTP hand-off.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    source: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SmtpLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DigestLabels {
    frequency: String,
    state: &'static str,
}

/// The digest periods current at a moment, as (frequency, period key) pairs: the application
/// layer names them (`paperfeed_app::digests::current_periods`) in the zone the binary
/// configures.
pub type DigestPeriods = dyn Fn(DateTime<Utc>) -> Vec<(String, String)> + Send + Sync;

struct DigestSource {
    store: Arc<dyn MailStore>,
    periods: Box<DigestPeriods>,
}

/// Every metric the hub exposes. Cheap to update from any task (atomics); one per process.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
    http_in_flight: Gauge,
    ingest_records: Family<IngestLabels, Counter>,
    smtp_failures: Family<SmtpLabels, Counter>,
    store_papers: Gauge,
    store_change_seq: Gauge,
    index_documents: Gauge,
    index_watermark: Gauge,
    vectors: Gauge,
    vectors_pending: Gauge,
    semantic_search: Gauge,
    digest_jobs: Family<DigestLabels, Gauge>,
    digest: Option<DigestSource>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("paperfeed");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration =
            Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let ingest_records = Family::<IngestLabels, Counter>::default();
        let smtp_failures = Family::<SmtpLabels, Counter>::default();
        let digest_jobs = Family::<DigestLabels, Gauge>::default();
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by matched route, method and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (until the response head), by matched route, method \
             and status",
            http_duration.clone(),
        );
        let http_in_flight = gauge(
            &mut registry,
            "http_requests_in_flight",
            "HTTP requests being answered now",
        );
        registry.register(
            "ingest_records",
            "Paper records ingested by this process (live-source polling, submissions), by \
             source and outcome",
            ingest_records.clone(),
        );
        registry.register(
            "smtp_failures",
            "Mails the SMTP server did not take (digests and confirmations), by kind",
            smtp_failures.clone(),
        );
        let store_papers = gauge(&mut registry, "store_papers", "Papers in the store");
        let store_change_seq = gauge(
            &mut registry,
            "store_change_seq",
            "The store's change counter (grows with every batch that changed something)",
        );
        let index_documents = gauge(
            &mut registry,
            "index_documents",
            "Papers searchable in the keyword index",
        );
        let index_watermark = gauge(
            &mut registry,
            "index_watermark",
            "The store change the keyword index is complete up to",
        );
        let vectors = gauge(
            &mut registry,
            "index_vectors",
            "Paper vectors loaded for semantic search",
        );
        let vectors_pending = gauge(
            &mut registry,
            "index_vectors_pending",
            "Papers whose vector is still to be computed (0 when semantic search is off)",
        );
        let semantic_search = gauge(
            &mut registry,
            "semantic_search_enabled",
            "1 when the embedding model is loaded, else 0",
        );
        registry.register(
            "digest_jobs",
            "Digest jobs of the current daily and weekly period, by state",
            digest_jobs.clone(),
        );
        registry.register(
            "build",
            "The running program",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            ingest_records,
            smtp_failures,
            store_papers,
            store_change_seq,
            index_documents,
            index_watermark,
            vectors,
            vectors_pending,
            semantic_search,
            digest_jobs,
            digest: None,
        }
    }

    /// Reports digest jobs of the periods `periods` names at scrape time.
    pub fn with_digests(
        mut self,
        store: Arc<dyn MailStore>,
        periods: impl Fn(DateTime<Utc>) -> Vec<(String, String)> + Send + Sync + 'static,
    ) -> Self {
        self.digest = Some(DigestSource {
            store,
            periods: Box::new(periods),
        });
        self
    }

    /// Counts ingested records by outcome.
    fn count_ingest(&self, source: &str, counts: IngestCounts) {
        for (outcome, n) in [
            ("new", counts.new),
            ("updated", counts.updated),
            ("unchanged", counts.unchanged),
            ("rejected", counts.rejected),
        ] {
            // Touch every outcome so the series exist (at 0) from the first batch on.
            self.ingest_records
                .get_or_create(&IngestLabels {
                    source: source.to_owned(),
                    outcome,
                })
                .inc_by(n);
        }
    }

    /// HTTP requests being answered now.
    pub fn requests_in_flight(&self) -> i64 {
        self.http_in_flight.get()
    }

    fn observe_request(&self, labels: HttpLabels, seconds: f64) {
        self.http_duration.get_or_create(&labels).observe(seconds);
        self.http_requests.get_or_create(&labels).inc();
    }

    /// Reads the values that are state rather than events. A part that fails is logged and
    /// keeps its last value; the scrape still answers.
    pub(crate) async fn refresh(&self, store: &dyn Store, search: &SearchEngine) {
        match store.stats().await {
            Ok(stats) => {
                self.store_papers.set(saturating_i64(stats.papers));
                self.store_change_seq.set(stats.change_seq);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: the store does not answer"),
        }
        let (watermark, vectors) = search.progress();
        self.index_watermark.set(watermark);
        self.vectors.set(saturating_i64(vectors));
        self.index_documents
            .set(saturating_i64(search.indexed_documents()));
        let semantic = search.embedder().is_some();
        self.semantic_search.set(i64::from(semantic));
        if semantic {
            match store
                .count_embedding_backlog(paperfeed_search::MODEL_NAME)
                .await
            {
                Ok(n) => {
                    self.vectors_pending.set(saturating_i64(n));
                }
                Err(e) => tracing::warn!(error = %e, "metrics: the embedding backlog is unknown"),
            }
        } else {
            self.vectors_pending.set(0);
        }
        if let Some(digest) = &self.digest {
            for (frequency, period) in (digest.periods)(Utc::now()) {
                match digest.store.digest_counts(&period).await {
                    Ok(counts) => {
                        for (state, n) in [
                            ("queued", counts.queued),
                            ("claimed", counts.claimed),
                            ("sent", counts.sent),
                            ("failed", counts.failed),
                        ] {
                            self.digest_jobs
                                .get_or_create(&DigestLabels {
                                    frequency: frequency.clone(),
                                    state,
                                })
                                .set(saturating_i64(n));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, digest.period = %period, "metrics: digest counts unknown");
                    }
                }
            }
        }
    }

    /// The exposition, in the Prometheus text format.
    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut body = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut body, &self.registry)?;
        Ok(body)
    }
}

/// The application layer's counters, as the background jobs and use cases record them.
impl paperfeed_app::metrics::Metrics for Metrics {
    fn record_ingest(&self, source: &str, counts: IngestCounts) {
        self.count_ingest(source, counts);
    }

    fn record_smtp_failure(&self, kind: SmtpFailure) {
        let kind = match kind {
            SmtpFailure::Temporary => "temporary",
            SmtpFailure::Permanent => "permanent",
        };
        self.smtp_failures.get_or_create(&SmtpLabels { kind }).inc();
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Methods as labels: the standard ones by name, anything else as `other` (clients choose
/// methods, and a label must not take unbounded values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Decrements the in-flight gauge however the request ends (answered, or dropped when the
/// client goes away).
struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware on every route (added with `Router::layer`, so the matched route is known):
/// counts and times the request, and names its route in the request's log span.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    tracing::Span::current().record("http.route", tracing::field::display(&route));
    let method = method_label(request.method());
    let started = Instant::now();
    metrics.http_in_flight.inc();
    let _in_flight = InFlight(&metrics.http_in_flight);
    let response = next.run(request).await;
    metrics.observe_request(
        HttpLabels {
            route,
            method,
            status: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}
