//! The spans a feed can be viewed over: a day, an ISO week or a month.

use std::fmt;

use chrono::{Datelike, Duration, IsoWeek, NaiveDate, Weekday};

/// A span of featured days, inclusive on both ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Day(NaiveDate),
    /// ISO week: year and week number 1–53.
    Week {
        year: i32,
        week: u32,
    },
    Month {
        year: i32,
        month: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {kind}: expected {expected}")]
pub struct PeriodError {
    pub input: String,
    pub kind: &'static str,
    pub expected: &'static str,
}

impl Period {
    pub fn parse_day(input: &str) -> Result<Self, PeriodError> {
        let err = || PeriodError {
            input: input.chars().take(100).collect(),
            kind: "date",
            expected: "a calendar date YYYY-MM-DD such as 2024-03-12",
        };
        if input.len() != 10 {
            return Err(err());
        }
        NaiveDate::parse_from_str(input, "%Y-%m-%d")
            .map(Period::Day)
            .map_err(|_| err())
    }

    pub fn parse_week(input: &str) -> Result<Self, PeriodError> {
        let err = || PeriodError {
            input: input.chars().take(100).collect(),
            kind: "ISO week",
            expected: "YYYY-Www with a week that exists in that year, such as 2024-W11",
        };
        let (year, week) = input.split_once("-W").ok_or_else(err)?;
        if year.len() != 4 || week.len() != 2 {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let week: u32 = week.parse().map_err(|_| err())?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(err)?;
        Ok(Period::Week { year, week })
    }

    pub fn parse_month(input: &str) -> Result<Self, PeriodError> {
        let err = || PeriodError {
            input: input.chars().take(100).collect(),
            kind: "month",
            expected: "YYYY-MM such as 2024-03",
        };
        let (year, month) = input.split_once('-').ok_or_else(err)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let month: u32 = month.parse().map_err(|_| err())?;
        NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(err)?;
        Ok(Period::Month { year, month })
    }

    pub fn week_of(day: NaiveDate) -> Self {
        let w: IsoWeek = day.iso_week();
        Period::Week {
            year: w.year(),
            week: w.week(),
        }
    }

    pub fn month_of(day: NaiveDate) -> Self {
        Period::Month {
            year: day.year(),
            month: day.month(),
        }
    }

    /// First and last day, inclusive.
    pub fn bounds(self) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Day(d) => (d, d),
            Period::Week { year, week } => {
                let start =
                    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).unwrap_or_default();
                (start, start + Duration::days(6))
            }
            Period::Month { year, month } => {
                let start = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
                let next = if month == 12 {
                    NaiveDate::from_ymd_opt(year + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(year, month + 1, 1)
                };
                (start, next.map_or(start, |n| n - Duration::days(1)))
            }
        }
    }

    /// The period just before (`-1`) or after (`+1`) this one, of the same kind.
    pub fn step(self, direction: i32) -> Self {
        match self {
            Period::Day(d) => Period::Day(d + Duration::days(i64::from(direction))),
            Period::Week { .. } => {
                Period::week_of(self.bounds().0 + Duration::days(7 * i64::from(direction)))
            }
            Period::Month { year, month } => {
                let index = year * 12 + month as i32 - 1 + direction;
                Period::Month {
                    year: index.div_euclid(12),
                    month: index.rem_euclid(12) as u32 + 1,
                }
            }
        }
    }

    /// The URL path segment: `2024-03-12`, `2024-W11`, `2024-03`.
    pub fn slug(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Period::Week { year, week } => write!(f, "{year:04}-W{week:02}"),
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_weeks_and_months_parse_and_print_back() {
        for (s, parse) in [
            ("2024-03-12", Period::parse_day as fn(&str) -> _),
            ("2024-W11", Period::parse_week),
            ("2020-W53", Period::parse_week),
            ("2024-03", Period::parse_month),
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn impossible_periods_are_refused_with_the_expected_form() {
        assert!(
            Period::parse_day("2024-02-30")
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
        assert!(Period::parse_day("2024-3-1").is_err());
        assert!(
            Period::parse_week("2024-W54")
                .unwrap_err()
                .to_string()
                .contains("YYYY-Www")
        );
        assert!(Period::parse_week("2021-W53").is_err());
        assert!(Period::parse_month("2024-13").is_err());
        assert!(Period::parse_month("<script>").is_err());
    }

    #[test]
    fn bounds_and_steps_cover_the_calendar() {
        let week = Period::parse_week("2024-W01").unwrap();
        assert_eq!(week.bounds().0.to_string(), "2024-01-01");
        assert_eq!(week.step(-1).to_string(), "2023-W52");
        let month = Period::parse_month("2024-02").unwrap();
        assert_eq!(month.bounds().1.to_string(), "2024-02-29");
        assert_eq!(month.step(-2).to_string(), "2023-12");
        assert_eq!(
            Period::parse_month("2024-12").unwrap().step(1).to_string(),
            "2025-01"
        );
    }
}
