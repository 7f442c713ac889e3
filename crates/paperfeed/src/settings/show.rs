//! `paperfeed config`: the settings in effect as TOML, secrets masked, headed by where they
//! came from and how the environment names them.

use std::fmt::Write as _;

use anyhow::Context as _;

use super::{Origin, Settings};

impl Settings {
    /// The settings as TOML. Secrets are `Secret`s and the database URL a `DatabaseUrl`, whose
    /// `Serialize` prints a mask.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        toml::to_string_pretty(self).context("printing the configuration")
    }
}

impl Origin {
    /// TOML comments: the layers read, the environment scheme, and the variables that set
    /// something (names only).
    pub fn describe(&self) -> String {
        let file = self
            .file
            .as_ref()
            .map_or_else(|| "no config file".to_owned(), |f| f.display().to_string());
        let mut text = format!(
            "# In effect: built-in defaults, then {file}, then the environment, then flags.\n\
             # Every key is an environment variable: PAPERFEED_ and its path in capitals, with __\n\
             # between a section and its key (serve.bind is PAPERFEED_SERVE__BIND).\n\
             # Sign-in providers: [auth.providers.NAME] with client_id, client_secret and, for\n\
             # NAME other than huggingface, github or orcid, kind = \"oidc\" and issuer\n\
             # (PAPERFEED_AUTH__PROVIDERS__GITHUB__CLIENT_ID=…); the README lists every key.\n"
        );
        let mut set: Vec<String> = self.environment.clone();
        for deprecation in &self.deprecations {
            if let Some(name) = set.iter_mut().find(|n| n.as_str() == deprecation.old) {
                let new = &deprecation.new;
                let _ = if deprecation.shadowed {
                    write!(name, " (deprecated, ignored: {new} is set)")
                } else {
                    write!(name, " (deprecated: use {new})")
                };
            }
        }
        if set.is_empty() {
            text.push_str("# Set by the environment: nothing.\n");
        } else {
            for name in set {
                let _ = writeln!(text, "# Set by the environment: {name}");
            }
        }
        text
    }
}

/// What `paperfeed config` prints.
pub fn render(settings: &Settings, origin: &Origin) -> anyhow::Result<String> {
    Ok(format!("{}\n{}", origin.describe(), settings.to_toml()?))
}
