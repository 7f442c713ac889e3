//! [`VisibilityStore`] on SQLite: mutes, dismissals and seen marks (migration 0010).
//! None of these writes move `change_seq`: they change no page anybody else sees, and pages
//! for signed-in readers are never cached or validated (see `paperfeed-web`'s `conditional`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, MuteKind};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::rows::{parse_time, time_text};
use crate::encoding::ids_json;
use crate::{
    Dismissal, Mute, MuteAdded, NewMute, ReaderMarks, SeenMark, SeenReason, SeenReasons,
    StoreError, UserId, VisibilityStore,
};

fn corrupt(what: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn paper_id(text: &str, column: &str) -> Result<ArxivId, StoreError> {
    ArxivId::parse(text).map_err(|e| corrupt(column, &e))
}

const MUTE_COLUMNS: &str = "id, kind, text, created_at";

fn mute_from_row(row: &Row<'_>) -> Result<Mute, StoreError> {
    let kind: String = row.get(1)?;
    let created: String = row.get(3)?;
    Ok(Mute {
        id: row.get(0)?,
        kind: MuteKind::parse(&kind).ok_or_else(|| corrupt("mutes.kind", &kind))?,
        text: row.get(2)?,
        created_at: parse_time(&created)?,
    })
}

fn mutes_of(conn: &Connection, user: UserId) -> Result<Vec<Mute>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {MUTE_COLUMNS} from mutes where user_id = ?1 order by id"
    ))?;
    let mut rows = stmt.query([user.0])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(mute_from_row(row)?);
    }
    Ok(out)
}

fn add_mute(
    conn: &mut Connection,
    user: UserId,
    mute: &NewMute,
    max: usize,
) -> Result<MuteAdded, StoreError> {
    let tx = conn.transaction()?;
    let existing = tx
        .prepare_cached(&format!(
            "select {MUTE_COLUMNS} from mutes where user_id = ?1 and kind = ?2 and key = ?3"
        ))?
        .query_row(params![user.0, mute.kind.as_str(), mute.key], |row| {
            Ok(mute_from_row(row))
        })
        .optional()?
        .transpose()?;
    if let Some(existing) = existing {
        return Ok(MuteAdded::AlreadyThere(existing));
    }
    let count: i64 = tx.query_row(
        "select count(*) from mutes where user_id = ?1",
        [user.0],
        |r| r.get(0),
    )?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= max {
        return Ok(MuteAdded::Full);
    }
    tx.prepare_cached(
        "insert into mutes (user_id, kind, text, key, created_at) values (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        user.0,
        mute.kind.as_str(),
        mute.text,
        mute.key,
        time_text(mute.created_at)
    ])?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(MuteAdded::Added(Mute {
        id,
        kind: mute.kind,
        text: mute.text.clone(),
        created_at: parse_time(&time_text(mute.created_at))?,
    }))
}

/// Marks papers seen inside an open transaction (papers the store lacks are skipped).
fn mark_seen_in(
    conn: &Connection,
    user: UserId,
    ids_json: &str,
    reason: SeenReason,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "insert into seen_papers (user_id, paper_id, reasons, first_seen_at)
         select ?1, p.id, ?3, ?4 from json_each(?2) j join papers p on p.id = j.value where true
         on conflict (user_id, paper_id) do update set reasons = reasons | excluded.reasons",
    )?
    .execute(params![
        user.0,
        ids_json,
        SeenReasons::of(reason).bits(),
        time_text(at)
    ])?;
    Ok(())
}

#[async_trait]
impl VisibilityStore for SqliteStore {
    async fn add_mute(
        &self,
        user: UserId,
        mute: NewMute,
        max: usize,
    ) -> Result<MuteAdded, StoreError> {
        self.write(move |conn| add_mute(conn, user, &mute, max))
            .await
    }

