//! PostgreSQL statements for a reader's library, mirroring `sqlite/library.rs`. Writes take
//! the change counter last (see [`super::sql::next_change_seq`]), after the rows they touch.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use paperfeed_core::{ArxivId, ReadingState};
use tokio_postgres::Row;

use super::sql::{Params, corrupt, count, execute, ms, next_change_seq, query, query_opt};
use crate::{
    Added, Collection, CollectionChange, CollectionEntry, LibraryStore, PostgresStore, SavedPaper,
    SavedPaperChange, StoreError, UserId,
};

fn paper_id(text: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| corrupt("library paper id", &e))
}

const SAVED_COLUMNS: &str = "paper_id, saved_at, reading_state, note, updated_at";

fn saved_from_row(row: &Row) -> Result<SavedPaper, StoreError> {
    let id: String = row.try_get(0)?;
    let state: String = row.try_get(2)?;
    Ok(SavedPaper {
        paper: paper_id(&id)?,
        saved_at: row.try_get(1)?,
        state: ReadingState::parse(&state).map_err(|e| corrupt("reading state", &e))?,
        note: row.try_get(3)?,
        updated_at: row.try_get(4)?,
    })
}

const COLLECTION_COLUMNS: &str = "c.id, c.user_id, c.name, c.public, c.created_at, c.updated_at,
    (select count(*) from collection_papers cp where cp.collection_id = c.id)";

fn collection_from_row(row: &Row) -> Result<Collection, StoreError> {
    Ok(Collection {
        id: row.try_get(0)?,
        owner: UserId(row.try_get(1)?),
        name: row.try_get(2)?,
        public: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
        papers: row.try_get::<_, i64>(6)?.unsigned_abs(),
    })
}

async fn paper_exists<C: GenericClient>(c: &C, id: &str) -> Result<bool, StoreError> {
    Ok(query_opt(c, "select 1 from papers where id = $1", &[&id])
        .await?
        .is_some())
}

impl PostgresStore {
    /// Runs one write and moves the counter when it changed rows, in one transaction.
    async fn write_rows(&self, sql: &str, params: &Params<'_>) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = execute(&tx, sql, params).await?;
        if changed > 0 {
            next_change_seq(&tx).await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }
}

#[async_trait]
impl LibraryStore for PostgresStore {
    async fn save_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !paper_exists(&tx, paper.as_str()).await? {
            return Ok(None);
        }
        let added = execute(
            &tx,
            "insert into saved_papers (user_id, paper_id, saved_at, updated_at)
             values ($1, $2, $3, $3) on conflict (user_id, paper_id) do nothing",
            &[&user.0, &paper.as_str(), &ms(at)],
        )
        .await?;
        if added > 0 {
            next_change_seq(&tx).await?;
        }
        tx.commit().await?;
        Ok(Some(added > 0))
    }

    async fn unsave_paper(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        self.write_rows(
            "delete from saved_papers where user_id = $1 and paper_id = $2",
            &[&user.0, &paper.as_str()],
        )
        .await
    }

