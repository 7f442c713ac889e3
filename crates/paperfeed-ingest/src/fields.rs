//! Field rules every parser shares: required text, author names built from arXiv's parts, and
//! category lists.

use paperfeed_core::{normalize_text, normalize_title};

/// Normalises a title and an abstract and refuses a record where either ends up empty, since a
/// paper page without them is useless. `title_field`/`abstract_field` name the source fields in
/// the reason.
pub(crate) fn title_and_abstract(
    title: &str,
    abstract_text: &str,
    title_field: &str,
    abstract_field: &str,
) -> Result<(String, String), String> {
    let title = normalize_title(title);
    if title.is_empty() {
        return Err(format!("{title_field} is empty"));
    }
    let abstract_text = normalize_text(abstract_text);
    if abstract_text.is_empty() {
        return Err(format!("{abstract_field} is empty"));
    }
    Ok((title, abstract_text))
}

/// "forenames keyname suffix" as arXiv's structured author records split it, with every
/// whitespace run (arXiv hard-wraps long names) made one space.
pub(crate) fn arxiv_author_name(keyname: &str, forenames: &str, suffix: &str) -> String {
    let mut name = String::with_capacity(keyname.len() + forenames.len() + suffix.len() + 2);
    for word in [forenames, keyname, suffix]
        .iter()
        .flat_map(|part| part.split_whitespace())
    {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    name
}

/// Adds a category unless it is blank or already listed, keeping first-seen order.
pub(crate) fn push_category(categories: &mut Vec<String>, term: &str) {
    let term = term.trim();
    if !term.is_empty() && !categories.iter().any(|c| c == term) {
        categories.push(term.to_owned());
    }
}

/// arXiv's space-separated category list (`"math.CO cs.CG"`), first = primary.
pub(crate) fn split_categories(list: &str) -> Vec<String> {
    let mut categories = Vec::new();
    for term in list.split_whitespace() {
        push_category(&mut categories, term);
    }
    categories
}

/// Reasons quote at most this much of an offending value.
pub(crate) fn quote(value: &str) -> String {
    let mut short: String = value.chars().take(80).collect();
    if short.len() < value.len() {
        short.push('…');
    }
    format!("{short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_names_put_forenames_first_and_skip_empty_parts() {
        assert_eq!(
            arxiv_author_name("Evans", "Neal J.", "II"),
            "Neal J. Evans II"
        );
        assert_eq!(arxiv_author_name("Csiszar", "I.", ""), "I. Csiszar");
        assert_eq!(arxiv_author_name("Collaboration", "", ""), "Collaboration");
        assert_eq!(
            arxiv_author_name(" van der\n Tak ", "Floris", ""),
            "Floris van der Tak"
        );
    }

    #[test]
    fn categories_keep_order_and_drop_duplicates() {
        assert_eq!(
            split_categories(" math.CO  cs.CG math.CO\n"),
            ["math.CO", "cs.CG"]
        );
    }

    #[test]
    fn empty_title_or_abstract_is_refused_with_the_field_name() {
        assert_eq!(
            title_and_abstract(" \n", "x", "<title>", "<summary>"),
            Err("<title> is empty".into())
        );
        assert_eq!(
            title_and_abstract("T", "\n\n", "title", "abstract"),
            Err("abstract is empty".into())
        );
        assert_eq!(
            title_and_abstract(" A\n  B ", " c\n d ", "t", "a"),
            Ok(("A B".into(), "c d".into()))
        );
    }
}
