//! Display normalisation of arXiv text.

/// Undoes arXiv's hard line wraps: whitespace runs inside a paragraph become one space, and
/// paragraphs (separated by a blank line) are kept, joined by `"\n\n"`. Leading/trailing space
/// is trimmed. Idempotent.
pub fn normalize_text(raw: &str) -> String {
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

/// One line for titles: all whitespace, paragraph breaks included, becomes single spaces.
pub fn normalize_title(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
