//! [`ForYouDigestStore`] on PostgreSQL, mirroring `sqlite/for_you_digest.rs` (migration 0009).

use async_trait::async_trait;

use super::PostgresStore;
use super::sql::{corrupt, execute, ms, query_one, query_opt};
use crate::{ForYouDigest, ForYouDigestStore, StoreError, UserId};

#[async_trait]
impl ForYouDigestStore for PostgresStore {
    async fn for_you_digest(&self, user: UserId) -> Result<Option<ForYouDigest>, StoreError> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "select picks, updated_at from for_you_digests where user_id = $1",
            &[&user.0],
        )
        .await?;
        row.map(|row| {
            let picks: i64 = row.try_get(0)?;
            Ok(ForYouDigest {
                picks: u8::try_from(picks)
                    .ok()
                    .filter(|v| (1..=100).contains(v))
                    .ok_or_else(|| corrupt("for_you_digests.picks", &picks))?,
                updated_at: row.try_get(1)?,
            })
        })
        .transpose()
    }

    async fn set_for_you_digest(
        &self,
        user: UserId,
        choice: Option<&ForYouDigest>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        match choice {
            Some(c) => {
                // Inserting from the user's row: no row when there is no such user.
                let written = execute(
                    &client,
                    "insert into for_you_digests (user_id, picks, updated_at)
                     select id, $2, $3 from users where id = $1
                     on conflict (user_id) do update set
                         picks = excluded.picks, updated_at = excluded.updated_at",
                    &[&user.0, &i64::from(c.picks), &ms(c.updated_at)],
                )
                .await?;
                Ok(written > 0)
            }
            None => {
                execute(
                    &client,
                    "delete from for_you_digests where user_id = $1",
                    &[&user.0],
                )
                .await?;
                let exists = query_opt(&client, "select 1 from users where id = $1", &[&user.0])
                    .await?
                    .is_some();
                Ok(exists)
            }
        }
    }

    async fn count_for_you_digests(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = query_one(&client, "select count(*) from for_you_digests", &[]).await?;
        let n: i64 = row.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
