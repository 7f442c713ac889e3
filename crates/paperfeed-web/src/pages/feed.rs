//! The daily feed: one day (the home page shows the latest), an ISO week or a month.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use paperfeed_core::{FEED_PAGE_SIZE, Paging, Period};
use paperfeed_store::FeedEntry;

use crate::community::auth::Viewer;
use crate::error::{AppError, render_error};
use crate::exports::Export;
use crate::page_cache::Shows;
use crate::personal::{self, HiddenControl, VisibilityParams};
use crate::state::AppState;
use crate::views::{self, CardView, Link, day_href, long_date};

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage {
    title: String,
    heading: String,
    subheading: String,
    canonical: String,
    views: Vec<ViewTab>,
    prev: Option<Link>,
    next: Option<Link>,
    cards: Vec<CardView>,
    /// Ranked by the trending score (`?sort=trending`) instead of votes.
    trending: bool,
    /// Said when trending is ranked as of an old archive's newest day.
    trending_note: Option<String>,
    /// "N hidden — show" and "hide seen", for a signed-in reader.
    control: Option<HiddenControl>,
    /// The period's address without a query: the order tabs link to it.
    path_href: String,
    /// The pages of a long period (above and below the cards); `None` when it fits on one.
    pager: Option<Pager>,
}

/// "Papers 31–60 of 181" and links to the other pages, kept in the reader's order and flags.
struct Pager {
    label: String,
    prev: Option<String>,
    next: Option<String>,
    /// Page numbers with their links (`None`: a gap); the current page has no link.
    items: Vec<Option<(usize, Option<String>)>>,
}

impl Pager {
    /// For `paging`; `href(n)` is page `n`'s address.
    fn new(paging: Paging, href: impl Fn(usize) -> String) -> Option<Self> {
        if paging.pages() < 2 {
            return None;
        }
        let range = paging.range();
        Some(Pager {
            label: format!(
                "Papers {}–{} of {}",
                range.start + 1,
                range.end,
                paging.total
            ),
            prev: (paging.page > 1).then(|| href(paging.page - 1)),
            next: (paging.page < paging.pages()).then(|| href(paging.page + 1)),
            items: paging
                .window()
                .into_iter()
                .map(|n| n.map(|n| (n, (n != paging.page).then(|| href(n)))))
                .collect(),
        })
    }
}

/// `?sort=` on feed pages: votes (default) or trending; `?page=` of a long period (from 1).
/// The page cache keys these pages by exactly these two (`page_cache::known_params`).
#[derive(serde::Deserialize, Default)]
pub struct FeedSort {
    #[serde(default)]
    sort: String,
    #[serde(default)]
    page: String,
}

/// What a feed page's query asks for.
struct FeedQuery {
    trending: bool,
    page: usize,
}

impl FeedSort {
    fn read(
        params: Result<Query<FeedSort>, axum::extract::rejection::QueryRejection>,
    ) -> Result<FeedQuery, AppError> {
        let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
        let trending = match params.sort.trim() {
            "" | "votes" | "upvotes" => false,
            "trending" => true,
            other => {
                return Err(AppError::BadRequest(format!(
                    "sort={other:?} is not an order for this page: use votes or trending"
                )));
            }
        };
        let page =
            Paging::parse_page(&params.page).map_err(|e| AppError::BadRequest(e.to_string()))?;
        Ok(FeedQuery { trending, page })
    }
}

type SortQuery = Result<Query<FeedSort>, axum::extract::rejection::QueryRejection>;

/// The signed-in reader of a feed page and their `?show_hidden` / `?hide_seen`.
type Reader = (Viewer, VisibilityParams);

struct ViewTab {
    link: Link,
    active: bool,
}

#[derive(Template)]
#[template(path = "empty.html")]
struct EmptyHubPage;

/// `/`: the latest day with papers.
pub async fn show_latest_day(
    State(state): State<AppState>,
    viewer: Viewer,
    visibility: VisibilityParams,
    sort: SortQuery,
) -> Result<Response, AppError> {
    let query = FeedSort::read(sort)?;
    let reader = (viewer, visibility);
    match state.store.latest_featured_day().await? {
        Some(day) => render_period(&state, Period::Day(day), &query, &reader, "/").await,
        None => Ok(Html(EmptyHubPage.render().map_err(render_error)?).into_response()),
    }
}

pub async fn show_day(
    State(state): State<AppState>,
    Path(day): Path<String>,
    viewer: Viewer,
    visibility: VisibilityParams,
    sort: SortQuery,
) -> Result<Response, AppError> {
    period_page(&state, &day, Period::parse_day, &(viewer, visibility), sort).await
}

