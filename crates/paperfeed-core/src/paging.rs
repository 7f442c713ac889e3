//! Long lists shown a page at a time: which slice a page number stands for, and the page
//! number people type (`?page=2`).

use std::ops::Range;

/// Cards on one page of a day, week or month: with the card's abstract cut to
/// [`CARD_ABSTRACT_CHARS`], a full page stays well under 200 KB of HTML.
pub const FEED_PAGE_SIZE: usize = 30;

/// Characters of an abstract a card carries (cards show three lines of it; the paper page has
/// it whole).
pub const CARD_ABSTRACT_CHARS: usize = 600;

/// A page number that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("page={0:?} is not a page number: use a whole number from 1")]
pub struct PageError(pub String);

/// Page `page` (from 1) of a list of `total` items, `per_page` at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: usize,
    pub per_page: usize,
    pub total: usize,
}

impl Paging {
    /// `page` of `total` items; `per_page` is at least 1.
    pub fn new(page: usize, per_page: usize, total: usize) -> Self {
        Self {
            page: page.max(1),
            per_page: per_page.max(1),
            total,
        }
    }

    /// Reads what a reader typed: empty is page 1, anything but a whole number from 1 is
    /// refused.
    pub fn parse_page(raw: &str) -> Result<usize, PageError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(1);
        }
        match raw.parse::<usize>() {
            Ok(n) if n >= 1 && raw.len() <= 9 => Ok(n),
            _ => Err(PageError(raw.chars().take(40).collect())),
        }
    }

    /// How many pages there are (at least 1, an empty list being one empty page).
    pub fn pages(&self) -> usize {
        self.total.div_ceil(self.per_page).max(1)
    }

    /// Whether the page exists.
    pub fn exists(&self) -> bool {
        self.page <= self.pages()
    }

    /// The items on this page (empty past the last page).
    pub fn range(&self) -> Range<usize> {
        let start = (self.page - 1)
            .saturating_mul(self.per_page)
            .min(self.total);
        start..(start + self.per_page).min(self.total)
    }

    /// The page numbers a pager lists: the first, the last, and those within two of this
    /// page; `None` stands for a gap ("…").
    pub fn window(&self) -> Vec<Option<usize>> {
        let last = self.pages();
        let mut out = Vec::new();
        let mut previous = 0;
        for n in 1..=last {
            let near = n.abs_diff(self.page) <= 2;
            if n == 1 || n == last || near {
                if n > previous + 1 {
                    out.push(None);
                }
                out.push(Some(n));
                previous = n;
            }
        }
        out
    }
}

/// `text` cut to at most `max` characters at a word's end, with `…` when cut.
pub fn cut_at_word(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= max {
        return text.into();
    }
    let end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    let cut = head
        .rfind(char::is_whitespace)
        .filter(|&i| i > end / 2)
        .unwrap_or(end);
    format!("{}…", head[..cut].trim_end()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_slice_the_list_and_the_last_one_holds_the_rest() {
        let p = Paging::new(1, 30, 181);
        assert_eq!(p.pages(), 7);
        assert_eq!(p.range(), 0..30);
        assert_eq!(Paging::new(7, 30, 181).range(), 180..181);
        assert!(Paging::new(7, 30, 181).exists());
        assert!(!Paging::new(8, 30, 181).exists());
        assert_eq!(Paging::new(8, 30, 181).range(), 181..181);
        assert_eq!(Paging::new(1, 30, 0).pages(), 1);
        assert_eq!(Paging::new(1, 30, 30).pages(), 1);
    }

    #[test]
    fn page_numbers_are_whole_numbers_from_one() {
        assert_eq!(Paging::parse_page(""), Ok(1));
        assert_eq!(Paging::parse_page(" 3 "), Ok(3));
        assert!(Paging::parse_page("0").is_err());
        assert!(Paging::parse_page("-1").is_err());
        assert!(Paging::parse_page("2.5").is_err());
        assert!(Paging::parse_page("99999999999999999999").is_err());
        let e = Paging::parse_page("<b>").unwrap_err();
        assert!(e.to_string().contains("not a page number"), "{e}");
    }

    #[test]
    fn the_pager_shows_the_ends_and_the_neighbourhood() {
        let w = Paging::new(5, 10, 100).window();
        assert_eq!(
            w,
            vec![
                Some(1),
                None,
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                None,
                Some(10)
            ]
        );
        assert_eq!(
            Paging::new(1, 10, 25).window(),
            vec![Some(1), Some(2), Some(3)]
        );
    }

    #[test]
    fn long_text_is_cut_at_a_word() {
        assert_eq!(cut_at_word("short", 10), "short");
        assert_eq!(cut_at_word("one two three four", 10), "one two…");
        assert_eq!(cut_at_word("ééééééééééé", 4), "éééé…");
    }
}
