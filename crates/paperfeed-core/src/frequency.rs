//! How often a subscriber is mailed.

use std::fmt;
use std::str::FromStr;

/// How often a subscriber gets a digest. Stored, shown and typed as `daily` / `weekly`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Frequency {
    /// Weekdays, like Hugging Face's daily mail.
    #[default]
    Daily,
    /// Mondays, covering the week before.
    Weekly,
}

impl Frequency {
    pub const ALL: [Frequency; 2] = [Frequency::Daily, Frequency::Weekly];

    /// The stored and typed name: `daily` or `weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is neither `daily` nor `weekly`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a digest frequency: expected daily or weekly")]
pub struct FrequencyError {
    pub input: String,
}

impl FromStr for Frequency {
    type Err = FrequencyError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input {
            "daily" => Ok(Frequency::Daily),
            "weekly" => Ok(Frequency::Weekly),
            _ => Err(FrequencyError {
                input: input.chars().take(100).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frequency_reads_back_from_its_name() {
        for f in Frequency::ALL {
            assert_eq!(f.as_str().parse::<Frequency>(), Ok(f));
        }
    }

    #[test]
    fn an_unknown_name_is_refused_by_name() {
        let err = "hourly".parse::<Frequency>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"hourly\" is not a digest frequency: expected daily or weekly"
        );
    }
}
