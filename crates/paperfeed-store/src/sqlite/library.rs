//! SQLite statements for a reader's library: saved papers and collections. Every write moves
//! the store's change counter in its own transaction, so pages and their ETags refresh.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, ReadingState};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::SqliteStore;
use super::rows::{parse_time, time_text};
use crate::encoding::ids_json;
use crate::{
    Added, Collection, CollectionChange, CollectionEntry, LibraryStore, SavedPaper,
    SavedPaperChange, StoreError, UserId,
};

fn bump(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.prepare_cached("update store_counters set value = value + 1 where name = 'change_seq'")?
        .execute([])?;
    Ok(())
}

fn paper_id(text: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| StoreError::Corrupt(format!("library paper id: {e}")))
}

fn state_of(text: &str) -> Result<ReadingState, StoreError> {
    ReadingState::parse(text).map_err(|_| StoreError::Corrupt(format!("reading state {text:?}")))
}

const SAVED_COLUMNS: &str = "paper_id, saved_at, reading_state, note, updated_at";

fn saved_from_row(row: &Row<'_>) -> Result<SavedPaper, StoreError> {
    let id: String = row.get(0)?;
    let saved: String = row.get(1)?;
    let state: String = row.get(2)?;
    let updated: String = row.get(4)?;
    Ok(SavedPaper {
        paper: paper_id(&id)?,
        saved_at: parse_time(&saved)?,
        state: state_of(&state)?,
        note: row.get(3)?,
        updated_at: parse_time(&updated)?,
    })
}

const COLLECTION_COLUMNS: &str = "c.id, c.user_id, c.name, c.public, c.created_at, c.updated_at,
    (select count(*) from collection_papers cp where cp.collection_id = c.id)";

fn collection_from_row(row: &Row<'_>) -> Result<Collection, StoreError> {
    let created: String = row.get(4)?;
    let updated: String = row.get(5)?;
    Ok(Collection {
        id: row.get(0)?,
        owner: UserId(row.get(1)?),
        name: row.get(2)?,
        public: row.get(3)?,
        created_at: parse_time(&created)?,
        updated_at: parse_time(&updated)?,
        papers: row.get::<_, i64>(6)?.unsigned_abs(),
    })
}

