//! The start-up checks: every value in range, with a message naming the setting.

use anyhow::Context as _;

use super::{Location, Settings, SourceSettings, env};
use crate::cli::SourceKind;

impl Settings {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        Location::parse(self.database_url())
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
                "mail.schedule_hour is set but no SMTP server is: set mail.smtp_url ({} or \
                 --smtp-url)",
                env::name_of("mail.smtp_url")
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
        if let Err(why) = paperfeed_web::TrustedProxies::parse(&self.serve.trusted_proxies) {
            anyhow::bail!("serve.trusted_proxies: {why}");
        }
        if let Some(url) = &self.serve.public_url {
            anyhow::ensure!(
                (url.starts_with("https://") || url.starts_with("http://"))
                    && !url.contains(['?', '#', ' ', '"', '<', '>']),
                "serve.public_url must be an http(s) address without query or fragment, like \
                 https://papers.example.org, not {url:?}"
            );
        }
        self.auth.identity_config()?;
        Ok(())
    }
}

impl SourceSettings {
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
