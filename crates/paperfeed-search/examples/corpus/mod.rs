//! What the search benchmarks share: a corpus synthesised from the real Hugging Face papers,
//! queries as people type them, and measuring helpers. Seeded: the same corpus and queries
//! every run.
#![allow(dead_code)] // each benchmark uses its own part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use paperfeed_core::{ArxivId, Author, Featuring, Paper, merge};
use paperfeed_ingest::parse_hf_daily;
use paperfeed_search::KeywordQuery;

pub type Error = Box<dyn std::error::Error>;

/// Seeded xorshift: reproducible without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub const CATEGORIES: [&str; 12] = [
    "cs.CL", "cs.CL", "cs.CL", "cs.CV", "cs.CV", "cs.LG", "cs.LG", "cs.AI", "cs.RO", "stat.ML",
    "eess.AS", "cs.IR",
];

fn shared_data() -> PathBuf {
    std::env::var_os("PAPERFEED_SHARED_DATA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
        PathBuf::from,
    )
}

pub fn real_papers() -> Result<Vec<Paper>, Error> {
    let folder = shared_data().join("hf_daily_papers");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut merged: BTreeMap<ArxivId, Paper> = BTreeMap::new();
    for path in files {
        let day = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<NaiveDate>().ok());
        let parsed = parse_hf_daily(&std::fs::read(&path)?, day);
        for record in parsed.records.into_iter().flatten() {
            let paper = merge(merged.get(&record.id), record);
            merged.insert(paper.id.clone(), paper);
        }
    }
    Ok(merged.into_values().collect())
}

fn sentences(text: &str) -> Vec<String> {
    text.split_inclusive(". ")
        .map(|s| s.trim().to_owned())
        .filter(|s| s.len() > 20)
        .collect()
}

/// One synthetic paper's makings: the real papers its title was cut from, so a benchmark can
/// give it a vector near theirs.
pub struct Synthetic {
    pub paper: Paper,
    pub head: usize,
    pub tail: usize,
}

pub fn synthesise(real: &[Paper], count: usize, rng: &mut Rng) -> Result<Vec<Paper>, Error> {
    Ok(synthesise_traced(real, count, rng)?
        .into_iter()
        .map(|s| s.paper)
        .collect())
}

/// [`synthesise`], saying which real papers each synthetic one was made from.
pub fn synthesise_traced(
    real: &[Paper],
    count: usize,
    rng: &mut Rng,
) -> Result<Vec<Synthetic>, Error> {
    let pool: Vec<String> = real
        .iter()
        .flat_map(|p| sentences(&p.abstract_text))
        .collect();
    let names: Vec<&str> = real
        .iter()
        .flat_map(|p| p.authors.iter().map(|a| a.name.as_str()))
        .collect();
    let start = NaiveDate::from_ymd_opt(2023, 1, 1).ok_or("date")?;
    let mut per_month: BTreeMap<(i32, u32), u32> = BTreeMap::new();
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let head_at = rng.below(real.len());
        let tail_at = rng.below(real.len());
        let (head, tail) = (&real[head_at], &real[tail_at]);
        let head_words: Vec<&str> = head.title.split_whitespace().collect();
        let tail_words: Vec<&str> = tail.title.split_whitespace().collect();
        let cut_head = head_words.len().div_ceil(2);
        let cut_tail = tail_words.len() / 2;
        let title = head_words[..cut_head]
            .iter()
            .chain(&tail_words[cut_tail..])
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let abstract_text = (0..4 + rng.below(5))
            .map(|_| rng.pick(&pool).as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let authors = (0..1 + rng.below(8))
            .map(|_| Author::named(*rng.pick(&names)))
            .collect();
        let published = start + Duration::days(rng.below(44 * 30) as i64);
        let month = (published.year() % 100, published.month());
        let serial = per_month.entry(month).or_insert(0);
        *serial += 1;
        let id = ArxivId::parse(&format!("{:02}{:02}.{:05}", month.0, month.1, serial))?;
        let mut featured = vec![Featuring {
            date: published + Duration::days(1 + rng.below(3) as i64),
            submitter: None,
        }];
        if rng.below(10) == 0 {
            featured.push(Featuring {
                date: published + Duration::days(8 + rng.below(30) as i64),
                submitter: None,
            });
        }
        let mut categories = vec![(*rng.pick(&CATEGORIES)).to_owned()];
        if rng.below(3) == 0 {
            categories.push((*rng.pick(&CATEGORIES)).to_owned());
        }
        categories.dedup();
        let paper = Paper {
            id,
            title,
            abstract_text,
            authors,
            categories,
            published_at: published
                .and_hms_opt(12, 0, 0)
                .map(|t| Utc.from_utc_datetime(&t)),
            versions: Vec::new(),
            featured,
            upvotes: (head.upvotes + rng.below(20) as i64 - 10).max(0),
            num_comments: 0,
            github_repo: None,
            github_stars: None,
            project_page: None,
            ai_summary: None,
            ai_keywords: Vec::new(),
            organization: None,
        };
        out.push(Synthetic {
            paper,
            head: head_at,
            tail: tail_at,
        });
    }
    Ok(out)
}

