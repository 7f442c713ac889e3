//! The one typed settings tree, layered: built-in defaults → config file → environment →
//! command-line flags, each overriding the one before. Only the binary reads configuration;
//! libraries receive plain values.
//!
//! # The environment
//!
//! One scheme: every key of the tree is a variable, `PAPERFEED_` and the key's path in
//! capitals with `__` between a section and its key. `data_dir` is `PAPERFEED_DATA_DIR`,
//! `serve.bind` is `PAPERFEED_SERVE__BIND`, `community.rate_limits.vote.burst` is
//! `PAPERFEED_COMMUNITY__RATE_LIMITS__VOTE__BURST`. `PAPERFEED_CONFIG` names the config file.
//! The older `PAPERFEED_BIND`, `PAPERFEED_MODEL_DIR` and `PAPERFEED_SMTP_URL` still work, with
//! a warning at start naming the variable to use ([`env::DEPRECATED`]); the scheme's name wins
//! when both are set. `paperfeed config` prints the result, secrets masked, headed by the
//! variables that set something.
//!
//! # Modules, by job
//!
//! - [`sections`]: the tree below the root, with the built-in defaults;
//! - [`secret`], [`database_url`]: values printed masked; where the database URL says the store is;
//! - [`env`]: the environment scheme, the old names, the figment provider;
//! - [`load`]: merging the layers, then the flags;
//! - [`auth`]: `[auth]`, passwords and identity providers, as the sign-in use cases take them;
//! - [`validate`]: the start-up checks;
//! - [`show`]: `paperfeed config`.

mod auth;
mod database_url;
pub mod env;
mod load;
mod secret;
mod sections;
mod show;
mod validate;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use auth::AuthSettings;
pub use database_url::{DatabaseUrl, Location};
pub use env::HfHub;
pub use load::{Loaded, Origin};
pub use secret::Secret;
pub use sections::{
    CommunityConfig, IngestSettings, MailSettings, SearchSettings, ServeSettings, SourceSettings,
    SourcesSettings, WebhookSettings,
};
pub use show::render;
pub use validate::parse_utc_offset;

use crate::cli::LogFormat;

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
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// Sign-in: local passwords and identity providers.
    #[serde(default)]
    pub auth: AuthSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./paperfeed-data"),
            database_url: None,
            log_format: LogFormat::Text,
            serve: ServeSettings::default(),
            ingest: IngestSettings::default(),
            search: SearchSettings::default(),
            mail: MailSettings::default(),
            community: CommunityConfig::default(),
            sources: SourcesSettings::default(),
            webhooks: WebhookSettings::default(),
            auth: AuthSettings::default(),
        }
    }
}

impl Settings {
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
            // Checked at start-up (`validate`): an entry that does not parse is refused there.
            trusted_proxies: paperfeed_web::TrustedProxies::parse(&self.serve.trusted_proxies)
                .unwrap_or_default(),
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
}
