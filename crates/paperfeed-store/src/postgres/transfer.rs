//! [`Transfer`] on PostgreSQL: `paperfeed migrate` into (or out of) a PostgreSQL database.

use async_trait::async_trait;
use bytes::BytesMut;
use chrono::SubsecRound as _;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use deadpool_postgres::GenericClient as _;

use super::sql::{execute, query, query_one};
use crate::error_text;
use crate::transfer::{Copied, Kind, Table, Transfer, TransferRow, Value, page_sql, upsert_sql};
use crate::{PostgresStore, StoreError};

/// Tables whose ids come from identity columns: after a copy, new ids continue after the
/// largest copied one.
const IDENTITY_TABLES: &[&str] = &[
    "users",
    "api_tokens",
    "comments",
    "mutes",
    "subscribers",
    "digest_jobs",
    "saved_searches",
    "webhooks",
    "webhook_deliveries",
    "feed_tokens",
    "collections",
];

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Time(t) => t.to_sql(ty, out),
            Value::Day(d) => d.to_sql(ty, out),
            Value::Json(j) => j.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value by the delegate above: the column kinds match the schema.
        true
    }

    to_sql_checked!();
}

fn from_row(
    table: &Table,
    row: &tokio_postgres::Row,
    i: usize,
    kind: Kind,
) -> Result<Value, StoreError> {
    let column = table.columns[i].0;
    let bad =
        |e: tokio_postgres::Error| StoreError::Corrupt(format!("{}.{column}: {e}", table.name));
    Ok(match kind {
        Kind::Int => row
            .try_get::<_, Option<i64>>(i)
            .map_err(bad)?
            .map(Value::Int),
        Kind::Bool => row
            .try_get::<_, Option<bool>>(i)
            .map_err(bad)?
            .map(Value::Bool),
        Kind::Text => row
            .try_get::<_, Option<String>>(i)
            .map_err(bad)?
            .map(Value::Text),
        Kind::Time | Kind::TimeSecs => row
            .try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
            .map_err(bad)?
            .map(|t| Value::Time(t.trunc_subsecs(3))),
        Kind::Day => row
            .try_get::<_, Option<chrono::NaiveDate>>(i)
            .map_err(bad)?
            .map(Value::Day),
        Kind::Json => row
            .try_get::<_, Option<serde_json::Value>>(i)
            .map_err(bad)?
            .map(Value::Json),
        Kind::Bytes => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(bad)?
            .map(Value::Bytes),
    }
    .unwrap_or(Value::Null))
}

fn placeholder(i: usize) -> String {
    format!("${}", i + 1)
}

#[async_trait]
impl Transfer for PostgresStore {
    async fn count_rows(&self, table: &'static Table) -> Result<u64, StoreError> {
        let row = query_one(
            &self.client().await?,
            &format!("select count(*) from {}", table.name),
            &[],
        )
        .await?;
        Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
    }

    async fn read_rows(
        &self,
        table: &'static Table,
        after: Option<Vec<Value>>,
        limit: usize,
    ) -> Result<Vec<TransferRow>, StoreError> {
        let sql = page_sql(table, after.is_some(), placeholder, limit);
        let args: Vec<&(dyn ToSql + Sync)> = after
            .iter()
            .flatten()
            .map(|v| v as &(dyn ToSql + Sync))
            .collect();
        let rows = query(&self.client().await?, &sql, &args).await?;
        rows.iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| from_row(table, row, i, *kind))
                    .collect()
            })
            .collect()
    }

    async fn write_rows(
        &self,
        table: &'static Table,
        rows: Vec<TransferRow>,
    ) -> Result<Copied, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // `xmax = 0` tells a row just inserted from one updated; no row back: it was equal.
        let sql = format!(
            "{} returning (xmax = 0)",
            upsert_sql(table, placeholder, |rest| {
                let stored: Vec<String> =
                    rest.iter().map(|c| format!("{}.{c}", table.name)).collect();
                let incoming: Vec<String> = rest.iter().map(|c| format!("excluded.{c}")).collect();
                format!(
                    "({}) is distinct from ({})",
                    stored.join(", "),
                    incoming.join(", ")
                )
            })
        );
        let stmt = tx.prepare_cached(&sql).await?;
        let mut copied = Copied::default();
        for row in &rows {
            let args: Vec<&(dyn ToSql + Sync)> =
                row.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            let written = tx
                .query_opt(&stmt, &args)
                .await
                .map_err(|e| StoreError::Rejected {
                    table: table.name,
                    row: table.describe(row),
                    reason: error_text(&e),
                })?;
            match written {
                None => copied.unchanged += 1,
                Some(r) if r.try_get::<_, bool>(0)? => copied.new += 1,
                Some(_) => copied.updated += 1,
            }
        }
        tx.commit().await?;
        Ok(copied)
    }

    async fn finish_transfer(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        for table in IDENTITY_TABLES {
            execute(
                &client,
                &format!(
                    "select setval(pg_get_serial_sequence('{table}', 'id'),
                                   coalesce((select max(id) from {table}), 0) + 1, false)"
                ),
                &[],
            )
            .await?;
        }
        Ok(())
    }
}
