//! SQLite statements for the community tables. Every function runs on one connection or
//! transaction handed in by the backend; writes that change a page move `change_seq`.

use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, EmailAddress, Featuring, Username};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::rows::{day_text, parse_time, time_text};
use crate::{
    ApiToken, Comment, NewComment, NewSession, NewUser, Session, StoreError, User, UserId,
    VoteOutcome,
};

pub(super) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.password_hash, u.is_admin";

pub(super) fn user_from_row(row: &Row<'_>, at: usize) -> Result<User, StoreError> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    let name: String = row.get(at + 1)?;
    let email: String = row.get(at + 2)?;
    Ok(User {
        id: UserId(row.get(at)?),
        username: Username::parse(&name).map_err(|e| corrupt("users.username", &e))?,
        email: EmailAddress::parse(&email).map_err(|e| corrupt("users.email", &e))?,
        password_hash: row.get(at + 3)?,
        is_admin: row.get(at + 4)?,
    })
}

/// A unique-constraint failure on `users`, named by the column it hit.
fn user_conflict(e: rusqlite::Error) -> StoreError {
    let text = e.to_string();
    if text.contains("UNIQUE constraint failed: users.username") {
        StoreError::Conflict { field: "username" }
    } else if text.contains("UNIQUE constraint failed: users.email") {
        StoreError::Conflict { field: "email" }
    } else {
        e.into()
    }
}

pub(super) fn create_user(conn: &Connection, user: &NewUser) -> Result<User, StoreError> {
    conn.prepare_cached(
        "insert into users (username, email, password_hash, is_admin, created_at)
         values (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        user.username.as_str(),
        user.email.as_str(),
        user.password_hash,
        user.is_admin,
        time_text(user.created_at)
    ])
    .map_err(user_conflict)?;
    Ok(User {
        id: UserId(conn.last_insert_rowid()),
        username: user.username.clone(),
        email: user.email.clone(),
        password_hash: user.password_hash.clone(),
        is_admin: user.is_admin,
    })
}

pub(super) fn user_by_name(conn: &Connection, name: &str) -> Result<Option<User>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {USER_COLUMNS} from users u where u.username = ?1"
    ))?;
    let mut rows = stmt.query([name])?;
    rows.next()?.map(|r| user_from_row(r, 0)).transpose()
}

pub(super) fn user_by_api_token(conn: &Connection, hash: &str) -> Result<Option<User>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {USER_COLUMNS} from api_tokens t join users u on u.id = t.user_id
          where t.token_hash = ?1"
    ))?;
    let mut rows = stmt.query([hash])?;
    rows.next()?.map(|r| user_from_row(r, 0)).transpose()
}

pub(super) fn set_password_hash(
    conn: &mut Connection,
    user: UserId,
    hash: &str,
    keep: Option<&str>,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "update users set password_hash = ?2 where id = ?1",
        params![user.0, hash],
    )?;
    tx.execute(
        "delete from sessions where user_id = ?1 and (?2 is null or id_hash != ?2)",
        params![user.0, keep],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn create_session(conn: &Connection, s: &NewSession) -> Result<(), StoreError> {
    conn.prepare_cached(
        "insert into sessions (id_hash, user_id, csrf_token, created_at, expires_at)
         values (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        s.id_hash,
        s.user.0,
        s.csrf_token,
        time_text(s.created_at),
        time_text(s.expires_at)
    ])?;
    Ok(())
}

pub(super) fn session(
    conn: &Connection,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {USER_COLUMNS}, s.csrf_token, s.expires_at
           from sessions s join users u on u.id = s.user_id
          where s.id_hash = ?1 and s.expires_at > ?2"
    ))?;
    let mut rows = stmt.query(params![id_hash, time_text(now)])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let expires: String = row.get(6)?;
    Ok(Some(Session {
        id_hash: id_hash.to_owned(),
        user: user_from_row(row, 0)?,
        csrf_token: row.get(5)?,
        expires_at: parse_time(&expires)?,
    }))
}

