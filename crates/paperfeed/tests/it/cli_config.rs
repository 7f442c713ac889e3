//! `paperfeed config`: defaults → config file → environment → flags.

use crate::harness::{bin, register_secret, text};

#[test]
fn config_prints_the_defaults() {
    let out = bin().arg("config").output().unwrap();
    assert!(out.status.success());
    let toml = text(&out.stdout);
    assert!(toml.contains("data_dir = \"./paperfeed-data\""), "{toml}");
    assert!(toml.contains("bind = \"127.0.0.1:8080\""), "{toml}");
}

#[test]
fn each_configuration_layer_overrides_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paperfeed.toml");
    std::fs::write(
        &file,
        "data_dir = \"/from/file\"\n[serve]\nbind = \"127.0.0.1:9000\"\nload_sample = false\n[ingest]\nbatch_size = 10\n",
    )
    .unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = bin();
        cmd.arg("--config").arg(&file);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.args(args).arg("config").output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let from_file = run(&[], &[]);
    assert!(from_file.contains("data_dir = \"/from/file\""));
    assert!(from_file.contains("bind = \"127.0.0.1:9000\""));
    assert!(from_file.contains("batch_size = 10"));

    let from_env = run(
        &[
            ("PAPERFEED_DATA_DIR", "/from/env"),
            ("PAPERFEED_INGEST__BATCH_SIZE", "20"),
        ],
        &[],
    );
    assert!(from_env.contains("data_dir = \"/from/env\""), "{from_env}");
    assert!(from_env.contains("batch_size = 20"), "{from_env}");

    let from_flag = run(
        &[("PAPERFEED_DATA_DIR", "/from/env")],
        &["--data-dir", "/from/flag"],
    );
    assert!(
        from_flag.contains("data_dir = \"/from/flag\""),
        "{from_flag}"
    );
}

#[test]
fn config_shows_the_database_url_with_its_password_masked() {
    let out = bin()
        .arg("--data-dir")
        .arg("/srv/pf")
        .arg("config")
        .output()
        .unwrap();
    let toml = text(&out.stdout);
    assert!(
        toml.contains("database_url = \"sqlite:///srv/pf/paperfeed.sqlite3\""),
        "the default is the SQLite file in the data dir: {toml}"
    );
    let out = bin()
        .env(
            "PAPERFEED_DATABASE_URL",
            "postgres://pf:hunter2@127.0.0.1:5432/pf",
        )
        .arg("config")
        .output()
        .unwrap();
    let toml = text(&out.stdout);
    assert!(
        toml.contains("database_url = \"postgres://pf:***@127.0.0.1:5432/pf\""),
        "{toml}"
    );
    assert!(!toml.contains("hunter2"), "{toml}");
    let out = bin()
        .args(["--database-url", "mysql://x/y", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("database_url"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn invalid_configuration_is_refused_with_a_readable_message() {
    let out = bin()
        .env("PAPERFEED_INGEST__BATCH_SIZE", "0")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("batch_size must be between"));
    let out = bin()
        .args(["--config", "/no/such.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/no/such.toml"));
}

#[test]
fn help_explains_every_subcommand() {
    let out = bin().arg("--help").output().unwrap();
    let help = text(&out.stdout);
    for sub in ["serve", "ingest", "config"] {
        assert!(help.contains(sub), "{help}");
    }
    let out = bin().args(["ingest", "--help"]).output().unwrap();
    assert!(text(&out.stdout).contains("--format"));
}

#[test]
fn the_smtp_password_is_masked_and_a_digest_schedule_needs_a_mail_server() {
    register_secret("s3cret");
    let out = bin()
        .env(
            "PAPERFEED_SMTP_URL",
            "smtp+starttls://ada:s3cret@mail.example.test:587",
        )
        .env("PAPERFEED_MAIL__SCHEDULE_HOUR", "7")
        .env("PAPERFEED_MAIL__SCHEDULE_UTC_OFFSET", "+01:00")
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let toml = text(&out.stdout);
    assert!(!toml.contains("s3cret"), "{toml}");
    assert!(toml.contains("smtp_url = \"***\""), "{toml}");
    assert!(toml.contains("schedule_hour = 7"), "{toml}");

    let out = bin()
        .env("PAPERFEED_MAIL__SCHEDULE_HOUR", "7")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no SMTP server"),
        "{}",
        text(&out.stderr)
    );
    let out = bin()
        .env("PAPERFEED_SMTP_URL", "smtp://127.0.0.1:25")
        .env("PAPERFEED_MAIL__SCHEDULE_UTC_OFFSET", "Europe/Paris")
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("schedule_utc_offset"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sign_in_providers_show_with_their_secrets_masked_and_a_bad_one_is_refused() {
    register_secret("gh-client-s3cret-value");
    let out = bin()
        .env("PAPERFEED_AUTH__PROVIDERS__GITHUB__CLIENT_ID", "12345")
        .env(
            "PAPERFEED_AUTH__PROVIDERS__GITHUB__CLIENT_SECRET",
            "gh-client-s3cret-value",
        )
        .env(
            "PAPERFEED_AUTH__PROVIDERS__HUGGINGFACE__CLIENT_ID",
            "hf-app",
        )
        .env("PAPERFEED_AUTH__PASSWORDS", "false")
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let toml = text(&out.stdout);
    assert!(!toml.contains("gh-client-s3cret-value"), "{toml}");
    assert!(toml.contains("[auth.providers.github]"), "{toml}");
    assert!(
        toml.contains("client_id = \"12345\""),
        "a numeric client id stays a string: {toml}"
    );
    assert!(toml.contains("client_secret = \"***\""), "{toml}");
    assert!(toml.contains("passwords = false"), "{toml}");
    assert!(
        toml.contains("# Sign-in providers: [auth.providers.NAME]"),
        "how to configure one: {toml}"
    );

    let out = bin()
        .env("PAPERFEED_AUTH__PROVIDERS__LAB__CLIENT_ID", "x")
        .env(
            "PAPERFEED_AUTH__PROVIDERS__LAB__ISSUER",
            "http://id.example.org",
        )
        .arg("config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("auth.providers.lab.issuer must be an https address"),
        "{err}"
    );
}
