//! [`AccountStore`] on PostgreSQL, mirroring `sqlite/accounts.rs`. Deleting an account locks
//! the papers whose counts it changes, in id order, before taking `change_seq` last (the order
//! every writer keeps; see [`super::sql::next_change_seq`]).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use paperfeed_core::ArxivId;

use super::PostgresStore;
use super::community::{COMMENT_COLUMNS, USER_COLUMNS, comment_from_row, user_from_row};
use super::sql::{corrupt, execute, next_change_seq, query, query_opt};
use crate::{AccountDeletion, AccountStore, CastVote, Comment, StoreError, User, UserId};

async fn user_by_id<C: GenericClient>(c: &C, user: UserId) -> Result<Option<User>, StoreError> {
    query_opt(
        c,
        &format!("select {USER_COLUMNS} from users u where u.id = $1"),
        &[&user.0],
    )
    .await?
    .map(|r| user_from_row(&r, 0))
    .transpose()
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn user_by_id(&self, user: UserId) -> Result<Option<User>, StoreError> {
        user_by_id(&self.client().await?, user).await
    }

    async fn votes_by(&self, user: UserId) -> Result<Vec<CastVote>, StoreError> {
        let c = self.client().await?;
        query(
            &c,
            "select paper_id, created_at from votes where user_id = $1
              order by created_at, paper_id",
            &[&user.0],
        )
        .await?
        .iter()
        .map(|r| {
            let paper: String = r.try_get(0)?;
            Ok(CastVote {
                paper: ArxivId::parse(&paper).map_err(|e| corrupt("votes.paper_id", &e))?,
                at: r.try_get(1)?,
            })
        })
        .collect()
    }

    async fn comments_by(&self, user: UserId) -> Result<Vec<Comment>, StoreError> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "select {COMMENT_COLUMNS} from comments c join users u on u.id = c.user_id
                  where c.user_id = $1 order by c.id"
            ),
            &[&user.0],
        )
        .await?
        .iter()
        .map(comment_from_row)
        .collect()
    }

    async fn delete_user(&self, user: UserId) -> Result<Option<AccountDeletion>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let Some(found) = user_by_id(&tx, user).await? else {
            return Ok(None);
        };
        let name = found.username.as_str();
        // Every paper whose page shows something of this reader, locked in id order.
        let touched: Vec<String> = query(
            &tx,
            "select id from papers where id in (
                 select paper_id from votes where user_id = $1
                 union select paper_id from comments where user_id = $1
                 union select paper_id from featurings
                        where lower(submitter_name) = lower($2) and submitter_fullname is null)
              order by id for no key update",
            &[&user.0, &name],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        let votes_withdrawn = execute(
            &tx,
            "update papers set local_upvotes = local_upvotes - 1
              where id in (select paper_id from votes where user_id = $1)",
            &[&user.0],
        )
        .await?;
        execute(
            &tx,
            "update papers p set local_comments = p.local_comments - d.n
               from (select paper_id, count(*) as n from comments
                      where user_id = $1 and not hidden group by paper_id) d
              where p.id = d.paper_id",
            &[&user.0],
        )
        .await?;
        let comments_deleted =
            execute(&tx, "delete from comments where user_id = $1", &[&user.0]).await?;
        let submissions_anonymised = execute(
            &tx,
            "update featurings set submitter_name = null
              where lower(submitter_name) = lower($1) and submitter_fullname is null",
            &[&name],
        )
        .await?;
        let subscription_removed = execute(
            &tx,
            "delete from subscribers where lower(email) = lower($1)",
            &[&found.email.as_str()],
        )
        .await?
            > 0;
        // Sessions, tokens, votes and every personal table go with the row (cascade).
        execute(&tx, "delete from users where id = $1", &[&user.0]).await?;
        if !touched.is_empty() {
            let seq = next_change_seq(&tx).await?;
            execute(
                &tx,
                "update papers set change_seq = $2 where id = any($1)",
                &[&touched, &seq],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(AccountDeletion {
            votes_withdrawn,
            comments_deleted,
            submissions_anonymised,
            subscription_removed,
        }))
    }
}
