//! `/papers?q=…`: keyword, semantic or hybrid search, listed as cards like the daily feed.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use paperfeed_app::search::{self, Correcting, Found, Spelling};
use paperfeed_core::Paper;
use paperfeed_search::{KeywordQuery, SearchMode, SortOrder};

use crate::community::auth::Viewer;
use crate::error::AppError;
use crate::error::render_error;
use crate::exports::Export;
use crate::personal;
use crate::query::encode;
use crate::search_params::{SearchParams, parse_mode, parse_sort};
use crate::state::AppState;
use crate::views::{CardView, Link, SaveSearchView};

/// Results per page.
const PAGE_SIZE: usize = 20;
/// Pages one can walk to; deeper results are better found with a narrower query.
const MAX_PAGE: usize = 50;

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    query: String,
    /// This search's address, to which `&format=…` asks for its top results as citations.
    export_href: String,
    /// `query` percent-encoded, for the feed links.
    feed_query: String,
    modes: Vec<(&'static str, &'static str, bool)>,
    sorts: Vec<(&'static str, &'static str, bool)>,
    error: Option<String>,
    note: Option<String>,
    summary: String,
    cards: Vec<CardView>,
    prev: Option<Link>,
    next: Option<Link>,
    /// "Save this search" for a logged-in reader; `save_login` sends others to log in.
    save: Option<SaveSearchView>,
    save_login: Option<String>,
    /// "Did you mean …" or "Showing results for … Search instead for …".
    spelling: Option<SpellingView>,
}

/// A correction of the query as the page shows it.
struct SpellingView {
    /// True when the results are the correction's; false when it is only offered.
    applied: bool,
    /// The corrected query's page.
    href: String,
    /// The corrected query in pieces, the corrected words marked.
    parts: Vec<(String, bool)>,
    /// What was typed, and its page searched exactly as typed (when `applied`).
    typed: String,
    typed_href: String,
}

impl SpellingView {
    fn new(spelling: &Spelling, mode: SearchMode, sort: SortOrder) -> Self {
        let correction = spelling.correction();
        let (applied, typed) = match spelling {
            Spelling::DidYouMean(_) => (false, String::new()),
            Spelling::Corrected { typed, .. } => (true, typed.clone()),
        };
        Self {
            applied,
            href: page_href(&correction.text, mode, sort, 1),
            parts: correction
                .parts
                .iter()
                .map(|p| (p.text.clone(), p.corrected))
                .collect(),
            typed_href: format!("{}&verbatim=1", page_href(&typed, mode, sort, 1)),
            typed,
        }
    }
}

