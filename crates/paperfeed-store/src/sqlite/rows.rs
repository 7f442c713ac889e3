//! How papers and values read from and write to SQLite rows: instants and days as text,
//! lists as JSON, a paper with its featurings in one row.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use paperfeed_core::{ArxivId, Author, Featuring, Paper, PaperVersion, Submitter};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::{FeedEntry, StoreError};

pub(super) fn now_text() -> String {
    time_text(Utc::now())
}

/// Instants as stored: RFC 3339 in UTC with milliseconds, so text order is time order.
pub(super) fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("stored time {text:?}: {e}")))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) const PAPER_COLUMNS: &str = "p.id, p.title, p.abstract, p.authors, p.categories, p.published_at,
    p.versions, p.upvotes + p.local_upvotes, p.num_comments + p.local_comments, p.github_repo, p.github_stars, p.project_page,
    p.ai_summary, p.ai_keywords,
    (select json_group_array(json_array(f.day, f.submitter_name, f.submitter_fullname))
       from featurings f where f.paper_id = p.id), p.organization";

/// The number of columns in [`PAPER_COLUMNS`]; extra selected columns follow it.
pub(super) const PAPER_COLUMN_COUNT: usize = 16;

pub(super) fn paper_from_row(row: &Row<'_>) -> Result<Paper, StoreError> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    let id_text: String = row.get(0)?;
    let id = ArxivId::parse(&id_text).map_err(|e| corrupt("papers.id", &e))?;
    let json = |index: usize, _what: &str| -> Result<String, StoreError> { Ok(row.get(index)?) };
    let authors: Vec<Author> =
        serde_json::from_str(&json(3, "authors")?).map_err(|e| corrupt("papers.authors", &e))?;
    let categories: Vec<String> = serde_json::from_str(&json(4, "categories")?)
        .map_err(|e| corrupt("papers.categories", &e))?;
    let published_at: Option<String> = row.get(5)?;
    let published_at = published_at
        .map(|s| DateTime::parse_from_rfc3339(&s).map(|d| d.with_timezone(&Utc)))
        .transpose()
        .map_err(|e| corrupt("papers.published_at", &e))?;
    let versions: Vec<PaperVersion> =
        serde_json::from_str(&json(6, "versions")?).map_err(|e| corrupt("papers.versions", &e))?;
    let ai_keywords: Vec<String> = serde_json::from_str(&json(13, "ai_keywords")?)
        .map_err(|e| corrupt("papers.ai_keywords", &e))?;
    let featured_rows: Vec<(String, Option<String>, Option<String>)> =
        serde_json::from_str(&json(14, "featurings")?).map_err(|e| corrupt("featurings", &e))?;
    let mut featured = featured_rows
        .into_iter()
        .map(|(day, name, fullname)| {
            let date = day
                .parse::<NaiveDate>()
                .map_err(|e| corrupt("featurings.day", &e))?;
            Ok(Featuring {
                date,
                submitter: name.map(|name| Submitter { name, fullname }),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    featured.sort_by_key(|f| f.date);
    let organization: Option<String> = row.get(15)?;
    let organization = organization
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| corrupt("papers.organization", &e))?;
    Ok(Paper {
        id,
        title: row.get(1)?,
        abstract_text: row.get(2)?,
        authors,
        categories,
        published_at,
        versions,
        featured,
        upvotes: row.get(7)?,
        num_comments: row.get(8)?,
        github_repo: row.get(9)?,
        github_stars: row.get(10)?,
        project_page: row.get(11)?,
        ai_summary: row.get(12)?,
        ai_keywords,
        organization,
    })
}

pub(super) fn load_paper(conn: &Connection, id: &str) -> Result<Option<Paper>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {PAPER_COLUMNS} from papers p where p.id = ?1"
    ))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => paper_from_row(row).map(Some),
        None => Ok(None),
    }
}

/// A paper as its sources said it, without local votes and comments: what `merge` folds a
/// record into (`write_paper` stores the imported counts; the local ones stay beside them).
pub(super) fn load_imported_paper(
    conn: &Connection,
    id: &str,
) -> Result<Option<Paper>, StoreError> {
    let Some(mut paper) = load_paper(conn, id)? else {
        return Ok(None);
    };
    let (votes, comments): (i64, i64) = conn
        .prepare_cached("select local_upvotes, local_comments from papers where id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    paper.upvotes -= votes;
    paper.num_comments -= comments;
    Ok(Some(paper))
}

pub(super) fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

pub(super) fn parse_day(text: &str) -> Result<NaiveDate, StoreError> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("featurings.day {text:?}: {e}")))
}

/// Feed entries from rows of [`PAPER_COLUMNS`] followed by the featured day.
pub(super) fn feed_entries(mut rows: rusqlite::Rows<'_>) -> Result<Vec<FeedEntry>, StoreError> {
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        let day: String = row.get(PAPER_COLUMN_COUNT)?;
        entries.push(FeedEntry {
            day: parse_day(&day)?,
            paper: paper_from_row(row)?,
        });
    }
    Ok(entries)
}

pub(super) fn read_change_seq(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("select value from store_counters where name = 'change_seq'")?
        .query_row([], |r| r.get(0))?)
}

pub(super) fn one_day(
    conn: &Connection,
    sql: &str,
    arg: String,
) -> Result<Option<NaiveDate>, StoreError> {
    let day: Option<String> = conn
        .prepare_cached(sql)?
        .query_row([arg], |r| r.get(0))
        .optional()?
        .flatten();
    day.as_deref().map(parse_day).transpose()
}
