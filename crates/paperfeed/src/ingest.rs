//! `paperfeed ingest`: files and folders → parsed records → store batches, with a progress bar
//! and a summary. Parsing runs on a blocking thread while the store writes the previous batch,
//! so both cores work on a large JSON Lines file.
//!
//! Memory stays bounded whatever the input: every format is read as a stream, batches are
//! bounded in records and bytes, the channel to the store holds two of them, and of the
//! rejections only the first reasons per file travel and are printed; the rest are counted.
//! Only regular files (and standard input, when asked for with `-`) are read, so a device or
//! a FIFO cannot make a run read forever.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use paperfeed_core::{NewPaper, UpsertOutcome};
use paperfeed_ingest::{Format, KaggleLines, Location, RecordError, RecordResult, detect_format};
use paperfeed_store::{Store, WriteMode};
use tokio::sync::mpsc;

/// Bytes looked at to detect a file's format.
const DETECT_BYTES: usize = 64 * 1024;
/// Rejection reasons printed per file before the rest are only counted.
const REASONS_SHOWN_PER_FILE: usize = 20;
/// A batch is sent to the store once its papers hold about this much text, however few they
/// are, so a run of very long records cannot pile up in memory.
const BATCH_BYTES: usize = 4 << 20;
/// Batches (and other items) waiting for the store.
const CHANNEL_ITEMS: usize = 2;
/// What a path of `-` means.
const STDIN_PATH: &str = "-";

/// One input file: a path on disk, standard input, or an embedded one (the bundled sample).
pub enum Source {
    Path(PathBuf),
    Stdin,
    Embedded { name: String, bytes: &'static [u8] },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Stdin => "standard input".to_owned(),
            Source::Embedded { name, .. } => name.clone(),
        }
    }

    /// The size for the progress bar; 0 when unknown (standard input).
    fn len(&self) -> u64 {
        match self {
            Source::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Source::Stdin => 0,
            Source::Embedded { bytes, .. } => bytes.len() as u64,
        }
    }

    fn file_name(&self) -> &str {
        match self {
            Source::Path(p) => p.file_name().and_then(|n| n.to_str()).unwrap_or_default(),
            Source::Stdin => STDIN_PATH,
            Source::Embedded { name, .. } => name.rsplit('/').next().unwrap_or_default(),
        }
    }

    /// Opens the source for reading. A path must be a regular file: reading a device
    /// (`/dev/zero`), a FIFO or a socket could go on forever or block.
    fn open(&self) -> Result<Box<dyn Read + Send>, String> {
        match self {
            Source::Embedded { bytes, .. } => Ok(Box::new(*bytes)),
            Source::Stdin => Ok(Box::new(std::io::stdin())),
            Source::Path(p) => {
                // Checked before opening, since opening a FIFO blocks until a writer comes,
                // and again on the open file, in case the path changed in between.
                let meta = std::fs::metadata(p).map_err(|e| format!("cannot read: {e}"))?;
                refuse_unless_regular(&meta)?;
                let file = File::open(p).map_err(|e| format!("cannot read: {e}"))?;
                let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
                refuse_unless_regular(&meta)?;
                Ok(Box::new(file))
            }
        }
    }
}

/// The refusal of anything but a regular file, naming what it is.
fn refuse_unless_regular(meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = file_kind(&meta.file_type());
    Err(format!(
        "not a regular file ({kind}): ingest reads regular files and folders of them, or \
         standard input when the path is `-`"
    ))
}

fn file_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