fn page_href(q: &str, mode: SearchMode, sort: SortOrder, page: usize) -> String {
    let mut href = String::from("/papers?q=");
    href.push_str(&encode(q));
    if mode != SearchMode::Hybrid {
        href.push_str("&mode=");
        href.push_str(mode.as_str());
    }
    if sort != SortOrder::Relevance {
        href.push_str("&sort=");
        href.push_str(sort.as_str());
    }
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

/// `/search?q=` (the old address) lands on `/papers?q=`.
pub async fn redirect_search(Query(params): Query<SearchParams>) -> Response {
    crate::redirect::permanent(&page_href(
        &params.q,
        SearchMode::Hybrid,
        SortOrder::Relevance,
        1,
    ))
}

pub async fn search_papers(
    State(state): State<AppState>,
    viewer: Viewer,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let mode = parse_mode(&params.mode)?;
    let page = match params
        .page
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=MAX_PAGE).contains(p))
            .ok_or_else(|| {
                AppError::BadRequest(format!("page={p:?} must be a number from 1 to {MAX_PAGE}"))
            })?,
    };
    let parsed = KeywordQuery::parse(&params.q);
    let mut query = match parsed {
        Ok(q) => q,
        Err(e) => {
            return render(
                &params.q,
                mode,
                SortOrder::Relevance,
                Err(e.to_string()),
                page,
                StatusCode::BAD_REQUEST,
            );
        }
    };
    if !params.sort.trim().is_empty() {
        query.sort = parse_sort(&params.sort)?;
    }
    if !params.format.trim().is_empty() && !params.q.trim().is_empty() {
        // The top results (as many as one search answers) for a citation manager.
        let export = Export::named(&params.format)?;
        query.offset = 0;
        query.limit = paperfeed_search::MAX_LIMIT;
        let found = search::search(state.search.clone(), &*state.store, query, mode).await?;
        let papers: Vec<Paper> = found.papers.into_iter().map(|(_, paper)| paper).collect();
        return export.list(&papers, "paperfeed-search");
    }
    query.offset = (page - 1) * PAGE_SIZE;
    query.limit = PAGE_SIZE;
    let sort = query.sort;
    if params.q.trim().is_empty() {
        return render("", mode, sort, Ok(Vec::new()), page, StatusCode::OK);
    }
    let correcting = if params.verbatim() {
        Correcting::OfferOnly
    } else {
        Correcting::WhenNothingMatched
    };
    let Found {
        results,
        papers: found,
        spelling,
    } = search::search_typed(
        state.search.clone(),
        &*state.store,
        &params.q,
        query,
        mode,
        correcting,
    )
    .await?;
    // Answered with a correction's results: the page is that search's (its links, feeds,
    // "save this search"), and says so.
    let q = match &spelling {
        Some(Spelling::Corrected { correction, .. }) => correction.text.clone(),
        _ => params.q.clone(),
    };
    let spelling = spelling.map(|s| SpellingView::new(&s, mode, sort));
    // A signed-in reader's muted and dismissed papers are marked with why, not dropped.
    let ids: Vec<paperfeed_core::ArxivId> = found.iter().map(|(_, p)| p.id.clone()).collect();
    let filter = personal::reader_filter(&state, &viewer, &ids, false).await?;
    let back = page_href(&q, mode, sort, page);
    let mut cards = Vec::with_capacity(found.len());
    for (hit, paper) in &found {
        let day = paper.featured.last().map(|f| f.date);
        let mut card = CardView::new(paper, day.unwrap_or_default(), day.is_some());
        if let Some(title) = &hit.title_html {
            card.title = crate::rich_text::SafeHtml::trusted(title.clone());
        }
        if let Some(snippet) = &hit.snippet_html {
            card.abstract_html = crate::rich_text::SafeHtml::trusted(snippet.clone());
        }
        personal::personalise(&mut card, &viewer, &back, filter.why_hidden(paper).as_ref());
        cards.push(card);
    }
    crate::saved::add_save_buttons(&state, &viewer, &mut cards, &back).await?;
    let shown_mode = results.mode;
    let total = results.total;
    let summary = format!(
        "{total} {} · {} search",
        if total == 1 { "paper" } else { "papers" },
        shown_mode.as_str()
    );
    let prev = (page > 1).then(|| Link::new(page_href(&q, mode, sort, page - 1), "← Previous"));
    let next = (page * PAGE_SIZE < total && page < MAX_PAGE)
        .then(|| Link::new(page_href(&q, mode, sort, page + 1), "Next →"));
    let this_page = page_href(&q, mode, sort, 1);
    let (save, save_login) = match &viewer.0 {
        Some(session) => (
            Some(SaveSearchView::new(
                &session.csrf_token,
                &q,
                mode.as_str(),
                sort.as_str(),
            )),
            None,
        ),
        None => (None, Some(format!("/login?next={}", encode(&this_page)))),
    };
    let page_view = SearchPage {
        save,
        save_login,
        query: q.clone(),
        export_href: page_href(&q, mode, sort, 1),
        feed_query: encode(q.trim()),
        modes: mode_options(mode),
        sorts: sort_options(sort),
        error: None,
        note: results.note,
        summary,
        cards,
        prev,
        next,
        spelling,
    };
    Ok(Html(page_view.render().map_err(render_error)?).into_response())
}

fn mode_options(mode: SearchMode) -> Vec<(&'static str, &'static str, bool)> {
    [
        (SearchMode::Hybrid, "Hybrid"),
        (SearchMode::Keyword, "Keyword"),
        (SearchMode::Semantic, "Semantic"),
    ]
    .into_iter()
    .map(|(m, label)| (m.as_str(), label, m == mode))
    .collect()
}

fn sort_options(sort: SortOrder) -> Vec<(&'static str, &'static str, bool)> {
    [
        (SortOrder::Relevance, "Relevance"),
        (SortOrder::Newest, "Newest"),
        (SortOrder::Votes, "Votes"),
    ]
    .into_iter()
    .map(|(s, label)| (s.as_str(), label, s == sort))
    .collect()
}

fn render(
    q: &str,
    mode: SearchMode,
    sort: SortOrder,
    outcome: Result<Vec<CardView>, String>,
    _page: usize,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (cards, error) = match outcome {
        Ok(cards) => (cards, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let page = SearchPage {
        query: q.to_owned(),
        export_href: String::new(),
        feed_query: String::new(),
        modes: mode_options(mode),
        sorts: sort_options(sort),
        error,
        note: None,
        summary: String::new(),
        cards,
        prev: None,
        next: None,
        save: None,
        save_login: None,
        spelling: None,
    };
    Ok((status, Html(page.render().map_err(render_error)?)).into_response())
}
