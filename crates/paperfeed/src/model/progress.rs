//! How a fetch shows its progress: a bar over all the bytes to fetch on a terminal, log lines
//! otherwise (a service's journal, a test's log): one when a file starts, one at every quarter
//! of a large file, one when it is in.

use std::io::IsTerminal as _;
use std::time::Instant;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use reqwest::Url;

use super::pin::PinnedFile;

/// Files below this get no quarter lines.
const QUARTERS_FROM: u64 = 8 << 20;

pub struct Progress {
    bar: Option<ProgressBar>,
    file: Option<Current>,
}

/// The file being fetched.
struct Current {
    path: &'static str,
    size: u64,
    got: u64,
    /// The bar's position when the file started (an attempt that failed goes back to it).
    base: u64,
    started: Instant,
    /// The next quarter to report (1 to 3).
    quarter: u64,
}

impl Progress {
    /// `total`: the bytes of every file to fetch.
    pub fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>26} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar, file: None }
    }

    pub fn start(&mut self, file: &PinnedFile, url: &Url) {
        let base = self.bar.as_ref().map_or(0, ProgressBar::position);
        self.file = Some(Current {
            path: file.path,
            size: file.size,
            got: 0,
            base,
            started: Instant::now(),
            quarter: 1,
        });
        match &self.bar {
            Some(bar) => bar.set_message(file.path),
            None => tracing::info!(
                file = file.path,
                size = %HumanBytes(file.size),
                %url,
                "fetching a model file"
            ),
        }
    }

    pub fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
        let Some(file) = &mut self.file else { return };
        file.got += bytes;
        if self.bar.is_none() && file.size >= QUARTERS_FROM {
            while file.quarter < 4 && file.got * 4 >= file.size * file.quarter {
                tracing::info!(
                    file = file.path,
                    "{}% of {}",
                    file.quarter * 25,
                    HumanBytes(file.size)
                );
                file.quarter += 1;
            }
        }
    }

    /// The current file starts over (another attempt).
    pub fn restart(&mut self) {
        if let Some(file) = &mut self.file {
            file.got = 0;
            file.quarter = 1;
            if let Some(bar) = &self.bar {
                bar.set_position(file.base);
            }
        }
    }

    pub fn done(&mut self) {
        if let (Some(file), None) = (self.file.take(), &self.bar) {
            tracing::info!(
                file = file.path,
                size = %HumanBytes(file.size),
                seconds = (file.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                "model file fetched and checked"
            );
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
