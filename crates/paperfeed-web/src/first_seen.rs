//! When this process first saw each state of the store and index, for `Last-Modified`.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// When this process first saw each state, for `Last-Modified`.
#[derive(Default)]
pub struct FirstSeen {
    inner: Mutex<Option<(u64, DateTime<Utc>)>>,
}

impl FirstSeen {
    pub(crate) fn at(&self, state: u64) -> DateTime<Utc> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match *inner {
            Some((seen, at)) if seen == state => at,
            _ => {
                // HTTP dates have whole seconds; round down so a client's copy compares equal.
                let now = Utc::now();
                let at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
                *inner = Some((state, at));
                at
            }
        }
    }
}
