//! Query parameters as HF's clients send them. Every parameter arrives as an optional string
//! and is parsed here, so that a bad value gets a 400 that names it and says why; an empty
//! value counts as absent.

use crate::api::error::ApiError;

/// Entries per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 100;
/// The deepest page (`p`) accepted; beyond it, narrow the period instead.
pub const MAX_PAGE: usize = 10_000;

/// The value of a parameter, `None` when absent or empty.
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A whole number in `range`, or a 400 naming `parameter`.
fn number_in(
    parameter: &str,
    value: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::bad_parameter(
                parameter,
                format!(
                    "{parameter}={:?} must be a whole number from {} to {}",
                    value.chars().take(40).collect::<String>(),
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(value: &Option<String>) -> Result<usize, ApiError> {
    given(value).map_or(Ok(DEFAULT_LIMIT), |v| number_in("limit", v, 1..=MAX_LIMIT))
}

/// `p`: a 0-based page number, 0 when absent.
pub fn page(value: &Option<String>) -> Result<usize, ApiError> {
    given(value).map_or(Ok(0), |v| number_in("p", v, 0..=MAX_PAGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_one_to_a_hundred_are_refused_and_empty_means_the_default() {
        assert_eq!(limit(&None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(&Some(String::new())).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(&Some("100".into())).unwrap(), 100);
        for bad in ["0", "1000", "-1", "ten", "1e3", "99999999999999999999999"] {
            assert!(limit(&Some(bad.into())).is_err(), "{bad}");
        }
        assert_eq!(page(&Some("3".into())).unwrap(), 3);
        assert!(page(&Some("-1".into())).is_err());
    }
}
