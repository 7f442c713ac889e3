//! [`IdentityStore`] on SQLite (migration 0015).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::community::{self, USER_COLUMNS, user_from_row};
use super::rows::{parse_time, time_text};
use crate::{
    Identity, IdentityStore, LinkOutcome, NewIdentity, NewUser, SignInWays, StoreError,
    UnlinkOutcome, User, UserId,
};

/// The account `provider` / `subject` is linked to, if any.
fn owner(conn: &Connection, provider: &str, subject: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("select user_id from identities where provider = ?1 and subject = ?2")?
        .query_row([provider, subject], |row| row.get(0))
        .optional()?)
}

fn insert(conn: &Connection, user: UserId, identity: &NewIdentity) -> Result<(), StoreError> {
    conn.prepare_cached(
        "insert into identities
             (provider, subject, user_id, login, verified_email, linked_at, last_used_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        identity.provider,
        identity.subject,
        user.0,
        identity.login,
        identity.verified_email,
        time_text(identity.at)
    ])?;
    Ok(())
}

fn touch(conn: &Connection, identity: &NewIdentity) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "update identities set login = ?3, verified_email = ?4, last_used_at = ?5
              where provider = ?1 and subject = ?2",
        )?
        .execute(params![
            identity.provider,
            identity.subject,
            identity.login,
            identity.verified_email,
            time_text(identity.at)
        ])?;
    Ok(n > 0)
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {USER_COLUMNS} from identities i join users u on u.id = i.user_id
                  where i.provider = ?1 and i.subject = ?2"
            ))?;
            let mut rows = stmt.query([provider, subject])?;
            rows.next()?.map(|r| user_from_row(r, 0)).transpose()
        })
        .await
    }

    async fn identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select provider, subject, login, verified_email, linked_at, last_used_at
                   from identities where user_id = ?1 order by provider, subject",
            )?;
            let rows = stmt.query_map([user.0], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                ))
            })?;
            rows.map(|row| {
                let (provider, subject, login, verified_email, linked_at, last_used_at) = row?;
                Ok(Identity {
                    provider,
                    subject,
                    user,
                    login,
                    verified_email,
                    linked_at: parse_time(&linked_at)?,
                    last_used_at: last_used_at.as_deref().map(parse_time).transpose()?,
                })
            })
            .collect()
        })
        .await
    }

    async fn user_with_vouched_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = email.to_lowercase();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "select {USER_COLUMNS} from users u
                  where u.email = ?1
                    and exists (select 1 from identities i
                                 where i.user_id = u.id and i.verified_email = lower(u.email))"
            ))?;
            let mut rows = stmt.query([email])?;
            rows.next()?.map(|r| user_from_row(r, 0)).transpose()
        })
        .await
    }

    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: &NewIdentity,
    ) -> Result<User, StoreError> {
        let identity = identity.clone();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if owner(&tx, &identity.provider, &identity.subject)?.is_some() {
                return Err(StoreError::Conflict { field: "identity" });
            }
            let created = community::create_user(&tx, &user)?;
            insert(&tx, created.id, &identity)?;
            tx.commit()?;
            Ok(created)
        })
        .await
    }

    async fn link_identity(
        &self,
        user: UserId,
        identity: &NewIdentity,
    ) -> Result<LinkOutcome, StoreError> {
        let identity = identity.clone();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let outcome = match owner(&tx, &identity.provider, &identity.subject)? {
                Some(id) if id == user.0 => {
                    touch(&tx, &identity)?;
                    LinkOutcome::AlreadyLinked
                }
                Some(_) => LinkOutcome::OtherAccount,
                None => {
                    insert(&tx, user, &identity)?;
                    LinkOutcome::Linked
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn touch_identity(&self, identity: &NewIdentity) -> Result<bool, StoreError> {
        let identity = identity.clone();
        self.write(move |conn| touch(conn, &identity)).await
    }

    async fn unlink_identity(
        &self,
        user: UserId,
        provider: &str,
        subject: &str,
        ways: &SignInWays,
    ) -> Result<UnlinkOutcome, StoreError> {
        let (provider, subject, ways) = (provider.to_owned(), subject.to_owned(), ways.clone());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if owner(&tx, &provider, &subject)? != Some(user.0) {
                return Ok(UnlinkOutcome::NotLinked);
            }
            let has_password = tx
                .prepare_cached("select password_hash <> '' from users where id = ?1")?
                .query_row([user.0], |row| row.get::<_, bool>(0))?;
            let others: Vec<String> = tx
                .prepare_cached(
                    "select provider from identities
                      where user_id = ?1 and not (provider = ?2 and subject = ?3)",
                )?
                .query_map(params![user.0, provider, subject], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let remains = (ways.password && has_password)
                || others.iter().any(|p| ways.providers.contains(p));
            if !remains {
                return Ok(UnlinkOutcome::LastWayToSignIn);
            }
            tx.prepare_cached(
                "delete from identities where user_id = ?1 and provider = ?2 and subject = ?3",
            )?
            .execute(params![user.0, provider, subject])?;
            tx.commit()?;
            Ok(UnlinkOutcome::Unlinked)
        })
        .await
    }

    async fn put_pending(
        &self,
        key_hash: &str,
        kind: &str,
        payload: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (key, kind, payload) = (key_hash.to_owned(), kind.to_owned(), payload.to_owned());
        let now = time_text(Utc::now());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.prepare_cached("delete from auth_pending where expires_at < ?1")?
                .execute([&now])?;
            tx.prepare_cached(
                "insert into auth_pending (key_hash, kind, payload, expires_at)
                 values (?1, ?2, ?3, ?4)
                 on conflict (key_hash) do update set
                     kind = excluded.kind, payload = excluded.payload,
                     expires_at = excluded.expires_at",
            )?
            .execute(params![key, kind, payload, time_text(expires_at)])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn take_pending(
        &self,
        key_hash: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let (key, kind) = (key_hash.to_owned(), kind.to_owned());
        self.write(move |conn| {
            let row: Option<(String, String)> = conn
                .prepare_cached(
                    "delete from auth_pending where key_hash = ?1 and kind = ?2
                     returning payload, expires_at",
                )?
                .query_row([key, kind], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            live(row, now)
        })
        .await
    }

    async fn peek_pending(
        &self,
        key_hash: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let (key, kind) = (key_hash.to_owned(), kind.to_owned());
        self.read(move |conn| {
            let row: Option<(String, String)> = conn
                .prepare_cached(
                    "select payload, expires_at from auth_pending
                      where key_hash = ?1 and kind = ?2",
                )?
                .query_row([key, kind], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            live(row, now)
        })
        .await
    }
}

/// The payload of a record read, unless it expired before `now`.
fn live(row: Option<(String, String)>, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
    match row {
        Some((payload, expires_at)) if parse_time(&expires_at)? >= now => Ok(Some(payload)),
        _ => Ok(None),
    }
}
