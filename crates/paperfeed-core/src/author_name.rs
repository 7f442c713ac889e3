//! Which author names are one author: the key author pages, follows and mutes of authors use.
//!
//! Names are merged conservatively, by their *normalised name* only:
//!
//! - Unicode compatibility decomposition (NFKD), then combining marks dropped: `Zoë`, `Zoe`
//!   and `Zoë` spelled with a combining diaeresis are one name; `ﬁ` becomes `fi`.
//! - Lower case.
//! - Apostrophes join (`O'Brien` is `obrien`); every other run of punctuation and white space
//!   is one separator (`Jean-Pierre` and `Jean Pierre`, `J.R. Smith` and `J R Smith` merge).
//! - `Last, First` becomes `First Last` when there is exactly one comma and what follows it is
//!   not a suffix (`Jr`, `Sr`, `II`, `III`, `IV`): `Smith, John` is `john smith`, `Smith, Jr.`
//!   stays `smith jr`.
//!
//! Initials are *not* expanded: `J. Smith` is not `John Smith`, because nothing on a paper says
//! they are the same person and merging two people is worse than listing one person twice.
//! Letters no decomposition reaches (`ø`, `ł`, CJK) are kept as they are.
//!
//! A key is words of letters and digits joined by single spaces; its URL slug joins the same
//! words by `-`, so slug and key convert both ways without loss.

use std::fmt;

use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

/// The longest key kept, in characters: longer names are cut (at a word end when possible),
/// so a hostile name cannot make keys, slugs or URLs unbounded.
pub const MAX_AUTHOR_KEY_CHARS: usize = 120;

/// An author's normalised name: see the module documentation for what merges.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct AuthorKey(String);

const SUFFIXES: [&str; 5] = ["jr", "sr", "ii", "iii", "iv"];

impl AuthorKey {
    /// The key of a name as a paper lists it; `None` when it has no letter or digit.
    pub fn from_name(name: &str) -> Option<Self> {
        let words = match name.split_once(',') {
            Some((last, first)) if !first.contains(',') => {
                let last = words_of(last);
                let first = words_of(first);
                let suffix = first.len() == 1 && SUFFIXES.contains(&first[0].as_str());
                if last.is_empty() || first.is_empty() || suffix {
                    last.into_iter().chain(first).collect()
                } else {
                    first.into_iter().chain(last).collect()
                }
            }
            _ => words_of(name),
        };
        Self::from_words(words)
    }

    /// The key a slug names (`john-smith`); `None` when the slug is not one [`AuthorKey::slug`]
    /// makes (so every author page has one address).
    pub fn from_slug(slug: &str) -> Option<Self> {
        let words: Vec<String> = slug.split('-').map(str::to_owned).collect();
        let key = Self::from_words(words.clone())?;
        let canonical = words.iter().all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_alphanumeric() && !c.is_uppercase() && !is_combining_mark(c))
                && w.nfkd().eq(w.chars())
        });
        (canonical && key.slug() == slug).then_some(key)
    }

    fn from_words(words: Vec<String>) -> Option<Self> {
        let mut key = String::new();
        for word in words.iter().filter(|w| !w.is_empty()) {
            let extra = word.chars().count() + usize::from(!key.is_empty());
            if key.chars().count() + extra > MAX_AUTHOR_KEY_CHARS {
                if key.is_empty() {
                    key = word.chars().take(MAX_AUTHOR_KEY_CHARS).collect();
                }
                break;
            }
            if !key.is_empty() {
                key.push(' ');
            }
            key.push_str(word);
        }
        (!key.is_empty()).then_some(Self(key))
    }

    /// The key as stored: words joined by single spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key for URLs: words joined by `-` (`/authors/john-smith`).
    pub fn slug(&self) -> String {
        self.0.replace(' ', "-")
    }
}

impl fmt::Display for AuthorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The normalised words of a name: decomposed, marks dropped, lower case, apostrophes joined,
/// split at everything that is not a letter or digit.
fn words_of(text: &str) -> Vec<String> {
    folded_words(text)
}

