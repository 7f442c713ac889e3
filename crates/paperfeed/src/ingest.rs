//! `paperfeed ingest`: files and folders → parsed records → store batches, with a progress bar
//! and a summary. Parsing runs on a blocking thread while the store writes the previous batch,
//! so both cores work on a large JSON Lines file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use paperfeed_core::{NewPaper, UpsertOutcome};
use paperfeed_ingest::{Format, KaggleLines, Parsed, RecordError, detect_format};
use paperfeed_store::{Store, WriteMode};
use tokio::sync::mpsc;

/// Bytes looked at to detect a file's format.
const DETECT_BYTES: usize = 64 * 1024;
/// Rejection reasons printed per file before the rest are only counted.
const REASONS_SHOWN_PER_FILE: usize = 20;

/// One input file: a path on disk, or an embedded one (the bundled sample).
pub enum Source {
    Path(PathBuf),
    Embedded { name: String, bytes: &'static [u8] },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Embedded { name, .. } => name.clone(),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Source::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Source::Embedded { bytes, .. } => bytes.len() as u64,
        }
    }

    fn file_name(&self) -> &str {
        match self {
            Source::Path(p) => p.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
            Source::Embedded { name, .. } => name.rsplit('/').next().unwrap_or_default(),
        }
    }
}

pub struct IngestOptions {
    pub format: Option<Format>,
    pub mode: WriteMode,
    pub batch_size: usize,
    pub show_progress: bool,
}

/// What an ingest run did, for the summary line and the exit code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestSummary {
    pub files: usize,
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Files refused whole (unreadable, unknown format) or cut short (truncated).
    pub failed_files: usize,
}

impl IngestSummary {
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.failed_files == 0
    }

    fn count(&mut self, outcomes: &[UpsertOutcome]) {
        for o in outcomes {
            match o {
                UpsertOutcome::New => self.new += 1,
                UpsertOutcome::Updated => self.updated += 1,
                UpsertOutcome::Unchanged => self.unchanged += 1,
            }
        }
    }
}

impl std::fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} file{}: {} new, {} updated, {} unchanged, {} rejected",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.new,
            self.updated,
            self.unchanged,
            self.rejected
        )?;
        if self.failed_files > 0 {
            write!(f, ", {} file(s) with errors", self.failed_files)?;
        }
        Ok(())
    }
}

/// Expands folders (recursively, in name order, skipping hidden entries) into files.
pub fn expand_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut out = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            collect_dir(path, &mut out)?;
        } else {
            out.push(Source::Path(path.clone()));
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<Source>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && !n.ends_with(".md"))
        })
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else {
            out.push(Source::Path(path));
        }
    }
    Ok(())
}

/// The feed day a Hugging Face archive file answers, from names like `2024-03-12.json` or
/// `daily_papers_2024-03-12.json`.
fn feed_date_from_name(file_name: &str) -> Option<NaiveDate> {
    let stem = file_name.split('.').next()?;
    let tail = stem.get(stem.len().checked_sub(10)?..)?;
    NaiveDate::parse_from_str(tail, "%Y-%m-%d").ok()
}

/// A batch of records, or a record/file error to report, in file order.
enum Item {
    Papers(Vec<NewPaper>),
    Rejected(RecordError),
    /// The file could not be read at all or stopped early.
    FileFailed(String),
    Progress(u64),
}