const STOP: [&str; 12] = [
    "a", "an", "and", "the", "of", "for", "in", "on", "with", "to", "via", "is",
];

/// A query of one kind, as people type them.
pub fn queries(corpus: &[Paper], count: usize, rng: &mut Rng) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let paper = rng.pick(corpus);
        let words: Vec<String> = paper
            .title
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| w.len() > 2 && !STOP.contains(&w.to_lowercase().as_str()))
            .map(str::to_owned)
            .collect();
        let run = |rng: &mut Rng, n: usize| -> String {
            if words.is_empty() {
                return "model".to_owned();
            }
            let n = n.min(words.len());
            let at = rng.below(words.len() - n + 1);
            words[at..at + n].join(" ")
        };
        let query = match i % 20 {
            0..=5 => ("1 word", run(rng, 1)),
            6..=9 => ("2 words", run(rng, 2)),
            10..=11 => ("3 words", run(rng, 3)),
            12 => ("phrase", format!("\"{}\"", run(rng, 2))),
            13 => (
                "words+category",
                format!("{} category:{}", run(rng, 2), rng.pick(&CATEGORIES)),
            ),
            14 => (
                "words+published",
                format!("{} published:2024-01..2024-06", run(rng, 1)),
            ),
            15 => {
                let author = paper
                    .authors
                    .first()
                    .and_then(|a| a.name.split_whitespace().last())
                    .unwrap_or("smith");
                ("words+author", format!("{} author:{author}", run(rng, 1)))
            }
            16 => ("exact title", paper.title.clone()),
            17 => ("exact id", paper.id.to_string()),
            18 => ("sort:votes", format!("{} sort:votes", run(rng, 2))),
            _ => (
                "filters only",
                format!("featured:2025-0{} category:cs.CV", 1 + rng.below(9)),
            ),
        };
        out.push(query);
    }
    out
}

/// User + system CPU time of this process so far, from `/proc/self/stat` (Linux; clock
/// ticks, so only meaningful over many queries).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports ticks of 1/100 s (USER_HZ) on every common architecture.
    Some((utime + stime) / 100.0)
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Runs of each query for the "best of" latency.
pub const BEST_OF: usize = 5;

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// What the search page does: the typed syntax, or (when it is malformed, as a pasted title
/// with one stray quote is) the words as plain text.
pub fn parse(input: &str) -> KeywordQuery {
    KeywordQuery::parse(input).unwrap_or_else(|_| KeywordQuery::text(input.replace('"', " ")))
}

/// Resident memory of this process now and at its peak, in MB, from `/proc/self/status`.
pub fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
