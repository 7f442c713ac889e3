//! Hugging Face `daily_papers?date=…` answers: a JSON array of feed entries, one `NewPaper` each.
//!
//! The array is read as a stream and split into entries ([`crate::json_array`]), each typed on
//! its own, so memory holds one entry at a time, an entry with a wrong type or broken JSON
//! costs only that entry, and a file cut short still yields every entry before the cut.
//! Unknown fields are ignored, since the API adds and drops fields over the years.

use std::io::BufRead;
use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Author, Featuring, NewPaper, Organization, Submitter};
use serde::Deserialize;

use crate::fields::title_and_abstract;
use crate::json::{Text, field_error, split_position};
use crate::json_array::{ArrayEntries, Piece};
use crate::record::{MAX_RECORD_BYTES, RecordSink};
use crate::{Location, Parsed, RecordError};

const EXPECTED: &str = "a JSON array of daily-paper entries";

/// Parses one `daily_papers` answer held in memory. `feed_date` is the `date=` the file
/// answered (callers take it from a file name like `2024-03-12.json`); it is the featured day
/// of entries that do not carry one themselves.
pub fn parse_hf_daily(bytes: &[u8], feed_date: Option<NaiveDate>) -> Parsed {
    let mut parsed = Parsed::default();
    let fatal = read_hf_daily(bytes, feed_date, &mut parsed.collect());
    parsed.fatal = fatal;
    parsed
}

/// Reads a `daily_papers` answer from a stream, handing each entry's record to `sink` as soon
/// as it is read; returns the error that stopped the file early, if any. Memory holds one
/// entry; an entry over [`MAX_RECORD_BYTES`] is rejected unread.
pub fn read_hf_daily(
    reader: impl BufRead,
    feed_date: Option<NaiveDate>,
    sink: RecordSink<'_>,
) -> Option<RecordError> {
    read_with_limit(reader, feed_date, MAX_RECORD_BYTES, sink)
}

fn read_with_limit(
    reader: impl BufRead,
    feed_date: Option<NaiveDate>,
    max_entry: usize,
    sink: RecordSink<'_>,
) -> Option<RecordError> {
    let mut entries = ArrayEntries::new(reader, max_entry, EXPECTED);
    loop {
        let limit = entries.limit();
        let record = match entries.next_piece() {
            Piece::End => return None,
            Piece::Fatal(fatal) => return Some(fatal),
            Piece::Element { index, line, bytes } => {
                entry_record(bytes, feed_date).map_err(|reason| rejected(index, line, &reason))
            }
            Piece::TooLong {
                index,
                line,
                length,
            } => Err(rejected(
                index,
                line,
                &format!("the entry is {length} bytes long, over the {limit} limit; skipped"),
            )),
        };
        if sink(record) == ControlFlow::Break(()) {
            return None;
        }
    }
}

/// serde_json's error without its position, which counts inside the entry (the caller adds
/// the entry's line), and with the field path for typing errors.
fn describe(path: &str, e: &serde_json::Error) -> String {
    let message = e.to_string();
    let message = split_position(&message).0;
    if e.is_data() {
        field_error(path, message)
    } else {
        format!("malformed JSON: {message}")
    }
}

fn rejected(index: usize, line: u64, reason: &str) -> RecordError {
    RecordError::new(
        Location::Entry(index),
        format!("{reason} (entry at line {line})"),
    )
}

/// Types one raw entry and maps it; the error names the field path.
fn entry_record(raw: &[u8], feed_date: Option<NaiveDate>) -> Result<NewPaper, String> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let entry: HfEntry<'_> = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| describe(&e.path().to_string(), e.inner()))?;
    de.end().map_err(|e| describe("", &e))?;
    entry.into_paper(feed_date)
}

#[derive(Deserialize)]
struct HfEntry<'a> {
    #[serde(borrow)]
    paper: HfPaper<'a>,
    /// When the entry was put on the feed; often the evening before the featured day.
    #[serde(rename = "publishedAt", default)]
    published_at: Option<DateTime<Utc>>,
    #[serde(rename = "numComments", default)]
    num_comments: Option<i64>,
    #[serde(rename = "submittedBy", default, borrow)]
    submitted_by: Option<HfUser<'a>>,
    /// The organisation the entry is listed under (also inside `paper` in newer answers).
    #[serde(default, borrow)]
    organization: Option<HfOrganization<'a>>,
}

/// An HF organisation as the feed spells it (`name`: its URL name, `fullname`: its title).
#[derive(Deserialize)]
struct HfOrganization<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    fullname: Option<Text<'a>>,
}