pub(super) fn create_api_token(
    conn: &Connection,
    user: UserId,
    name: &str,
    hash: &str,
) -> Result<ApiToken, StoreError> {
    let now = Utc::now();
    conn.execute(
        "insert into api_tokens (user_id, name, token_hash, created_at) values (?1, ?2, ?3, ?4)",
        params![user.0, name, hash, time_text(now)],
    )?;
    Ok(ApiToken {
        id: conn.last_insert_rowid(),
        name: name.to_owned(),
        created_at: now,
    })
}

pub(super) fn api_tokens(conn: &Connection, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "select id, name, created_at from api_tokens where user_id = ?1 order by id",
    )?;
    let mut rows = stmt.query([user.0])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let created: String = row.get(2)?;
        out.push(ApiToken {
            id: row.get(0)?,
            name: row.get(1)?,
            created_at: parse_time(&created)?,
        });
    }
    Ok(out)
}

/// Moves the store's change counter and stamps `paper` with it, so page caches refresh and
/// derived data (the index) sees the paper changed.
pub(super) fn bump(tx: &Transaction<'_>, paper: &str) -> Result<(), StoreError> {
    let seq: i64 = tx
        .prepare_cached(
            "update store_counters set value = value + 1 where name = 'change_seq' returning value",
        )?
        .query_row([], |r| r.get(0))?;
    tx.prepare_cached("update papers set change_seq = ?2 where id = ?1")?
        .execute(params![paper, seq])?;
    Ok(())
}

pub(super) fn set_vote(
    conn: &mut Connection,
    user: UserId,
    paper: &ArxivId,
    up: bool,
) -> Result<Option<VoteOutcome>, StoreError> {
    let tx = conn.transaction()?;
    let id = paper.as_str();
    let exists = tx
        .prepare_cached("select 1 from papers where id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    // The primary key (user_id, paper_id) makes the insert a no-op for a second vote, however
    // many requests race: only a row actually added or removed moves the count.
    let changed = if up {
        tx.prepare_cached(
            "insert into votes (user_id, paper_id, created_at) values (?1, ?2, ?3)
             on conflict (user_id, paper_id) do nothing",
        )?
        .execute(params![user.0, id, time_text(Utc::now())])?
    } else {
        tx.prepare_cached("delete from votes where user_id = ?1 and paper_id = ?2")?
            .execute(params![user.0, id])?
    };
    if changed > 0 {
        let delta: i64 = if up { 1 } else { -1 };
        tx.prepare_cached("update papers set local_upvotes = local_upvotes + ?2 where id = ?1")?
            .execute(params![id, delta])?;
        bump(&tx, id)?;
    }
    let upvotes: i64 = tx
        .prepare_cached("select upvotes + local_upvotes from papers where id = ?1")?
        .query_row([id], |r| r.get(0))?;
    tx.commit()?;
    Ok(Some(VoteOutcome { upvotes, voted: up }))
}

pub(super) fn has_voted(conn: &Connection, user: UserId, paper: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("select 1 from votes where user_id = ?1 and paper_id = ?2")?
        .query_row(params![user.0, paper], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(super) const COMMENT_COLUMNS: &str =
    "c.id, c.paper_id, c.user_id, u.username, c.body, c.hidden,
    c.created_at, c.updated_at";

pub(super) fn comment_from_row(row: &Row<'_>) -> Result<Comment, StoreError> {
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    let paper: String = row.get(1)?;
    let author: String = row.get(3)?;
    let created: String = row.get(6)?;
    let updated: String = row.get(7)?;
    Ok(Comment {
        id: row.get(0)?,
        paper: ArxivId::parse(&paper).map_err(|e| corrupt("comments.paper_id", &e))?,
        author_id: UserId(row.get(2)?),
        author: Username::parse(&author).map_err(|e| corrupt("users.username", &e))?,
        body: row.get(4)?,
        hidden: row.get(5)?,
        created_at: parse_time(&created)?,
        updated_at: parse_time(&updated)?,
    })
}

pub(super) fn comment(conn: &Connection, id: i64) -> Result<Option<Comment>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {COMMENT_COLUMNS} from comments c join users u on u.id = c.user_id where c.id = ?1"
    ))?;
    let mut rows = stmt.query([id])?;
    rows.next()?.map(comment_from_row).transpose()
}

