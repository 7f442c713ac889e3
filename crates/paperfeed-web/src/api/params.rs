//! Query, path and body values as HF's clients send them. Every value arrives as a string and
//! is checked here against the same pattern the OpenAPI document states for it, so the
//! document says exactly what the server accepts: a value that fits its pattern is never
//! refused as malformed, and one that does not gets a 400 that names the parameter and why.

use std::sync::LazyLock;

use paperfeed_core::{ArxivId, Period};
use regex::Regex;

use crate::api::error::ApiError;

/// Entries per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 100;
/// The deepest page (`p`) accepted; beyond it, narrow the period instead.
pub const MAX_PAGE: usize = 10_000;

// The patterns below are written for three regex engines at once: the document's readers
// (ECMA-262, as JSON Schema says), schemathesis (Python) and this server (the `regex` crate).
// So: ASCII classes only (`\d` is any Unicode digit in Python), anchors on both ends, no
// look-around.

/// An arXiv id in canonical form: new style (`YYMM.NNNNN`; four digits up to 1412) or old
/// style (`archive[.SUBJECT]/YYMMNNN`). The pattern of [`ArxivId`]'s canonical string.
macro_rules! canonical_id {
    () => {
        concat!(
            "(?:[0-9]{2}(?:0[1-9]|1[0-2])[.][0-9]{5}",
            "|(?:0[0-9]|1[0-4])(?:0[1-9]|1[0-2])[.][0-9]{4}",
            "|[a-z][a-z-]{0,15}(?:[.][A-Z]{1,4})?/[0-9]{2}(?:0[1-9]|1[0-2])[0-9]{3})"
        )
    };
}

/// A version suffix, `v1` to `v9999`.
macro_rules! version {
    () => {
        "(?:v[1-9][0-9]{0,3})?"
    };
}

/// An arXiv id as a path parameter of the API: canonical, optionally with an `arXiv:` prefix
/// and a version suffix (both dropped).
pub const ID_PATTERN: &str = concat!("^(?:arXiv:)?", canonical_id!(), version!(), "$");
/// Where a newest-first listing stopped (`before` of `/api/me/following`): milliseconds since
/// the epoch, `~`, a canonical arXiv id.
pub const LISTING_CURSOR_PATTERN: &str = concat!("^[0-9]{1,15}~", canonical_id!(), "$");
/// A page size of 1 to 100, as a query parameter (`limit` of the personal listings).
pub const LIMIT_100_PATTERN: &str = "^(?:[1-9][0-9]?|100)$";
/// `limit` of `/api/suggest`: 1 to 10.
pub const LIMIT_10_PATTERN: &str = "^(?:[1-9]|10)$";
/// The kinds of things a reader follows.
pub const FOLLOW_KIND_PATTERN: &str = "^(?:author|organization|category|search)$";
/// A positive whole number that fits 64 bits (a saved search's id).
pub const POSITIVE_ID_PATTERN: &str = "^[1-9][0-9]{0,17}$";
/// A canonical arXiv id, no prefix or version: `cursor`, and `/papers/{id}.md`.
pub const CANONICAL_ID_PATTERN: &str = concat!("^", canonical_id!(), "$");
/// What a submission may name: an id as [`ID_PATTERN`], or an arXiv abs/pdf URL of one.
pub const SUBMIT_PATTERN: &str = concat!(
    "^(?:arXiv:|https?://(?:www[.]|export[.])?arxiv[.]org/(?:abs|pdf)/)?",
    canonical_id!(),
    version!(),
    "(?:[.]pdf)?$"
);
/// A day, `YYYY-MM-DD`. Days the calendar lacks (`2026-02-30`) fit and get a 404.
pub const DATE_PATTERN: &str = "^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$";
/// An ISO week, `YYYY-Www`. A week 53 in a year of 52 fits and gets a 404.
pub const WEEK_PATTERN: &str = "^[0-9]{4}-W(?:0[1-9]|[1-4][0-9]|5[0-3])$";
/// A month, `YYYY-MM`.
pub const MONTH_PATTERN: &str = "^[0-9]{4}-(?:0[1-9]|1[0-2])$";

