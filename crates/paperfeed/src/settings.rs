//! The one typed settings tree, layered: defaults → config file → `PAPERFEED_…` environment →
//! command-line flags. Only the binary reads configuration; libraries receive plain values.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::cli::{Cli, Command, LogFormat, SourceKind};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Where the store and index files live.
    pub data_dir: PathBuf,
    /// Where the store lives: `sqlite://PATH` or `postgres://user@host:port/database`.
    /// Unset: `sqlite://<data_dir>/paperfeed.sqlite3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    pub log_format: LogFormat,
    pub serve: ServeSettings,
    pub ingest: IngestSettings,
    pub search: SearchSettings,
    pub mail: MailSettings,
    #[serde(default)]
    pub community: CommunityConfig,
    pub sources: SourcesSettings,
}

/// A value that must never be printed: `paperfeed config` and Debug show a mask.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

/// A database URL: printed (Debug, `paperfeed config`) with its password masked.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", paperfeed_store::mask_password(&self.0))
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&paperfeed_store::mask_password(&self.0))
    }
}

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

/// `UTC`, `Z` or `±HH:MM` as an offset.
pub fn parse_utc_offset(text: &str) -> Option<chrono::FixedOffset> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("utc") || text == "Z" {
        return chrono::FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
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

    fn validate(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.base_url.starts_with("http://") || self.base_url.starts_with("https://"),
            "sources.{name}.base_url must be an http(s) address, not {:?}",
            self.base_url
        );
        anyhow::ensure!(
            self.politeness_seconds.is_finite()
                && (0.0..=3600.0).contains(&self.politeness_seconds),
            "sources.{name}.politeness_seconds must be between 0 and 3600"
        );
        anyhow::ensure!(
            self.timeout_seconds >= 1,
            "sources.{name}.timeout_seconds must be at least 1"
        );
        anyhow::ensure!(
            (1024..=1 << 32).contains(&self.max_response_bytes),
            "sources.{name}.max_response_bytes must be between 1024 and 4294967296, not {}",
            self.max_response_bytes
        );
        anyhow::ensure!(
            self.interval_minutes >= 1,
            "sources.{name}.interval_minutes must be at least 1"
        );
        anyhow::ensure!(
            (1..=2000).contains(&self.page_size),
            "sources.{name}.page_size must be between 1 and 2000"
        );
        Ok(())
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
    /// Up to this many vectors, semantic search scans them all exactly; above, an HNSW graph.
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

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./paperfeed-data"),
            database_url: None,
            log_format: LogFormat::Text,
            serve: ServeSettings {
                bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
                load_sample: true,
                public_url: None,
                metrics_bind: None,
                shutdown_grace_seconds: 10,
                header_read_timeout_seconds: default_header_read_timeout(),
                idle_timeout_seconds: default_idle_timeout(),
                max_connections: default_max_connections(),
                store_check_seconds: default_store_check(),
            },
            ingest: IngestSettings { batch_size: 1000 },
            search: SearchSettings {
                model_dir: None,
                exact_vector_limit: paperfeed_search::DEFAULT_EXACT_LIMIT,
                embed_batch: 16,
                poll_seconds: 2,
            },
            mail: MailSettings {
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
            },
            community: CommunityConfig::default(),
            sources: SourcesSettings {
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
            },
        }
    }
}

const DEFAULT_CONFIG_FILE: &str = "paperfeed.toml";

/// Environment names that are flags of their own (handled by clap) or not settings at all.
const ENV_NOT_SETTINGS: &[&str] = &[
    "config",
    "data_dir",
    "bind",
    "log_format",
    "model_dir",
    "smtp_url",
    "database_url",
];