pub(super) fn comments(conn: &Connection, paper: &str) -> Result<Vec<Comment>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {COMMENT_COLUMNS} from comments c join users u on u.id = c.user_id
          where c.paper_id = ?1 order by c.id"
    ))?;
    let mut rows = stmt.query([paper])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(comment_from_row(row)?);
    }
    Ok(out)
}

pub(super) fn add_comment(
    conn: &mut Connection,
    new: &NewComment,
) -> Result<Option<Comment>, StoreError> {
    let tx = conn.transaction()?;
    let at = time_text(new.created_at);
    let inserted = tx
        .prepare_cached(
            "insert into comments (paper_id, user_id, body, hidden, created_at, updated_at)
             select id, ?2, ?3, 0, ?4, ?4 from papers where id = ?1",
        )?
        .execute(params![new.paper.as_str(), new.author.0, new.body, at])?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    tx.prepare_cached("update papers set local_comments = local_comments + 1 where id = ?1")?
        .execute([new.paper.as_str()])?;
    bump(&tx, new.paper.as_str())?;
    let stored = comment(&tx, id)?;
    tx.commit()?;
    Ok(stored)
}

/// Runs `change` (which names the comment's paper when it changed a row) and, when it did,
/// adds `visible_delta` to the paper's local comment count and moves `change_seq`.
fn change_comment(
    conn: &mut Connection,
    change: impl FnOnce(&Transaction<'_>) -> Result<Option<(String, i64)>, StoreError>,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let Some((paper, visible_delta)) = change(&tx)? else {
        return Ok(false);
    };
    if visible_delta != 0 {
        tx.prepare_cached("update papers set local_comments = local_comments + ?2 where id = ?1")?
            .execute(params![paper, visible_delta])?;
    }
    bump(&tx, &paper)?;
    tx.commit()?;
    Ok(true)
}

pub(super) fn edit_comment(
    conn: &mut Connection,
    id: i64,
    author: UserId,
    body: &str,
) -> Result<bool, StoreError> {
    change_comment(conn, |tx| {
        Ok(tx
            .prepare_cached(
                "update comments set body = ?3, updated_at = ?4
                  where id = ?1 and user_id = ?2 returning paper_id",
            )?
            .query_row(params![id, author.0, body, time_text(Utc::now())], |r| {
                Ok((r.get(0)?, 0))
            })
            .optional()?)
    })
}

pub(super) fn delete_comment(
    conn: &mut Connection,
    id: i64,
    author: UserId,
) -> Result<bool, StoreError> {
    change_comment(conn, |tx| {
        Ok(tx
            .prepare_cached(
                "delete from comments where id = ?1 and user_id = ?2 returning paper_id, hidden",
            )?
            .query_row(params![id, author.0], |r| {
                let hidden: bool = r.get(1)?;
                Ok((r.get(0)?, if hidden { 0 } else { -1 }))
            })
            .optional()?)
    })
}

pub(super) fn set_comment_hidden(
    conn: &mut Connection,
    id: i64,
    hidden: bool,
) -> Result<bool, StoreError> {
    change_comment(conn, |tx| {
        Ok(tx
            .prepare_cached(
                "update comments set hidden = ?2 where id = ?1 and hidden != ?2 returning paper_id",
            )?
            .query_row(params![id, hidden], |r| {
                Ok((r.get(0)?, if hidden { -1 } else { 1 }))
            })
            .optional()?)
    })
}

pub(super) fn feature_paper(
    conn: &mut Connection,
    paper: &ArxivId,
    featuring: &Featuring,
) -> Result<bool, StoreError> {
    let tx = conn.transaction()?;
    let (name, fullname) = featuring
        .submitter
        .as_ref()
        .map_or((None, None), |s| (Some(&s.name), s.fullname.as_ref()));
    let inserted = tx
        .prepare_cached(
            "insert into featurings (paper_id, day, submitter_name, submitter_fullname)
             select id, ?2, ?3, ?4 from papers where id = ?1
             on conflict (paper_id, day) do nothing",
        )?
        .execute(params![
            paper.as_str(),
            day_text(featuring.date),
            name,
            fullname
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    bump(&tx, paper.as_str())?;
    tx.commit()?;
    Ok(true)
}
