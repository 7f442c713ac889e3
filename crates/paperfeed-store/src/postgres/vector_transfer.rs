//! [`VectorTransferStore`] on PostgreSQL: vectors read page by page in id order, and an import
//! written in one transaction, one statement per batch.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use paperfeed_core::ArxivId;
use tokio::sync::mpsc;

use super::PostgresStore;
use super::sql::{limit_of, next_embedding_seq, query};
use crate::encoding::{paper_vector, vector_bytes};
use crate::{
    ImportedVectors, PaperVector, SequencedVector, StoreError, VectorCursor, VectorImport,
    VectorTransferStore,
};

#[async_trait]
impl VectorTransferStore for PostgresStore {
    async fn embeddings_page(
        &self,
        model: &str,
        after: Option<ArxivId>,
        limit: usize,
    ) -> Result<Vec<PaperVector>, StoreError> {
        let after = after.map(|id| id.as_str().to_owned()).unwrap_or_default();
        let client = self.client().await?;
        let rows = query(
            &client,
            "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
               join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
              where e.model = $1 and e.paper_id > $2
              order by e.paper_id limit $3",
            &[&model, &after, &limit_of(limit)],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let (id, blob): (String, Vec<u8>) = (row.try_get(0)?, row.try_get(2)?);
                paper_vector(&id, row.try_get(1)?, &blob)
            })
            .collect()
    }

    async fn embeddings_since(
        &self,
        model: &str,
        after: Option<VectorCursor>,
        limit: usize,
    ) -> Result<Vec<SequencedVector>, StoreError> {
        // Before every row: seq -1 (rows carry 0 or more) and the empty id.
        let (seq, after) = after.map_or((-1, String::new()), |c| (c.seq, c.id.to_string()));
        let client = self.client().await?;
        let rows = query(
            &client,
            "select seq, paper_id, text_hash, vector from paper_embeddings
              where model = $1 and (seq, paper_id) > ($2, $3)
              order by seq, paper_id limit $4",
            &[&model, &seq, &after, &limit_of(limit)],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let (id, blob): (String, Vec<u8>) = (row.try_get(1)?, row.try_get(3)?);
                Ok(SequencedVector {
                    seq: row.try_get(0)?,
                    vector: paper_vector(&id, row.try_get(2)?, &blob)?,
                })
            })
            .collect()
    }

    async fn import_embeddings(
        &self,
        model: &str,
        mut batches: mpsc::Receiver<VectorImport>,
    ) -> Result<ImportedVectors, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let seq = next_embedding_seq(&tx).await?;
        let mut report = ImportedVectors::default();
        while let Some(message) = batches.recv().await {
            let batch = match message {
                VectorImport::Batch(batch) => batch,
                VectorImport::Commit => {
                    report.committed = true;
                    break;
                }
            };
            // One row per id (the last one wins, as it would row by row): an upsert may not
            // touch a row twice in one statement.
            let mut last: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
            for (i, (id, _)) in batch.iter().enumerate() {
                last.insert(id.as_str(), i);
            }
            let mut ids = Vec::with_capacity(last.len());
            let mut vectors = Vec::with_capacity(last.len());
            for (i, (id, vector)) in batch.iter().enumerate() {
                if last.get(id.as_str()) == Some(&i) {
                    ids.push(id.as_str());
                    vectors.push(vector_bytes(vector));
                }
            }
            let rows = query(
                &tx,
                "insert into paper_embeddings (paper_id, model, text_hash, vector, seq)
                 select p.id, $1, p.text_hash, v.vector, $4
                   from unnest($2::text[], $3::bytea[]) as v(id, vector)
                   join papers p on p.id = v.id
                 on conflict (paper_id, model) do update set
                     text_hash = excluded.text_hash, vector = excluded.vector,
                     seq = excluded.seq
                 returning paper_id",
                &[&model, &ids, &vectors, &seq],
            )
            .await?;
            let stored: HashSet<String> = rows
                .iter()
                .map(|r| r.try_get::<_, String>(0))
                .collect::<Result<_, _>>()?;
            for (id, _) in &batch {
                if stored.contains(id.as_str()) {
                    report.stored += 1;
                } else {
                    report.note_missing(id);
                }
            }
        }
        if report.committed {
            tx.commit().await?;
        } else {
            report.stored = 0;
            tx.rollback().await?;
        }
        Ok(report)
    }
}