pub async fn show_week(
    State(state): State<AppState>,
    Path(week): Path<String>,
    viewer: Viewer,
    visibility: VisibilityParams,
    sort: SortQuery,
) -> Result<Response, AppError> {
    period_page(
        &state,
        &week,
        Period::parse_week,
        &(viewer, visibility),
        sort,
    )
    .await
}

pub async fn show_month(
    State(state): State<AppState>,
    Path(month): Path<String>,
    viewer: Viewer,
    visibility: VisibilityParams,
    sort: SortQuery,
) -> Result<Response, AppError> {
    period_page(
        &state,
        &month,
        Period::parse_month,
        &(viewer, visibility),
        sort,
    )
    .await
}

/// A day, week or month page, or its export when the path ends in `.bib`, `.ris` or
/// `.csl.json`; `parse` reads the period from the rest of the path.
async fn period_page(
    state: &AppState,
    raw: &str,
    parse: fn(&str) -> Result<Period, paperfeed_core::PeriodError>,
    reader: &Reader,
    sort: SortQuery,
) -> Result<Response, AppError> {
    let (raw, export) = Export::for_lists(raw);
    let period = parse(raw).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if let Some(export) = export {
        return export_period(state, period, export).await;
    }
    let query = FeedSort::read(sort)?;
    render_period(state, period, &query, reader, &period_href(period)).await
}

/// A period's papers for citation managers (`/papers/week/2026-W34.bib`): each paper once,
/// newest featured day first.
async fn export_period(
    state: &AppState,
    period: Period,
    export: Export,
) -> Result<Response, AppError> {
    let (first, last) = period.bounds();
    let mut entries = state.store.featured_between(first, last).await?;
    paperfeed_core::one_per_paper(&mut entries);
    if entries.is_empty() {
        return Err(AppError::not_found(
            format!("No papers on {}", describe(period).0),
            "Nothing was featured in this period, so there is nothing to export.",
        ));
    }
    let papers: Vec<paperfeed_core::Paper> = entries.into_iter().map(|e| e.paper).collect();
    export.list(&papers, &format!("paperfeed-{period}"))
}

fn period_href(period: Period) -> String {
    match period {
        Period::Day(day) => day_href(day),
        Period::Week { .. } => format!("/papers/week/{period}"),
        Period::Month { .. } => format!("/papers/month/{period}"),
    }
}

/// The same kind of period as `like`, around `day`.
fn same_kind(like: Period, day: NaiveDate) -> Period {
    match like {
        Period::Day(_) => Period::Day(day),
        Period::Week { .. } => Period::week_of(day),
        Period::Month { .. } => Period::month_of(day),
    }
}

fn describe(period: Period) -> (String, String) {
    let (first, last) = period.bounds();
    match period {
        Period::Day(day) => (long_date(day), "Daily Papers".to_owned()),
        Period::Week { year, week } => (
            format!("Week {week}, {year}"),
            format!("{} – {}", first.format("%b %-d"), last.format("%b %-d, %Y")),
        ),
        Period::Month { .. } => (
            first.format("%B %Y").to_string(),
            "Monthly Papers".to_owned(),
        ),
    }
}

