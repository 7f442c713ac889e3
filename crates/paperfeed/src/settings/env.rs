//! What the binary reads from the environment: the `PAPERFEED_…` variables of the one
//! scheme (every key of the tree, `serve.bind` as `PAPERFEED_SERVE__BIND`), the older names
//! still accepted with a deprecation warning, and Hugging Face's own variables (its cache,
//! endpoint and offline switch).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// Every variable of the scheme starts with this.
pub const PREFIX: &str = "PAPERFEED_";
/// Names the config file; the one variable that is not a key of the tree.
pub const CONFIG: &str = "PAPERFEED_CONFIG";
/// Between a section and its key in a variable's name (`.` in the key's path).
const SEPARATOR: &str = "__";

/// Names from before the one scheme, still read (old name, the key it sets). The scheme's
/// own name wins when both are set. `PAPERFEED_DATA_DIR`, `PAPERFEED_DATABASE_URL` and
/// `PAPERFEED_LOG_FORMAT` are not here: they are already the scheme's names.
pub const DEPRECATED: &[(&str, &str)] = &[
    ("PAPERFEED_BIND", "serve.bind"),
    ("PAPERFEED_MODEL_DIR", "search.model_dir"),
    ("PAPERFEED_SMTP_URL", "mail.smtp_url"),
];

/// Keys whose value is taken as written, never read as a number, a boolean or a list: the
/// paths, URLs and addresses the command line read before the scheme (a data directory named
/// `2024` stays a path). Every other value is read as figment reads the environment.
const VERBATIM: &[&str] = &[
    "data_dir",
    "database_url",
    "log_format",
    "serve.bind",
    "search.model_dir",
    "mail.smtp_url",
];

/// Whether `key`'s value is taken as written: [`VERBATIM`], and every key of a sign-in
/// provider but `trust_email` (client ids that look like numbers stay strings).
fn is_verbatim(key: &str) -> bool {
    VERBATIM.contains(&key)
        || (key.starts_with("auth.providers.") && !key.ends_with(".trust_email"))
}

/// A key's variable in the scheme: `serve.bind` → `PAPERFEED_SERVE__BIND`.
pub fn name_of(key: &str) -> String {
    format!(
        "{PREFIX}{}",
        key.replace('.', SEPARATOR).to_ascii_uppercase()
    )
}

/// The key a variable of the scheme sets (`PAPERFEED_SERVE__BIND` → `serve.bind`); `None`
/// for the config file, the test suite's own `PAPERFEED_TEST_…` and names no key can have.
fn key_of(name: &str) -> Option<String> {
    let rest = name.strip_prefix(PREFIX)?.to_ascii_lowercase();
    if name == CONFIG || rest.starts_with("test_") || rest.contains('.') {
        return None;
    }
    let parts: Vec<&str> = rest.split(SEPARATOR).collect();
    if parts.iter().any(|part| part.is_empty()) {
        return None;
    }
    Some(parts.join("."))
}

/// An old name in use, logged once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    pub old: &'static str,
    /// The scheme's name for the same setting.
    pub new: String,
    /// The new name is set too, so the old one is not read.
    pub shadowed: bool,
}

impl fmt::Display for Deprecation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Deprecation { old, new, shadowed } = self;
        if *shadowed {
            write!(f, "{old} is ignored since {new} is set: unset {old}")
        } else {
            write!(f, "{old} is deprecated: use {new}")
        }
    }
}

