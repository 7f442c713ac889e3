//! Display normalisation of arXiv text.
//!
//! Both functions see every title and abstract of an ingest, so they scan bytes instead of
//! iterating lines and words: runs of words separated by single spaces are copied whole, plain
//! ASCII is checked 8 bytes at a time, and only the first byte of a character that might be
//! non-ASCII whitespace makes them decode it. "Whitespace" is exactly `char::is_whitespace`, as
//! for `str::split_whitespace`; the tests hold both to the simple definitions.

/// Undoes arXiv's hard line wraps: whitespace runs inside a paragraph become one space, and
/// paragraphs (separated by a blank line) are kept, joined by `"\n\n"`. Leading/trailing space
/// is trimmed. Idempotent.
pub fn normalize_text(raw: &str) -> String {
    normalize(raw, true)
}

/// One line for titles: all whitespace, paragraph breaks included, becomes single spaces.
pub fn normalize_title(raw: &str) -> String {
    normalize(raw, false)
}

/// A byte that is part of a word.
const WORD: u8 = 0;
/// An ASCII whitespace byte: `\t \n \x0B \x0C \r` and space.
const SPACE: u8 = 1;
/// The first byte of a character that may be non-ASCII whitespace (U+0085, U+00A0, U+1680,
/// U+2000..=U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 all start with one of these).
const MAYBE_SPACE: u8 = 2;

static CLASS: [u8; 256] = {
    let mut class = [WORD; 256];
    let mut b = 0x09;
    while b <= 0x0D {
        class[b] = SPACE;
        b += 1;
    }
    class[b' ' as usize] = SPACE;
    class[0xC2] = MAYBE_SPACE;
    class[0xE1] = MAYBE_SPACE;
    class[0xE2] = MAYBE_SPACE;
    class[0xE3] = MAYBE_SPACE;
    class
};

/// The byte length of the whitespace character starting at byte `at` of `raw`, or `None` when
/// the character there is not whitespace. `at` must be a character boundary.
fn unicode_space_at(raw: &str, at: usize) -> Option<usize> {
    let c = raw.get(at..)?.chars().next()?;
    c.is_whitespace().then(|| c.len_utf8())
}

/// Skips 8-byte blocks from `at` that are certainly plain text: ASCII without control
/// characters, where every space stands alone between two non-space bytes. Needs the byte
/// before `at`, if `at` starts with a space, to be a non-whitespace byte.
fn skip_plain(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(&block) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(block);
        // Any byte >= 0x80 (not ASCII) or < 0x0E (ASCII whitespace other than space, or a
        // control character) ends the fast path; with every byte < 0x80, adding to each byte
        // never carries into the next one, so the tests below are exact per byte.
        let low = !x.wrapping_add(ONES * (0x80 - 0x0E)) & HIGH;
        if (x & HIGH) | low != 0 {
            break;
        }
        // The high bit of each byte that is a space.
        let spaces = !(x ^ (ONES * u64::from(b' '))).wrapping_add(ONES * 0x7F) & HIGH;
        // Two spaces in a row, or a space last (whatever follows it is unknown), end it too.
        if spaces & (spaces >> 8) != 0 || spaces >> 56 != 0 {
            break;
        }
        at += 8;
    }
    at
}