fn paper_exists(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("select 1 from papers where id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

fn save_paper(
    conn: &mut Connection,
    user: UserId,
    paper: &str,
    at: DateTime<Utc>,
) -> Result<Option<bool>, StoreError> {
    let tx = conn.transaction()?;
    if !paper_exists(&tx, paper)? {
        return Ok(None);
    }
    let at = time_text(at);
    let added = tx
        .prepare_cached(
            "insert into saved_papers (user_id, paper_id, saved_at, updated_at)
             values (?1, ?2, ?3, ?3) on conflict (user_id, paper_id) do nothing",
        )?
        .execute(params![user.0, paper, at])?;
    if added > 0 {
        bump(&tx)?;
    }
    tx.commit()?;
    Ok(Some(added > 0))
}

/// Runs one write of `sql` and moves the counter when it changed rows.
fn write_rows(
    conn: &mut Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let changed = tx.prepare_cached(sql)?.execute(args)?;
    if changed > 0 {
        bump(&tx)?;
    }
    tx.commit()?;
    Ok(changed > 0)
}

fn add_to_collection(
    conn: &mut Connection,
    user: UserId,
    id: i64,
    papers: &[ArxivId],
    at: DateTime<Utc>,
) -> Result<Option<Vec<Added>>, StoreError> {
    let tx = conn.transaction()?;
    let owned = tx
        .prepare_cached("select 1 from collections where id = ?1 and user_id = ?2")?
        .query_row(params![id, user.0], |_| Ok(()))
        .optional()?
        .is_some();
    if !owned {
        return Ok(None);
    }
    let at = time_text(at);
    let mut out = Vec::with_capacity(papers.len());
    for paper in papers {
        if !paper_exists(&tx, paper.as_str())? {
            out.push(Added::NoSuchPaper);
            continue;
        }
        let added = tx
            .prepare_cached(
                "insert into collection_papers (collection_id, paper_id, added_at)
                 values (?1, ?2, ?3) on conflict (collection_id, paper_id) do nothing",
            )?
            .execute(params![id, paper.as_str(), at])?;
        out.push(if added > 0 {
            Added::Added
        } else {
            Added::AlreadyThere
        });
    }
    if out.contains(&Added::Added) {
        tx.prepare_cached("update collections set updated_at = ?2 where id = ?1")?
            .execute(params![id, at])?;
        bump(&tx)?;
    }
    tx.commit()?;
    Ok(Some(out))
}

#[async_trait]
impl LibraryStore for SqliteStore {
    async fn save_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError> {
        let paper = paper.as_str().to_owned();
        self.write(move |conn| save_paper(conn, user, &paper, at))
            .await
    }

    async fn unsave_paper(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        let paper = paper.as_str().to_owned();
        self.write(move |conn| {
            write_rows(
                conn,
                "delete from saved_papers where user_id = ?1 and paper_id = ?2",
                params![user.0, paper],
            )
        })
        .await
    }

    async fn saved_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
    ) -> Result<Option<SavedPaper>, StoreError> {
        let paper = paper.as_str().to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {SAVED_COLUMNS} from saved_papers where user_id = ?1 and paper_id = ?2"
            ))?;
            let mut rows = stmt.query(params![user.0, paper])?;
            rows.next()?.map(saved_from_row).transpose()
        })
        .await
    }

    async fn saved_papers(
        &self,
        user: UserId,
        state: Option<ReadingState>,
    ) -> Result<Vec<SavedPaper>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {SAVED_COLUMNS} from saved_papers
                  where user_id = ?1 and (?2 is null or reading_state = ?2)
                  order by saved_at desc, paper_id desc"
            ))?;
            let mut rows = stmt.query(params![user.0, state.map(ReadingState::as_str)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(saved_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn saved_among(&self, user: UserId, ids: &[ArxivId]) -> Result<Vec<ArxivId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids_json(ids)?;
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select s.paper_id from json_each(?2) j
                   join saved_papers s on s.user_id = ?1 and s.paper_id = j.value
                  order by j.key",
            )?;
            let mut rows = stmt.query(params![user.0, ids])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                out.push(paper_id(&id)?);
            }
            Ok(out)
        })
        .await
    }

    async fn count_saved(&self, user: UserId) -> Result<u64, StoreError> {
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached("select count(*) from saved_papers where user_id = ?1")?
                .query_row([user.0], |r| r.get(0))?;
            Ok(n.unsigned_abs())
        })
        .await
    }

    async fn update_saved_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        change: SavedPaperChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let paper = paper.as_str().to_owned();
        self.write(move |conn| {
            write_rows(
                conn,
                "update saved_papers
                    set reading_state = coalesce(?3, reading_state), note = coalesce(?4, note),
                        updated_at = ?5
                  where user_id = ?1 and paper_id = ?2",
                params![
                    user.0,
                    paper,
                    change.state.map(ReadingState::as_str),
                    change.note,
                    time_text(at)
                ],
            )
        })
        .await
    }

    async fn create_collection(
        &self,
        user: UserId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<Collection, StoreError> {
        let name = name.to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.prepare_cached(
                "insert into collections (user_id, name, public, created_at, updated_at)
                 values (?1, ?2, 0, ?3, ?3)",
            )?
            .execute(params![user.0, name, time_text(at)])?;
            let id = tx.last_insert_rowid();
            bump(&tx)?;
            tx.commit()?;
            let at = parse_time(&time_text(at))?;
            Ok(Collection {
                id,
                owner: user,
                name,
                public: false,
                papers: 0,
                created_at: at,
                updated_at: at,
            })
        })
        .await
    }

    async fn collections(&self, user: UserId) -> Result<Vec<Collection>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {COLLECTION_COLUMNS} from collections c where c.user_id = ?1
                  order by c.name collate nocase, c.id"
            ))?;
            let mut rows = stmt.query([user.0])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(collection_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn collection(&self, id: i64) -> Result<Option<Collection>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {COLLECTION_COLUMNS} from collections c where c.id = ?1"
            ))?;
            let mut rows = stmt.query([id])?;
            rows.next()?.map(collection_from_row).transpose()
        })
        .await
    }

    async fn update_collection(
        &self,
        user: UserId,
        id: i64,
        change: CollectionChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            write_rows(
                conn,
                "update collections
                    set name = coalesce(?3, name), public = coalesce(?4, public), updated_at = ?5
                  where id = ?1 and user_id = ?2",
                params![id, user.0, change.name, change.public, time_text(at)],
            )
        })
        .await
    }

    async fn delete_collection(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            write_rows(
                conn,
                "delete from collections where id = ?1 and user_id = ?2",
                params![id, user.0],
            )
        })
        .await
    }

    async fn add_to_collection(
        &self,
        user: UserId,
        id: i64,
        papers: &[ArxivId],
        at: DateTime<Utc>,
    ) -> Result<Option<Vec<Added>>, StoreError> {
        let papers = papers.to_vec();
        self.write(move |conn| add_to_collection(conn, user, id, &papers, at))
            .await
    }

    async fn remove_from_collection(
        &self,
        user: UserId,
        id: i64,
        paper: &ArxivId,
    ) -> Result<bool, StoreError> {
        let paper = paper.as_str().to_owned();
        self.write(move |conn| {
            write_rows(
                conn,
                "delete from collection_papers
                  where collection_id = (select id from collections where id = ?1 and user_id = ?2)
                    and paper_id = ?3",
                params![id, user.0, paper],
            )
        })
        .await
    }

    async fn collection_papers(&self, id: i64) -> Result<Vec<CollectionEntry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select paper_id, added_at from collection_papers where collection_id = ?1
                  order by added_at desc, paper_id desc",
            )?;
            let mut rows = stmt.query([id])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let paper: String = row.get(0)?;
                let added: String = row.get(1)?;
                out.push(CollectionEntry {
                    paper: paper_id(&paper)?,
                    added_at: parse_time(&added)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn collections_with_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
    ) -> Result<Vec<i64>, StoreError> {
        let paper = paper.as_str().to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select c.id from collections c
                   join collection_papers cp on cp.collection_id = c.id
                  where c.user_id = ?1 and cp.paper_id = ?2 order by c.id",
            )?;
            let ids = stmt
                .query_map(params![user.0, paper], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            Ok(ids)
        })
        .await
    }
}