/// The `PAPERFEED_…` variables, read once at start. A figment provider: the environment
/// layer of the settings.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// By name, in capitals.
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// This process's environment (values that are not UTF-8 are read lossily, as figment does).
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        }))
    }

    /// Given variables; those without the prefix are dropped. Names are read in any case, as
    /// figment reads them.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars = vars
            .into_iter()
            .map(|(name, value)| (name.into().trim().to_ascii_uppercase(), value.into()))
            .filter(|(name, _)| name.starts_with(PREFIX))
            .collect();
        Self { vars }
    }

    /// `PAPERFEED_CONFIG`: the config file named in the environment.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.vars.get(CONFIG).map(PathBuf::from)
    }

    /// The old names in use, each with the name to use instead.
    pub fn deprecations(&self) -> Vec<Deprecation> {
        DEPRECATED
            .iter()
            .filter(|(old, _)| self.vars.contains_key(*old))
            .map(|&(old, key)| {
                let new = name_of(key);
                let shadowed = self.vars.contains_key(&new);
                Deprecation { old, new, shadowed }
            })
            .collect()
    }

    /// The variables read as settings, each with the key it sets (no values: some are
    /// secrets). Names of no key in the tree (`PAPERFEED_BIN`) are here too.
    pub fn names_and_keys(&self) -> Vec<(&str, String)> {
        self.vars
            .keys()
            .filter_map(|name| {
                let key = match DEPRECATED.iter().find(|(old, _)| old == name) {
                    Some((_, key)) => (*key).to_owned(),
                    None => key_of(name)?,
                };
                Some((name.as_str(), key))
            })
            .collect()
    }

    /// (key, value) in the order they apply: old names first, so the scheme's name wins.
    fn settings(&self) -> impl Iterator<Item = (String, Value)> + '_ {
        let old = DEPRECATED.iter().filter_map(|&(old, key)| {
            let value = self.vars.get(old)?;
            Some((key.to_owned(), Value::from(value.clone())))
        });
        let new = self
            .vars
            .iter()
            .filter(|(name, _)| !is_old_name(name))
            .filter_map(|(name, value)| {
                let key = key_of(name)?;
                let value = if is_verbatim(&key) {
                    Value::from(value.clone())
                } else {
                    let Ok(value) = value.parse::<Value>();
                    value
                };
                Some((key, value))
            });
        old.chain(new)
    }
}