/// Any text's words folded the way author keys are: compatibility-decomposed, combining marks
/// and apostrophes dropped, lower case, split at everything that is not a letter or digit.
/// Suggestions while typing compare titles and what was typed in this form.
pub fn folded_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.nfkd() {
        if is_combining_mark(c) || matches!(c, '\'' | '\u{2019}' | '\u{02BC}') {
            continue;
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        AuthorKey::from_name(name)
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn accents_case_punctuation_and_spacing_fold_into_one_key() {
        for variant in [
            "Zoë Müller-Lê",
            "Zoe Muller Le",
            "ZOE  MULLER\tLE",
            "Zoe\u{0308} Mu\u{0308}ller-Le\u{0302}",
            " zoë müller–lê ",
        ] {
            assert_eq!(key(variant), "zoe muller le", "{variant}");
        }
        assert_eq!(key("J.R.R. Tolkien"), "j r r tolkien");
        assert_eq!(key("Conan O'Brien"), "conan obrien");
        assert_eq!(key("Conan O’Brien"), "conan obrien");
        assert_eq!(key("ﬁnn"), "finn", "compatibility forms decompose");
    }

    #[test]
    fn last_comma_first_becomes_first_last_but_suffixes_stay() {
        assert_eq!(key("Smith, John"), "john smith");
        assert_eq!(key("Smith,John A."), "john a smith");
        assert_eq!(key("Smith, Jr."), "smith jr");
        assert_eq!(key("Smith, III"), "smith iii");
        assert_eq!(
            key("Smith, John, Jr."),
            "smith john jr",
            "two commas: kept in order"
        );
        assert_eq!(key("Smith,"), "smith");
    }

    #[test]
    fn initials_and_different_names_do_not_merge() {
        assert_ne!(key("J. Smith"), key("John Smith"));
        assert_ne!(key("John Smith"), key("Jon Smith"));
        assert_ne!(
            key("Łukasz Kaiser"),
            key("Lukasz Kaiser"),
            "ł has no decomposition"
        );
    }

    #[test]
    fn names_without_letters_have_no_key() {
        assert_eq!(AuthorKey::from_name(""), None);
        assert_eq!(AuthorKey::from_name(" .,- "), None);
        assert_eq!(key("<script>alert(1)</script>"), "script alert 1 script");
    }

    #[test]
    fn slugs_and_keys_convert_both_ways() {
        for name in ["Zoë Müller-Lê", "李 明", "Łukasz Kaiser", "A. Feder Cooper"] {
            let key = AuthorKey::from_name(name).unwrap();
            let slug = key.slug();
            assert!(!slug.contains(' '), "{slug}");
            assert_eq!(AuthorKey::from_slug(&slug), Some(key), "{name}");
        }
    }

    #[test]
    fn only_canonical_slugs_name_an_author() {
        for slug in [
            "",
            "-",
            "john--smith",
            "-john",
            "John-Smith",
            "zoe-mu\u{0308}ller",
            "a_b",
            "a b",
        ] {
            assert_eq!(AuthorKey::from_slug(slug), None, "{slug:?}");
        }
        assert_eq!(
            AuthorKey::from_slug("john-smith").map(|k| k.as_str().to_owned()),
            Some("john smith".to_owned())
        );
    }

    #[test]
    fn hostile_lengths_are_cut_at_a_word_end() {
        let long = "word ".repeat(100);
        let key = AuthorKey::from_name(&long).unwrap();
        assert!(key.as_str().chars().count() <= MAX_AUTHOR_KEY_CHARS);
        assert!(key.as_str().ends_with("word"));
        let one = "x".repeat(1000);
        assert_eq!(
            AuthorKey::from_name(&one).unwrap().as_str().len(),
            MAX_AUTHOR_KEY_CHARS
        );
        assert_eq!(AuthorKey::from_slug(&"x".repeat(1000)), None);
    }
}
