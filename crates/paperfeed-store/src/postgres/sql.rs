//! Statements over prepared, cached queries, the values as both backends hand them out, and
//! the store-wide change counter.

use chrono::{DateTime, SubsecRound as _, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::StoreError;

pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

pub(crate) async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

pub(crate) async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, params).await?)
}

pub(crate) async fn query_one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Row, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, params).await?)
}

pub(crate) async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, StoreError> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

/// Instants as SQLite keeps them: to the millisecond, so both backends hand out equal values.
pub(crate) fn ms(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

pub(crate) fn corrupt(what: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Takes the next `change_seq` for a transaction that changed something a page shows.
///
/// Why a counter row and not a sequence: the search indexer of every node pages through
/// `papers_changed_since(watermark)` and then moves its watermark to the highest `change_seq`
/// it saw. With a sequence, writer A could take 10 and writer B 11, B commit first, and an
/// indexer read 11 and move past 10 before A commits: A's papers would never be indexed. Here
/// the `update` locks the one counter row until the transaction ends, so whoever takes the next
/// value waits until the previous taker has committed (or rolled back, giving its value back):
/// changes become visible in `change_seq` order and a watermark never jumps over one in flight.
/// Callers take it last, after locking the papers they write, so every writer locks in the
/// same order (papers, then the counter) and none wait in a cycle.
pub(crate) async fn next_change_seq<C: GenericClient>(tx: &C) -> Result<i64, StoreError> {
    Ok(query_one(
        tx,
        "update store_counters set value = value + 1 where name = 'change_seq' returning value",
        &[],
    )
    .await?
    .try_get(0)?)
}

/// Takes the next value of the vector counter (`embedding_seq`) for a transaction that writes
/// vectors, for the reason [`next_change_seq`] gives: node indexes page through
/// `embeddings_since(watermark)`, so writes must become visible in counter order. Writers of
/// vectors take it first, before the rows they write; nothing else takes this counter.
pub(crate) async fn next_embedding_seq<C: GenericClient>(tx: &C) -> Result<i64, StoreError> {
    Ok(query_one(
        tx,
        "update store_counters set value = value + 1 where name = 'embedding_seq' returning value",
        &[],
    )
    .await?
    .try_get(0)?)
}

pub(crate) fn limit_of(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn count(row: &Row) -> Result<u64, StoreError> {
    Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
}
