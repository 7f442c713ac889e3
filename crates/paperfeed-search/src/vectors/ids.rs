//! Which paper each row belongs to, and which rows are live.
//!
//! On disk every row has a 32-byte slot: the id's length, a flag byte (bit 0: the row removes
//! the paper) and the id, zero-padded (the longest arXiv id, `archive.SUBJ/YYMMNNN`, has 29
//! bytes). In memory the ids are kept back to back (about 10 bytes a paper), with a hash table
//! of row numbers that compares keys through them: 3.2 million papers take about 60 MB, where a
//! `HashMap<ArxivId, usize>` would take about 250. A row is dead when a later row has the same
//! id (the later one wins) or when it is a removal.

use std::hash::BuildHasher as _;

use hashbrown::HashTable;
use paperfeed_core::ArxivId;

/// Bytes of one id slot on disk.
pub(super) const SLOT: usize = 32;
const MAX_ID: usize = SLOT - 2;
const REMOVED: u8 = 1;

/// One id slot as written to disk.
pub(super) fn encode_slot(id: &ArxivId, removed: bool, out: &mut Vec<u8>) {
    let bytes = id.as_str().as_bytes();
    // Every valid arXiv id fits (see the module comment); a longer one would be cut and not
    // found again, never overflow the slot.
    let len = bytes.len().min(MAX_ID);
    out.push(len as u8);
    out.push(if removed { REMOVED } else { 0 });
    out.extend_from_slice(&bytes[..len]);
    out.resize(out.len() + MAX_ID - len, 0);
}

/// The id and the removal flag of a slot, or why it cannot be read.
pub(super) fn decode_slot(slot: &[u8]) -> Result<(&str, bool), String> {
    let len = usize::from(slot[0]);
    if len == 0 || len > MAX_ID {
        return Err(format!("an id slot has length {len}"));
    }
    let id =
        std::str::from_utf8(&slot[2..2 + len]).map_err(|_| "an id slot is not UTF-8".to_owned())?;
    Ok((id, slot[1] & REMOVED != 0))
}

/// Row ids, the live row of each paper, and the dead rows.
#[derive(Debug, Default)]
pub(super) struct Ids {
    /// Every row's id, back to back; row `r` is `text[ends[r - 1]..ends[r]]`.
    text: Vec<u8>,
    ends: Vec<u32>,
    /// The live row of each paper, hashed by its id.
    live: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// One bit per row: set when the row is dead.
    dead: Vec<u64>,
    dead_count: usize,
}

impl Ids {
    pub(super) fn rows(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn live(&self) -> usize {
        self.live.len()
    }

    pub(super) fn dead(&self) -> usize {
        self.dead_count
    }

    pub(super) fn id_of(&self, row: usize) -> &str {
        let start = if row == 0 {
            0
        } else {
            self.ends[row - 1] as usize
        };
        // Only valid ids are pushed (from `ArxivId` or checked slots).
        std::str::from_utf8(&self.text[start..self.ends[row] as usize]).unwrap_or_default()
    }

    /// The paper of a row, for results.
    pub(super) fn arxiv_id(&self, row: usize) -> Option<ArxivId> {
        ArxivId::parse(self.id_of(row)).ok()
    }

    pub(super) fn is_dead(&self, row: usize) -> bool {
        self.dead[row / 64] & (1 << (row % 64)) != 0
    }

    /// The dead bits of rows `64 × word ..`, a word at a time.
    pub(super) fn dead_words(&self) -> &[u64] {
        &self.dead
    }

    fn kill(&mut self, row: usize) {
        let bit = 1 << (row % 64);
        if self.dead[row / 64] & bit == 0 {
            self.dead[row / 64] |= bit;
            self.dead_count += 1;
        }
    }

    /// The live row of `id`.
    pub(super) fn row_of(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id.as_bytes());
        self.live
            .find(hash, |&row| self.id_of(row as usize) == id)
            .map(|&row| row as usize)
    }

    /// Adds the next row, for `id`: its earlier row dies; a removal is dead from the start.
    /// `None` when the index has as many rows as it can number.
    pub(super) fn push(&mut self, id: &str, removed: bool) -> Option<()> {
        let row = self.ends.len();
        let row32 = u32::try_from(row).ok()?;
        let end = u32::try_from(self.text.len() + id.len()).ok()?;
        self.text.extend_from_slice(id.as_bytes());
        self.ends.push(end);
        if row.is_multiple_of(64) {
            self.dead.push(0);
        }
        let Ids {
            text,
            ends,
            live,
            hasher,
            ..
        } = self;
        let id_at = |r: u32| -> &[u8] {
            let r = r as usize;
            let start = if r == 0 { 0 } else { ends[r - 1] as usize };
            &text[start..ends[r] as usize]
        };
        let hash = hasher.hash_one(id.as_bytes());
        let earlier = match live.entry(
            hash,
            |&r| id_at(r) == id.as_bytes(),
            |&r| hasher.hash_one(id_at(r)),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut entry) => {
                let earlier = *entry.get();
                if removed {
                    entry.remove();
                } else {
                    *entry.get_mut() = row32;
                }
                Some(earlier as usize)
            }
            hashbrown::hash_table::Entry::Vacant(entry) => {
                if !removed {
                    entry.insert(row32);
                }
                None
            }
        };
        if let Some(earlier) = earlier {
            self.kill(earlier);
        }
        if removed {
            self.kill(row);
        }
        Some(())
    }

    /// Live rows in row order, with their ids.
    pub(super) fn live_rows(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.rows()).filter(|&r| !self.is_dead(r))
    }
}
