//! Merging the layers into one tree: built-in defaults → config file → environment →
//! command-line flags, each overriding the one before.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};

use super::env::{Deprecation, Environment};
use super::{DatabaseUrl, Secret, Settings};
use crate::cli::{Cli, Command};

/// The config file read when neither `--config` nor `PAPERFEED_CONFIG` names one, if it
/// exists.
const DEFAULT_CONFIG_FILE: &str = "paperfeed.toml";

/// The settings of a run and where they came from.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub origin: Origin,
}

/// Where the settings in effect came from, for `paperfeed config` and the start-up log.
#[derive(Debug, Default)]
pub struct Origin {
    /// The config file read.
    pub file: Option<PathBuf>,
    /// The variables that set settings, by name (no values: some are secrets).
    pub environment: Vec<String>,
    /// Old variable names in use.
    pub deprecations: Vec<Deprecation>,
}

impl Origin {
    /// Logs each old variable name in use, once; call it when logging is set up.
    pub fn warn_deprecated(&self) {
        for deprecation in &self.deprecations {
            tracing::warn!(variable = deprecation.old, "{deprecation}");
        }
    }
}

impl Settings {
    /// The settings of this run: this process's environment, the config file (`--config`,
    /// `PAPERFEED_CONFIG`, else `./paperfeed.toml` when it exists) and the flags, checked.
    pub fn load(cli: &Cli) -> anyhow::Result<Loaded> {
        Self::load_from(
            cli,
            &Environment::from_process(),
            Path::new(DEFAULT_CONFIG_FILE),
        )
    }

    /// [`Settings::load`] from the given environment; `default_file` is read when it exists
    /// and no other file is named.
    pub fn load_from(cli: &Cli, env: &Environment, default_file: &Path) -> anyhow::Result<Loaded> {
        let file = cli
            .global
            .config
            .clone()
            .or_else(|| env.config_file())
            .or_else(|| default_file.exists().then(|| default_file.to_path_buf()));
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = &file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(env.clone());
        let mut settings: Settings = figment.extract().with_context(|| match &file {
            Some(f) => format!(
                "reading configuration (defaults, {}, PAPERFEED_* environment)",
                f.display()
            ),
            None => "reading configuration (defaults, PAPERFEED_* environment)".to_owned(),
        })?;
        settings.apply_flags(cli);
        settings.validate()?;
        // Every key the tree has is in the effective settings (an optional one set by the
        // environment is set): variables of other keys are other tools' (`PAPERFEED_BIN`).
        let effective = Figment::from(Serialized::defaults(&settings));
        let environment = env
            .names_and_keys()
            .into_iter()
            .filter(|(_, key)| effective.find_value(key).is_ok())
            .map(|(name, _)| name.to_owned())
            .collect();
        let origin = Origin {
            file,
            environment,
            deprecations: env.deprecations(),
        };
        Ok(Loaded { settings, origin })
    }

