//! The hub's trending clock ([`paperfeed_core::TrendingClock`]) as the pages, feeds and API read
//! it: from the store's newest featured day and the wall clock, so every surface ranks as of the
//! same moment, and an old archive as of its newest day.

use paperfeed_core::TrendingClock;
use paperfeed_store::StoreError;

use crate::state::AppState;

/// The clock now, for this hub.
pub async fn now(state: &AppState) -> Result<TrendingClock, StoreError> {
    let newest = state.store.latest_featured_day().await?;
    Ok(TrendingClock::new(newest, chrono::Utc::now()))
}

/// What a trending list says when the clock stopped: which day it counts from, and why.
pub fn note(clock: &TrendingClock) -> Option<String> {
    clock.stopped_after.map(|day| {
        format!(
            "This archive's newest featured day is {}, so trending is ranked as of {} UTC, \
             {} hours after that day began, not as of today (when every paper would score ≈0).",
            day.format("%B %-d, %Y"),
            clock.as_of.format("%B %-d, %Y %H:%M"),
            paperfeed_core::ARCHIVE_CLOCK_HOURS
        )
    })
}
