//! Avatars made from a name alone: its initials on one of a few colours chosen by the name, so
//! a person or organisation looks the same on every card and page, and nothing is fetched
//! from anywhere (the hub never hot-links a picture).
//!
//! A name is read the way author keys read it (`folded_words`): `Zoë Müller`, `Zoe Muller` and
//! `Müller, Zoë` are one person and get the same avatar. The initials are the first letter of
//! the first and of the last word (`ZM`), one letter for a one-word name (`google` → `G`), `?`
//! for a name with no letter or digit.

use crate::author_name::{AuthorKey, folded_words};
use crate::paper::fingerprint;

/// How many colours avatars are drawn in; the page's style sheet names them `av0` … `av11`.
pub const AVATAR_COLOURS: u8 = 12;

/// What an avatar shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Avatar {
    /// One or two upper-case letters (or digits), `?` when the name has none.
    pub initials: String,
    /// The colour, `0..AVATAR_COLOURS`.
    pub colour: u8,
}

impl Avatar {
    /// A person's avatar: `Last, First` is read as `First Last`, like author pages read it.
    pub fn of_person(name: &str) -> Self {
        let words: Vec<String> = AuthorKey::from_name(name)
            .map(|k| k.as_str().split(' ').map(str::to_owned).collect())
            .unwrap_or_default();
        Self::of_words(&words)
    }

    /// Any other name's (an organisation, a user name): its words as written.
    pub fn of_name(name: &str) -> Self {
        Self::of_words(&folded_words(name))
    }

    fn of_words(words: &[String]) -> Self {
        let initial = |w: &String| {
            w.chars()
                .next()
                .map(|c| c.to_uppercase().collect::<String>())
        };
        let mut initials: String = words.first().and_then(initial).unwrap_or_default();
        if words.len() > 1
            && let Some(last) = words.last().and_then(initial)
        {
            initials.push_str(&last);
        }
        if initials.is_empty() {
            initials.push('?');
        }
        let key = words.join(" ");
        let colour =
            u8::try_from(fingerprint(&key).unsigned_abs() % u64::from(AVATAR_COLOURS)).unwrap_or(0);
        Self { initials, colour }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_are_the_first_and_last_words_first_letters() {
        assert_eq!(Avatar::of_person("Zoë Müller").initials, "ZM");
        assert_eq!(Avatar::of_person("Jean-Pierre van der Berg").initials, "JB");
        assert_eq!(Avatar::of_person("Smith, John").initials, "JS");
        assert_eq!(Avatar::of_name("google").initials, "G");
        assert_eq!(Avatar::of_name("Google DeepMind").initials, "GD");
        assert_eq!(Avatar::of_person("王小明").initials, "王");
        assert_eq!(Avatar::of_person("...").initials, "?");
        assert_eq!(Avatar::of_name("").initials, "?");
    }

    #[test]
    fn one_person_spelled_differently_gets_one_colour() {
        let a = Avatar::of_person("Zoë Müller");
        assert_eq!(a, Avatar::of_person("Zoe Muller"));
        assert_eq!(a, Avatar::of_person("Müller, Zoë"));
        assert!(a.colour < AVATAR_COLOURS);
    }

    #[test]
    fn names_spread_over_the_colours() {
        let colours: std::collections::BTreeSet<u8> = (0..200)
            .map(|i| Avatar::of_person(&format!("Author Number{i}")).colour)
            .collect();
        assert_eq!(colours.len(), usize::from(AVATAR_COLOURS));
    }

    #[test]
    fn hostile_names_make_short_plain_initials() {
        let a = Avatar::of_person("<script>alert(1)</script>");
        assert!(a.initials.chars().all(char::is_alphanumeric), "{a:?}");
        assert!(a.initials.chars().count() <= 2);
    }
}
