//! The period a digest covers: a [`Frequency`] and the day it is sent for. Its key is the feed
//! [`Period`] it falls in (`2026-11-30`, `2026-W49`), so a digest period and a feed period of
//! the same span are named alike.

use chrono::{Datelike, Duration, NaiveDate};

use crate::{Frequency, Period};

/// One digest period: the daily digest of a day, or the weekly digest of the ISO week a day
/// falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestPeriod {
    pub frequency: Frequency,
    /// The day the digest is for (its last featured day).
    pub date: NaiveDate,
}

impl DigestPeriod {
    pub fn new(frequency: Frequency, date: NaiveDate) -> Self {
        Self { frequency, date }
    }

    /// The feed period that names it: the day, or the ISO week of the day.
    pub fn period(&self) -> Period {
        match self.frequency {
            Frequency::Daily => Period::Day(self.date),
            Frequency::Weekly => Period::week_of(self.date),
        }
    }

    /// The unique key of the period's jobs: `2026-11-30`, `2026-W49`. Every day of one ISO
    /// week has the same weekly key, so a weekly digest goes out once per week whichever day
    /// it is run.
    pub fn key(&self) -> String {
        self.period().to_string()
    }

    /// How a mail names the period: `Nov 30, 2026`, `week 49 of 2026`.
    pub fn label(&self) -> String {
        match self.frequency {
            Frequency::Daily => self.date.format("%b %-d, %Y").to_string(),
            Frequency::Weekly => {
                let week = self.date.iso_week();
                format!("week {} of {}", week.week(), week.year())
            }
        }
    }

    /// The featured days the digest draws from, inclusive: three days back for a daily digest
    /// (so Monday's covers the weekend's papers too), seven for a weekly one.
    pub fn days(&self) -> (NaiveDate, NaiveDate) {
        let back = match self.frequency {
            Frequency::Daily => 2,
            Frequency::Weekly => 6,
        };
        (self.date - Duration::days(back), self.date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_daily_period_is_keyed_and_labelled_by_its_day_and_draws_from_three_days() {
        let monday = DigestPeriod::new(Frequency::Daily, day(2026, 11, 30));
        assert_eq!(monday.key(), "2026-11-30");
        assert_eq!(monday.label(), "Nov 30, 2026");
        assert_eq!(monday.days(), (day(2026, 11, 28), day(2026, 11, 30)));
        assert_eq!(monday.period(), Period::Day(day(2026, 11, 30)));
    }

    #[test]
    fn a_weekly_period_is_keyed_by_its_iso_week_whichever_day_it_is_for() {
        let monday = DigestPeriod::new(Frequency::Weekly, day(2026, 11, 30));
        let thursday = DigestPeriod::new(Frequency::Weekly, day(2026, 12, 3));
        assert_eq!(monday.key(), "2026-W49");
        assert_eq!(thursday.key(), "2026-W49");
        assert_eq!(monday.label(), "week 49 of 2026");
        assert_eq!(monday.days(), (day(2026, 11, 24), day(2026, 11, 30)));
    }

    #[test]
    fn a_weekly_key_takes_the_iso_year_at_the_turn_of_the_year() {
        let period = DigestPeriod::new(Frequency::Weekly, day(2027, 1, 1));
        assert_eq!(period.key(), "2026-W53");
        assert_eq!(period.label(), "week 53 of 2026");
        let period = DigestPeriod::new(Frequency::Weekly, day(2024, 12, 30));
        assert_eq!(period.key(), "2025-W01");
        assert_eq!(Period::parse_week(&period.key()), Ok(period.period()));
    }
}
