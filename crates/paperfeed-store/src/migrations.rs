//! The migration planner both backends share: given the schema versions a store has applied
//! and the migrations this paperfeed knows, which to apply now. Pure; each backend runs the
//! plan in its own transaction(s) and records each version it applies.

use crate::StoreError;

/// One schema migration: its version and its SQL. Never edit one that has landed.
pub(crate) type Migration = (i64, &'static str);

/// The migrations of `known` not in `applied`, in order. Every one not applied yet is planned,
/// not only those above the highest applied: migrations written on parallel branches (a 0003
/// landing after a 0004) still reach every store, each exactly once.
///
/// A store that has applied a version this paperfeed does not know was written by a newer one:
/// [`StoreError::SchemaTooNew`], so nothing is applied to it.
pub(crate) fn plan<'a>(
    known: &'a [Migration],
    applied: &[i64],
) -> Result<Vec<&'a Migration>, StoreError> {
    if let Some(&found) = applied.iter().find(|v| !known.iter().any(|(k, _)| k == *v)) {
        return Err(StoreError::SchemaTooNew {
            found,
            known: known.last().map_or(0, |m| m.0),
        });
    }
    Ok(known.iter().filter(|(v, _)| !applied.contains(v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[Migration] = &[(1, "a"), (2, "b"), (3, "c"), (4, "d")];

    fn versions(plan: Result<Vec<&Migration>, StoreError>) -> Vec<i64> {
        plan.map(|p| p.iter().map(|m| m.0).collect())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_new_store_gets_every_migration_in_order() {
        assert_eq!(versions(plan(KNOWN, &[])), [1, 2, 3, 4]);
    }

    #[test]
    fn an_up_to_date_store_gets_none() {
        assert!(versions(plan(KNOWN, &[4, 2, 1, 3])).is_empty());
    }

    #[test]
    fn a_migration_that_landed_out_of_order_is_still_applied() {
        assert_eq!(versions(plan(KNOWN, &[1, 2, 4])), [3]);
    }

    #[test]
    fn a_store_with_a_version_this_paperfeed_does_not_know_is_too_new() {
        assert!(matches!(
            plan(KNOWN, &[1, 2, 3, 4, 5]),
            Err(StoreError::SchemaTooNew { found: 5, known: 4 })
        ));
    }
}
