//! arXiv identifiers: parsing every form people paste, printing one canonical form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A paper's arXiv identifier without its version, in canonical form:
/// new style `2309.11523` (or `0704.0001` for 2007–2014 four-digit numbers) and
/// old style `hep-th/9901001` / `math.GT/0309136`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArxivId(String);

/// An arXiv id together with the version that was named, if any (`2309.11523v2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedArxivId {
    pub id: ArxivId,
    pub version: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not an arXiv id: {reason}; expected a new-style id like 2309.11523 or 2309.11523v2, \
     an old-style id like hep-th/9901001 or math.GT/0309136, optionally prefixed with \"arXiv:\" or \
     given as an arxiv.org/abs/… or arxiv.org/pdf/… URL"
)]
pub struct ArxivIdError {
    pub input: String,
    pub reason: &'static str,
}

impl ArxivId {
    /// Parses any accepted form and drops the version.
    pub fn parse(input: &str) -> Result<Self, ArxivIdError> {
        VersionedArxivId::parse(input).map(|v| v.id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for pre-2007 ids such as `hep-th/9901001`.
    pub fn is_old_style(&self) -> bool {
        self.0.contains('/')
    }

    pub fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{}", self.0)
    }

    pub fn pdf_url(&self) -> String {
        format!("https://arxiv.org/pdf/{}", self.0)
    }
}

impl VersionedArxivId {
    pub fn parse(input: &str) -> Result<Self, ArxivIdError> {
        let err = |reason| ArxivIdError {
            input: input.chars().take(200).collect(),
            reason,
        };
        let mut s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        s = strip_url(s);
        if let Some(rest) = strip_prefix_ignore_case(s, "arxiv:") {
            s = rest.trim_start();
        }
        let s = s.strip_suffix(".pdf").unwrap_or(s);
        let s = s.trim_end_matches('/');

        let (base, version) =
            split_version(s).ok_or_else(|| err("the version suffix is malformed"))?;
        if let Some((archive, number)) = base.split_once('/') {
            if !valid_archive(archive) {
                return Err(err("the archive before '/' is not like hep-th or math.GT"));
            }
            if !valid_old_number(number) {
                return Err(err("an old-style id needs 7 digits YYMMNNN after the '/'"));
            }
        } else if !valid_new_style(base) {
            return Err(err(
                "a new-style id is YYMM.NNNN or YYMM.NNNNN with a month 01–12",
            ));
        }
        Ok(Self {
            id: ArxivId(base.to_owned()),
            version,
        })
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Removes `http(s)://(www.|export.)arxiv.org/(abs|pdf)/` when present.
fn strip_url(s: &str) -> &str {
    let without_scheme = strip_prefix_ignore_case(s, "https://")
        .or_else(|| strip_prefix_ignore_case(s, "http://"))
        .unwrap_or(s);
    let host_less = ["www.arxiv.org/", "export.arxiv.org/", "arxiv.org/"]
        .iter()
        .find_map(|host| strip_prefix_ignore_case(without_scheme, host));
    let Some(path) = host_less else { return s };
    ["abs/", "pdf/"]
        .iter()
        .find_map(|kind| path.strip_prefix(kind))
        .unwrap_or(path)
}

/// Splits `2309.11523v2` into (`2309.11523`, Some(2)); `None` when `v` is followed by no digits.
fn split_version(s: &str) -> Option<(&str, Option<u32>)> {
    // Old-style archives (`solv-int`) contain a 'v' before the slash, so only look after it.
    let search_from = s.find('/').map_or(0, |slash| slash + 1);
    match s[search_from..].rfind('v') {
        None => Some((s, None)),
        Some(rel) => {
            let at = search_from + rel;
            let digits = &s[at + 1..];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4
            {
                return None;
            }
            let version: u32 = digits.parse().ok()?;
            (version > 0).then_some((&s[..at], Some(version)))
        }
    }
}

fn valid_month(yymm: &str) -> bool {
    yymm.len() == 4
        && yymm.bytes().all(|b| b.is_ascii_digit())
        && matches!(yymm[2..].parse::<u8>(), Ok(1..=12))
}

fn valid_new_style(s: &str) -> bool {
    let Some((yymm, number)) = s.split_once('.') else {
        return false;
    };
    // Four-digit numbers were used from 0704 to 1412, five digits since 1501.
    let digits_ok = matches!(number.len(), 4 | 5) && number.bytes().all(|b| b.is_ascii_digit());
    valid_month(yymm) && digits_ok && (number.len() == 5 || yymm < "1501")
}

fn valid_archive(s: &str) -> bool {
    let (archive, subject) = match s.split_once('.') {
        Some((a, subj)) => (a, Some(subj)),
        None => (s, None),
    };
    let archive_ok = !archive.is_empty()
        && archive.len() <= 16
        && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !archive.starts_with('-');
    let subject_ok = subject.is_none_or(|subj| {
        (1..=4).contains(&subj.len()) && subj.bytes().all(|b| b.is_ascii_uppercase())
    });
    archive_ok && subject_ok
}

fn valid_old_number(s: &str) -> bool {
    s.len() == 7 && s.bytes().all(|b| b.is_ascii_digit()) && valid_month(&s[..4])
}

impl FromStr for ArxivId {
    type Err = ArxivIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArxivId({})", self.0)
    }
}

impl Serialize for ArxivId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ArxivId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (String, Option<u32>) {
        let v = VersionedArxivId::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        (v.id.to_string(), v.version)
    }

