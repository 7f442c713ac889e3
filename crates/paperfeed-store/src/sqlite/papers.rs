//! Writing batches of papers on SQLite: each record merged into the stored paper, the batch
//! (and the harvest position that came with it) in one transaction under one `change_seq`.

use chrono::SecondsFormat;
use paperfeed_core::{NewPaper, Paper, UpsertOutcome, merge};
use rusqlite::{Connection, Transaction, params};

use super::rows::{day_text, load_imported_paper, now_text, to_json};
use crate::{HarvestPosition, StoreError, WriteMode};

fn write_paper(tx: &Transaction<'_>, paper: &Paper, seq: i64, now: &str) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "insert into papers (id, title, abstract, authors, categories, published_at, versions,
             upvotes, num_comments, github_repo, github_stars, project_page, ai_summary,
             ai_keywords, created_at, updated_at, change_seq, text_hash, organization)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16, ?17,
                 ?18)
         on conflict (id) do update set
             title = excluded.title, abstract = excluded.abstract, authors = excluded.authors,
             categories = excluded.categories, published_at = excluded.published_at,
             versions = excluded.versions, upvotes = excluded.upvotes,
             num_comments = excluded.num_comments, github_repo = excluded.github_repo,
             github_stars = excluded.github_stars, project_page = excluded.project_page,
             ai_summary = excluded.ai_summary, ai_keywords = excluded.ai_keywords,
             updated_at = excluded.updated_at, change_seq = excluded.change_seq,
             text_hash = excluded.text_hash, organization = excluded.organization",
    )?;
    stmt.execute(params![
        paper.id.as_str(),
        paper.title,
        paper.abstract_text,
        to_json(&paper.authors)?,
        to_json(&paper.categories)?,
        paper
            .published_at
            .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true)),
        to_json(&paper.versions)?,
        paper.upvotes,
        paper.num_comments,
        paper.github_repo,
        paper.github_stars,
        paper.project_page,
        paper.ai_summary,
        to_json(&paper.ai_keywords)?,
        now,
        seq,
        paper.text_fingerprint(),
        paper.organization.as_ref().map(to_json).transpose()?,
    ])?;
    let mut featuring = tx.prepare_cached(
        "insert into featurings (paper_id, day, submitter_name, submitter_fullname)
         values (?1, ?2, ?3, ?4)
         on conflict (paper_id, day) do update set
             submitter_name = excluded.submitter_name,
             submitter_fullname = excluded.submitter_fullname",
    )?;
    for f in &paper.featured {
        let (name, fullname) = f
            .submitter
            .as_ref()
            .map_or((None, None), |s| (Some(&s.name), s.fullname.as_ref()));
        featuring.execute(params![paper.id.as_str(), day_text(f.date), name, fullname])?;
    }
    Ok(())
}

pub(super) fn upsert_batch(
    conn: &mut Connection,
    batch: Vec<NewPaper>,
    position: Option<(String, HarvestPosition)>,
    mode: WriteMode,
) -> Result<Vec<UpsertOutcome>, StoreError> {
    let tx = conn.transaction()?;
    if let Some((source, position)) = &position {
        tx.execute(
            "insert into harvest_positions (source, cursor, last_day, updated_at)
             values (?1, ?2, ?3, ?4)
             on conflict (source) do update set cursor = excluded.cursor,
                 last_day = excluded.last_day, updated_at = excluded.updated_at",
            params![
                source,
                position.cursor,
                position.last_day.map(day_text),
                now_text()
            ],
        )?;
    }
    let seq: i64 = tx.query_row(
        "select value + 1 from store_counters where name = 'change_seq'",
        [],
        |r| r.get(0),
    )?;
    let now = now_text();
    let defer_index = batch.len() >= super::follows::DEFER_INDEX_FROM;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed = false;
    for record in batch {
        let existing = load_imported_paper(&tx, record.id.as_str())?;
        let merged = merge(existing.as_ref(), record);
        let outcome = match &existing {
            None => UpsertOutcome::New,
            Some(old) if *old == merged => UpsertOutcome::Unchanged,
            Some(_) => UpsertOutcome::Updated,
        };
        if outcome != UpsertOutcome::Unchanged {
            write_paper(&tx, &merged, seq, &now)?;
            if !defer_index {
                super::follows::index_paper(&tx, &merged)?;
            }
            changed = true;
        }
        outcomes.push(outcome);
    }
    if changed {
        tx.execute(
            "update store_counters set value = ?1 where name = 'change_seq'",
            [seq],
        )?;
        if defer_index {
            super::follows::defer_index(&tx, seq)?;
        }
    }
    match mode {
        WriteMode::Commit => tx.commit()?,
        WriteMode::DryRun => tx.rollback()?,
    }
    Ok(outcomes)
}