    /// The last layer: what the command line sets.
    fn apply_flags(&mut self, cli: &Cli) {
        let global = &cli.global;
        if let Some(dir) = &global.data_dir {
            self.data_dir.clone_from(dir);
        }
        if let Some(format) = global.log_format {
            self.log_format = format;
        }
        if let Some(dir) = &global.model_dir {
            self.search.model_dir = Some(dir.clone());
        }
        if let Some(url) = &global.smtp_url {
            self.mail.smtp_url = Some(Secret(url.clone()));
        }
        if let Some(url) = &global.database_url {
            self.database_url = Some(DatabaseUrl(url.clone()));
        }
        // The effective store, shown by `paperfeed config`.
        if self.database_url.is_none() {
            self.database_url = Some(DatabaseUrl(format!(
                "sqlite://{}",
                self.store_path().display()
            )));
        }
        match &cli.command {
            Command::Serve(args) => {
                if let Some(bind) = args.bind {
                    self.serve.bind = bind;
                }
                if args.no_sample {
                    self.serve.load_sample = false;
                }
                if let Some(bind) = args.metrics_bind {
                    self.serve.metrics_bind = Some(bind);
                }
            }
            Command::Ingest(args) => {
                if let Some(n) = args.batch_size {
                    self.ingest.batch_size = n;
                }
                if let (Some(source), Some(url)) = (args.source, &args.base_url) {
                    self.sources.get_mut(source).base_url.clone_from(url);
                }
            }
            Command::Config
            | Command::Reindex
            | Command::Search(_)
            | Command::Recommend(_)
            | Command::Eval(_)
            | Command::Subscriber(_)
            | Command::Digest(_) => {}
            Command::User(_) | Command::Token(_) | Command::Migrate(_) => {}
            Command::Backup(_) | Command::Restore(_) | Command::Vectors(_) => {}
            Command::Thumbnails(_) | Command::Model(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use clap::Parser as _;

    use super::*;

    fn load(args: &[&str], vars: &[(&str, &str)]) -> anyhow::Result<Loaded> {
        let cli = Cli::try_parse_from(std::iter::once("paperfeed").chain(args.iter().copied()))?;
        let no_file = Path::new("/nonexistent/paperfeed-test/paperfeed.toml");
        Settings::load_from(&cli, &Environment::from_vars(vars.iter().copied()), no_file)
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn each_layer_overrides_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paperfeed.toml");
        std::fs::write(
            &file,
            "data_dir = \"/file\"\n[serve]\nbind = \"127.0.0.1:9000\"\n[ingest]\nbatch_size = 10\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();

        let defaults = load(&["serve"], &[]).unwrap().settings;
        assert_eq!(defaults.data_dir, PathBuf::from("./paperfeed-data"));
        assert_eq!(defaults.serve.bind, addr("127.0.0.1:8080"));

        let from_file = load(&["--config", file, "serve"], &[]).unwrap();
        assert_eq!(from_file.origin.file.as_deref(), Some(Path::new(file)));
        let from_file = from_file.settings;
        assert_eq!(from_file.data_dir, PathBuf::from("/file"));
        assert_eq!(from_file.serve.bind, addr("127.0.0.1:9000"));
        assert_eq!(from_file.ingest.batch_size, 10);

        let env = [
            ("PAPERFEED_DATA_DIR", "/env"),
            ("PAPERFEED_SERVE__BIND", "127.0.0.1:9001"),
            ("PAPERFEED_INGEST__BATCH_SIZE", "20"),
        ];
        let from_env = load(&["--config", file, "serve"], &env).unwrap().settings;
        assert_eq!(from_env.data_dir, PathBuf::from("/env"));
        assert_eq!(from_env.serve.bind, addr("127.0.0.1:9001"));
        assert_eq!(from_env.ingest.batch_size, 20);

        let args = [
            "--config",
            file,
            "--data-dir",
            "/flag",
            "serve",
            "--bind",
            "127.0.0.1:9002",
        ];
        let from_flags = load(&args, &env).unwrap().settings;
        assert_eq!(from_flags.data_dir, PathBuf::from("/flag"));
        assert_eq!(from_flags.serve.bind, addr("127.0.0.1:9002"));
        assert_eq!(from_flags.ingest.batch_size, 20);
    }

    #[test]
    fn the_config_file_is_named_by_the_flag_then_the_environment_then_found_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, data_dir: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("data_dir = \"{data_dir}\"\n")).unwrap();
            path
        };
        let flag = write("flag.toml", "/flag");
        let env = write("env.toml", "/env");
        let default = write("paperfeed.toml", "/default");
        let cli = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("paperfeed").chain(args.iter().copied())).unwrap()
        };
        let vars = Environment::from_vars([("PAPERFEED_CONFIG", env.to_str().unwrap())]);
        let data_dir = |cli: &Cli, vars: &Environment| {
            Settings::load_from(cli, vars, &default)
                .unwrap()
                .settings
                .data_dir
        };
        let with_flag = cli(&["--config", flag.to_str().unwrap(), "config"]);
        assert_eq!(data_dir(&with_flag, &vars), PathBuf::from("/flag"));
        assert_eq!(data_dir(&cli(&["config"]), &vars), PathBuf::from("/env"));
        let none = Environment::default();
        assert_eq!(
            data_dir(&cli(&["config"]), &none),
            PathBuf::from("/default")
        );
        let missing = Environment::from_vars([("PAPERFEED_CONFIG", "/no/such.toml")]);
        let err = Settings::load_from(&cli(&["config"]), &missing, &default).unwrap_err();
        assert!(err.to_string().contains("/no/such.toml"), "{err}");
    }

    #[test]
    fn the_names_scripts_use_keep_working_and_only_the_renamed_ones_warn() {
        let loaded = load(
            &["serve"],
            &[
                ("PAPERFEED_DATA_DIR", "/srv/pf"),
                (
                    "PAPERFEED_DATABASE_URL",
                    "postgres://pf:pw@127.0.0.1:5432/pf",
                ),
                ("PAPERFEED_BIND", "0.0.0.0:8081"),
                ("PAPERFEED_SMTP_URL", "smtp://127.0.0.1:2525"),
                ("PAPERFEED_MODEL_DIR", "/models/minilm"),
                ("PAPERFEED_LOG_FORMAT", "json"),
            ],
        )
        .unwrap();
        let s = &loaded.settings;
        assert_eq!(s.data_dir, PathBuf::from("/srv/pf"));
        assert_eq!(s.database_url(), "postgres://pf:pw@127.0.0.1:5432/pf");
        assert_eq!(s.serve.bind, addr("0.0.0.0:8081"));
        assert_eq!(
            s.mail.smtp_url.as_ref().map(|u| u.0.as_str()),
            Some("smtp://127.0.0.1:2525")
        );
        assert_eq!(s.search.model_dir, Some(PathBuf::from("/models/minilm")));
        assert_eq!(s.log_format, crate::cli::LogFormat::Json);
        let warned: Vec<&str> = loaded.origin.deprecations.iter().map(|d| d.old).collect();
        assert_eq!(
            warned,
            [
                "PAPERFEED_BIND",
                "PAPERFEED_MODEL_DIR",
                "PAPERFEED_SMTP_URL"
            ]
        );
        let renamed: Vec<&str> = loaded
            .origin
            .deprecations
            .iter()
            .map(|d| d.new.as_str())
            .collect();
        assert_eq!(
            renamed,
            [
                "PAPERFEED_SERVE__BIND",
                "PAPERFEED_SEARCH__MODEL_DIR",
                "PAPERFEED_MAIL__SMTP_URL"
            ]
        );
    }

    #[test]
    fn the_new_name_wins_over_the_old_one_and_a_flag_over_both() {
        let vars = [
            ("PAPERFEED_BIND", "127.0.0.1:1111"),
            ("PAPERFEED_SERVE__BIND", "127.0.0.1:2222"),
            ("PAPERFEED_MODEL_DIR", "/old"),
            ("PAPERFEED_SEARCH__MODEL_DIR", "/new"),
        ];
        let loaded = load(&["serve"], &vars).unwrap();
        assert_eq!(loaded.settings.serve.bind, addr("127.0.0.1:2222"));
        assert_eq!(
            loaded.settings.search.model_dir,
            Some(PathBuf::from("/new"))
        );
        assert!(loaded.origin.deprecations.iter().all(|d| d.shadowed));

        let args = ["--model-dir", "/flag", "serve", "--bind", "127.0.0.1:3333"];
        let flagged = load(&args, &vars).unwrap().settings;
        assert_eq!(flagged.serve.bind, addr("127.0.0.1:3333"));
        assert_eq!(flagged.search.model_dir, Some(PathBuf::from("/flag")));

        let scheme_only = load(&["serve"], &[("PAPERFEED_SERVE__BIND", "127.0.0.1:4444")]);
        assert!(scheme_only.unwrap().origin.deprecations.is_empty());
    }

    #[test]
    fn paths_and_urls_are_taken_as_written_and_other_values_as_figment_reads_them() {
        let loaded = load(
            &["config"],
            &[
                ("PAPERFEED_DATA_DIR", "2024"),
                ("PAPERFEED_MODEL_DIR", "[x]"),
                ("PAPERFEED_SERVE__LOAD_SAMPLE", "false"),
                ("PAPERFEED_COMMUNITY__RATE_LIMITS__VOTE__BURST", "7"),
            ],
        )
        .unwrap();
        let s = loaded.settings;
        assert_eq!(s.data_dir, PathBuf::from("2024"));
        assert_eq!(s.search.model_dir, Some(PathBuf::from("[x]")));
        assert!(!s.serve.load_sample);
        assert_eq!(s.community.rate_limits.vote.burst, 7);
    }

    #[test]
    fn variables_that_are_not_settings_are_left_alone() {
        let loaded = load(
            &["config"],
            &[
                ("PAPERFEED_TEST_DATABASE_URL", "mysql://nope"),
                ("PAPERFEED_BIN", "/usr/bin/paperfeed"),
                ("PAPERFEED_INGEST__BATCH_SIZE", "5"),
                ("HOME", "/home/x"),
            ],
        )
        .unwrap();
        assert_eq!(loaded.settings.ingest.batch_size, 5);
        assert!(loaded.settings.database_url().starts_with("sqlite://"));
        assert_eq!(loaded.origin.environment, ["PAPERFEED_INGEST__BATCH_SIZE"]);
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_variable() {
        let err = load(&["config"], &[("PAPERFEED_INGEST__BATCH_SIZE", "many")]).unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("PAPERFEED_INGEST__BATCH_SIZE"), "{err}");
        let err = load(&["config"], &[("PAPERFEED_INGEST__BATCH_SIZE", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("batch_size must be between"), "{err}");
    }

    #[test]
    fn trusted_proxies_are_a_toml_list_or_one_variable_separated_by_commas() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paperfeed.toml");
        std::fs::write(
            &file,
            "[serve]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let from_file = load(&["--config", file.to_str().unwrap(), "serve"], &[]).unwrap();
        assert_eq!(
            from_file.settings.serve.trusted_proxies,
            ["127.0.0.1", "10.0.0.0/8"]
        );
        for value in ["127.0.0.1,::1", "127.0.0.1, ::1", "[127.0.0.1, \"::1\"]"] {
            let from_env =
                load(&["serve"], &[("PAPERFEED_SERVE__TRUSTED_PROXIES", value)]).unwrap();
            assert_eq!(
                from_env.settings.serve.trusted_proxies,
                ["127.0.0.1", "::1"],
                "{value}"
            );
        }
        let err = load(
            &["serve"],
            &[(
                "PAPERFEED_SERVE__TRUSTED_PROXIES",
                "127.0.0.1,proxy.internal",
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("serve.trusted_proxies") && err.contains("\"proxy.internal\""),
            "{err}"
        );
    }
}
