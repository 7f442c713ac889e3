//! The models built so far, one per reader (and per collection), kept in memory so a page load
//! updates a model by the signals that changed instead of building it again. Derived data:
//! bounded in bytes, least recently used out first; a model that is evicted (or lost with the
//! process) is rebuilt from the reader's signals on their next load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use paperfeed_core::ArxivId;
use paperfeed_search::recommend::ReaderModel;
use paperfeed_store::UserId;

use super::evidence::{ExampleKey, Held};

/// Whose model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Owner {
    Reader(UserId),
    Collection(i64),
}

/// One owner's model, what it was built from, and the papers near it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Entry {
    pub model: Arc<ReaderModel>,
    pub held: HashMap<ExampleKey, Held>,
    /// Papers near the model (by sentence vector), candidates beside the newest papers: a new
    /// positive's own neighbours join at once, the whole set is found again in the background
    /// after each change.
    pub neighbours: Arc<Vec<ArxivId>>,
    /// Grows with every change of the model: a background search for neighbours started
    /// before the latest change does not overwrite the one started after it.
    pub generation: u64,
}

impl Entry {
    /// Roughly what the entry holds, in bytes: its examples' vectors and terms.
    fn bytes(&self) -> usize {
        let examples: usize = self
            .model
            .examples()
            .iter()
            .map(|e| e.vector.as_ref().map_or(0, |v| v.len() * 4) + e.terms.len() * 8 + 96)
            .sum();
        examples + self.held.len() * 96 + self.neighbours.len() * 40 + 256
    }
}

struct Slot {
    entry: Arc<tokio::sync::Mutex<Entry>>,
    last_used: u64,
    bytes: usize,
}

/// The models, at most `budget` bytes of them (as last measured).
pub(crate) struct ModelCache {
    slots: Mutex<(HashMap<Owner, Slot>, u64)>,
    budget: usize,
}

impl ModelCache {
    pub fn new(budget: usize) -> Self {
        Self {
            slots: Mutex::new((HashMap::new(), 0)),
            budget,
        }
    }

    /// The owner's entry (an empty one the first time), to lock while it is brought up to
    /// date; several loads of one reader's page take turns.
    pub fn entry(&self, owner: Owner) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let (slots, clock) = &mut *guard;
        *clock += 1;
        let now = *clock;
        let slot = slots.entry(owner).or_insert_with(|| Slot {
            entry: Arc::default(),
            last_used: now,
            bytes: 0,
        });
        slot.last_used = now;
        Arc::clone(&slot.entry)
    }

    /// Notes the size of the owner's entry after an update, and evicts the least recently
    /// used entries while the cache is over its budget (never the one just used).
    pub fn measured(&self, owner: Owner, entry: &Entry) {
        let mut guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let (slots, _) = &mut *guard;
        if let Some(slot) = slots.get_mut(&owner) {
            slot.bytes = entry.bytes();
        }
        let mut total: usize = slots.values().map(|s| s.bytes).sum();
        while total > self.budget {
            let Some(oldest) = slots
                .iter()
                .filter(|(o, _)| **o != owner)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(o, _)| *o)
            else {
                break;
            };
            if let Some(gone) = slots.remove(&oldest) {
                total -= gone.bytes;
            }
        }
    }

    /// Forgets an owner's model (a deleted collection, a deleted account).
    pub fn forget(&self, owner: Owner) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .remove(&owner);
    }

    /// How many models are kept, and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        (guard.0.len(), guard.0.values().map(|s| s.bytes).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paperfeed_search::recommend::{Example, SignalKind, Source, SparseVector};

    fn entry_with(examples: usize) -> Entry {
        let model = ReaderModel::from_examples((0..examples).map(|i| Example {
            source: Source::Paper(ArxivId::parse(&format!("2401.{:05}", i + 1)).unwrap()),
            kind: SignalKind::Saved,
            vector: Some(vec![0.1; 384]),
            terms: SparseVector::from_weights([(i as u32, 1.0)]),
        }));
        Entry {
            model: Arc::new(model),
            ..Entry::default()
        }
    }

    #[test]
    fn the_least_recently_used_model_leaves_when_the_budget_is_passed() {
        let one = entry_with(10).bytes();
        let cache = ModelCache::new(one * 2 + one / 2);
        let owners = [
            Owner::Reader(UserId(1)),
            Owner::Reader(UserId(2)),
            Owner::Collection(3),
        ];
        for owner in owners {
            let _ = cache.entry(owner);
            cache.measured(owner, &entry_with(10));
        }
        assert_eq!(cache.usage().0, 2, "the first one left");
        let _ = cache.entry(owners[1]);
        let fourth = Owner::Reader(UserId(4));
        let _ = cache.entry(fourth);
        cache.measured(fourth, &entry_with(10));
        let (count, bytes) = cache.usage();
        assert_eq!(count, 2);
        assert!(bytes <= one * 2 + one / 2);
        let kept: Vec<Owner> = cache.slots.lock().unwrap().0.keys().copied().collect();
        assert!(kept.contains(&owners[1]), "used recently: kept");
        assert!(kept.contains(&fourth));
        cache.forget(fourth);
        assert_eq!(cache.usage().0, 1);
    }
}
