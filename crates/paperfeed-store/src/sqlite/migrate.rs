//! The SQLite schema: its migrations, applied at open by the shared planner.

use chrono::Utc;
use rusqlite::{Connection, params};

use super::rows::time_text;
use crate::StoreError;
use crate::migrations::{Migration, plan};

/// Schema migrations, applied in order; never edit one that has landed. Each one that a store
/// has not recorded is applied (see [`plan`]).
pub(super) const MIGRATIONS: &[Migration] = &[
    (1, include_str!("../../migrations/sqlite/0001_papers.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_embeddings.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_community.sql"),
    ),
    (4, include_str!("../../migrations/sqlite/0004_harvest.sql")),
    (5, include_str!("../../migrations/sqlite/0005_digests.sql")),
    (6, include_str!("../../migrations/sqlite/0006_leases.sql")),
    (
        7,
        include_str!("../../migrations/sqlite/0007_digest_claimers.sql"),
    ),
    (8, include_str!("../../migrations/sqlite/0008_library.sql")),
    (
        FOLLOWS,
        include_str!("../../migrations/sqlite/0009_follows.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_visibility.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_saved_searches.sql"),
    ),
    (
        12,
        include_str!("../../migrations/sqlite/0012_digest_topics.sql"),
    ),
    (
        13,
        include_str!("../../migrations/sqlite/0013_recommender.sql"),
    ),
    (
        14,
        include_str!("../../migrations/sqlite/0014_for_you_digests.sql"),
    ),
    (
        15,
        include_str!("../../migrations/sqlite/0015_identities.sql"),
    ),
    (
        17,
        include_str!("../../migrations/sqlite/0017_embedding_seq.sql"),
    ),
    (
        18,
        include_str!("../../migrations/sqlite/0018_thumbnails.sql"),
    ),
    (
        19,
        include_str!("../../migrations/sqlite/0019_paper_index_pending.sql"),
    ),
];

/// The migration that made the paper index (`paper_keys`): applying it also fills the index
/// for the papers already stored, in the same transaction.
const FOLLOWS: i64 = 9;

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "create table if not exists schema_migrations (
             version integer primary key,
             applied_at text not null
         ) strict;",
    )?;
    let applied: Vec<i64> = conn
        .prepare("select version from schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (version, sql) in plan(MIGRATIONS, &applied)? {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if *version == FOLLOWS {
            let papers = super::follows::backfill_index(&tx)?;
            tracing::info!(
                papers,
                "indexed the stored papers by author, organisation and category"
            );
        }
        tx.execute(
            "insert into schema_migrations (version, applied_at) values (?1, ?2)",
            params![version, time_text(Utc::now())],
        )?;
        tx.commit()?;
        tracing::info!(migration.version = version, "applied store migration");
    }
    Ok(())
}