pub struct IngestOptions {
    pub format: Option<Format>,
    pub mode: WriteMode,
    pub batch_size: usize,
    pub show_progress: bool,
    /// Drop every record's AI summary and AI keywords before it is stored.
    pub without_ai: bool,
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

/// Expands folders (recursively, in name order, skipping hidden entries) into files; `-` is
/// standard input. What is neither a folder nor a regular file is kept, to be refused by name
/// when its turn comes.
pub fn expand_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == STDIN_PATH {
            out.push(Source::Stdin);
            continue;
        }
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
pub(crate) fn feed_date_from_name(file_name: &str) -> Option<NaiveDate> {
    let stem = file_name.split('.').next()?;
    let tail = stem.get(stem.len().checked_sub(10)?..)?;
    NaiveDate::parse_from_str(tail, "%Y-%m-%d").ok()
}

/// A batch of records, or a record/file error to report, in file order.
enum Item {
    Papers(Vec<NewPaper>),
    /// A rejection to print with its reason (the first ones of a file).
    Rejected(RecordError),
    /// Rejections only counted, their reasons dropped: how many, and where the first and last
    /// of them are.
    RejectedUnlisted {
        count: u64,
        first: Location,
        last: Location,
    },
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
        let (tx, mut rx) = mpsc::channel::<Item>(CHANNEL_ITEMS);
        let format = options.format;
        let batch_size = options.batch_size;
        let producer =
            tokio::task::spawn_blocking(move || produce(source, format, batch_size, &tx));
        // Rejections not listed: how many, and the first and last of them.
        let mut unlisted: Option<(u64, Location, Location)> = None;
        let mut file_failed = false;
        while let Some(item) = rx.recv().await {
            match item {
                Item::Papers(mut batch) => {
                    if options.without_ai {
                        for paper in &mut batch {
                            paper.ai_summary = None;
                            paper.ai_keywords = None;
                        }
                    }
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
                    progress.suspend(|| eprintln!("rejected {name}: {err}"));
                }
                Item::RejectedUnlisted { count, first, last } => {
                    summary.rejected += count;
                    let (total, first, _) = unlisted.unwrap_or((0, first, last));
                    unlisted = Some((total + count, first, last));
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
        if let Some((count, first, last)) = unlisted {
            let which = if first == last {
                format!("{first}")
            } else {
                format!("{first} to {last}")
            };
            progress.suspend(|| {
                eprintln!(
                    "rejected {name}: … and {} more rejected record{} not listed ({which})",
                    thousands(count),
                    if count == 1 { "" } else { "s" }
                );
            });
        }
        if file_failed {
            summary.failed_files += 1;
        }
    }
    progress.finish_and_clear();
    if options.mode == WriteMode::Commit {
        // Big batches left their author/organisation/category index rows for one sorted pass.
        let started = Instant::now();
        let indexed = store
            .catch_up_paper_index()
            .await
            .context("writing the paper index (authors, organisations, categories)")?;
        if indexed > 0 {
            tracing::info!(
                papers = indexed,
                duration_ms = started.elapsed().as_millis() as u64,
                "indexed the new papers by author, organisation and category"
            );
        }
    }
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

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs on a blocking thread: reads and parses one source as a stream, sending batches as it
/// goes.
fn produce(source: Source, forced: Option<Format>, batch_size: usize, tx: &mpsc::Sender<Item>) {
    let send = |item| tx.blocking_send(item).is_ok();
    let feed_date = feed_date_from_name(source.file_name());
    let count = Arc::new(AtomicU64::new(0));
    let mut input = match source.open() {
        Ok(inner) => Counting {
            inner,
            count: Arc::clone(&count),
        },
        Err(reason) => {
            send(Item::FileFailed(reason));
            send(Item::Progress(source.len()));
            return;
        }
    };
    let head = match read_head(&mut input) {
        Ok(head) => head,
        Err(e) => {
            send(Item::FileFailed(format!("cannot read: {e}")));
            send(Item::Progress(source.len()));
            return;
        }
    };
    let format = match forced {
        Some(f) => f,
        None => match detect_format(&head) {
            Ok(f) => f,
            Err(e) => {
                send(Item::FileFailed(e.to_string()));
                send(Item::Progress(source.len()));
                return;
            }
        },
    };
    // The head was taken from the stream; the parser reads it again before the rest.
    let reader = BufReader::with_capacity(256 * 1024, std::io::Cursor::new(head).chain(input));
    let mut batches = Batches {
        tx,
        batch: Vec::with_capacity(batch_size),
        batch_size,
        batch_bytes: 0,
        listed: 0,
        unlisted: None,
        count: &count,
        reported: 0,
        since_progress: 0,
    };
    let mut sink = |record: RecordResult| batches.take(record);
    let fatal = match format {
        Format::HfDailyPapers => paperfeed_ingest::read_hf_daily(reader, feed_date, &mut sink),
        Format::ArxivAtom => paperfeed_ingest::read_arxiv_atom(reader, &mut sink),
        Format::OaiPmh => paperfeed_ingest::read_oai_pmh(reader, &mut sink),
        Format::KaggleJsonl => {
            for (_line, record) in KaggleLines::new(reader) {
                if sink(record).is_break() {
                    break;
                }
            }
            None
        }
    };
    if batches.finish().is_break() {
        return;
    }
    if let Some(fatal) = fatal {
        send(Item::FileFailed(fatal.to_string()));
    }
}

/// Gathers a file's records into batches for the store, passes on the first rejections with
/// their reasons and counts the rest, and reports progress.
struct Batches<'a> {
    tx: &'a mpsc::Sender<Item>,
    batch: Vec<NewPaper>,
    batch_size: usize,
    /// Text held by `batch`, roughly.
    batch_bytes: usize,
    listed: usize,
    /// Rejections not listed since the last report, and where the first and last are.
    unlisted: Option<(u64, Location, Location)>,
    count: &'a AtomicU64,
    reported: u64,
    /// Records taken since progress was last reported.
    since_progress: u32,
}

impl Batches<'_> {
    fn send(&self, item: Item) -> ControlFlow<()> {
        match self.tx.blocking_send(item) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }

    fn take(&mut self, record: RecordResult) -> ControlFlow<()> {
        match record {
            Ok(paper) => {
                self.batch_bytes += text_bytes(&paper);
                self.batch.push(paper);
                if self.batch.len() >= self.batch_size || self.batch_bytes >= BATCH_BYTES {
                    self.flush()?;
                }
            }
            Err(e) if self.listed < REASONS_SHOWN_PER_FILE => {
                self.listed += 1;
                self.send(Item::Rejected(e))?;
            }
            Err(e) => {
                let (count, first, _) = self.unlisted.unwrap_or((0, e.location, e.location));
                self.unlisted = Some((count + 1, first, e.location));
            }
        }
        self.since_progress += 1;
        if self.since_progress >= 64 * 1024 {
            self.progress()?;
        }
        ControlFlow::Continue(())
    }

    fn flush(&mut self) -> ControlFlow<()> {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
            self.batch_bytes = 0;
            self.send(Item::Papers(batch))?;
        }
        self.progress()
    }

