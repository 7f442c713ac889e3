//! How a paper reads from a PostgreSQL row: lists as JSON, featurings aggregated beside it.

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use paperfeed_core::{ArxivId, Author, Featuring, Paper, PaperVersion, Submitter};
use tokio_postgres::Row;

use super::sql::{corrupt, query_opt};
use crate::{FeedEntry, StoreError};

pub(super) const PAPER_COLUMNS: &str =
    "p.id, p.title, p.abstract, p.authors, p.categories, p.published_at,
    p.versions, p.upvotes + p.local_upvotes, p.num_comments + p.local_comments, p.github_repo,
    p.github_stars, p.project_page, p.ai_summary, p.ai_keywords,
    (select coalesce(jsonb_agg(jsonb_build_array(f.day, f.submitter_name, f.submitter_fullname)
                               order by f.day), '[]'::jsonb)
       from featurings f where f.paper_id = p.id), p.organization";

/// The number of columns in [`PAPER_COLUMNS`]; extra selected columns follow it.
pub(super) const PAPER_COLUMN_COUNT: usize = 16;

pub(super) fn paper_from_row(row: &Row) -> Result<Paper, StoreError> {
    let id_text: String = row.try_get(0)?;
    let id = ArxivId::parse(&id_text).map_err(|e| corrupt("papers.id", &e))?;
    let json = |index: usize, what: &str| -> Result<serde_json::Value, StoreError> {
        row.try_get::<_, serde_json::Value>(index)
            .map_err(|e| corrupt(what, &e))
    };
    let authors: Vec<Author> = serde_json::from_value(json(3, "papers.authors")?)
        .map_err(|e| corrupt("papers.authors", &e))?;
    let categories: Vec<String> = serde_json::from_value(json(4, "papers.categories")?)
        .map_err(|e| corrupt("papers.categories", &e))?;
    let versions: Vec<PaperVersion> = serde_json::from_value(json(6, "papers.versions")?)
        .map_err(|e| corrupt("papers.versions", &e))?;
    let ai_keywords: Vec<String> = serde_json::from_value(json(13, "papers.ai_keywords")?)
        .map_err(|e| corrupt("papers.ai_keywords", &e))?;
    let featured_rows: Vec<(NaiveDate, Option<String>, Option<String>)> =
        serde_json::from_value(json(14, "featurings")?).map_err(|e| corrupt("featurings", &e))?;
    let featured = featured_rows
        .into_iter()
        .map(|(date, name, fullname)| Featuring {
            date,
            submitter: name.map(|name| Submitter { name, fullname }),
        })
        .collect();
    let organization = row
        .try_get::<_, Option<serde_json::Value>>(15)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| corrupt("papers.organization", &e))?;
    Ok(Paper {
        id,
        title: row.try_get(1)?,
        abstract_text: row.try_get(2)?,
        authors,
        categories,
        published_at: row.try_get(5)?,
        versions,
        featured,
        upvotes: row.try_get(7)?,
        num_comments: row.try_get(8)?,
        github_repo: row.try_get(9)?,
        github_stars: row.try_get(10)?,
        project_page: row.try_get(11)?,
        ai_summary: row.try_get(12)?,
        ai_keywords,
        organization,
    })
}

pub(super) async fn load_paper<C: GenericClient>(
    c: &C,
    id: &str,
) -> Result<Option<Paper>, StoreError> {
    query_opt(
        c,
        &format!("select {PAPER_COLUMNS} from papers p where p.id = $1"),
        &[&id],
    )
    .await?
    .map(|row| paper_from_row(&row))
    .transpose()
}

pub(super) fn feed_entries(rows: &[Row]) -> Result<Vec<FeedEntry>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(FeedEntry {
                day: row.try_get(PAPER_COLUMN_COUNT)?,
                paper: paper_from_row(row)?,
            })
        })
        .collect()
}
