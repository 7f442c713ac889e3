//! The search parameters `/papers` and its RSS and Atom feeds share, and their checks.

use paperfeed_search::{SearchMode, SortOrder};
use serde::Deserialize;

use crate::error::AppError;

/// `?q=&mode=&sort=&page=&format=` of `/papers` and of the search feeds.
#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    pub(crate) q: String,
    #[serde(default)]
    pub(crate) mode: String,
    #[serde(default)]
    pub(crate) sort: String,
    #[serde(default)]
    pub(crate) page: Option<String>,
    /// `bib`, `ris` or `csl`: the top results for citation managers instead of the page.
    #[serde(default)]
    pub(crate) format: String,
    /// `1`: search exactly what was typed, even when nothing matches and a correction would
    /// (the page's "search instead for" link).
    #[serde(default)]
    pub(crate) verbatim: String,
}

impl SearchParams {
    /// Whether `verbatim=` asks for the query exactly as typed.
    pub(crate) fn verbatim(&self) -> bool {
        matches!(self.verbatim.trim(), "1" | "true" | "yes" | "on")
    }
}

/// The `mode=` parameter (empty: hybrid).
pub(crate) fn parse_mode(value: &str) -> Result<SearchMode, AppError> {
    SearchMode::parse(value).ok_or_else(|| {
        AppError::BadRequest(format!(
            "mode={value:?} is not a search mode: use keyword, semantic or hybrid"
        ))
    })
}

/// A non-empty `sort=` parameter.
pub(crate) fn parse_sort(value: &str) -> Result<SortOrder, AppError> {
    SortOrder::parse(value).ok_or_else(|| {
        AppError::BadRequest(format!(
            "sort={value:?} is not an order: use relevance, newest or votes"
        ))
    })
}
