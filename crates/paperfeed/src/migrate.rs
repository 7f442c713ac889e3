//! `paperfeed migrate --from URL --to URL`: copies one store into another, table by table, a
//! page per transaction, ids and all (see `paperfeed_store::transfer`). Idempotent: rows already
//! there and equal are left alone, so a second run reports 0 new and 0 updated, and a run cut
//! short is completed by the next.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use paperfeed_store::mask_password;
use paperfeed_store::transfer::{Copied, TABLES};

use crate::cli::MigrateArgs;
use crate::database::Location;

fn bar(len: u64, table: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:<18} [{elapsed_precise}] {wide_bar} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(table.to_owned());
    bar
}

pub async fn run(args: &MigrateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=100_000).contains(&args.batch_size),
        "--batch-size must be between 1 and 100000, not {}",
        args.batch_size
    );
    let from = Location::parse(&args.from).context("--from")?;
    let to = Location::parse(&args.to).context("--to")?;
    let (from_name, to_name) = (mask_password(&args.from), mask_password(&args.to));
    anyhow::ensure!(
        from != to,
        "--from and --to name the same store ({from_name})"
    );
    if let Location::Sqlite(path) = &from {
        // Opening would create an empty file: a typo would "migrate" nothing, successfully.
        anyhow::ensure!(
            path.is_file(),
            "--from {from_name}: there is no SQLite store at {}",
            path.display()
        );
    }
    let source = from
        .open()
        .await
        .with_context(|| format!("opening the source store {from_name}"))?;
    let target = to
        .open()
        .await
        .with_context(|| format!("opening the target store {to_name}"))?;
    // The paper index is copied as derived rows: the rows a big ingest left for later are
    // written first, or a target that indexes as it writes would never get them.
    source
        .catch_up_paper_index()
        .await
        .with_context(|| format!("writing the paper index of {from_name}"))?;
    println!("migrating {from_name} into {to_name}");
    let started = std::time::Instant::now();
    let mut all = Copied::default();
    for table in TABLES {
        let total = source
            .count_rows(table)
            .await
            .with_context(|| format!("counting {} in {from_name}", table.name))?;
        let progress = bar(total, table.name);
        let mut copied = Copied::default();
        let mut after = None;
        loop {
            let rows = source
                .read_rows(table, after.take(), args.batch_size)
                .await
                .with_context(|| format!("reading {} from {from_name}", table.name))?;
            let Some(last) = rows.last() else { break };
            after = Some(table.key_of(last));
            let n = rows.len() as u64;
            copied += target
                .write_rows(table, rows)
                .await
                .with_context(|| format!("writing {} into {to_name}", table.name))?;
            progress.inc(n);
        }
        progress.finish_and_clear();
        println!(
            "{:<18} {:>8} rows: {} new, {} updated, {} unchanged",
            table.name,
            copied.new + copied.updated + copied.unchanged,
            copied.new,
            copied.updated,
            copied.unchanged
        );
        all += copied;
    }
    target
        .finish_transfer()
        .await
        .with_context(|| format!("finishing the copy into {to_name}"))?;
    println!(
        "migrated in {:.2} s: {} new, {} updated, {} unchanged",
        started.elapsed().as_secs_f64(),
        all.new,
        all.updated,
        all.unchanged
    );
    Ok(())
}