fn is_old_name(name: &str) -> bool {
    DEPRECATED.iter().any(|(old, _)| *old == name)
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("{PREFIX}… environment"))
            .interpolater(|_: &Profile, keys: &[&str]| name_of(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, value) in self.settings() {
            let path: Vec<&str> = key.split('.').collect();
            insert(&mut dict, &path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Sets `path` in `dict` to `value`, making the sections on the way.
fn insert(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [key] => {
            dict.insert((*key).to_owned(), value);
        }
        [section, rest @ ..] => {
            let entry = dict
                .entry((*section).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// What Hugging Face's own tools read from the environment, read here the same way
/// (`huggingface_hub`'s `constants.py`), so the model lands where they look and is found where
/// they put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfHub {
    /// The hub cache every HF tool shares: `$HF_HUB_CACHE` (or its old name
    /// `$HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
    /// else `~/.cache/huggingface/hub`. `None`: none of these is set.
    pub cache: Option<PathBuf>,
    /// Where files are fetched from: `$HF_ENDPOINT` without its trailing `/`, else
    /// `https://huggingface.co`.
    pub endpoint: String,
    /// `$HF_HUB_OFFLINE` (or `$TRANSFORMERS_OFFLINE`) is `1`, `ON`, `YES` or `TRUE`: no
    /// request to the Hub at all, the cache only.
    pub offline: bool,
}

/// The Hub itself, when `HF_ENDPOINT` names no mirror.
pub const HF_DEFAULT_ENDPOINT: &str = "https://huggingface.co";

impl HfHub {
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var_os(name))
    }

    fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Self {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        let home = set("HOME").map(PathBuf::from);
        // `~` at the start is the home directory, as Python's `expanduser` reads it.
        let path = |value: OsString| {
            let value = PathBuf::from(value);
            let expanded = home
                .as_ref()
                .and_then(|home| Some(home.join(value.strip_prefix("~").ok()?)));
            expanded.unwrap_or(value)
        };
        let hf_home = set("HF_HOME")
            .map(path)
            .or_else(|| {
                set("XDG_CACHE_HOME")
                    .map(path)
                    .map(|cache| cache.join("huggingface"))
            })
            .or_else(|| home.as_ref().map(|home| home.join(".cache/huggingface")));
        let cache = set("HF_HUB_CACHE")
            .or_else(|| set("HUGGINGFACE_HUB_CACHE"))
            .map(path)
            .or_else(|| hf_home.map(|home| home.join("hub")));
        let endpoint = set("HF_ENDPOINT")
            .and_then(|v| v.into_string().ok())
            .map(|v| v.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| HF_DEFAULT_ENDPOINT.to_owned());
        let truthy = |name: &str| {
            set(name).is_some_and(|v| {
                let v = v.to_string_lossy().to_ascii_uppercase();
                ["1", "ON", "YES", "TRUE"].contains(&v.as_str())
            })
        };
        Self {
            cache,
            endpoint,
            offline: truthy("HF_HUB_OFFLINE") || truthy("TRANSFORMERS_OFFLINE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_and_its_variable_name_map_both_ways() {
        for key in [
            "data_dir",
            "serve.bind",
            "community.rate_limits.vote.per_minute",
        ] {
            assert_eq!(key_of(&name_of(key)).as_deref(), Some(key));
        }
        assert_eq!(name_of("serve.bind"), "PAPERFEED_SERVE__BIND");
        assert_eq!(key_of("PAPERFEED_CONFIG"), None);
        assert_eq!(key_of("PAPERFEED_TEST_DATABASE_URL"), None);
        assert_eq!(key_of("PAPERFEED_SERVE____BIND"), None);
        assert_eq!(key_of("OTHER_SERVE__BIND"), None);
    }

    #[test]
    fn every_old_name_is_reported_with_its_new_name() {
        let env = Environment::from_vars([
            ("PAPERFEED_BIND", "127.0.0.1:1"),
            ("PAPERFEED_SMTP_URL", "smtp://a:b@h"),
            ("PAPERFEED_MAIL__SMTP_URL", "smtp://h"),
            ("PAPERFEED_DATA_DIR", "/d"),
        ]);
        let notes: Vec<String> = env.deprecations().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            notes,
            [
                "PAPERFEED_BIND is deprecated: use PAPERFEED_SERVE__BIND",
                "PAPERFEED_SMTP_URL is ignored since PAPERFEED_MAIL__SMTP_URL is set: unset \
                 PAPERFEED_SMTP_URL",
            ]
        );
        assert!(!notes.iter().any(|n| n.contains("smtp://")), "no values");
    }

    fn hub(vars: &[(&str, &str)]) -> HfHub {
        HfHub::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(*v))
        })
    }

    #[test]
    fn the_hugging_face_variables_are_read_as_huggingface_hub_reads_them() {
        let plain = hub(&[("HOME", "/home/ada")]);
        assert_eq!(
            plain,
            HfHub {
                cache: Some(PathBuf::from("/home/ada/.cache/huggingface/hub")),
                endpoint: "https://huggingface.co".to_owned(),
                offline: false,
            }
        );
        let xdg = hub(&[("HOME", "/home/ada"), ("XDG_CACHE_HOME", "/var/cache/ada")]);
        assert_eq!(
            xdg.cache,
            Some(PathBuf::from("/var/cache/ada/huggingface/hub"))
        );
        let home = hub(&[("HOME", "/home/ada"), ("HF_HOME", "~/hf")]);
        assert_eq!(home.cache, Some(PathBuf::from("/home/ada/hf/hub")));
        let cache = hub(&[
            ("HF_HOME", "/hf"),
            ("HUGGINGFACE_HUB_CACHE", "/old"),
            ("HF_HUB_CACHE", "/new"),
        ]);
        assert_eq!(cache.cache, Some(PathBuf::from("/new")));
        let old = hub(&[("HF_HOME", "/hf"), ("HUGGINGFACE_HUB_CACHE", "/old")]);
        assert_eq!(old.cache, Some(PathBuf::from("/old")));
        assert_eq!(hub(&[]).cache, None);

        let mirror = hub(&[("HF_ENDPOINT", "http://127.0.0.1:9/hf/")]);
        assert_eq!(mirror.endpoint, "http://127.0.0.1:9/hf");
        for (value, offline) in [("1", true), ("yes", true), ("True", true), ("0", false)] {
            assert_eq!(
                hub(&[("HF_HUB_OFFLINE", value)]).offline,
                offline,
                "{value}"
            );
        }
        assert!(hub(&[("TRANSFORMERS_OFFLINE", "1")]).offline);
    }
}
