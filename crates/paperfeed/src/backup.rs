//! `paperfeed backup FILE` and `paperfeed restore FILE`: a consistent snapshot of the embedded
//! store taken while `serve` runs, and its way back into an empty data directory.
//!
//! The snapshot is the store file alone (the search index is derived data and is rebuilt from
//! it). The mail signing key, when the hub keeps it in the data directory, travels beside the
//! snapshot as `FILE.mail-signing.key`, since links in digests already mailed are signed with
//! it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use paperfeed_store::{BackupPace, SqliteStore, Store};

use crate::cli::{BackupArgs, RestoreArgs};
use crate::settings::Settings;

const KEY_FILE: &str = "mail-signing.key";

/// `FILE.mail-signing.key`: where the signing key travels with a snapshot.
fn key_beside(file: &Path) -> PathBuf {
    let mut name: OsString = file.file_name().unwrap_or_default().to_owned();
    name.push(".");
    name.push(KEY_FILE);
    file.with_file_name(name)
}

/// The SQLite file of the configured `database_url`; a PostgreSQL store is backed up with the
/// server's own tools instead.
fn sqlite_store_path(settings: &Settings, action: &str) -> anyhow::Result<PathBuf> {
    match crate::database::Location::parse(settings.database_url())? {
        crate::database::Location::Sqlite(path) => Ok(path),
        crate::database::Location::Postgres(url) => bail!(
            "the store is PostgreSQL ({}): {action} it with pg_dump / pg_restore instead \
             (docs/deployment.md, \"Backups\")",
            paperfeed_store::mask_password(&url)
        ),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub async fn backup(settings: &Settings, args: &BackupArgs) -> anyhow::Result<()> {
    let source = sqlite_store_path(settings, "back up")?;
    if !source.is_file() {
        bail!(
            "there is no store at {}: nothing to back up (is --data-dir right?)",
            source.display()
        );
    }
    if args.file.exists() && !args.force {
        bail!(
            "{} exists (pass --force to replace it)",
            args.file.display()
        );
    }
    let key = settings.data_dir.join(KEY_FILE);
    let key_dest = key_beside(&args.file);
    if key.is_file() && key_dest.exists() && !args.force {
        bail!(
            "{} exists (pass --force to replace it and the backup)",
            key_dest.display()
        );
    }
    let store = SqliteStore::open(&source)
        .with_context(|| format!("opening the store {}", source.display()))?;
    let started = Instant::now();
    let dest = args.file.clone();
    let force = args.force;
    let report =
        tokio::task::spawn_blocking(move || store.backup_to(&dest, force, BackupPace::default()))
            .await
            .context("the backup task failed")?
            .with_context(|| format!("backing up to {}", args.file.display()))?;
    println!(
        "backed up {} to {}: {:.1} MiB ({} pages) in {:.2} s{}",
        source.display(),
        args.file.display(),
        mib(report.bytes),
        report.pages,
        started.elapsed().as_secs_f64(),
        match report.restarts {
            0 => String::new(),
            1 => " (the store changed during the copy; restarted once)".to_owned(),
            n => format!(" (the store changed during the copy; restarted {n} times)"),
        }
    );
    println!("it holds {}", report.counts);
    if key.is_file() {
        copy_secret(&key, &key_dest)?;
        println!(
            "copied the mail signing key to {} (keep it with the backup: links in digests \
             already mailed are signed with it)",
            key_dest.display()
        );
    }
    Ok(())
}

pub async fn restore(settings: &Settings, args: &RestoreArgs) -> anyhow::Result<()> {
    let file = &args.file;
    let counts = SqliteStore::inspect_backup(file)
        .with_context(|| format!("{} cannot be restored", file.display()))?;
    let data_dir = &settings.data_dir;
    let existing = entries(data_dir)?;
    if !existing.is_empty() && !args.force {
        bail!(
            "the data directory {} is not empty (it holds {}); restore into an empty or new \
             directory (--data-dir), or pass --force to replace its store (stop `paperfeed \
             serve` on it first)",
            data_dir.display(),
            existing.join(", ")
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;

    // Copy beside the target, sync, then rename: a crash leaves the old store or the new one.
    let store_path = sqlite_store_path(settings, "restore")?;
    let mut partial = store_path.clone().into_os_string();
    partial.push(".restoring");
    let partial = PathBuf::from(partial);
    std::fs::copy(file, &partial)
        .with_context(|| format!("copying {} to {}", file.display(), partial.display()))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", partial.display()))?;
    // The index belongs to the store being replaced: drop it first, so that whatever happens
    // next, the next start rebuilds it from the store it finds.
    let index = data_dir.join("index");
    let had_index = index.exists();
    if had_index {
        std::fs::remove_dir_all(&index)
            .with_context(|| format!("removing the old search index {}", index.display()))?;
    }
    // A write-ahead log of the old store must not be applied to the new one.
    for suffix in ["-wal", "-shm"] {
        let mut side = store_path.clone().into_os_string();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            std::fs::remove_file(&side).with_context(|| format!("removing {}", side.display()))?;
        }
    }
    std::fs::rename(&partial, &store_path)
        .with_context(|| format!("moving the restored store to {}", store_path.display()))?;
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }

    // Opening applies migrations newer than the backup and proves the store opens.
    let store = SqliteStore::open(&store_path)
        .with_context(|| format!("opening the restored store {}", store_path.display()))?;
    let stats = store.stats().await?;
    println!(
        "restored {} into {}: {counts}",
        file.display(),
        data_dir.display()
    );
    println!(
        "the search index {} rebuilt from the store ({} papers) at the next start of \
         `paperfeed serve` (or run `paperfeed reindex`)",
        if had_index {
            "was removed and will be"
        } else {
            "will be"
        },
        stats.papers
    );
    let key = key_beside(file);
    if key.is_file() {
        copy_secret(&key, &data_dir.join(KEY_FILE))?;
        println!("restored the mail signing key from {}", key.display());
    } else if settings.mail.signing_key.is_none() {
        println!(
            "note: no {} beside the backup; links in digests mailed before (unsubscribe, \
             preferences) will not verify unless mail.signing_key is set to the old key",
            key.display()
        );
    }
    Ok(())
}

/// The names in `dir` (none when it does not exist), sorted.
fn entries(dir: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(read) => {
            let mut names = read
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("reading {}", dir.display()))?;
            names.sort();
            Ok(names)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// Copies a secret, readable by its owner only.
fn copy_secret(from: &Path, to: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    use std::io::Write as _;
    options
        .open(to)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .with_context(|| format!("writing {}", to.display()))
}