async fn render_period(
    state: &AppState,
    period: Period,
    &FeedQuery { trending, page }: &FeedQuery,
    (viewer, visibility): &Reader,
    path: &str,
) -> Result<Response, AppError> {
    let (first, last) = period.bounds();
    let store = &state.store;
    let mut entries = store.featured_between(first, last).await?;
    let before = store.featured_day_before(first).await?;
    let after = store.featured_day_after(last).await?;
    let (heading, subheading) = describe(period);
    let neighbour = |day: Option<NaiveDate>, label: &str| {
        day.map(|d| {
            let p = same_kind(period, d);
            Link::new(period_href(p), format!("{label} {}", describe(p).0))
        })
    };
    let prev = neighbour(before, "←");
    let next = neighbour(after, "→");

    if entries.is_empty() {
        let what = match period {
            Period::Day(_) => "day",
            Period::Week { .. } => "week",
            Period::Month { .. } => "month",
        };
        let mut suggestions: Vec<Link> = [prev, next].into_iter().flatten().collect();
        suggestions.push(Link::new("/", "The latest papers"));
        return Err(AppError::not_found(
            format!("No papers on {heading}"),
            format!("Nothing was featured in this {what}. The nearest {what}s with papers are linked below."),
        )
        .with_suggestions(suggestions));
    }

    let is_day = matches!(period, Period::Day(_));
    if !is_day {
        // A paper featured twice in one span is listed once, under its latest day, and a
        // span is ranked by votes like the reference's week and month views.
        paperfeed_core::one_per_paper(&mut entries);
        entries.sort_by(|a, b| {
            b.paper
                .upvotes
                .cmp(&a.paper.upvotes)
                .then(b.day.cmp(&a.day))
        });
    }
    let mut trending_note = None;
    if trending {
        // The documented score (paperfeed_core::trending_score) as of the hub's trending
        // clock (now, or an old archive's newest day); each paper page shows its terms.
        let clock = crate::trending_clock::now(state).await?;
        paperfeed_core::sort_trending(&mut entries, clock.as_of);
        trending_note = crate::trending_clock::note(&clock);
    }
    let anchor_day = entries.first().map_or(first, |e: &FeedEntry| e.day);
    let anchor_day = if is_day { first } else { anchor_day };
    let tabs = [
        (Period::Day(anchor_day), "Day"),
        (Period::week_of(anchor_day), "Week"),
        (Period::month_of(anchor_day), "Month"),
    ];
    let views = tabs
        .into_iter()
        .map(|(p, label)| ViewTab {
            active: std::mem::discriminant(&p) == std::mem::discriminant(&period),
            link: Link::new(period_href(p), label),
        })
        .collect();
    // A signed-in reader's mutes and dismissals (and, asked for, seen papers) are hidden, and
    // counted for the "N hidden — show" control.
    let ids: Vec<paperfeed_core::ArxivId> = entries.iter().map(|e| e.paper.id.clone()).collect();
    // What the page cache drops it for: a change to a paper featured in the period (on `/`,
    // from its day on), or a day getting its first paper (the neighbours' links).
    let shows = Shows::days(first, (path != "/").then_some(last))
        .with_neighbours(entries.iter().map(|e| e.day).chain(before).chain(after));
    let filter = personal::reader_filter(state, viewer, &ids, visibility.hide_seen()).await?;
    let sort_query = if trending { "sort=trending" } else { "" };
    // The query of page `n` in this order (page 1 has none of its own).
    let page_query = |n: usize| {
        let page = (n > 1).then(|| format!("page={n}"));
        [Some(sort_query.to_owned()).filter(|q| !q.is_empty()), page]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("&")
    };
    let show_hidden = visibility.show_hidden();
    let hide_seen = visibility.hide_seen();
    let back = personal::list_href(path, &page_query(page), show_hidden, hide_seen);
    // A long period is shown a page at a time (each answer stays small), after the reader's
    // filter, so a signed-in reader's pages are full too; only the page's cards are made.
    let hidden = entries
        .iter()
        .filter(|e| filter.why_hidden(&e.paper).is_some())
        .count();
    if !show_hidden {
        entries.retain(|e| filter.why_hidden(&e.paper).is_none());
    }
    let total = entries.len();
    let paging = Paging::new(page, FEED_PAGE_SIZE, total);
    if !paging.exists() {
        let last = paging.pages();
        let last_href = personal::list_href(path, &page_query(last), show_hidden, hide_seen);
        return Err(AppError::not_found(
            format!("No page {page} of {heading}"),
            format!(
                "{heading} has {} of papers. Its last page is linked below.",
                views::plural(last, "page", "pages")
            ),
        )
        .with_suggestions(vec![
            Link::new(last_href, format!("Page {last} of {heading}")),
            Link::new(path, format!("The first page of {heading}")),
        ]));
    }
    let entries: Vec<FeedEntry> = entries.drain(paging.range()).collect();
    let (mut cards, _) = personal::filtered_cards(
        entries,
        |e| &e.paper,
        |e| CardView::new(&e.paper, e.day, !is_day),
        &filter,
        viewer,
        &back,
        show_hidden,
    );
    let pager = Pager::new(paging, |n| {
        personal::list_href(path, &page_query(n), show_hidden, hide_seen)
    });
    let control = HiddenControl::new(viewer, path, sort_query, visibility, hidden);
    crate::saved::add_save_buttons(state, viewer, &mut cards, &back).await?;
    crate::thumbnails::add_thumbnails(state, &mut cards).await?;
    let canonical = if page > 1 {
        format!("{}?page={page}", period_href(period))
    } else {
        period_href(period)
    };
    let page = FeedPage {
        title: match pager {
            Some(_) => format!("{heading}, page {page} · Daily Papers"),
            None => format!("{heading} · Daily Papers"),
        },
        subheading: format!(
            "{subheading} · {} {}",
            total,
            if total == 1 { "paper" } else { "papers" }
        ),
        heading,
        canonical,
        path_href: period_href(period),
        views,
        prev,
        next,
        cards,
        trending,
        trending_note,
        control,
        pager,
    };
    let mut response = Html(page.render().map_err(render_error)?).into_response();
    response.extensions_mut().insert(shows);
    Ok(response)
}
