//! The PostgreSQL schema: its migrations, applied at open by the shared planner under an
//! advisory lock, so two nodes starting at once apply each once.

use crate::StoreError;
use crate::migrations::{Migration, plan};

/// Schema migrations, applied in order at open; never edit one that has landed. Numbered on
/// their own (not the SQLite ones); applied by version set like SQLite's.
const MIGRATIONS: &[Migration] = &[
    (1, include_str!("../../migrations/postgres/0001_schema.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_digest_claimers.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_library.sql"),
    ),
    (
        FOLLOWS,
        include_str!("../../migrations/postgres/0004_follows.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_visibility.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_saved_searches.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_digest_topics.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_recommender.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_for_you_digests.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_identities.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_embedding_seq.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_thumbnails.sql"),
    ),
];

/// The migration that made the paper index (`paper_keys`): applying it also fills the index
/// for the papers already stored, in the same transaction.
const FOLLOWS: i64 = 4;

/// The advisory lock key that serialises migrations between nodes ("paperfee" in ASCII).
const MIGRATION_LOCK: i64 = 0x7061_7065_7266_6565;

pub(super) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    // Two nodes starting at once: the second waits here until the first has committed, then
    // finds every migration applied.
    tx.execute("select pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "set local client_min_messages = warning;
         create table if not exists schema_migrations (
             version bigint primary key,
             applied_at timestamptz not null
         )",
    )
    .await?;
    let applied: Vec<i64> = tx
        .query("select version from schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for (version, sql) in plan(MIGRATIONS, &applied)? {
        tx.batch_execute(sql).await?;
        if *version == FOLLOWS {
            let papers = super::follows::backfill_index(&tx).await?;
            tracing::info!(
                papers,
                "indexed the stored papers by author, organisation and category"
            );
        }
        tx.execute(
            "insert into schema_migrations (version, applied_at) values ($1, now())",
            &[version],
        )
        .await?;
        tracing::info!(migration.version = version, "applied store migration");
    }
    tx.commit().await?;
    Ok(())
}
