//! [`IdentityStore`] on PostgreSQL, mirroring `sqlite/identities.rs` (migration 0010).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use super::PostgresStore;
use super::community::{self, USER_COLUMNS, user_from_row};
use super::sql::{execute, ms, query, query_opt};
use crate::{
    Identity, IdentityStore, LinkOutcome, NewIdentity, NewUser, SignInWays, StoreError,
    UnlinkOutcome, User, UserId,
};

/// The account `provider` / `subject` is linked to, if any; its row stays locked until the
/// transaction ends.
async fn owner<C: GenericClient>(
    c: &C,
    provider: &str,
    subject: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(query_opt(
        c,
        "select user_id from identities where provider = $1 and subject = $2 for update",
        &[&provider, &subject],
    )
    .await?
    .map(|row| row.try_get(0))
    .transpose()?)
}

async fn insert<C: GenericClient>(
    c: &C,
    user: UserId,
    identity: &NewIdentity,
) -> Result<u64, StoreError> {
    // A race with another link of the same identity ends in one row: the loser inserts
    // nothing and reads the winner's owner after.
    execute(
        c,
        "insert into identities
             (provider, subject, user_id, login, verified_email, linked_at, last_used_at)
         values ($1, $2, $3, $4, $5, $6, $6)
         on conflict (provider, subject) do nothing",
        &[
            &identity.provider,
            &identity.subject,
            &user.0,
            &identity.login,
            &identity.verified_email,
            &ms(identity.at),
        ],
    )
    .await
}

async fn touch<C: GenericClient>(c: &C, identity: &NewIdentity) -> Result<bool, StoreError> {
    let n = execute(
        c,
        "update identities set login = $3, verified_email = $4, last_used_at = $5
          where provider = $1 and subject = $2",
        &[
            &identity.provider,
            &identity.subject,
            &identity.login,
            &identity.verified_email,
            &ms(identity.at),
        ],
    )
    .await?;
    Ok(n > 0)
}

fn live(
    row: Option<tokio_postgres::Row>,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let Some(row) = row else {
        return Ok(None);
    };
    let expires_at: DateTime<Utc> = row.try_get(1)?;
    Ok((expires_at >= now).then(|| row.try_get(0)).transpose()?)
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError> {
        query_opt(
            &self.client().await?,
            &format!(
                "select {USER_COLUMNS} from identities i join users u on u.id = i.user_id
                  where i.provider = $1 and i.subject = $2"
            ),
            &[&provider, &subject],
        )
        .await?
        .map(|r| user_from_row(&r, 0))
        .transpose()
    }

    async fn identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        let rows = query(
            &self.client().await?,
            "select provider, subject, login, verified_email, linked_at, last_used_at
               from identities where user_id = $1 order by provider, subject",
            &[&user.0],
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Identity {
                    provider: row.try_get(0)?,
                    subject: row.try_get(1)?,
                    user,
                    login: row.try_get(2)?,
                    verified_email: row.try_get(3)?,
                    linked_at: row.try_get(4)?,
                    last_used_at: row.try_get(5)?,
                })
            })
            .collect()
    }

    async fn user_with_vouched_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        query_opt(
            &self.client().await?,
            &format!(
                "select {USER_COLUMNS} from users u
                  where lower(u.email) = lower($1)
                    and exists (select 1 from identities i
                                 where i.user_id = u.id and i.verified_email = lower(u.email))"
            ),
            &[&email],
        )
        .await?
        .map(|r| user_from_row(&r, 0))
        .transpose()
    }

    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: &NewIdentity,
    ) -> Result<User, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let created = community::create_user(&tx, &user).await?;
        if insert(&tx, created.id, identity).await? == 0 {
            return Err(StoreError::Conflict { field: "identity" });
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn link_identity(
        &self,
        user: UserId,
        identity: &NewIdentity,
    ) -> Result<LinkOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let outcome = if insert(&tx, user, identity).await? > 0 {
            LinkOutcome::Linked
        } else if owner(&tx, &identity.provider, &identity.subject).await? == Some(user.0) {
            touch(&tx, identity).await?;
            LinkOutcome::AlreadyLinked
        } else {
            LinkOutcome::OtherAccount
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn touch_identity(&self, identity: &NewIdentity) -> Result<bool, StoreError> {
        touch(&self.client().await?, identity).await
    }

    async fn unlink_identity(
        &self,
        user: UserId,
        provider: &str,
        subject: &str,
        ways: &SignInWays,
    ) -> Result<UnlinkOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The user's row locked first: two unlinks of one account run one after the other, so
        // each sees what the other left.
        let Some(row) = query_opt(
            &tx,
            "select password_hash <> '' from users where id = $1 for update",
            &[&user.0],
        )
        .await?
        else {
            return Ok(UnlinkOutcome::NotLinked);
        };
        let has_password: bool = row.try_get(0)?;
        if owner(&tx, provider, subject).await? != Some(user.0) {
            return Ok(UnlinkOutcome::NotLinked);
        }
        let others: Vec<String> = query(
            &tx,
            "select provider from identities
              where user_id = $1 and not (provider = $2 and subject = $3)",
            &[&user.0, &provider, &subject],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
        let remains =
            (ways.password && has_password) || others.iter().any(|p| ways.providers.contains(p));
        if !remains {
            return Ok(UnlinkOutcome::LastWayToSignIn);
        }
        execute(
            &tx,
            "delete from identities where user_id = $1 and provider = $2 and subject = $3",
            &[&user.0, &provider, &subject],
        )
        .await?;
        tx.commit().await?;
        Ok(UnlinkOutcome::Unlinked)
    }

    async fn put_pending(
        &self,
        key_hash: &str,
        kind: &str,
        payload: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        execute(
            &tx,
            "delete from auth_pending where expires_at < $1",
            &[&Utc::now()],
        )
        .await?;
        execute(
            &tx,
            "insert into auth_pending (key_hash, kind, payload, expires_at)
             values ($1, $2, $3, $4)
             on conflict (key_hash) do update set
                 kind = excluded.kind, payload = excluded.payload,
                 expires_at = excluded.expires_at",
            &[&key_hash, &kind, &payload, &ms(expires_at)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_pending(
        &self,
        key_hash: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let row = query_opt(
            &self.client().await?,
            "delete from auth_pending where key_hash = $1 and kind = $2
             returning payload, expires_at",
            &[&key_hash, &kind],
        )
        .await?;
        live(row, now)
    }

    async fn peek_pending(
        &self,
        key_hash: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let row = query_opt(
            &self.client().await?,
            "select payload, expires_at from auth_pending where key_hash = $1 and kind = $2",
            &[&key_hash, &kind],
        )
        .await?;
        live(row, now)
    }
}
