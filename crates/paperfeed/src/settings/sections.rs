//! The sections of the settings tree, each with its built-in defaults: what `paperfeed.toml`
//! and the `PAPERFEED_<SECTION>__<KEY>` variables can set below the root.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;
use crate::cli::SourceKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailSettings {
    /// SMTP server (see `--smtp-url`); unset, nothing can be mailed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<Secret>,
    /// The From of every mail.
    pub from: String,
    /// Key that signs confirmation, preference and unsubscribe links. Unset: a random key kept
    /// in `<data_dir>/mail-signing.key`, created on first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<Secret>,
    /// Digest jobs sent at once.
    pub workers: usize,
    /// Seconds an SMTP conversation may take.
    pub timeout_seconds: u64,
    /// Seconds a worker holds a claimed job; a dead worker's jobs are free again after it.
    pub lease_seconds: u64,
    /// Permanent delivery failures (5xx) before an address is suspended.
    pub suspend_after: u32,
    /// Run digests from `serve` every day at this hour (0–23): daily ones on weekdays, weekly
    /// ones on Mondays. Unset: only `paperfeed digest run` sends digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_hour: Option<u32>,
    /// The zone of `schedule_hour`, as a UTC offset (`+01:00`, `-05:00`, `UTC`).
    #[serde(default = "default_utc_offset")]
    pub schedule_utc_offset: String,
    /// A second confirmation mail to the same address only after this many minutes.
    #[serde(default = "default_resend_minutes")]
    pub confirm_resend_minutes: u64,
}

fn default_resend_minutes() -> u64 {
    60
}

fn default_utc_offset() -> String {
    "UTC".to_owned()
}

/// Accounts, votes, comments and submissions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommunityConfig {
    /// Papers can be submitted up to this many days after their arXiv publication.
    pub submit_window_days: i64,
    /// Per action: `burst` requests at once, refilled at `per_minute`. Sign-up and log-in are
    /// keyed by client address (log-in also by account), the rest by user.
    pub rate_limits: paperfeed_web::RateLimits,
}

impl Default for CommunityConfig {
    fn default() -> Self {
        Self {
            submit_window_days: 14,
            rate_limits: paperfeed_web::RateLimits::default(),
        }
    }
}

/// Webhooks of saved searches (`[webhooks]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// Let webhooks reach loopback, private, link-local and other internal addresses (a hub
    /// inside a trusted network, tests). Off: such targets are refused when a hook is saved
    /// and at every delivery.
    pub allow_private_targets: bool,
    /// Seconds a delivery may take (connecting, and the whole request).
    pub timeout_seconds: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: i64,
    /// Seconds before the second attempt; doubling for each next one, up to an hour.
    pub first_retry_seconds: u64,
    /// Seconds between looks for due deliveries.
    pub poll_seconds: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            timeout_seconds: 10,
            max_attempts: 8,
            first_retry_seconds: 30,
            poll_seconds: 5,
        }
    }
}

/// The live sources: `paperfeed ingest --source …` and the polling inside `serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourcesSettings {
    /// Sent with every request; arXiv asks for a way to reach whoever runs a harvester.
    pub user_agent: String,
    pub arxiv: SourceSettings,
    pub oai: SourceSettings,
    pub hf: SourceSettings,
}

/// One live source. `query`, `page_size` and `max_results` are for `arxiv`, `set` for `oai`,
/// `days` for `hf`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceSettings {
    /// arxiv: the API's site (`/api/query` is appended); oai: the OAI-PMH endpoint itself;
    /// hf: the hub's site (`/api/daily_papers` is appended).
    pub base_url: String,
    /// At least this long between two requests, in seconds.
    pub politeness_seconds: f64,
    /// For one whole request, in seconds.
    pub timeout_seconds: u64,
    /// Extra attempts after 5xx, 429, timeouts and broken connections (backoff doubles).
    pub retries: u32,
    /// The largest answer read, in bytes; a larger one fails the page, unread.
    pub max_response_bytes: u64,
    /// Poll this source from `serve`.
    pub poll: bool,
    /// Minutes between two polls.
    pub interval_minutes: u64,
    /// arxiv: the `search_query` listed (categories and terms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// oai: the set harvested (`cs`, `math`, `physics:hep-th`); every record when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    /// arxiv: results per page.
    pub page_size: u64,
    /// arxiv: newest results read per run.
    pub max_results: u64,
    /// hf: days back mirrored when no `--from` is given and nothing was mirrored yet.
    pub days: u32,
}

