//! What people type when they make an account: a user name, an email address and a password,
//! each parsed once at the edge into a value that is valid by construction.

use std::fmt;

/// Why a typed value was refused: the field and the reason, ready to show next to the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl FieldError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// A user name: 2 to 32 ASCII letters, digits, `-` or `_`, starting with a letter or digit.
/// Shown on pages and used in URLs; the restriction keeps it unambiguous and free of markup.
/// Names compare without regard to case in the store (`Ada` and `ada` are one account).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let err = |reason: &str| FieldError::new("username", reason);
        if name.len() < 2 || name.len() > Self::MAX_LEN {
            return Err(err("must be 2 to 32 characters long"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err(
                "may contain only letters a-z, digits, '-' and '_' (no spaces)",
            ));
        }
        if !name.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(err("must start with a letter or a digit"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A user name made from what an identity provider calls someone (a login, a preferred
    /// user name, a display name, an address's local part): accents folded, lowercased,
    /// letters and digits kept, every run of anything else one `-`, cut to fit. `None` when
    /// fewer than two characters are left.
    pub fn suggest(raw: &str) -> Option<Self> {
        use unicode_normalization::UnicodeNormalization as _;
        let mut name = String::new();
        for c in raw.nfkd() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
            } else if !c.is_ascii() && unicode_normalization::char::is_combining_mark(c) {
                // An accent folded off its letter.
            } else if !name.is_empty() && !name.ends_with('-') {
                name.push('-');
            }
        }
        let name = name.trim_start_matches('_');
        let mut name: String = name.chars().take(Self::MAX_LEN).collect();
        while name.ends_with('-') {
            name.pop();
        }
        Self::parse(&name).ok()
    }

    /// The `n`th alternative to a taken name: `name-n`, the name cut so that it fits.
    pub fn with_suffix(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        let keep = Self::MAX_LEN.saturating_sub(suffix.len());
        let stem: String = self.0.chars().take(keep).collect();
        Self(format!("{}{suffix}", stem.trim_end_matches('-')))
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, checked for shape only (one `@`, a dotted domain, no spaces or
/// controls, at most 254 bytes): whether it receives mail is a question for a confirmation
/// message, not for a parser.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = raw.trim();
        let err = |reason: &str| FieldError::new("email", reason);
        if email.is_empty() {
            return Err(err("is required"));
        }
        if email.len() > 254 {
            return Err(err("must be at most 254 characters long"));
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"'(),;:\\[]".contains(c))
        {
            return Err(err("must not contain spaces, quotes, brackets or commas"));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(err("must look like name@example.org (no '@' found)"));
        };
        if local.is_empty() || local.contains('@') {
            return Err(err("must have exactly one '@' with a name before it"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.starts_with('-')) {
            return Err(err("must end in a domain like example.org"));
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Emails are personal data: logs and debug output show only the domain.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        write!(f, "EmailAddress(…@{domain})")
    }
}

/// A password as typed: 10 to 1024 characters (the upper bound keeps hashing cheap to refuse).
/// Never printed: `Debug` masks it and there is no `Display`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(FieldError::new(
                "password",
                format!("must be at least {} characters long", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(FieldError::new(
                "password",
                format!("must be at most {} characters long", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_login_becomes_a_user_name_that_parses() {
        let cases = [
            ("octocat", Some("octocat")),
            ("Octo Cat", Some("octo-cat")),
            ("José María", Some("jose-maria")),
            ("  --weird..name!!  ", Some("weird-name")),
            ("ada.lovelace@example.org", Some("ada-lovelace-example-org")),
            ("_x_y", Some("x_y")),
            ("李", None),
            ("a", None),
            ("", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                Username::suggest(raw).map(|u| u.to_string()).as_deref(),
                want,
                "{raw:?}"
            );
        }
        let long = Username::suggest(&"abcdefghij".repeat(5)).unwrap();
        assert_eq!(long.as_str().len(), Username::MAX_LEN);
        let next = long.with_suffix(12);
        assert!(next.as_str().ends_with("-12"));
        assert_eq!(Username::parse(next.as_str()).unwrap(), next);
        assert_eq!(
            Username::parse("ada").unwrap().with_suffix(2).as_str(),
            "ada-2"
        );
    }

    #[test]
    fn usernames_are_short_plain_and_free_of_markup() {
        assert_eq!(Username::parse(" ada_l-2 ").unwrap().as_str(), "ada_l-2");
        for bad in [
            "",
            "a",
            "<script>",
            "ada lovelace",
            "_ada",
            "émile",
            &"x".repeat(33),
        ] {
            let err = Username::parse(bad).unwrap_err();
            assert_eq!(err.field, "username", "{bad}");
        }
    }

    #[test]
    fn emails_need_one_at_and_a_dotted_domain() {
        assert!(EmailAddress::parse("ada@example.org").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@localhost",
            "a b@example.org",
            "<a>@x.org",
            "ada@example..org",
        ] {
            assert_eq!(
                EmailAddress::parse(bad).unwrap_err().field,
                "email",
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_need_ten_characters_and_never_print() {
        assert!(Password::parse("123456789").is_err());
        let p = Password::parse("correct horse").unwrap();
        assert_eq!(p.expose(), "correct horse");
        assert!(!format!("{p:?}").contains("horse"));
        assert!(!format!("{:?}", EmailAddress::parse("ada@example.org").unwrap()).contains("ada"));
    }
}
