//! PostgreSQL statements for the community tables, mirroring `sqlite/community.rs`. Writes
//! that change a page lock the paper row first and take `change_seq` last (see
//! [`super::next_change_seq`]).

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object};
use paperfeed_core::{ArxivId, EmailAddress, Featuring, Username};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::sql::{Params, corrupt, execute, ms, next_change_seq, query, query_one, query_opt};
use crate::{Comment, NewComment, NewUser, Session, StoreError, User, UserId, VoteOutcome};

pub(super) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.password_hash, u.is_admin";

pub(super) fn user_from_row(row: &Row, at: usize) -> Result<User, StoreError> {
    let name: String = row.try_get(at + 1)?;
    let email: String = row.try_get(at + 2)?;
    Ok(User {
        id: UserId(row.try_get(at)?),
        username: Username::parse(&name).map_err(|e| corrupt("users.username", &e))?,
        email: EmailAddress::parse(&email).map_err(|e| corrupt("users.email", &e))?,
        password_hash: row.try_get(at + 3)?,
        is_admin: row.try_get(at + 4)?,
    })
}

pub(super) async fn create_user<C: GenericClient>(
    c: &C,
    user: &NewUser,
) -> Result<User, StoreError> {
    let stmt = c
        .prepare_cached(
            "insert into users (username, email, password_hash, is_admin, created_at)
             values ($1, $2, $3, $4, $5) returning id",
        )
        .await?;
    let row = c
        .query_one(
            &stmt,
            &[
                &user.username.as_str(),
                &user.email.as_str(),
                &user.password_hash,
                &user.is_admin,
                &ms(user.created_at),
            ],
        )
        .await
        .map_err(|e| {
            // The unique indexes on lower(…) name the field that is taken.
            match e
                .as_db_error()
                .filter(|d| *d.code() == SqlState::UNIQUE_VIOLATION)
                .and_then(|d| d.constraint())
            {
                Some("users_username_key") => StoreError::Conflict { field: "username" },
                Some("users_email_key") => StoreError::Conflict { field: "email" },
                _ => e.into(),
            }
        })?;
    Ok(User {
        id: UserId(row.try_get(0)?),
        username: user.username.clone(),
        email: user.email.clone(),
        password_hash: user.password_hash.clone(),
        is_admin: user.is_admin,
    })
}

pub(super) async fn user_by_name(c: &Object, name: &str) -> Result<Option<User>, StoreError> {
    query_opt(
        c,
        &format!("select {USER_COLUMNS} from users u where lower(u.username) = lower($1)"),
        &[&name],
    )
    .await?
    .map(|r| user_from_row(&r, 0))
    .transpose()
}

pub(super) async fn user_by_api_token(c: &Object, hash: &str) -> Result<Option<User>, StoreError> {
    query_opt(
        c,
        &format!(
            "select {USER_COLUMNS} from api_tokens t join users u on u.id = t.user_id
              where t.token_hash = $1"
        ),
        &[&hash],
    )
    .await?
    .map(|r| user_from_row(&r, 0))
    .transpose()
}

pub(super) async fn session(
    c: &Object,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let Some(row) = query_opt(
        c,
        &format!(
            "select {USER_COLUMNS}, s.csrf_token, s.expires_at
               from sessions s join users u on u.id = s.user_id
              where s.id_hash = $1 and s.expires_at > $2"
        ),
        &[&id_hash, &now],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Session {
        id_hash: id_hash.to_owned(),
        user: user_from_row(&row, 0)?,
        csrf_token: row.try_get(5)?,
        expires_at: row.try_get(6)?,
    }))
}

/// Locks a paper's row for this transaction; false when there is no such paper.
async fn lock_paper<C: GenericClient>(tx: &C, paper: &str) -> Result<bool, StoreError> {
    Ok(query_opt(
        tx,
        "select 1 from papers where id = $1 for no key update",
        &[&paper],
    )
    .await?
    .is_some())
}

/// Moves the change counter and stamps `paper` (already locked) with it, so page caches
/// refresh and every node's index sees the paper changed.
async fn bump<C: GenericClient>(tx: &C, paper: &str) -> Result<(), StoreError> {
    let seq = next_change_seq(tx).await?;
    execute(
        tx,
        "update papers set change_seq = $2 where id = $1",
        &[&paper, &seq],
    )
    .await?;
    Ok(())
}

pub(super) async fn set_vote(
    client: &mut Object,
    user: UserId,
    paper: &str,
    up: bool,
) -> Result<Option<VoteOutcome>, StoreError> {
    let tx = client.transaction().await?;
    // The paper's row lock orders concurrent votes on it, from any node.
    if !lock_paper(&tx, paper).await? {
        return Ok(None);
    }
    // The primary key (user_id, paper_id) makes a second insert a no-op, however many nodes
    // race: only a row actually added or removed moves the count.
    let changed = if up {
        execute(
            &tx,
            "insert into votes (user_id, paper_id, created_at) values ($1, $2, $3)
             on conflict (user_id, paper_id) do nothing",
            &[&user.0, &paper, &ms(Utc::now())],
        )
        .await?
    } else {
        execute(
            &tx,
            "delete from votes where user_id = $1 and paper_id = $2",
            &[&user.0, &paper],
        )
        .await?
    };
    if changed > 0 {
        let delta: i64 = if up { 1 } else { -1 };
        execute(
            &tx,
            "update papers set local_upvotes = local_upvotes + $2 where id = $1",
            &[&paper, &delta],
        )
        .await?;
        bump(&tx, paper).await?;
    }
    let upvotes: i64 = query_one(
        &tx,
        "select upvotes + local_upvotes from papers where id = $1",
        &[&paper],
    )
    .await?
    .try_get(0)?;
    tx.commit().await?;
    Ok(Some(VoteOutcome { upvotes, voted: up }))
}