impl SourceSettings {
    fn new(base_url: &str, politeness_seconds: f64, interval_minutes: u64) -> Self {
        Self {
            base_url: base_url.to_owned(),
            politeness_seconds,
            timeout_seconds: 60,
            retries: 4,
            max_response_bytes: paperfeed_ingest::fetch::HttpConfig::DEFAULT_MAX_BODY_BYTES,
            poll: false,
            interval_minutes,
            query: None,
            set: None,
            page_size: 100,
            max_results: 500,
            days: 3,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServeSettings {
    pub bind: SocketAddr,
    /// Load the bundled sample into an empty store at start-up.
    pub load_sample: bool,
    /// The address people reach the hub at (`https://papers.example.org`), for absolute links
    /// in feeds. Unset: links use the host each request came to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Serve `/metrics` on this address instead of `bind` (then `bind` answers 404 for it):
    /// keeps the metrics off the public listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_bind: Option<SocketAddr>,
    /// On SIGTERM/SIGINT, in-flight requests and background tasks get this many seconds to
    /// finish before the process exits anyway.
    pub shutdown_grace_seconds: u64,
    /// A client gets this many seconds to send a request's headers (from the moment the
    /// connection opens, or from the first byte of a later request on it); then the
    /// connection is closed. Half-sent requests (slowloris) hold a connection no longer.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: u64,
    /// A kept-alive connection with no request for this many seconds is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    /// Connections served at once; more wait to be accepted (lowered at start to what the
    /// open-files limit allows).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// At start, an embedded (SQLite) store is checked for damaged pages for at most this
    /// many seconds, and a damaged one is not served; 0 skips the check.
    #[serde(default = "default_store_check")]
    pub store_check_seconds: u64,
    /// Reverse proxies (addresses, or networks like `10.0.0.0/8`) whose `X-Forwarded-For` is
    /// believed: behind them, the limits keyed by client address (sign-up, log-in, subscribe)
    /// key on the client they forward for instead of on the proxy. Empty: the TCP peer is the
    /// client. A TOML list, or one string separated by commas (an environment variable).
    #[serde(default, deserialize_with = "list_or_string")]
    pub trusted_proxies: Vec<String>,
}

/// A list of strings given as a list, or as one string of items separated by commas or
/// whitespace, which is how an environment variable holds one.
fn list_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    let items = match ListOrString::deserialize(d)? {
        ListOrString::List(items) => items,
        ListOrString::String(text) => vec![text],
    };
    Ok(items
        .iter()
        .flat_map(|item| item.split([',', ' ', '\t', '\n']))
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect())
}

fn default_store_check() -> u64 {
    10
}

fn default_header_read_timeout() -> u64 {
    10
}

fn default_idle_timeout() -> u64 {
    60
}

fn default_max_connections() -> usize {
    1024
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchSettings {
    /// Folder with the all-MiniLM-L6-v2 files (config.json, tokenizer.json,
    /// model.safetensors). Unset: `<data_dir>/models/all-MiniLM-L6-v2`, then the Hugging Face
    /// cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<PathBuf>,
    /// Up to this many vectors, semantic search scores them all; above, the vector index's sign
    /// codes pick the candidates that are read and scored (`paperfeed_search::VectorIndex`).
    pub exact_vector_limit: usize,
    /// Papers embedded per batch in the background.
    pub embed_batch: usize,
    /// How often `serve` checks the store for papers to index, in seconds.
    pub poll_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestSettings {
    /// Papers per store transaction.
    pub batch_size: usize,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            load_sample: true,
            public_url: None,
            metrics_bind: None,
            shutdown_grace_seconds: 10,
            header_read_timeout_seconds: default_header_read_timeout(),
            idle_timeout_seconds: default_idle_timeout(),
            max_connections: default_max_connections(),
            store_check_seconds: default_store_check(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self { batch_size: 1000 }
    }
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            model_dir: None,
            exact_vector_limit: paperfeed_search::DEFAULT_EXACT_LIMIT,
            embed_batch: 16,
            poll_seconds: 2,
        }
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Daily Papers <papers@localhost>".to_owned(),
            signing_key: None,
            workers: 4,
            timeout_seconds: 30,
            lease_seconds: 300,
            suspend_after: 3,
            schedule_hour: None,
            schedule_utc_offset: default_utc_offset(),
            confirm_resend_minutes: default_resend_minutes(),
        }
    }
}

impl Default for SourcesSettings {
    fn default() -> Self {
        Self {
            user_agent: paperfeed_ingest::fetch::HttpConfig::default_user_agent(),
            arxiv: SourceSettings {
                query: Some("cat:cs.CL OR cat:cs.LG OR cat:cs.CV OR cat:cs.AI".into()),
                ..SourceSettings::new("https://export.arxiv.org", 3.0, 60)
            },
            oai: SourceSettings {
                set: Some("cs".into()),
                ..SourceSettings::new("https://oaipmh.arxiv.org/oai", 3.0, 1440)
            },
            hf: SourceSettings::new("https://huggingface.co", 1.0, 60),
        }
    }
}

impl SourcesSettings {
    pub fn get(&self, kind: SourceKind) -> &SourceSettings {
        match kind {
            SourceKind::Arxiv => &self.arxiv,
            SourceKind::Oai => &self.oai,
            SourceKind::Hf => &self.hf,
        }
    }

    pub(super) fn get_mut(&mut self, kind: SourceKind) -> &mut SourceSettings {
        match kind {
            SourceKind::Arxiv => &mut self.arxiv,
            SourceKind::Oai => &mut self.oai,
            SourceKind::Hf => &mut self.hf,
        }
    }
}
