//! Writing batches of papers on PostgreSQL: the stored papers of a batch locked in id order,
//! each record merged into its paper, the batch (and the harvest position that came with it)
//! in one transaction under one `change_seq`; a batch that meets a paper another node inserted
//! meanwhile runs again.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, SubsecRound as _, Utc};
use deadpool_postgres::GenericClient;
use paperfeed_core::{NewPaper, Paper, UpsertOutcome, merge};
use tokio_postgres::types::Json;

use super::PostgresStore;
use super::rows::{PAPER_COLUMN_COUNT, PAPER_COLUMNS, paper_from_row};
use super::sql::{execute, ms, next_change_seq, query};
use crate::{HarvestPosition, StoreError, WriteMode};

/// Updates the stored row of a paper the batch locked (false when it is gone).
async fn update_paper<C: GenericClient>(
    tx: &C,
    paper: &Paper,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let published = paper.published_at.map(|d| d.trunc_subsecs(0));
    let (authors, categories, versions, keywords) = (
        Json(&paper.authors),
        Json(&paper.categories),
        Json(&paper.versions),
        Json(&paper.ai_keywords),
    );
    let organization = paper.organization.as_ref().map(Json);
    let written = execute(
        tx,
        "update papers set title = $2, abstract = $3, authors = $4, categories = $5,
             published_at = $6, versions = $7, upvotes = $8, num_comments = $9,
             github_repo = $10, github_stars = $11, project_page = $12, ai_summary = $13,
             ai_keywords = $14, updated_at = $15, text_hash = $16, organization = $17
          where id = $1",
        &[
            &paper.id.as_str(),
            &paper.title,
            &paper.abstract_text,
            &authors,
            &categories,
            &published,
            &versions,
            &paper.upvotes,
            &paper.num_comments,
            &paper.github_repo,
            &paper.github_stars,
            &paper.project_page,
            &paper.ai_summary,
            &keywords,
            &now,
            &paper.text_fingerprint(),
            &organization,
        ],
    )
    .await?;
    Ok(written == 1)
}

/// Inserts the new papers of a batch in one statement (a statement and its round trip a paper
/// were most of an arXiv snapshot's ingest). False when another node inserted one of them
/// meanwhile: the batch runs again and merges into theirs.
async fn insert_papers<C: GenericClient>(
    tx: &C,
    papers: &[&Paper],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if papers.is_empty() {
        return Ok(true);
    }
    let ids: Vec<&str> = papers.iter().map(|p| p.id.as_str()).collect();
    let titles: Vec<&str> = papers.iter().map(|p| p.title.as_str()).collect();
    let abstracts: Vec<&str> = papers.iter().map(|p| p.abstract_text.as_str()).collect();
    let authors: Vec<_> = papers.iter().map(|p| Json(&p.authors)).collect();
    let categories: Vec<_> = papers.iter().map(|p| Json(&p.categories)).collect();
    let published: Vec<Option<DateTime<Utc>>> = papers
        .iter()
        .map(|p| p.published_at.map(|d| d.trunc_subsecs(0)))
        .collect();
    let versions: Vec<_> = papers.iter().map(|p| Json(&p.versions)).collect();
    let upvotes: Vec<i64> = papers.iter().map(|p| p.upvotes).collect();
    let comments: Vec<i64> = papers.iter().map(|p| p.num_comments).collect();
    let repos: Vec<Option<&str>> = papers.iter().map(|p| p.github_repo.as_deref()).collect();
    let stars: Vec<Option<i64>> = papers.iter().map(|p| p.github_stars).collect();
    let pages: Vec<Option<&str>> = papers.iter().map(|p| p.project_page.as_deref()).collect();
    let summaries: Vec<Option<&str>> = papers.iter().map(|p| p.ai_summary.as_deref()).collect();
    let keywords: Vec<_> = papers.iter().map(|p| Json(&p.ai_keywords)).collect();
    let hashes: Vec<i64> = papers.iter().map(|p| p.text_fingerprint()).collect();
    let organizations: Vec<_> = papers
        .iter()
        .map(|p| p.organization.as_ref().map(Json))
        .collect();
    // change_seq is stamped at the end of the batch (see next_change_seq).
    let written = execute(
        tx,
        "insert into papers (id, title, abstract, authors, categories, published_at,
             versions, upvotes, num_comments, github_repo, github_stars, project_page,
             ai_summary, ai_keywords, created_at, updated_at, change_seq, text_hash,
             organization)
         select id, title, abstract, authors, categories, published_at, versions, upvotes,
                num_comments, github_repo, github_stars, project_page, ai_summary,
                ai_keywords, $15, $15, 0, text_hash, organization
           from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[],
                       $6::timestamptz[], $7::jsonb[], $8::int8[], $9::int8[], $10::text[],
                       $11::int8[], $12::text[], $13::text[], $14::jsonb[], $16::int8[],
                       $17::jsonb[])
             as u(id, title, abstract, authors, categories, published_at, versions, upvotes,
                  num_comments, github_repo, github_stars, project_page, ai_summary,
                  ai_keywords, text_hash, organization)
         on conflict (id) do nothing",
        &[
            &ids,
            &titles,
            &abstracts,
            &authors,
            &categories,
            &published,
            &versions,
            &upvotes,
            &comments,
            &repos,
            &stars,
            &pages,
            &summaries,
            &keywords,
            &now,
            &hashes,
            &organizations,
        ],
    )
    .await?;
    Ok(written == papers.len() as u64)
}