    async fn remove_mute(&self, user: UserId, id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Ok(conn.execute(
                "delete from mutes where id = ?1 and user_id = ?2",
                params![id, user.0],
            )? > 0)
        })
        .await
    }

    async fn mutes(&self, user: UserId) -> Result<Vec<Mute>, StoreError> {
        self.read(move |conn| mutes_of(conn, user)).await
    }

    async fn dismiss_paper(
        &self,
        user: UserId,
        paper: &ArxivId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let ids = ids_json(std::slice::from_ref(paper))?;
        let paper = paper.as_str().to_owned();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let exists = tx
                .prepare_cached("select 1 from papers where id = ?1")?
                .query_row([&paper], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Ok(false);
            }
            tx.prepare_cached(
                "insert into dismissed_papers (user_id, paper_id, created_at) values (?1, ?2, ?3)
                 on conflict (user_id, paper_id) do nothing",
            )?
            .execute(params![user.0, paper, time_text(at)])?;
            mark_seen_in(&tx, user, &ids, SeenReason::Dismissed, at)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn undismiss_paper(&self, user: UserId, paper: &ArxivId) -> Result<bool, StoreError> {
        let paper = paper.as_str().to_owned();
        self.write(move |conn| {
            Ok(conn.execute(
                "delete from dismissed_papers where user_id = ?1 and paper_id = ?2",
                params![user.0, paper],
            )? > 0)
        })
        .await
    }

    async fn dismissed_papers(
        &self,
        user: UserId,
        limit: usize,
    ) -> Result<Vec<Dismissal>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select paper_id, created_at from dismissed_papers where user_id = ?1
                  order by created_at desc, paper_id limit ?2",
            )?;
            let mut rows = stmt.query(params![user.0, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let at: String = row.get(1)?;
                out.push(Dismissal {
                    paper: paper_id(&id, "dismissed_papers.paper_id")?,
                    dismissed_at: parse_time(&at)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn mark_seen(
        &self,
        user: UserId,
        papers: &[ArxivId],
        reason: SeenReason,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if papers.is_empty() {
            return Ok(());
        }
        let ids = ids_json(papers)?;
        self.write(move |conn| mark_seen_in(conn, user, &ids, reason, at))
            .await
    }

    async fn seen_papers(&self, user: UserId, limit: usize) -> Result<Vec<SeenMark>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select paper_id, reasons, first_seen_at from seen_papers where user_id = ?1
                  order by first_seen_at desc, paper_id limit ?2",
            )?;
            let mut rows = stmt.query(params![user.0, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let at: String = row.get(2)?;
                out.push(SeenMark {
                    paper: paper_id(&id, "seen_papers.paper_id")?,
                    reasons: SeenReasons::from_bits(row.get(1)?),
                    first_seen_at: parse_time(&at)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn reader_marks(
        &self,
        user: UserId,
        papers: &[ArxivId],
    ) -> Result<ReaderMarks, StoreError> {
        let ids = ids_json(papers)?;
        self.read(move |conn| {
            let mut marks = ReaderMarks {
                mutes: mutes_of(conn, user)?,
                ..ReaderMarks::default()
            };
            let mut stmt = conn.prepare_cached(
                "select d.paper_id from json_each(?2) j
                   join dismissed_papers d on d.user_id = ?1 and d.paper_id = j.value",
            )?;
            let mut rows = stmt.query(params![user.0, ids])?;
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                marks
                    .dismissed
                    .insert(paper_id(&id, "dismissed_papers.paper_id")?);
            }
            let mut stmt = conn.prepare_cached(
                "select s.paper_id, s.reasons from json_each(?2) j
                   join seen_papers s on s.user_id = ?1 and s.paper_id = j.value",
            )?;
            let mut rows = stmt.query(params![user.0, ids])?;
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                marks.seen.insert(
                    paper_id(&id, "seen_papers.paper_id")?,
                    SeenReasons::from_bits(row.get(1)?),
                );
            }
            Ok(marks)
        })
        .await
    }

    async fn user_id_by_email(&self, email: &str) -> Result<Option<UserId>, StoreError> {
        let email = email.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("select id from users where email = ?1")?
                .query_row([email], |r| r.get(0))
                .optional()?
                .map(UserId))
        })
        .await
    }
}