    fn progress(&mut self) -> ControlFlow<()> {
        self.since_progress = 0;
        if let Some((count, first, last)) = self.unlisted.take() {
            self.send(Item::RejectedUnlisted { count, first, last })?;
        }
        let read = self.count.load(Ordering::Relaxed);
        if read > self.reported {
            let delta = read - self.reported;
            self.reported = read;
            self.send(Item::Progress(delta))?;
        }
        ControlFlow::Continue(())
    }

    fn finish(&mut self) -> ControlFlow<()> {
        self.flush()
    }
}

/// The text a paper holds, roughly: what its batch costs in memory.
fn text_bytes(paper: &NewPaper) -> usize {
    let optional = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    paper.title.len()
        + paper.abstract_text.len()
        + paper
            .authors
            .iter()
            .map(|a| a.name.len() + optional(&a.user) + 32)
            .sum::<usize>()
        + paper.categories.iter().map(String::len).sum::<usize>()
        + optional(&paper.github_repo)
        + optional(&paper.project_page)
        + optional(&paper.ai_summary)
        + paper
            .ai_keywords
            .as_ref()
            .map_or(0, |k| k.iter().map(String::len).sum())
        + 256
}

/// Reads up to [`DETECT_BYTES`] from the start of a stream (a pipe hands them over in pieces).
fn read_head(input: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(DETECT_BYTES);
    input.take(DETECT_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Counts bytes read so the progress bar can follow a stream.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
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

    #[test]
    fn counts_are_written_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
