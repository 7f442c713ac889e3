//! [`ForYouDigestStore`] on SQLite (migration 0014).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{parse_time, time_text};
use crate::{ForYouDigest, ForYouDigestStore, StoreError, UserId};

#[async_trait]
impl ForYouDigestStore for SqliteStore {
    async fn for_you_digest(&self, user: UserId) -> Result<Option<ForYouDigest>, StoreError> {
        self.read(move |conn| {
            let row: Option<(i64, String)> = conn
                .prepare_cached("select picks, updated_at from for_you_digests where user_id = ?1")?
                .query_row([user.0], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            row.map(|(picks, at)| {
                Ok(ForYouDigest {
                    picks: picks_of(picks)?,
                    updated_at: parse_time(&at)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn set_for_you_digest(
        &self,
        user: UserId,
        choice: Option<&ForYouDigest>,
    ) -> Result<bool, StoreError> {
        let choice = choice.cloned();
        self.write(move |conn| {
            let exists = conn
                .prepare_cached("select 1 from users where id = ?1")?
                .query_row([user.0], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Ok(false);
            }
            match choice {
                Some(c) => {
                    conn.prepare_cached(
                        "insert into for_you_digests (user_id, picks, updated_at)
                         values (?1, ?2, ?3)
                         on conflict (user_id) do update set
                             picks = excluded.picks, updated_at = excluded.updated_at",
                    )?
                    .execute(params![
                        user.0,
                        i64::from(c.picks),
                        time_text(c.updated_at)
                    ])?;
                }
                None => {
                    conn.prepare_cached("delete from for_you_digests where user_id = ?1")?
                        .execute([user.0])?;
                }
            }
            Ok(true)
        })
        .await
    }

    async fn count_for_you_digests(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached("select count(*) from for_you_digests")?
                .query_row([], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}

fn picks_of(value: i64) -> Result<u8, StoreError> {
    u8::try_from(value)
        .ok()
        .filter(|v| (1..=100).contains(v))
        .ok_or_else(|| StoreError::Corrupt(format!("for_you_digests.picks: {value}")))
}