/// A pattern compiled once. The patterns are constants checked by the unit tests below; one
/// that failed to compile would match nothing (every value refused) rather than take the
/// server down.
struct Pattern(LazyLock<Option<Regex>>);

impl Pattern {
    const fn new(init: fn() -> Option<Regex>) -> Self {
        Self(LazyLock::new(init))
    }

    fn fits(&self, value: &str) -> bool {
        self.0.as_ref().is_some_and(|re| re.is_match(value))
    }
}

fn compiled(pattern: &'static str) -> Option<Regex> {
    Regex::new(pattern)
        .inspect_err(|e| tracing::error!(pattern, error = %e, "an API pattern does not compile"))
        .ok()
}

static ID: Pattern = Pattern::new(|| compiled(ID_PATTERN));
static CANONICAL_ID: Pattern = Pattern::new(|| compiled(CANONICAL_ID_PATTERN));
static SUBMIT: Pattern = Pattern::new(|| compiled(SUBMIT_PATTERN));
static DATE: Pattern = Pattern::new(|| compiled(DATE_PATTERN));
static WEEK: Pattern = Pattern::new(|| compiled(WEEK_PATTERN));
static MONTH: Pattern = Pattern::new(|| compiled(MONTH_PATTERN));

/// At most this much of a refused value is quoted back.
const QUOTED_CHARS: usize = 40;

fn quoted(value: &str) -> String {
    format!("{:?}", value.chars().take(QUOTED_CHARS).collect::<String>())
}