pub(super) const COMMENT_COLUMNS: &str =
    "c.id, c.paper_id, c.user_id, u.username, c.body, c.hidden,
    c.created_at, c.updated_at";

pub(super) fn comment_from_row(row: &Row) -> Result<Comment, StoreError> {
    let paper: String = row.try_get(1)?;
    let author: String = row.try_get(3)?;
    Ok(Comment {
        id: row.try_get(0)?,
        paper: ArxivId::parse(&paper).map_err(|e| corrupt("comments.paper_id", &e))?,
        author_id: UserId(row.try_get(2)?),
        author: Username::parse(&author).map_err(|e| corrupt("users.username", &e))?,
        body: row.try_get(4)?,
        hidden: row.try_get(5)?,
        created_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
    })
}

pub(super) async fn comment<C: GenericClient>(
    c: &C,
    id: i64,
) -> Result<Option<Comment>, StoreError> {
    query_opt(
        c,
        &format!(
            "select {COMMENT_COLUMNS} from comments c join users u on u.id = c.user_id
              where c.id = $1"
        ),
        &[&id],
    )
    .await?
    .map(|r| comment_from_row(&r))
    .transpose()
}

pub(super) async fn comments(c: &Object, paper: &str) -> Result<Vec<Comment>, StoreError> {
    query(
        c,
        &format!(
            "select {COMMENT_COLUMNS} from comments c join users u on u.id = c.user_id
              where c.paper_id = $1 order by c.id"
        ),
        &[&paper],
    )
    .await?
    .iter()
    .map(comment_from_row)
    .collect()
}

pub(super) async fn add_comment(
    client: &mut Object,
    new: &NewComment,
) -> Result<Option<Comment>, StoreError> {
    let tx = client.transaction().await?;
    let paper = new.paper.as_str();
    if !lock_paper(&tx, paper).await? {
        return Ok(None);
    }
    let at = ms(new.created_at);
    let id: i64 = query_one(
        &tx,
        "insert into comments (paper_id, user_id, body, hidden, created_at, updated_at)
         values ($1, $2, $3, false, $4, $4) returning id",
        &[&paper, &new.author.0, &new.body, &at],
    )
    .await?
    .try_get(0)?;
    execute(
        &tx,
        "update papers set local_comments = local_comments + 1 where id = $1",
        &[&paper],
    )
    .await?;
    bump(&tx, paper).await?;
    let stored = comment(&tx, id).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Runs `sql` (an update or delete of one comment returning its paper id and whether it is
/// now counted as visible: `visible_delta`) and, when it changed a row, moves the paper's
/// local comment count and `change_seq`.
async fn change_comment(
    client: &mut Object,
    sql: &str,
    params: &Params<'_>,
    visible_delta: impl FnOnce(&Row) -> Result<i64, StoreError>,
) -> Result<bool, StoreError> {
    let tx = client.transaction().await?;
    let Some(row) = query_opt(&tx, sql, params).await? else {
        return Ok(false);
    };
    let paper: String = row.try_get(0)?;
    let delta = visible_delta(&row)?;
    lock_paper(&tx, &paper).await?;
    if delta != 0 {
        execute(
            &tx,
            "update papers set local_comments = local_comments + $2 where id = $1",
            &[&paper, &delta],
        )
        .await?;
    }
    bump(&tx, &paper).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn edit_comment(
    client: &mut Object,
    id: i64,
    author: UserId,
    body: &str,
) -> Result<bool, StoreError> {
    change_comment(
        client,
        "update comments set body = $3, updated_at = $4
          where id = $1 and user_id = $2 returning paper_id",
        &[&id, &author.0, &body, &ms(Utc::now())],
        |_| Ok(0),
    )
    .await
}

pub(super) async fn delete_comment(
    client: &mut Object,
    id: i64,
    author: UserId,
) -> Result<bool, StoreError> {
    change_comment(
        client,
        "delete from comments where id = $1 and user_id = $2 returning paper_id, hidden",
        &[&id, &author.0],
        |row| {
            let hidden: bool = row.try_get(1)?;
            Ok(if hidden { 0 } else { -1 })
        },
    )
    .await
}

pub(super) async fn set_comment_hidden(
    client: &mut Object,
    id: i64,
    hidden: bool,
) -> Result<bool, StoreError> {
    change_comment(
        client,
        "update comments set hidden = $2 where id = $1 and hidden != $2 returning paper_id",
        &[&id, &hidden],
        |_| Ok(if hidden { -1 } else { 1 }),
    )
    .await
}

pub(super) async fn feature_paper(
    client: &mut Object,
    paper: &str,
    featuring: &Featuring,
) -> Result<bool, StoreError> {
    let tx = client.transaction().await?;
    if !lock_paper(&tx, paper).await? {
        return Ok(false);
    }
    let (name, fullname) = featuring
        .submitter
        .as_ref()
        .map_or((None, None), |s| (Some(&s.name), s.fullname.as_ref()));
    let inserted = execute(
        &tx,
        "insert into featurings (paper_id, day, submitter_name, submitter_fullname)
         values ($1, $2, $3, $4)
         on conflict (paper_id, day) do nothing",
        &[&paper, &featuring.date, &name, &fullname],
    )
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    bump(&tx, paper).await?;
    tx.commit().await?;
    Ok(true)
}
