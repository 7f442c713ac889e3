//! [`AccountStore`] on SQLite: one account's data read whole, and removed in one transaction.

use async_trait::async_trait;
use paperfeed_core::ArxivId;
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::community::{COMMENT_COLUMNS, USER_COLUMNS, comment_from_row, user_from_row};
use super::rows::parse_time;
use crate::{AccountDeletion, AccountStore, CastVote, Comment, StoreError, User, UserId};

fn user_by_id(conn: &Connection, user: UserId) -> Result<Option<User>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {USER_COLUMNS} from users u where u.id = ?1"
    ))?;
    let mut rows = stmt.query([user.0])?;
    rows.next()?.map(|r| user_from_row(r, 0)).transpose()
}

fn votes_by(conn: &Connection, user: UserId) -> Result<Vec<CastVote>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "select paper_id, created_at from votes where user_id = ?1 order by created_at, paper_id",
    )?;
    let mut rows = stmt.query([user.0])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let paper: String = row.get(0)?;
        let at: String = row.get(1)?;
        out.push(CastVote {
            paper: ArxivId::parse(&paper)
                .map_err(|e| StoreError::Corrupt(format!("votes.paper_id: {e}")))?,
            at: parse_time(&at)?,
        });
    }
    Ok(out)
}

fn comments_by(conn: &Connection, user: UserId) -> Result<Vec<Comment>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {COMMENT_COLUMNS} from comments c join users u on u.id = c.user_id
          where c.user_id = ?1 order by c.id"
    ))?;
    let mut rows = stmt.query([user.0])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(comment_from_row(row)?);
    }
    Ok(out)
}

fn delete_user(conn: &mut Connection, user: UserId) -> Result<Option<AccountDeletion>, StoreError> {
    let tx = conn.transaction()?;
    let Some(found) = user_by_id(&tx, user)? else {
        return Ok(None);
    };
    let votes_withdrawn = tx
        .prepare_cached(
            "update papers set local_upvotes = local_upvotes - 1
              where id in (select paper_id from votes where user_id = ?1)",
        )?
        .execute([user.0])?;
    let comments_deleted: i64 = tx
        .prepare_cached("select count(*) from comments where user_id = ?1")?
        .query_row([user.0], |r| r.get(0))?;
    tx.prepare_cached(
        "update papers set local_comments = local_comments -
                (select count(*) from comments c where c.paper_id = papers.id
                    and c.user_id = ?1 and not c.hidden)
          where id in (select paper_id from comments where user_id = ?1 and not hidden)",
    )?
    .execute([user.0])?;
    // Submissions made on this hub carry the user name and no full name; the day keeps the
    // paper, the name goes.
    let submitted: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "select distinct paper_id from featurings
              where submitter_name = ?1 collate nocase and submitter_fullname is null",
        )?;
        stmt.query_map([found.username.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let submissions_anonymised = tx
        .prepare_cached(
            "update featurings set submitter_name = null
              where submitter_name = ?1 collate nocase and submitter_fullname is null",
        )?
        .execute([found.username.as_str()])?;
    // Every paper whose page shows something of this reader gets one new change, so caches
    // and the index refresh.
    let seq: i64 = tx
        .prepare_cached(
            "update store_counters set value = value + 1 where name = 'change_seq' returning value",
        )?
        .query_row([], |r| r.get(0))?;
    tx.prepare_cached(
        "update papers set change_seq = ?2
          where id in (select paper_id from votes where user_id = ?1
                       union select paper_id from comments where user_id = ?1)",
    )?
    .execute(params![user.0, seq])?;
    for paper in &submitted {
        tx.prepare_cached("update papers set change_seq = ?2 where id = ?1")?
            .execute(params![paper, seq])?;
    }
    let subscription_removed = tx
        .prepare_cached("delete from subscribers where email = ?1 collate nocase")?
        .execute([found.email.as_str()])?
        > 0;
    // Sessions, tokens, votes, comments and every personal table go with the row (cascade).
    tx.prepare_cached("delete from users where id = ?1")?
        .execute([user.0])?;
    tx.commit()?;
    Ok(Some(AccountDeletion {
        votes_withdrawn: votes_withdrawn as u64,
        comments_deleted: comments_deleted.unsigned_abs(),
        submissions_anonymised: submissions_anonymised as u64,
        subscription_removed,
    }))
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn user_by_id(&self, user: UserId) -> Result<Option<User>, StoreError> {
        self.read(move |conn| user_by_id(conn, user)).await
    }

    async fn votes_by(&self, user: UserId) -> Result<Vec<CastVote>, StoreError> {
        self.read(move |conn| votes_by(conn, user)).await
    }

    async fn comments_by(&self, user: UserId) -> Result<Vec<Comment>, StoreError> {
        self.read(move |conn| comments_by(conn, user)).await
    }

    async fn delete_user(&self, user: UserId) -> Result<Option<AccountDeletion>, StoreError> {
        self.write(move |conn| delete_user(conn, user)).await
    }
}