/// The value of a free-text parameter (`q`, `submitter`), `None` when absent or empty: the
/// document says an empty one means "not given".
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A whole number (ASCII digits only) in `range`, or a 400 naming `parameter`.
fn number_in(
    parameter: &str,
    value: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ApiError> {
    Some(value)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::bad_parameter(
                parameter,
                format!(
                    "{parameter}={} must be a whole number from {} to {}",
                    quoted(value),
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(value: &Option<String>) -> Result<usize, ApiError> {
    value
        .as_deref()
        .map_or(Ok(DEFAULT_LIMIT), |v| number_in("limit", v, 1..=MAX_LIMIT))
}

/// A `limit` from 1 to `max`, `default` when absent.
pub fn limit_within(value: &Option<String>, default: usize, max: usize) -> Result<usize, ApiError> {
    value
        .as_deref()
        .map_or(Ok(default), |v| number_in("limit", v, 1..=max))
}

/// `p`: a 0-based page number, 0 when absent.
pub fn page(value: &Option<String>) -> Result<usize, ApiError> {
    value
        .as_deref()
        .map_or(Ok(0), |v| number_in("p", v, 0..=MAX_PAGE))
}

/// An arXiv id in `parameter` as the path parameter `{id}` takes it ([`ID_PATTERN`]).
pub fn arxiv_id(parameter: &str, raw: &str) -> Result<ArxivId, ApiError> {
    id_matching(&ID, "an arXiv id such as 2608.19880", parameter, raw)
}

/// A canonical arXiv id ([`CANONICAL_ID_PATTERN`]).
pub fn canonical_arxiv_id(parameter: &str, raw: &str) -> Result<ArxivId, ApiError> {
    id_matching(
        &CANONICAL_ID,
        "an arXiv id such as 2608.19880, without prefix or version",
        parameter,
        raw,
    )
}

/// What a submission names ([`SUBMIT_PATTERN`]).
pub fn submitted_id(parameter: &str, raw: &str) -> Result<ArxivId, ApiError> {
    id_matching(
        &SUBMIT,
        "an arXiv id such as 2608.19880 or its https://arxiv.org/abs/ URL",
        parameter,
        raw,
    )
}

fn id_matching(
    pattern: &Pattern,
    expected: &str,
    parameter: &str,
    raw: &str,
) -> Result<ArxivId, ApiError> {
    if !pattern.fits(raw) {
        return Err(ApiError::bad_parameter(
            parameter,
            format!(
                "{parameter}={} is not {expected} (the pattern is in /api/openapi.json)",
                quoted(raw)
            ),
        ));
    }
    // Everything the patterns admit is a form the id parser reads; should the two ever
    // disagree, the parser's reason is the answer.
    ArxivId::parse(raw).map_err(|e| ApiError::bad_parameter(parameter, e.to_string()))
}

/// A featured-day span named by `parameter` (`date`, `week` or `month`): a 400 when the value
/// does not fit its pattern, a 404 when it fits but the calendar has no such day or week.
pub fn period(parameter: &str, value: &str) -> Result<Period, ApiError> {
    type Parse = fn(&str) -> Result<Period, paperfeed_core::PeriodError>;
    let (pattern, shape, parse): (&Pattern, &str, Parse) = match parameter {
        "date" => (&DATE, "YYYY-MM-DD", Period::parse_day),
        "week" => (
            &WEEK,
            "YYYY-Www with a week from 01 to 53",
            Period::parse_week,
        ),
        _ => (&MONTH, "YYYY-MM", Period::parse_month),
    };
    if !pattern.fits(value) {
        return Err(ApiError::bad_parameter(
            parameter,
            format!("{parameter}={} is not {shape}", quoted(value)),
        ));
    }
    parse(value).map_err(|e| ApiError::no_such_period(parameter, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for pattern in [
            ID_PATTERN,
            CANONICAL_ID_PATTERN,
            SUBMIT_PATTERN,
            DATE_PATTERN,
            WEEK_PATTERN,
            MONTH_PATTERN,
        ] {
            Regex::new(pattern).unwrap();
        }
    }

    #[test]
    fn limits_outside_one_to_a_hundred_are_refused_and_absent_means_the_default() {
        assert_eq!(limit(&None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(&Some("100".into())).unwrap(), 100);
        assert_eq!(limit(&Some("007".into())).unwrap(), 7);
        for bad in [
            "",
            "0",
            "1000",
            "-1",
            "+5",
            " 5",
            "ten",
            "1e3",
            "5.0",
            "١",
            "99999999999999999999",
        ] {
            assert!(limit(&Some(bad.into())).is_err(), "{bad:?}");
        }
        assert_eq!(page(&Some("3".into())).unwrap(), 3);
        assert!(page(&Some("-1".into())).is_err());
    }

    #[test]
    fn the_id_patterns_admit_exactly_ids_the_parser_reads() {
        for good in [
            "2608.19880",
            "2608.19880v12",
            "arXiv:2608.19880",
            "1412.1234",
            "0704.0001v1",
            "hep-th/9901001",
            "math.GT/0309136v2",
            "solv-int/9901001",
        ] {
            let id = arxiv_id("id", good).unwrap_or_else(|e| panic!("{good}: {e:?}"));
            assert!(good.contains(id.as_str()), "{good} → {id}");
        }
        for bad in [
            "",
            "2608.1988",
            "2613.19880",
            "1501.1234",
            "2608.19880v0",
            "2608.19880v",
            " 2608.19880",
            "2608.19880\n",
            "ARXIV:2608.19880",
            "２６０８.19880",
            "Hep-th/9901001",
            "-th/9901001",
            "search",
        ] {
            assert!(arxiv_id("id", bad).is_err(), "{bad:?}");
        }
        assert!(canonical_arxiv_id("cursor", "2608.19880").is_ok());
        assert!(canonical_arxiv_id("cursor", "2608.19880v1").is_err());
        for good in [
            "2608.19880",
            "https://arxiv.org/abs/2510.14968v1",
            "http://export.arxiv.org/pdf/2510.14968v2.pdf",
            "arXiv:hep-th/9901001",
        ] {
            assert!(submitted_id("arxivId", good).is_ok(), "{good}");
        }
        for bad in ["not an id", "https://example.org/abs/2510.14968", ""] {
            assert!(submitted_id("arxivId", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_that_fit_their_pattern_but_not_the_calendar_are_not_found_not_malformed() {
        assert!(period("date", "2026-08-21").is_ok());
        assert!(period("week", "2026-W53").is_ok(), "2026 has 53 ISO weeks");
        assert!(period("month", "0000-01").is_ok());
        for (parameter, value, status) in [
            ("date", "2026-02-30", 404),
            ("week", "2021-W53", 404),
            ("date", "2026-8-1", 400),
            ("week", "2026-W54", 400),
            ("month", "2026-13", 400),
            ("month", "", 400),
        ] {
            let e = period(parameter, value).unwrap_err();
            assert_eq!(e.status().as_u16(), status, "{parameter}={value}");
        }
    }
}
