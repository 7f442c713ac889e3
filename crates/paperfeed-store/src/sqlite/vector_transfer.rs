//! [`VectorTransferStore`] on SQLite: vectors read page by page in id order, and an import
//! written in one transaction on the writer connection while batches arrive.

use async_trait::async_trait;
use paperfeed_core::ArxivId;
use rusqlite::params;
use tokio::sync::mpsc;

use super::SqliteStore;
use super::embeddings::next_embedding_seq;
use crate::encoding::{paper_vector, vector_bytes};
use crate::{
    ImportedVectors, PaperVector, SequencedVector, StoreError, VectorCursor, VectorImport,
    VectorTransferStore,
};

#[async_trait]
impl VectorTransferStore for SqliteStore {
    async fn embeddings_page(
        &self,
        model: &str,
        after: Option<ArxivId>,
        limit: usize,
    ) -> Result<Vec<PaperVector>, StoreError> {
        let model = model.to_owned();
        let after = after.map(|id| id.as_str().to_owned()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select e.paper_id, e.text_hash, e.vector from paper_embeddings e
                   join papers p on p.id = e.paper_id and p.text_hash = e.text_hash
                  where e.model = ?1 and e.paper_id > ?2
                  order by e.paper_id limit ?3",
            )?;
            let mut rows = stmt.query(params![model, after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let (id, blob): (String, Vec<u8>) = (row.get(0)?, row.get(2)?);
                out.push(paper_vector(&id, row.get(1)?, &blob)?);
            }
            Ok(out)
        })
        .await
    }

    async fn embeddings_since(
        &self,
        model: &str,
        after: Option<VectorCursor>,
        limit: usize,
    ) -> Result<Vec<SequencedVector>, StoreError> {
        let model = model.to_owned();
        // Before every row: seq -1 (rows carry 0 or more) and the empty id.
        let (seq, after) = after.map_or((-1, String::new()), |c| (c.seq, c.id.to_string()));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select seq, paper_id, text_hash, vector from paper_embeddings
                  where model = ?1 and (seq, paper_id) > (?2, ?3)
                  order by seq, paper_id limit ?4",
            )?;
            let mut rows = stmt.query(params![model, seq, after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let (id, blob): (String, Vec<u8>) = (row.get(1)?, row.get(3)?);
                out.push(SequencedVector {
                    seq: row.get(0)?,
                    vector: paper_vector(&id, row.get(2)?, &blob)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn import_embeddings(
        &self,
        model: &str,
        mut batches: mpsc::Receiver<VectorImport>,
    ) -> Result<ImportedVectors, StoreError> {
        let model = model.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut report = ImportedVectors::default();
            {
                let seq = next_embedding_seq(&tx)?;
                let mut stmt = tx.prepare_cached(
                    "insert into paper_embeddings (paper_id, model, text_hash, vector, seq)
                     select id, ?2, text_hash, ?3, ?4 from papers where id = ?1
                     on conflict (paper_id, model) do update set
                         text_hash = excluded.text_hash, vector = excluded.vector,
                         seq = excluded.seq",
                )?;
                // On the blocking pool, so waiting for the next batch here blocks no async task.
                while let Some(message) = batches.blocking_recv() {
                    match message {
                        VectorImport::Batch(batch) => {
                            for (id, vector) in &batch {
                                let changed = stmt.execute(params![
                                    id.as_str(),
                                    model,
                                    vector_bytes(vector),
                                    seq
                                ])?;
                                if changed == 0 {
                                    report.note_missing(id);
                                } else {
                                    report.stored += 1;
                                }
                            }
                        }
                        VectorImport::Commit => {
                            report.committed = true;
                            break;
                        }
                    }
                }
            }
            if report.committed {
                tx.commit()?;
            } else {
                report.stored = 0;
            }
            Ok(report)
        })
        .await
    }
}