impl Settings {
    pub fn load(cli: &Cli) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let file = cli.global.config.clone().or_else(|| {
            Path::new(DEFAULT_CONFIG_FILE)
                .exists()
                .then(|| PathBuf::from(DEFAULT_CONFIG_FILE))
        });
        if let Some(file) = &file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file_exact(file));
        }
        // PAPERFEED_SERVE__LOAD_SAMPLE=false style for nested keys; the documented short names
        // (PAPERFEED_DATA_DIR, PAPERFEED_BIND, …) arrive through clap as flags below.
        figment = figment.merge(
            Env::prefixed("PAPERFEED_")
                .ignore(ENV_NOT_SETTINGS)
                .filter(|k| !k.as_str().starts_with("test_"))
                .split("__"),
        );
        let mut settings: Settings = figment.extract().with_context(|| match &file {
            Some(f) => format!(
                "reading configuration (defaults, {}, PAPERFEED_* environment)",
                f.display()
            ),
            None => "reading configuration (defaults, PAPERFEED_* environment)".to_owned(),
        })?;
        if let Some(dir) = &cli.global.data_dir {
            settings.data_dir.clone_from(dir);
        }
        if let Some(format) = cli.global.log_format {
            settings.log_format = format;
        }
        if let Some(dir) = &cli.global.model_dir {
            settings.search.model_dir = Some(dir.clone());
        }
        if let Some(url) = &cli.global.smtp_url {
            settings.mail.smtp_url = Some(Secret(url.clone()));
        }
        if let Some(url) = &cli.global.database_url {
            settings.database_url = Some(DatabaseUrl(url.clone()));
        }
        // The effective store, shown by `paperfeed config`.
        if settings.database_url.is_none() {
            settings.database_url = Some(DatabaseUrl(format!(
                "sqlite://{}",
                settings.store_path().display()
            )));
        }
        match &cli.command {
            Command::Serve(args) => {
                if let Some(bind) = args.bind {
                    settings.serve.bind = bind;
                }
                if args.no_sample {
                    settings.serve.load_sample = false;
                }
                if let Some(bind) = args.metrics_bind {
                    settings.serve.metrics_bind = Some(bind);
                }
            }
            Command::Ingest(args) => {
                if let Some(n) = args.batch_size {
                    settings.ingest.batch_size = n;
                }
                if let (Some(source), Some(url)) = (args.source, &args.base_url) {
                    settings.sources.get_mut(source).base_url.clone_from(url);
                }
            }
            Command::Config
            | Command::Reindex
            | Command::Search(_)
            | Command::Eval(_)
            | Command::Subscriber(_)
            | Command::Digest(_) => {}
            Command::User(_) | Command::Token(_) | Command::Migrate(_) => {}
            Command::Backup(_) | Command::Restore(_) => {}
        }
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        crate::database::Location::parse(self.database_url())
            .context("database_url (--database-url, PAPERFEED_DATABASE_URL)")?;
        anyhow::ensure!(
            (1..=100_000).contains(&self.ingest.batch_size),
            "ingest.batch_size must be between 1 and 100000, not {}",
            self.ingest.batch_size
        );
        anyhow::ensure!(
            !self.data_dir.as_os_str().is_empty(),
            "data_dir must not be empty"
        );
        anyhow::ensure!(
            (1..=1024).contains(&self.search.embed_batch),
            "search.embed_batch must be between 1 and 1024, not {}",
            self.search.embed_batch
        );
        anyhow::ensure!(
            self.serve.shutdown_grace_seconds <= 3600,
            "serve.shutdown_grace_seconds must be at most 3600, not {}",
            self.serve.shutdown_grace_seconds
        );
        anyhow::ensure!(
            (1..=3600).contains(&self.serve.header_read_timeout_seconds),
            "serve.header_read_timeout_seconds must be between 1 and 3600, not {}",
            self.serve.header_read_timeout_seconds
        );
        anyhow::ensure!(
            (1..=86_400).contains(&self.serve.idle_timeout_seconds),
            "serve.idle_timeout_seconds must be between 1 and 86400, not {}",
            self.serve.idle_timeout_seconds
        );
        anyhow::ensure!(
            (1..=1_000_000).contains(&self.serve.max_connections),
            "serve.max_connections must be between 1 and 1000000, not {}",
            self.serve.max_connections
        );
        if let Some(metrics) = self.serve.metrics_bind {
            anyhow::ensure!(
                metrics != self.serve.bind || metrics.port() == 0,
                "serve.metrics_bind ({metrics}) must differ from serve.bind: it is a listener of \
                 its own"
            );
        }
        anyhow::ensure!(
            self.search.poll_seconds >= 1,
            "search.poll_seconds must be at least 1"
        );
        anyhow::ensure!(
            (1..=64).contains(&self.mail.workers),
            "mail.workers must be between 1 and 64, not {}",
            self.mail.workers
        );
        if let Some(hour) = self.mail.schedule_hour {
            anyhow::ensure!(hour <= 23, "mail.schedule_hour must be 0 to 23, not {hour}");
            anyhow::ensure!(
                self.mail.smtp_url.is_some(),
                "mail.schedule_hour is set but no SMTP server is: set PAPERFEED_SMTP_URL"
            );
        }
        anyhow::ensure!(
            parse_utc_offset(&self.mail.schedule_utc_offset).is_some(),
            "mail.schedule_utc_offset must be UTC or like +01:00, not {:?}",
            self.mail.schedule_utc_offset
        );
        anyhow::ensure!(
            self.mail.lease_seconds > self.mail.timeout_seconds,
            "mail.lease_seconds ({}) must be longer than mail.timeout_seconds ({}): a job's lease \
             must outlast the SMTP conversation",
            self.mail.lease_seconds,
            self.mail.timeout_seconds
        );
        anyhow::ensure!(
            (1..=3650).contains(&self.community.submit_window_days),
            "community.submit_window_days must be between 1 and 3650, not {}",
            self.community.submit_window_days
        );
        for kind in SourceKind::ALL {
            self.sources.get(kind).validate(kind.name())?;
        }
        if let Some(url) = &self.serve.public_url {
            anyhow::ensure!(
                (url.starts_with("https://") || url.starts_with("http://"))
                    && !url.contains(['?', '#', ' ', '"', '<', '>']),
                "serve.public_url must be an http(s) address without query or fragment, like \
                 https://papers.example.org, not {url:?}"
            );
        }
        Ok(())
    }

    /// What the web layer needs of the community settings.
    pub fn community(&self) -> paperfeed_web::CommunitySettings {
        paperfeed_web::CommunitySettings {
            secure_cookies: self
                .serve
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            submit_window_days: self.community.submit_window_days,
            rate_limits: self.community.rate_limits,
        }
    }

    fn store_path(&self) -> PathBuf {
        self.data_dir.join("paperfeed.sqlite3")
    }

    /// The database URL in effect (the default filled in at load).
    pub fn database_url(&self) -> &str {
        self.database_url
            .as_ref()
            .map_or("sqlite://./paperfeed-data/paperfeed.sqlite3", |u| {
                u.0.as_str()
            })
    }

    /// The effective configuration as TOML. No secret exists yet; when one does it is a
    /// `Secret` whose `Serialize` prints a mask.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        toml::to_string_pretty(self).context("printing the configuration")
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

    fn get_mut(&mut self, kind: SourceKind) -> &mut SourceSettings {
        match kind {
            SourceKind::Arxiv => &mut self.arxiv,
            SourceKind::Oai => &mut self.oai,
            SourceKind::Hf => &mut self.hf,
        }
    }
}

/// The Hugging Face hub cache every HF tool shares: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`. A model someone already downloaded with Python is found there.
pub fn hf_hub_cache() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("HF_HUB_CACHE")
        .or_else(|| var("HF_HOME").map(|home| home.join("hub")))
        .or_else(|| var("HOME").map(|home| home.join(".cache/huggingface/hub")))
}
