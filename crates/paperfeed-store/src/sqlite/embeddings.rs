//! Stored vectors on SQLite: the backlog of papers whose text has none from a model, and the
//! vectors themselves (rows encoded as both backends share, see `crate::encoding`).

use paperfeed_core::ArxivId;
use rusqlite::params;

use super::SqliteStore;
use crate::encoding::{ids_json, paper_vector, vector_bytes};
use crate::{EmbeddingJob, PaperVector, StoreError};

pub(super) async fn backlog(
    store: &SqliteStore,
    model: &str,
    limit: usize,
) -> Result<Vec<EmbeddingJob>, StoreError> {
    let model = model.to_owned();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    store
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select p.id, p.text_hash, p.title, p.abstract from papers p
               left join paper_embeddings e on e.paper_id = p.id and e.model = ?1
              where e.paper_id is null or e.text_hash != p.text_hash
              order by p.id limit ?2",
            )?;
            let mut rows = stmt.query(params![model, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let title: String = row.get(2)?;
                let abstract_text: String = row.get(3)?;
                out.push(EmbeddingJob {
                    id: ArxivId::parse(&id)
                        .map_err(|e| StoreError::Corrupt(format!("papers.id: {e}")))?,
                    text_hash: row.get(1)?,
                    text: paperfeed_core::embedding_text(&title, &abstract_text),
                });
            }
            Ok(out)
        })
        .await
}

pub(super) async fn count_backlog(store: &SqliteStore, model: &str) -> Result<u64, StoreError> {
    let model = model.to_owned();
    store
        .read(move |conn| {
            let n: i64 = conn
                .prepare_cached(
                    "select count(*) from papers p
               left join paper_embeddings e on e.paper_id = p.id and e.model = ?1
              where e.paper_id is null or e.text_hash != p.text_hash",
                )?
                .query_row([model], |r| r.get(0))?;
            Ok(n.unsigned_abs())
        })
        .await
}

pub(super) async fn put(
    store: &SqliteStore,
    model: &str,
    vectors: Vec<PaperVector>,
) -> Result<(), StoreError> {
    let model = model.to_owned();
    store
        .write(move |conn| {
            let tx = conn.transaction()?;
            {
                let seq = next_embedding_seq(&tx)?;
                let mut stmt = tx.prepare_cached(
                    "insert into paper_embeddings (paper_id, model, text_hash, vector, seq)
                 select id, ?2, ?3, ?4, ?5 from papers where id = ?1 and text_hash = ?3
                 on conflict (paper_id, model) do update set
                     text_hash = excluded.text_hash, vector = excluded.vector,
                     seq = excluded.seq",
                )?;
                for v in &vectors {
                    stmt.execute(params![
                        v.id.as_str(),
                        model,
                        v.text_hash,
                        vector_bytes(&v.vector),
                        seq
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
}

pub(super) async fn of_model(
    store: &SqliteStore,
    model: &str,
) -> Result<Vec<PaperVector>, StoreError> {
    let model = model.to_owned();
    store
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
               join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
              where e.model = ?1 order by e.paper_id",
            )?;
            vector_rows(stmt.query([model])?)
        })
        .await
}

pub(super) async fn of_papers(
    store: &SqliteStore,
    model: &str,
    ids: &[ArxivId],
) -> Result<Vec<PaperVector>, StoreError> {
    let model = model.to_owned();
    let ids = ids_json(ids)?;
    store
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
               join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
              where e.model = ?1 and e.paper_id in (select value from json_each(?2))
              order by e.paper_id",
            )?;
            vector_rows(stmt.query(params![model, ids])?)
        })
        .await
}

/// Takes the next value of the vector counter for a transaction that writes vectors (see
/// `VectorTransferStore::embeddings_since`); the one writer connection keeps them in order.
pub(super) fn next_embedding_seq(tx: &rusqlite::Transaction<'_>) -> Result<i64, StoreError> {
    Ok(tx
        .prepare_cached(
            "update store_counters set value = value + 1 where name = 'embedding_seq'
             returning value",
        )?
        .query_row([], |r| r.get(0))?)
}

/// Rows of (paper id, text hash, vector bytes) as vectors.
fn vector_rows(mut rows: rusqlite::Rows<'_>) -> Result<Vec<PaperVector>, StoreError> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let (id, blob): (String, Vec<u8>) = (row.get(0)?, row.get(2)?);
        out.push(paper_vector(&id, row.get(1)?, &blob)?);
    }
    Ok(out)
}