/// Joins the whitespace-separated words of `raw` with one space, or with `"\n\n"` where
/// `paragraphs` is set and the whitespace between two words holds two or more `\n` (that is,
/// the words are on lines with a blank or whitespace-only line between them).
fn normalize(raw: &str, paragraphs: bool) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    loop {
        // The whitespace before the next word.
        let mut newlines = 0usize;
        while let Some(&b) = bytes.get(i) {
            match CLASS[usize::from(b)] {
                WORD => break,
                SPACE => {
                    newlines += usize::from(b == b'\n');
                    i += 1;
                }
                _ => match unicode_space_at(raw, i) {
                    Some(len) => i += len,
                    None => break,
                },
            }
        }
        if i == bytes.len() {
            return out;
        }
        if !out.is_empty() {
            out.push_str(if paragraphs && newlines >= 2 {
                "\n\n"
            } else {
                " "
            });
        }
        // Words separated by single spaces are already normal: copy them as one run. The run
        // ends at a character boundary (ASCII whitespace, a whitespace character or the end).
        let start = i;
        'run: loop {
            i = skip_plain(bytes, i);
            // Something in the next 8 bytes needs a closer look: go byte by byte through them.
            let stop = i + 8;
            while i < stop {
                let Some(&b) = bytes.get(i) else {
                    break 'run;
                };
                match CLASS[usize::from(b)] {
                    WORD => i += 1,
                    SPACE => {
                        let word_follows = bytes
                            .get(i + 1)
                            .is_some_and(|&next| CLASS[usize::from(next)] == WORD);
                        if b == b' ' && word_follows {
                            i += 2;
                        } else {
                            break 'run;
                        }
                    }
                    _ => {
                        if unicode_space_at(raw, i).is_some() {
                            break 'run;
                        }
                        i += 1;
                    }
                }
            }
        }
        out.push_str(&raw[start..i]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition `normalize_text` must match: line by line, words by `split_whitespace`.
    fn reference_text(raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut blank_run = false;
        for line in raw.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                blank_run = !out.is_empty();
                continue;
            }
            if !out.is_empty() {
                out.push_str(if blank_run { "\n\n" } else { " " });
            }
            blank_run = false;
            let mut words = trimmed.split_whitespace();
            if let Some(first) = words.next() {
                out.push_str(first);
            }
            for word in words {
                out.push(' ');
                out.push_str(word);
            }
        }
        out
    }

    /// The definition `normalize_title` must match.
    fn reference_title(raw: &str) -> String {
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn assert_same_as_reference(raw: &str) {
        assert_eq!(normalize_text(raw), reference_text(raw), "text of {raw:?}");
        assert_eq!(
            normalize_title(raw),
            reference_title(raw),
            "title of {raw:?}"
        );
    }

    /// Every string value in a JSON document.
    fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }

    #[test]
    fn hard_wraps_are_joined_and_paragraphs_kept() {
        let raw = "  A fully differential calculation is\npresented for the production.\n\n  Second\n  paragraph.\n";
        assert_eq!(
            normalize_text(raw),
            "A fully differential calculation is presented for the production.\n\nSecond paragraph."
        );
        assert_eq!(normalize_text(&normalize_text(raw)), normalize_text(raw));
    }

    #[test]
    fn titles_become_one_line() {
        assert_eq!(
            normalize_title(
                "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies"
            ),
            "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
        );
    }

    #[test]
    fn empty_and_blank_inputs_stay_empty() {
        assert_eq!(normalize_text(""), "");
        assert_eq!(normalize_text(" \n\n \t"), "");
    }

    #[test]
    fn the_byte_classes_find_exactly_the_whitespace_characters() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let mut buf = [0; 4];
            let s: &str = c.encode_utf8(&mut buf);
            let class = CLASS[usize::from(s.as_bytes()[0])];
            let whitespace = match class {
                WORD => false,
                SPACE => true,
                _ => unicode_space_at(s, 0).is_some(),
            };
            assert_eq!(whitespace, c.is_whitespace(), "{c:?}");
        }
    }

    #[test]
    fn only_plain_blocks_are_skipped() {
        assert_eq!(skip_plain(b"abcd efgh ijklmnop", 0), 16);
        assert_eq!(skip_plain(b"~!{}|\x7f\x0e_", 0), 8);
        for not_plain in [
            &b"abcd  fg"[..],
            b"abcdefg ",
            b"abcd\tefg",
            b"abc\ndefg",
            b"abcd\x00fg",
            "abcd\u{e9}fg".as_bytes(),
            "ab\u{a0}cdefg".as_bytes(),
        ] {
            assert_eq!(skip_plain(not_plain, 0), 0, "{not_plain:?}");
        }
    }

    #[test]
    fn tricky_whitespace_matches_the_reference() {
        let cases = [
            "",
            " ",
            "\n",
            "\r\n",
            "a",
            " a ",
            "a b",
            "a  b",
            "a \tb",
            "a\tb",
            "a\nb",
            "a\n\nb",
            "a\n \nb",
            "a\n \t \n\n  b",
            "a\r\nb",
            "a\r\n\r\nb",
            "a\r\rb",
            "a\rb\n\rc",
            "a\x0Bb\x0C\x0Cc",
            "\n\n  lead and trail  \n\n",
            "\t\ttabs\tinside\t\tand around\t",
            "non\u{a0}breaking\u{a0}\u{a0}space",
            "\u{a0}a\u{a0}\n\u{a0}\nb\u{a0}",
            "ideographic\u{3000}space\u{3000}\n\u{3000}\npara",
            "line\u{2028}separator\u{2029}\u{2029}para\u{85}next",
            "thin\u{2009}\u{200a}space \u{202f}\u{205f}\u{1680}end",
            "not space: \u{200b}zero\u{2060}width \u{feff}bom \u{a9}\u{b0}\u{e9}\u{20ac}\u{3001}",
            "\u{c2}\u{a0}\u{a0}x",
            "ends with a space before nbsp \u{a0}",
            "a \u{a0}b",
            "a\u{a0} b",
            "\u{1d400}\u{1f600} emoji \u{1f600}",
            "  First paragraph\n  wrapped here.\n\n\n  Second   paragraph\r\n\r\n  third\n",
            "blank lines with spaces\n   \n \t \nnext\n  \n",
        ];
        for raw in cases {
            assert_same_as_reference(raw);
            assert_same_as_reference(&normalize_text(raw));
        }
    }

    #[test]
    fn random_mixes_of_tricky_characters_match_the_reference() {
        // Plain words and single spaces often enough that 8-byte blocks take the fast path.
        let alphabet = [
            "a",
            "bc",
            "word",
            "plaintext",
            " ",
            " ",
            " ",
            "\u{e9}",
            "\t",
            "\n",
            "\r",
            "\x0B",
            "\x01",
            "\u{a0}",
            "\u{85}",
            "\u{3000}",
            "\u{2028}",
            "\u{200b}",
            "\u{a9}",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % bound as u64).unwrap_or(0)
        };
        for _ in 0..20_000 {
            let len = next(40);
            let raw: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            assert_same_as_reference(&raw);
        }
    }

    #[test]
    fn real_titles_and_abstracts_match_the_reference() {
        let fixtures = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../paperfeed-ingest/tests/fixtures"
        );
        let mut texts = Vec::new();
        for entry in std::fs::read_dir(fixtures).unwrap_or_else(|e| panic!("{fixtures}: {e}")) {
            let path = entry.map(|e| e.path()).unwrap_or_else(|e| panic!("{e}"));
            let name = path.to_string_lossy().into_owned();
            let read = || std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let parse = |text: &str| {
                serde_json::from_str::<serde_json::Value>(text)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            };
            if name.ends_with(".json") {
                strings(&parse(&read()), &mut texts);
            } else if name.ends_with(".jsonl") {
                for line in read().lines().filter(|l| !l.trim().is_empty()) {
                    strings(&parse(line), &mut texts);
                }
            }
        }
        let wrapped = texts.iter().filter(|t| t.contains("\n  ")).count();
        assert!(
            texts.len() > 1000 && wrapped > 50,
            "{} strings, {wrapped} wrapped",
            texts.len()
        );
        for text in &texts {
            assert_same_as_reference(text);
        }
    }
}