    #[test]
    fn parses_new_style_with_and_without_version() {
        assert_eq!(ok("2309.11523"), ("2309.11523".into(), None));
        assert_eq!(ok("2309.11523v2"), ("2309.11523".into(), Some(2)));
        assert_eq!(ok("0704.0001"), ("0704.0001".into(), None));
        assert_eq!(ok("1412.9999v12"), ("1412.9999".into(), Some(12)));
    }

    #[test]
    fn parses_old_style_ids() {
        assert_eq!(ok("hep-th/9901001"), ("hep-th/9901001".into(), None));
        assert_eq!(ok("math.GT/0309136"), ("math.GT/0309136".into(), None));
        assert_eq!(ok("math.GT/0309136v3"), ("math.GT/0309136".into(), Some(3)));
        assert_eq!(
            ok("solv-int/9901001v1"),
            ("solv-int/9901001".into(), Some(1))
        );
    }

    #[test]
    fn accepts_prefix_and_urls() {
        assert_eq!(ok("arXiv:2309.11523"), ("2309.11523".into(), None));
        assert_eq!(ok("ARXIV: 2309.11523v1"), ("2309.11523".into(), Some(1)));
        assert_eq!(
            ok("https://arxiv.org/abs/2309.11523"),
            ("2309.11523".into(), None)
        );
        assert_eq!(
            ok("http://arxiv.org/abs/2510.14968v1"),
            ("2510.14968".into(), Some(1))
        );
        assert_eq!(
            ok("https://arxiv.org/pdf/2309.11523v2.pdf"),
            ("2309.11523".into(), Some(2))
        );
        assert_eq!(
            ok("https://www.arxiv.org/pdf/2309.11523"),
            ("2309.11523".into(), None)
        );
        assert_eq!(
            ok("https://arxiv.org/abs/hep-th/9901001"),
            ("hep-th/9901001".into(), None)
        );
        assert_eq!(ok("  2309.11523  "), ("2309.11523".into(), None));
    }

    #[test]
    fn refuses_anything_else_and_says_what_was_expected() {
        for bad in [
            "",
            "2309.115",
            "2313.11523",
            "2309.115234",
            "1501.1234",
            "2309.11523v",
            "2309.11523v0",
            "hello",
            "HEP-TH/9901001",
            "hep-th/990100",
            "math.gt/0309136",
            "https://example.com/abs/2309.11523",
            "2309.11523<script>",
            "../../etc/passwd",
        ] {
            let e = ArxivId::parse(bad).expect_err(bad);
            let msg = e.to_string();
            assert!(
                msg.contains("expected a new-style id like 2309.11523"),
                "{msg}"
            );
        }
    }

    #[test]
    fn serde_round_trips_through_the_canonical_string() {
        let id: ArxivId = serde_json::from_str("\"arXiv:2309.11523v2\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"2309.11523\"");
        assert!(serde_json::from_str::<ArxivId>("\"nope\"").is_err());
    }
}