    async fn saved_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
    ) -> Result<Option<SavedPaper>, StoreError> {
        query_opt(
            &self.client().await?,
            &format!(
                "select {SAVED_COLUMNS} from saved_papers where user_id = $1 and paper_id = $2"
            ),
            &[&user.0, &paper.as_str()],
        )
        .await?
        .map(|r| saved_from_row(&r))
        .transpose()
    }

    async fn saved_papers(
        &self,
        user: UserId,
        state: Option<ReadingState>,
    ) -> Result<Vec<SavedPaper>, StoreError> {
        query(
            &self.client().await?,
            &format!(
                "select {SAVED_COLUMNS} from saved_papers
                  where user_id = $1 and ($2::text is null or reading_state = $2)
                  order by saved_at desc, paper_id desc"
            ),
            &[&user.0, &state.map(ReadingState::as_str)],
        )
        .await?
        .iter()
        .map(saved_from_row)
        .collect()
    }

    async fn saved_among(&self, user: UserId, ids: &[ArxivId]) -> Result<Vec<ArxivId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = crate::encoding::distinct_ids(ids);
        query(
            &self.client().await?,
            "select s.paper_id from unnest($2::text[]) with ordinality as w(id, n)
               join saved_papers s on s.user_id = $1 and s.paper_id = w.id
              order by w.n",
            &[&user.0, &wanted],
        )
        .await?
        .iter()
        .map(|r| paper_id(&r.try_get::<_, String>(0)?))
        .collect()
    }

    async fn count_saved(&self, user: UserId) -> Result<u64, StoreError> {
        let row = query_opt(
            &self.client().await?,
            "select count(*) from saved_papers where user_id = $1",
            &[&user.0],
        )
        .await?
        .ok_or_else(|| StoreError::unavailable("count(*) answered no row"))?;
        count(&row)
    }

    async fn update_saved_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        change: SavedPaperChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write_rows(
            "update saved_papers
                set reading_state = coalesce($3, reading_state), note = coalesce($4, note),
                    updated_at = $5
              where user_id = $1 and paper_id = $2",
            &[
                &user.0,
                &paper.as_str(),
                &change.state.map(ReadingState::as_str),
                &change.note,
                &ms(at),
            ],
        )
        .await
    }

    async fn create_collection(
        &self,
        user: UserId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<Collection, StoreError> {
        let at = ms(at);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = query_opt(
            &tx,
            "insert into collections (user_id, name, public, created_at, updated_at)
             values ($1, $2, false, $3, $3) returning id",
            &[&user.0, &name, &at],
        )
        .await?
        .ok_or_else(|| StoreError::unavailable("insert returned no row"))?;
        let id: i64 = row.try_get(0)?;
        next_change_seq(&tx).await?;
        tx.commit().await?;
        Ok(Collection {
            id,
            owner: user,
            name: name.to_owned(),
            public: false,
            papers: 0,
            created_at: at,
            updated_at: at,
        })
    }

    async fn collections(&self, user: UserId) -> Result<Vec<Collection>, StoreError> {
        query(
            &self.client().await?,
            &format!(
                "select {COLLECTION_COLUMNS} from collections c where c.user_id = $1
                  order by lower(c.name), c.id"
            ),
            &[&user.0],
        )
        .await?
        .iter()
        .map(collection_from_row)
        .collect()
    }

    async fn collection(&self, id: i64) -> Result<Option<Collection>, StoreError> {
        query_opt(
            &self.client().await?,
            &format!("select {COLLECTION_COLUMNS} from collections c where c.id = $1"),
            &[&id],
        )
        .await?
        .map(|r| collection_from_row(&r))
        .transpose()
    }

    async fn update_collection(
        &self,
        user: UserId,
        id: i64,
        change: CollectionChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write_rows(
            "update collections
                set name = coalesce($3, name), public = coalesce($4, public), updated_at = $5
              where id = $1 and user_id = $2",
            &[&id, &user.0, &change.name, &change.public, &ms(at)],
        )
        .await
    }

    async fn delete_collection(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        self.write_rows(
            "delete from collections where id = $1 and user_id = $2",
            &[&id, &user.0],
        )
        .await
    }

    async fn add_to_collection(
        &self,
        user: UserId,
        id: i64,
        papers: &[ArxivId],
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<Added>>, StoreError> {
        let at = ms(at);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locks the collection: adds to one collection from several nodes take turns.
        let owned = query_opt(
            &tx,
            "select 1 from collections where id = $1 and user_id = $2 for update",
            &[&id, &user.0],
        )
        .await?
        .is_some();
        if !owned {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(papers.len());
        for paper in papers {
            if !paper_exists(&tx, paper.as_str()).await? {
                out.push(Added::NoSuchPaper);
                continue;
            }
            let added = execute(
                &tx,
                "insert into collection_papers (collection_id, paper_id, added_at)
                 values ($1, $2, $3) on conflict (collection_id, paper_id) do nothing",
                &[&id, &paper.as_str(), &at],
            )
            .await?;
            out.push(if added > 0 {
                Added::Added
            } else {
                Added::AlreadyThere
            });
        }
        if out.contains(&Added::Added) {
            execute(
                &tx,
                "update collections set updated_at = $2 where id = $1",
                &[&id, &at],
            )
            .await?;
            next_change_seq(&tx).await?;
        }
        tx.commit().await?;
        Ok(Some(out))
    }

    async fn remove_from_collection(
        &self,
        user: UserId,
        id: i64,
        paper: &ArxivId,
    ) -> Result<bool, StoreError> {
        self.write_rows(
            "delete from collection_papers
              where collection_id = (select id from collections where id = $1 and user_id = $2)
                and paper_id = $3",
            &[&id, &user.0, &paper.as_str()],
        )
        .await
    }

    async fn collection_papers(&self, id: i64) -> Result<Vec<CollectionEntry>, StoreError> {
        query(
            &self.client().await?,
            "select paper_id, added_at from collection_papers where collection_id = $1
              order by added_at desc, paper_id desc",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(CollectionEntry {
                paper: paper_id(&r.try_get::<_, String>(0)?)?,
                added_at: r.try_get(1)?,
            })
        })
        .collect()
    }

    async fn collections_with_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
    ) -> Result<Vec<i64>, StoreError> {
        query(
            &self.client().await?,
            "select c.id from collections c
               join collection_papers cp on cp.collection_id = c.id
              where c.user_id = $1 and cp.paper_id = $2 order by c.id",
            &[&user.0, &paper.as_str()],
        )
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }
}