/// Ingests every source into the store and returns the totals. Errors only for store failures;
/// bad input is counted and reported on stderr.
pub async fn ingest(
    store: Arc<dyn Store>,
    sources: Vec<Source>,
    options: &IngestOptions,
) -> anyhow::Result<IngestSummary> {
    let total_bytes: u64 = sources.iter().map(Source::len).sum();
    let progress = if options.show_progress {
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut summary = IngestSummary::default();
    let mut dry_run_seen = std::collections::HashSet::new();
    for source in sources {
        summary.files += 1;
        let name = source.name();
        progress.set_message(source.file_name().to_owned());
        let (tx, mut rx) = mpsc::channel::<Item>(4);
        let format = options.format;
        let batch_size = options.batch_size;
        let producer =
            tokio::task::spawn_blocking(move || produce(source, format, batch_size, &tx));
        let mut shown = 0usize;
        let mut file_failed = false;
        while let Some(item) = rx.recv().await {
            match item {
                Item::Papers(batch) => {
                    let ids: Vec<_> = if options.mode == WriteMode::DryRun {
                        batch.iter().map(|p| p.id.clone()).collect()
                    } else {
                        Vec::new()
                    };
                    let mut outcomes = store
                        .upsert_papers(batch, options.mode)
                        .await
                        .with_context(|| format!("storing papers from {name}"))?;
                    if options.mode == WriteMode::DryRun {
                        // Each dry-run batch is rolled back, so a paper met again in a later
                        // batch looks new again; it would have been an update.
                        for (id, outcome) in ids.into_iter().zip(outcomes.iter_mut()) {
                            if !dry_run_seen.insert(id) && *outcome == UpsertOutcome::New {
                                *outcome = UpsertOutcome::Updated;
                            }
                        }
                    }
                    summary.count(&outcomes);
                }
                Item::Rejected(err) => {
                    summary.rejected += 1;
                    shown += 1;
                    if shown <= REASONS_SHOWN_PER_FILE {
                        progress.suspend(|| eprintln!("rejected {name}: {err}"));
                    }
                }
                Item::FileFailed(reason) => {
                    file_failed = true;
                    progress.suspend(|| eprintln!("error {name}: {reason}"));
                }
                Item::Progress(bytes) => progress.inc(bytes),
            }
        }
        producer
            .await
            .with_context(|| format!("parsing {name} stopped unexpectedly"))?;
        if shown > REASONS_SHOWN_PER_FILE {
            progress.suspend(|| {
                eprintln!(
                    "rejected {name}: … and {} more records",
                    shown - REASONS_SHOWN_PER_FILE
                );
            });
        }
        if file_failed {
            summary.failed_files += 1;
        }
    }
    progress.finish_and_clear();
    tracing::info!(
        ingest.files = summary.files,
        ingest.new = summary.new,
        ingest.updated = summary.updated,
        ingest.unchanged = summary.unchanged,
        ingest.rejected = summary.rejected,
        duration_ms = started.elapsed().as_millis() as u64,
        "ingest finished"
    );
    Ok(summary)
}

/// Runs on a blocking thread: reads and parses one source, sending batches as it goes.
fn produce(source: Source, forced: Option<Format>, batch_size: usize, tx: &mpsc::Sender<Item>) {
    let send = |item| tx.blocking_send(item).is_ok();
    let feed_date = feed_date_from_name(source.file_name());
    let total = source.len();
    let head = match read_head(&source) {
        Ok(head) => head,
        Err(e) => {
            send(Item::FileFailed(format!("cannot read: {e}")));
            return;
        }
    };
    let format = match forced {
        Some(f) => f,
        None => match detect_format(&head) {
            Ok(f) => f,
            Err(e) => {
                send(Item::FileFailed(e.to_string()));
                send(Item::Progress(total));
                return;
            }
        },
    };
    if format == Format::KaggleJsonl {
        produce_lines(&source, batch_size, tx);
        return;
    }
    let bytes: std::borrow::Cow<'static, [u8]> = match &source {
        Source::Embedded { bytes, .. } => (*bytes).into(),
        Source::Path(p) => match std::fs::read(p) {
            Ok(b) => b.into(),
            Err(e) => {
                send(Item::FileFailed(format!("cannot read: {e}")));
                return;
            }
        },
    };
    let parsed: Parsed = match format {
        Format::HfDailyPapers => paperfeed_ingest::parse_hf_daily(&bytes, feed_date),
        Format::ArxivAtom => paperfeed_ingest::parse_arxiv_atom(&bytes).parsed,
        Format::OaiPmh => paperfeed_ingest::parse_oai_pmh(&bytes).parsed,
        Format::KaggleJsonl => Parsed::default(),
    };
    let mut batch = Vec::with_capacity(batch_size);
    for record in parsed.records {
        match record {
            Ok(paper) => {
                batch.push(paper);
                if batch.len() >= batch_size && !send(Item::Papers(std::mem::take(&mut batch))) {
                    return;
                }
            }
            Err(e) => {
                if !send(Item::Rejected(e)) {
                    return;
                }
            }
        }
    }
    if !batch.is_empty() {
        send(Item::Papers(batch));
    }
    if let Some(fatal) = parsed.fatal {
        send(Item::FileFailed(fatal.to_string()));
    }
    send(Item::Progress(bytes.len() as u64));
}

fn read_head(source: &Source) -> std::io::Result<Vec<u8>> {
    match source {
        Source::Embedded { bytes, .. } => Ok(bytes[..bytes.len().min(DETECT_BYTES)].to_vec()),
        Source::Path(p) => {
            let mut head = Vec::with_capacity(DETECT_BYTES);
            File::open(p)?
                .take(DETECT_BYTES as u64)
                .read_to_end(&mut head)?;
            Ok(head)
        }
    }
}

/// Counts bytes read so the progress bar can follow a stream.
struct Counting<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

fn produce_lines(source: &Source, batch_size: usize, tx: &mpsc::Sender<Item>) {
    use std::sync::atomic::Ordering;
    let send = |item| tx.blocking_send(item).is_ok();
    let reader: Box<dyn Read + Send> = match source {
        Source::Embedded { bytes, .. } => Box::new(*bytes),
        Source::Path(p) => match File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                send(Item::FileFailed(format!("cannot read: {e}")));
                return;
            }
        },
    };
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counting = Counting {
        inner: reader,
        count: Arc::clone(&count),
    };
    let mut reported = 0u64;
    let mut batch = Vec::with_capacity(batch_size);
    for (_line, record) in KaggleLines::new(BufReader::with_capacity(256 * 1024, counting)) {
        match record {
            Ok(paper) => {
                batch.push(paper);
                if batch.len() >= batch_size {
                    let read = count.load(Ordering::Relaxed);
                    if !send(Item::Papers(std::mem::take(&mut batch)))
                        || !send(Item::Progress(read - reported))
                    {
                        return;
                    }
                    reported = read;
                }
            }
            Err(e) => {
                if !send(Item::Rejected(e)) {
                    return;
                }
            }
        }
    }
    if !batch.is_empty() {
        send(Item::Papers(batch));
    }
    send(Item::Progress(count.load(Ordering::Relaxed) - reported));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_dates_come_from_archive_file_names() {
        let d = |s: &str| feed_date_from_name(s).map(|d| d.to_string());
        assert_eq!(d("2024-03-12.json").as_deref(), Some("2024-03-12"));
        assert_eq!(
            d("daily_papers_2024-03-12.json").as_deref(),
            Some("2024-03-12")
        );
        assert_eq!(d("papers.json"), None);
        assert_eq!(d("2024-13-12.json"), None);
        assert_eq!(d("é.json"), None);
    }
}
