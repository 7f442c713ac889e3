//! The trending score, documented so that every paper page can show why it ranks where it does.
//!
//! ```text
//! points = upvotes + 2 × comments + ln(1 + GitHub stars)      (stars only when known)
//! score  = points / (hours since featured + 2) ^ 1.5
//! ```
//!
//! Comments weigh double (a discussion is more than a click); stars count logarithmically so a
//! famous repository lifts a paper without drowning the votes; the gravity `1.5` with a 2-hour
//! offset (as Hacker News ranks) lets a fresh paper with few votes pass an old one with many.
//! Hours count from the start (00:00 UTC) of the paper's latest featured day.
//!
//! "Now" is the hub's [`TrendingClock`]: the wall clock while papers keep coming, and for an
//! archive whose newest featured day is older than [`ARCHIVE_CLOCK_HOURS`], the moment that many
//! hours after that day began. Otherwise an old archive (a sample, a hub that stopped polling)
//! would divide every score by weeks of hours: all ≈0, and age would hardly separate a paper of
//! its last day from one of the week before.

use chrono::{DateTime, NaiveDate, Utc};

/// The exponent of the age decay.
pub const GRAVITY: f64 = 1.5;
/// Hours added to the age, so a paper featured this minute does not divide by zero.
pub const AGE_OFFSET_HOURS: f64 = 2.0;
/// What one comment is worth, in upvotes.
pub const COMMENT_WEIGHT: f64 = 2.0;

/// The terms of one paper's score, kept so a page can show them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrendingTerms {
    pub upvotes: i64,
    pub comments: i64,
    pub github_stars: Option<i64>,
    pub hours_since_featured: f64,
    /// `upvotes + 2·comments + ln(1 + stars)`.
    pub points: f64,
    /// `(hours + 2) ^ 1.5`.
    pub decay: f64,
    pub score: f64,
}

/// The score of a paper featured on `featured` with these counts, as of `now`. A day in the
/// future counts as featured now.
pub fn trending_score(
    upvotes: i64,
    comments: i64,
    github_stars: Option<i64>,
    featured: NaiveDate,
    now: DateTime<Utc>,
) -> TrendingTerms {
    let start = featured.and_time(chrono::NaiveTime::MIN).and_utc();
    #[expect(
        clippy::cast_precision_loss,
        reason = "seconds since featuring fit f64 exactly for any real date"
    )]
    let hours = ((now - start).num_seconds().max(0) as f64) / 3600.0;
    #[expect(
        clippy::cast_precision_loss,
        reason = "vote, comment and star counts are far below 2^52"
    )]
    let points = upvotes.max(0) as f64
        + COMMENT_WEIGHT * comments.max(0) as f64
        + github_stars.map_or(0.0, |s| (s.max(0) as f64).ln_1p());
    let decay = (hours + AGE_OFFSET_HOURS).powf(GRAVITY);
    TrendingTerms {
        upvotes,
        comments,
        github_stars,
        hours_since_featured: hours,
        points,
        decay,
        score: points / decay,
    }
}

/// How long after its newest featured day began the hub's trending clock keeps running: three
/// days, so a weekend without papers never stops it.
pub const ARCHIVE_CLOCK_HOURS: i64 = 72;

/// The moment trending is ranked as of, for every surface of one hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrendingClock {
    pub as_of: DateTime<Utc>,
    /// The archive's newest featured day, when the clock stopped there (the archive is old);
    /// `None` while it runs with the wall clock.
    pub stopped_after: Option<NaiveDate>,
}

impl TrendingClock {
    /// The clock of a hub whose newest featured day is `newest`, at wall-clock time `now`.
    pub fn new(newest: Option<NaiveDate>, now: DateTime<Utc>) -> Self {
        let running = Self {
            as_of: now,
            stopped_after: None,
        };
        let Some(newest) = newest else {
            return running;
        };
        let stop = newest.and_time(chrono::NaiveTime::MIN).and_utc()
            + chrono::Duration::hours(ARCHIVE_CLOCK_HOURS);
        if now <= stop {
            return running;
        }
        Self {
            as_of: stop,
            stopped_after: Some(newest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_fresh_paper_with_few_votes_passes_an_old_one_with_many() {
        let now = at("2026-08-21T12:00:00Z");
        let fresh = trending_score(20, 0, None, day("2026-08-21"), now);
        let old = trending_score(200, 0, None, day("2026-08-14"), now);
        assert!(fresh.score > old.score, "{fresh:?} vs {old:?}");
    }

    #[test]
    fn the_terms_add_up_to_the_documented_formula() {
        let t = trending_score(
            10,
            3,
            Some(99),
            day("2026-08-21"),
            at("2026-08-21T07:00:00Z"),
        );
        assert!((t.hours_since_featured - 7.0).abs() < 1e-9);
        assert!((t.points - (10.0 + 6.0 + 100f64.ln())).abs() < 1e-9);
        assert!((t.decay - 9f64.powf(1.5)).abs() < 1e-9);
        assert!((t.score - t.points / t.decay).abs() < 1e-12);
    }

    #[test]
    fn an_old_archive_is_ranked_as_of_its_newest_day_not_weeks_later() {
        let newest = day("2024-05-14");
        let live = TrendingClock::new(Some(newest), at("2024-05-16T23:00:00Z"));
        assert_eq!(
            live.as_of,
            at("2024-05-16T23:00:00Z"),
            "a weekend keeps it running"
        );
        assert_eq!(live.stopped_after, None);
        let old = TrendingClock::new(Some(newest), at("2026-08-21T12:00:00Z"));
        assert_eq!(old.as_of, at("2024-05-17T00:00:00Z"));
        assert_eq!(old.stopped_after, Some(newest));
        // As of the stopped clock, the last day's papers still lead and scores are not ≈0.
        let fresh = trending_score(20, 0, None, newest, old.as_of);
        let week_before = trending_score(60, 0, None, day("2024-05-07"), old.as_of);
        assert!(
            fresh.score > week_before.score,
            "{fresh:?} vs {week_before:?}"
        );
        assert!(fresh.score > 0.01, "{fresh:?}");
        let empty = TrendingClock::new(None, at("2026-08-21T12:00:00Z"));
        assert_eq!(empty.stopped_after, None);
    }

    #[test]
    fn comments_count_double_and_a_future_day_counts_as_now() {
        let now = at("2026-08-21T00:00:00Z");
        let votes = trending_score(2, 0, None, day("2026-08-22"), now);
        let comment = trending_score(0, 1, None, day("2026-08-22"), now);
        assert_eq!(votes.score, comment.score);
        assert_eq!(votes.hours_since_featured, 0.0);
    }
}