/// Writes the featured days of the written papers of a batch, in one statement.
async fn write_featurings<C: GenericClient>(tx: &C, papers: &[&Paper]) -> Result<(), StoreError> {
    let mut ids: Vec<&str> = Vec::new();
    let mut days = Vec::new();
    let mut names: Vec<Option<&str>> = Vec::new();
    let mut fullnames: Vec<Option<&str>> = Vec::new();
    for paper in papers {
        for f in &paper.featured {
            ids.push(paper.id.as_str());
            days.push(f.date);
            names.push(f.submitter.as_ref().map(|s| s.name.as_str()));
            fullnames.push(f.submitter.as_ref().and_then(|s| s.fullname.as_deref()));
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    execute(
        tx,
        "insert into featurings (paper_id, day, submitter_name, submitter_fullname)
         select * from unnest($1::text[], $2::date[], $3::text[], $4::text[])
         on conflict (paper_id, day) do update set
             submitter_name = excluded.submitter_name,
             submitter_fullname = excluded.submitter_fullname",
        &[&ids, &days, &names, &fullnames],
    )
    .await?;
    Ok(())
}

pub(super) async fn upsert_batch(
    store: &PostgresStore,
    batch: Vec<NewPaper>,
    position: Option<(&str, HarvestPosition)>,
    mode: WriteMode,
) -> Result<Vec<UpsertOutcome>, StoreError> {
    let mut client = store.client().await?;
    // A paper another node inserted between our look-up and our insert: the whole batch again,
    // which then finds and locks it (each retry follows a commit of the other writer, so a few
    // suffice even for several nodes loading the same files at once).
    for _ in 0..8 {
        let tx = client.transaction().await?;
        if let Some(outcomes) = try_upsert_batch(&tx, &batch, position.as_ref()).await? {
            match mode {
                WriteMode::Commit => tx.commit().await?,
                WriteMode::DryRun => tx.rollback().await?,
            }
            return Ok(outcomes);
        }
        tx.rollback().await?;
    }
    Err(StoreError::unavailable(
        "a batch kept meeting papers inserted meanwhile by another writer",
    ))
}

/// One attempt at a batch in `tx`: `None` when a new paper turned out to be inserted by
/// another writer meanwhile (roll back and try again).
async fn try_upsert_batch<C: GenericClient>(
    tx: &C,
    batch: &[NewPaper],
    position: Option<&(&str, HarvestPosition)>,
) -> Result<Option<Vec<UpsertOutcome>>, StoreError> {
    let now = ms(Utc::now());
    let mut ids: Vec<&str> = batch.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    // One round trip: every stored paper of the batch, locked in id order (which any two
    // batches sharing papers agree on), as its sources said it (without local votes and
    // comments): what `merge` folds a record into.
    let rows = query(
        tx,
        &format!(
            "select {PAPER_COLUMNS}, p.local_upvotes, p.local_comments from papers p
              where p.id = any($1) order by p.id for no key update of p"
        ),
        &[&ids],
    )
    .await?;
    let mut current: HashMap<String, Paper> = HashMap::with_capacity(batch.len());
    for row in &rows {
        let mut paper = paper_from_row(row)?;
        paper.upvotes -= row.try_get::<_, i64>(PAPER_COLUMN_COUNT)?;
        paper.num_comments -= row.try_get::<_, i64>(PAPER_COLUMN_COUNT + 1)?;
        current.insert(paper.id.as_str().to_owned(), paper);
    }
    let stored: HashSet<String> = current.keys().cloned().collect();
    // Records fold in batch order (a paper twice in a batch merges twice, as in SQLite).
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed: BTreeSet<String> = BTreeSet::new();
    for record in batch {
        let id = record.id.as_str();
        let existing = current.get(id);
        let merged = merge(existing, record.clone());
        let outcome = match existing {
            None => UpsertOutcome::New,
            Some(old) if *old == merged => UpsertOutcome::Unchanged,
            Some(_) => UpsertOutcome::Updated,
        };
        if outcome != UpsertOutcome::Unchanged {
            changed.insert(id.to_owned());
            current.insert(id.to_owned(), merged);
        }
        outcomes.push(outcome);
    }
    let written: Vec<&Paper> = changed
        .iter()
        .map(|id| {
            current
                .get(id)
                .ok_or_else(|| StoreError::Corrupt(format!("paper {id} vanished from its batch")))
        })
        .collect::<Result<_, _>>()?;
    let (new, updated): (Vec<&Paper>, Vec<&Paper>) = written
        .iter()
        .partition(|p| !stored.contains(p.id.as_str()));
    if !insert_papers(tx, &new, now).await? {
        return Ok(None);
    }
    for paper in updated {
        if !update_paper(tx, paper, now).await? {
            return Ok(None);
        }
    }
    write_featurings(tx, &written).await?;
    super::follows::index_papers(tx, &written).await?;
    if let Some((source, position)) = position {
        execute(
            tx,
            "insert into harvest_positions (source, cursor, last_day, updated_at)
             values ($1, $2, $3, $4)
             on conflict (source) do update set cursor = excluded.cursor,
                 last_day = excluded.last_day, updated_at = excluded.updated_at",
            &[source, &position.cursor, &position.last_day, &now],
        )
        .await?;
    }
    if !changed.is_empty() {
        let seq = next_change_seq(tx).await?;
        let changed: Vec<String> = changed.into_iter().collect();
        execute(
            tx,
            "update papers set change_seq = $1 where id = any($2)",
            &[&seq, &changed],
        )
        .await?;
    }
    Ok(Some(outcomes))
}
