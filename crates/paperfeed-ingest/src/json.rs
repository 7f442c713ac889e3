//! JSON helpers the daily-papers and Kaggle readers share: strings that borrow from the input
//! whenever they can, and serde_json messages made to fit our own locations.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::{Deserialize, Deserializer, Visitor};

/// A JSON string that borrows from the input unless it had escapes to undo. Unlike a bare
/// `Cow<str>` field it also borrows inside `Option`s and `Vec`s, where serde would copy.
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a str>);

        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

/// Splits serde_json's trailing " at line L column C" off a message, since the position it
/// counts is inside the piece we handed it, not in the file.
pub(crate) fn split_position(message: &str) -> (&str, Option<(u64, u64)>) {
    let Some(at) = message.rfind(" at line ") else {
        return (message, None);
    };
    let position = message[at + " at line ".len()..]
        .split_once(" column ")
        .and_then(|(line, column)| Some((line.parse().ok()?, column.parse().ok()?)));
    match position {
        Some(position) => (&message[..at], Some(position)),
        None => (message, None),
    }
}

/// `path: message` as serde_path_to_error reports a typing error, without the root path `.`.
pub(crate) fn field_error(path: &str, message: &str) -> String {
    if path == "." || path.is_empty() {
        message.to_owned()
    } else {
        format!("{path}: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_borrows_plain_strings_and_owns_escaped_ones() {
        let v: Vec<Option<Text<'_>>> =
            serde_json::from_str(r#"["plain", "esc\u00e9", null]"#).expect("json");
        assert!(matches!(&v[0], Some(Text(Cow::Borrowed("plain")))));
        assert!(matches!(&v[1], Some(Text(Cow::Owned(s))) if s == "escé"));
        assert!(v[2].is_none());
        let err = serde_json::from_str::<Text<'_>>("42").err().expect("error");
        assert_eq!(
            err.to_string(),
            "invalid type: integer `42`, expected a string at line 1 column 2"
        );
    }

    #[test]
    fn positions_are_split_off_messages() {
        assert_eq!(
            split_position("invalid type: null, expected a string at line 3 column 14"),
            ("invalid type: null, expected a string", Some((3, 14)))
        );
        assert_eq!(split_position("no position"), ("no position", None));
        assert_eq!(
            split_position("title at line five"),
            ("title at line five", None)
        );
    }
}
