//! What list pages share about the signed-in reader: their filter (mutes, "not interested",
//! seen marks; `paperfeed_app::visibility`), the marks and the "Not interested" form on each
//! card, and the "N hidden — show" control. Anonymous visitors get none of it, and pages for
//! them stay cacheable.

use paperfeed_app::visibility::{Hidden, ReaderFilter};
use paperfeed_core::{ArxivId, Paper};
use serde::Deserialize;

use crate::community::auth::Viewer;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::CardView;

/// `?show_hidden=1` (list hidden papers, marked) and `?hide_seen=1` (hide papers already
/// seen) on the reader's list pages. Any other value than `1`/`true`/`on`/`yes` is off.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct VisibilityParams {
    #[serde(default)]
    show_hidden: String,
    #[serde(default)]
    hide_seen: String,
}

fn on(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "on" | "yes"
    )
}

/// Read from the query string; never refused (a query the page cannot read is the page's
/// own parameters' business, and says so there).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for VisibilityParams {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(
            axum::extract::Query::<VisibilityParams>::try_from_uri(&parts.uri)
                .map(|q| q.0)
                .unwrap_or_default(),
        )
    }
}

impl VisibilityParams {
    pub fn show_hidden(&self) -> bool {
        on(&self.show_hidden)
    }

    pub fn hide_seen(&self) -> bool {
        on(&self.hide_seen)
    }
}

/// The signed-in reader's filter for `papers` (nothing hidden for anonymous visitors).
pub async fn reader_filter(
    state: &AppState,
    viewer: &Viewer,
    papers: &[ArxivId],
    hide_seen: bool,
) -> Result<ReaderFilter, AppError> {
    match viewer.user() {
        Some(user) => Ok(ReaderFilter::load_cached(
            &*state.store,
            &state.filters,
            user.id,
            papers,
            hide_seen,
        )
        .await?),
        None => Ok(ReaderFilter::none()),
    }
}

/// Gives `card` the reader's controls: "Not interested" (or its undo) and, when hidden, why.
pub fn personalise(card: &mut CardView, viewer: &Viewer, back: &str, hidden: Option<&Hidden>) {
    let Some(session) = viewer.0.as_ref() else {
        return;
    };
    card.personal = Some(crate::views::CardPersonal {
        csrf: session.csrf_token.clone(),
        back: back.to_owned(),
        hidden: hidden.map(ToString::to_string),
        dismissed: matches!(hidden, Some(Hidden::NotInterested)),
    });
}

/// Cards for `papers` as a signed-in reader's list shows them: hidden ones left out (counted)
/// unless `show_hidden`, then kept and marked with why. `card` makes each paper's card.
pub fn filtered_cards<T>(
    items: Vec<T>,
    paper: impl Fn(&T) -> &Paper,
    card: impl Fn(&T) -> CardView,
    filter: &ReaderFilter,
    viewer: &Viewer,
    back: &str,
    show_hidden: bool,
) -> (Vec<CardView>, usize) {
    let mut cards = Vec::with_capacity(items.len());
    let mut hidden = 0;
    for item in &items {
        let why = filter.why_hidden(paper(item));
        if why.is_some() {
            hidden += 1;
            if !show_hidden {
                continue;
            }
        }
        let mut view = card(item);
        personalise(&mut view, viewer, back, why.as_ref());
        cards.push(view);
    }
    (cards, hidden)
}

/// The control above a reader's list: "N hidden — show" (or "hide them"), and the hide-seen
/// toggle. `None` for anonymous visitors.
pub struct HiddenControl {
    pub hidden: usize,
    pub showing: bool,
    /// Shows the hidden papers (or hides them again when `showing`).
    pub toggle_href: String,
    pub hide_seen: bool,
    pub hide_seen_href: String,
}

impl HiddenControl {
    /// For the list at `path` whose other query parameters are `base_query` (already encoded,
    /// `sort=trending` or empty).
    pub fn new(
        viewer: &Viewer,
        path: &str,
        base_query: &str,
        params: &VisibilityParams,
        hidden: usize,
    ) -> Option<HiddenControl> {
        viewer.user()?;
        let (showing, hide_seen) = (params.show_hidden(), params.hide_seen());
        Some(HiddenControl {
            hidden,
            showing,
            toggle_href: list_href(path, base_query, !showing, hide_seen),
            hide_seen,
            hide_seen_href: list_href(path, base_query, showing, !hide_seen),
        })
    }

    /// "1 hidden", "3 hidden".
    pub fn label(&self) -> String {
        format!("{} hidden", self.hidden)
    }
}

/// `path` with `base_query` and the two flags, as a reader's list address.
pub fn list_href(path: &str, base_query: &str, show_hidden: bool, hide_seen: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !base_query.is_empty() {
        parts.push(base_query.to_owned());
    }
    if show_hidden {
        parts.push("show_hidden=1".to_owned());
    }
    if hide_seen {
        parts.push("hide_seen=1".to_owned());
    }
    if parts.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_addresses_keep_the_page_query_and_add_the_flags_that_are_on() {
        assert_eq!(
            list_href("/papers/date/2026-11-02", "", false, false),
            "/papers/date/2026-11-02"
        );
        assert_eq!(
            list_href("/", "sort=trending", true, true),
            "/?sort=trending&show_hidden=1&hide_seen=1"
        );
        assert_eq!(list_href("/", "", false, true), "/?hide_seen=1");
        assert!(on("1") && on(" TRUE ") && !on("0") && !on(""));
    }
}