impl HfOrganization<'_> {
    /// `None` without a name, or with one that is not an HF organisation name (it becomes a
    /// URL on this hub).
    fn organization(&self) -> Option<Organization> {
        let name = paperfeed_core::organization_name(self.name.as_deref()?.trim())?;
        Some(Organization {
            name,
            fullname: non_empty(self.fullname.as_deref()),
        })
    }
}

#[derive(Deserialize)]
struct HfPaper<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    authors: Option<Vec<HfAuthor<'a>>>,
    /// The arXiv submission date.
    #[serde(rename = "publishedAt", default)]
    published_at: Option<DateTime<Utc>>,
    #[serde(rename = "submittedOnDailyAt", default)]
    submitted_on_daily_at: Option<DateTime<Utc>>,
    #[serde(rename = "submittedOnDailyBy", default, borrow)]
    submitted_on_daily_by: Option<HfUser<'a>>,
    #[serde(borrow)]
    title: Text<'a>,
    #[serde(borrow)]
    summary: Text<'a>,
    #[serde(default, borrow)]
    organization: Option<HfOrganization<'a>>,
    #[serde(default)]
    upvotes: Option<i64>,
    #[serde(rename = "githubRepo", default, borrow)]
    github_repo: Option<Text<'a>>,
    #[serde(rename = "githubStars", default)]
    github_stars: Option<i64>,
    #[serde(rename = "projectPage", default, borrow)]
    project_page: Option<Text<'a>>,
    #[serde(default, borrow)]
    ai_summary: Option<Text<'a>>,
    #[serde(default, borrow)]
    ai_keywords: Option<Vec<Text<'a>>>,
}

#[derive(Deserialize)]
struct HfAuthor<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(default)]
    hidden: Option<bool>,
    #[serde(default, borrow)]
    user: Option<HfClaim<'a>>,
}

/// The hub account that claimed an authorship.
#[derive(Deserialize)]
struct HfClaim<'a> {
    #[serde(default, borrow)]
    user: Option<Text<'a>>,
}

/// A hub user as `submittedBy` (`name`) and `submittedOnDailyBy` (`user`, later also `name`)
/// spell it.
#[derive(Deserialize)]
struct HfUser<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    user: Option<Text<'a>>,
    #[serde(default, borrow)]
    fullname: Option<Text<'a>>,
}

impl HfUser<'_> {
    fn submitter(&self) -> Option<Submitter> {
        let name = non_empty(self.name.as_deref()).or(non_empty(self.user.as_deref()))?;
        Some(Submitter {
            name,
            fullname: non_empty(self.fullname.as_deref()),
        })
    }
}

impl HfEntry<'_> {
    fn into_paper(self, feed_date: Option<NaiveDate>) -> Result<NewPaper, String> {
        let p = self.paper;
        let id = ArxivId::parse(&p.id).map_err(|e| format!("paper.id: {e}"))?;
        let (title, abstract_text) =
            title_and_abstract(&p.title, &p.summary, "paper.title", "paper.summary")?;
        let authors = p
            .authors
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| {
                let name = a.name.trim();
                (!name.is_empty()).then(|| Author {
                    name: name.to_owned(),
                    user: a.user.and_then(|u| non_empty(u.user.as_deref())),
                    hidden: a.hidden.unwrap_or(false),
                })
            })
            .collect();

        // The featured day, most trustworthy first: the paper's own submittedOnDailyAt (newer
        // API answers), then the date= the file answered, and only then the entry's top-level
        // publishedAt, which in the real data is often the evening before and sometimes days
        // off.
        let date = p
            .submitted_on_daily_at
            .map(|at| at.date_naive())
            .or(feed_date)
            .or(self.published_at.map(|at| at.date_naive()));
        let submitter = self
            .submitted_by
            .as_ref()
            .and_then(HfUser::submitter)
            .or_else(|| p.submitted_on_daily_by.as_ref().and_then(HfUser::submitter));

        let mut paper = NewPaper::new(id, title, abstract_text, authors);
        paper.published_at = p.published_at;
        paper.featured = date.map(|date| Featuring { date, submitter });
        paper.upvotes = p.upvotes;
        paper.num_comments = self.num_comments;
        paper.github_repo = non_empty(p.github_repo.as_deref());
        paper.github_stars = p.github_stars;
        paper.project_page = non_empty(p.project_page.as_deref());
        paper.ai_summary = non_empty(p.ai_summary.as_deref());
        paper.ai_keywords = p.ai_keywords.and_then(|keywords| {
            let keywords: Vec<String> = keywords
                .iter()
                .filter_map(|k| non_empty(Some(&**k)))
                .collect();
            (!keywords.is_empty()).then_some(keywords)
        });
        paper.organization = p
            .organization
            .as_ref()
            .or(self.organization.as_ref())
            .and_then(HfOrganization::organization);
        Ok(paper)
    }
}

/// The feed sends `""` for "none" in optional text fields.
fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
