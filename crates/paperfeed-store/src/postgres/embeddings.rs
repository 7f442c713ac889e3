//! Stored vectors on PostgreSQL: the backlog of papers whose text has none from a model, and
//! the vectors themselves (rows encoded as both backends share, see `crate::encoding`).

use paperfeed_core::ArxivId;
use tokio_postgres::Row;

use super::PostgresStore;
use super::sql::corrupt;
use super::sql::{count, execute, limit_of, next_embedding_seq, query, query_one};
use crate::encoding::{distinct_ids, paper_vector, vector_bytes};
use crate::{EmbeddingJob, PaperVector, StoreError};

pub(super) async fn backlog(
    store: &PostgresStore,
    model: &str,
    limit: usize,
) -> Result<Vec<EmbeddingJob>, StoreError> {
    let client = store.client().await?;
    let rows = query(
        &client,
        "select p.id, p.text_hash, p.title, p.abstract from papers p
           left join paper_embeddings e on e.paper_id = p.id and e.model = $1
          where e.paper_id is null or e.text_hash != p.text_hash
          order by p.id limit $2",
        &[&model, &limit_of(limit)],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get(0)?;
            let title: String = row.try_get(2)?;
            let abstract_text: String = row.try_get(3)?;
            Ok(EmbeddingJob {
                id: ArxivId::parse(&id).map_err(|e| corrupt("papers.id", &e))?,
                text_hash: row.try_get(1)?,
                text: paperfeed_core::embedding_text(&title, &abstract_text),
            })
        })
        .collect()
}

pub(super) async fn count_backlog(store: &PostgresStore, model: &str) -> Result<u64, StoreError> {
    let client = store.client().await?;
    count(
        &query_one(
            &client,
            "select count(*) from papers p
               left join paper_embeddings e on e.paper_id = p.id and e.model = $1
              where e.paper_id is null or e.text_hash != p.text_hash",
            &[&model],
        )
        .await?,
    )
}

pub(super) async fn put(
    store: &PostgresStore,
    model: &str,
    vectors: Vec<PaperVector>,
) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let seq = next_embedding_seq(&tx).await?;
    for v in &vectors {
        execute(
            &tx,
            "insert into paper_embeddings (paper_id, model, text_hash, vector, seq)
             select id, $2, $3, $4, $5 from papers where id = $1 and text_hash = $3
             on conflict (paper_id, model) do update set
                 text_hash = excluded.text_hash, vector = excluded.vector, seq = excluded.seq",
            &[
                &v.id.as_str(),
                &model,
                &v.text_hash,
                &vector_bytes(&v.vector),
                &seq,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn of_model(
    store: &PostgresStore,
    model: &str,
) -> Result<Vec<PaperVector>, StoreError> {
    let client = store.client().await?;
    let rows = query(
        &client,
        "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
           join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
          where e.model = $1 order by e.paper_id",
        &[&model],
    )
    .await?;
    rows.iter().map(vector_row).collect()
}

pub(super) async fn of_papers(
    store: &PostgresStore,
    model: &str,
    ids: &[ArxivId],
) -> Result<Vec<PaperVector>, StoreError> {
    let ids = distinct_ids(ids);
    let client = store.client().await?;
    let rows = query(
        &client,
        "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
           join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
          where e.model = $1 and e.paper_id = any($2) order by e.paper_id",
        &[&model, &ids],
    )
    .await?;
    rows.iter().map(vector_row).collect()
}

fn vector_row(row: &Row) -> Result<PaperVector, StoreError> {
    let (id, blob): (String, Vec<u8>) = (row.try_get(0)?, row.try_get(2)?);
    paper_vector(&id, row.try_get(1)?, &blob)
}
