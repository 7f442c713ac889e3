//! [`Transfer`] on SQLite: `paperfeed migrate` from or into an SQLite file.

use async_trait::async_trait;
use chrono::SecondsFormat;
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension as _, params_from_iter};

use super::rows::{parse_day, parse_time, time_text};
use crate::transfer::{Copied, Kind, Table, Transfer, TransferRow, Value, page_sql, upsert_sql};
use crate::{SqliteStore, StoreError};

fn to_sql(value: &Value, kind: Kind) -> Sql {
    match value {
        Value::Null => Sql::Null,
        Value::Int(i) => Sql::Integer(*i),
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Text(s) => Sql::Text(s.clone()),
        Value::Time(t) if kind == Kind::TimeSecs => {
            Sql::Text(t.to_rfc3339_opts(SecondsFormat::Secs, true))
        }
        Value::Time(t) => Sql::Text(time_text(*t)),
        Value::Day(d) => Sql::Text(d.format("%Y-%m-%d").to_string()),
        Value::Json(j) => Sql::Text(j.to_string()),
        Value::Bytes(b) => Sql::Blob(b.clone()),
    }
}

fn from_sql(table: &Table, column: &str, kind: Kind, value: Sql) -> Result<Value, StoreError> {
    let bad = |what: &str| {
        StoreError::Corrupt(format!(
            "{}.{column}: {what} where {kind:?} was expected",
            table.name
        ))
    };
    Ok(match (kind, value) {
        (_, Sql::Null) => Value::Null,
        (Kind::Int, Sql::Integer(i)) => Value::Int(i),
        (Kind::Bool, Sql::Integer(i)) => Value::Bool(i != 0),
        (Kind::Text, Sql::Text(s)) => Value::Text(s),
        (Kind::Time | Kind::TimeSecs, Sql::Text(s)) => Value::Time(parse_time(&s)?),
        (Kind::Day, Sql::Text(s)) => Value::Day(parse_day(&s)?),
        (Kind::Json, Sql::Text(s)) => Value::Json(
            serde_json::from_str(&s)
                .map_err(|e| StoreError::Corrupt(format!("{}.{column}: {e}", table.name)))?,
        ),
        (Kind::Bytes, Sql::Blob(b)) => Value::Bytes(b),
        (_, Sql::Integer(_)) => return Err(bad("an integer")),
        (_, Sql::Real(_)) => return Err(bad("a real")),
        (_, Sql::Text(_)) => return Err(bad("text")),
        (_, Sql::Blob(_)) => return Err(bad("a blob")),
    })
}

fn placeholder(i: usize) -> String {
    format!("?{}", i + 1)
}

#[async_trait]
impl Transfer for SqliteStore {
    async fn count_rows(&self, table: &'static Table) -> Result<u64, StoreError> {
        self.read(move |conn| {
            let n: i64 =
                conn.query_row(&format!("select count(*) from {}", table.name), [], |r| {
                    r.get(0)
                })?;
            Ok(n.unsigned_abs())
        })
        .await
    }

    async fn read_rows(
        &self,
        table: &'static Table,
        after: Option<Vec<Value>>,
        limit: usize,
    ) -> Result<Vec<TransferRow>, StoreError> {
        self.read(move |conn| {
            let sql = page_sql(table, after.is_some(), placeholder, limit);
            let mut stmt = conn.prepare_cached(&sql)?;
            let args: Vec<Sql> = after
                .iter()
                .flatten()
                .zip(table.columns)
                .map(|(v, (_, kind))| to_sql(v, *kind))
                .collect();
            let mut rows = stmt.query(params_from_iter(args))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(table.columns.len());
                for (i, (column, kind)) in table.columns.iter().enumerate() {
                    values.push(from_sql(table, column, *kind, row.get(i)?)?);
                }
                out.push(values);
            }
            Ok(out)
        })
        .await
    }

    async fn write_rows(
        &self,
        table: &'static Table,
        rows: Vec<TransferRow>,
    ) -> Result<Copied, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut copied = Copied::default();
            {
                let keys: Vec<String> = table
                    .key_columns()
                    .enumerate()
                    .map(|(i, c)| format!("{c} = ?{}", i + 1))
                    .collect();
                let mut exists = tx.prepare_cached(&format!(
                    "select 1 from {} where {}",
                    table.name,
                    keys.join(" and ")
                ))?;
                let sql = upsert_sql(table, placeholder, |rest| {
                    let same: Vec<String> = rest
                        .iter()
                        .map(|c| format!("{}.{c} is excluded.{c}", table.name))
                        .collect();
                    format!("not ({})", same.join(" and "))
                });
                let mut upsert = tx.prepare_cached(&sql)?;
                for row in &rows {
                    let reject = |reason: String| StoreError::Rejected {
                        table: table.name,
                        row: table.describe(row),
                        reason,
                    };
                    let args: Vec<Sql> = row
                        .iter()
                        .zip(table.columns)
                        .map(|(v, (_, kind))| to_sql(v, *kind))
                        .collect();
                    let existed = exists
                        .query_row(params_from_iter(&args[..table.key_len]), |_| Ok(()))
                        .optional()
                        .map_err(|e| reject(e.to_string()))?
                        .is_some();
                    let changed = upsert
                        .execute(params_from_iter(&args))
                        .map_err(|e| reject(e.to_string()))?;
                    match (existed, changed > 0) {
                        (false, _) => copied.new += 1,
                        (true, true) => copied.updated += 1,
                        (true, false) => copied.unchanged += 1,
                    }
                }
            }
            tx.commit()?;
            Ok(copied)
        })
        .await
    }

    async fn finish_transfer(&self) -> Result<(), StoreError> {
        // Integer primary keys continue after the largest id by themselves.
        Ok(())
    }
}
