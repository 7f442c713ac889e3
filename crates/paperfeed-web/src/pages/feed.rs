//! The daily feed: one day (the home page shows the latest), an ISO week or a month.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use paperfeed_core::Period;
use paperfeed_store::FeedEntry;

use crate::community::auth::Viewer;
use crate::error::{AppError, render_error};
use crate::exports::Export;
use crate::state::AppState;
use crate::views::{CardView, Link, day_href, long_date};

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
}

/// `?sort=` on feed pages: votes (default) or trending.
#[derive(serde::Deserialize, Default)]
pub struct FeedSort {
    #[serde(default)]
    sort: String,
}

impl FeedSort {
    fn trending(
        params: Result<Query<FeedSort>, axum::extract::rejection::QueryRejection>,
    ) -> Result<bool, AppError> {
        let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
        match params.sort.trim() {
            "" | "votes" | "upvotes" => Ok(false),
            "trending" => Ok(true),
            other => Err(AppError::BadRequest(format!(
                "sort={other:?} is not an order for this page: use votes or trending"
            ))),
        }
    }
}

type SortQuery = Result<Query<FeedSort>, axum::extract::rejection::QueryRejection>;

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
    sort: SortQuery,
) -> Result<Response, AppError> {
    let trending = FeedSort::trending(sort)?;
    match state.store.latest_featured_day().await? {
        Some(day) => render_period(&state, &viewer, Period::Day(day), trending).await,
        None => Ok(Html(EmptyHubPage.render().map_err(render_error)?).into_response()),
    }
}

pub async fn show_day(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(day): Path<String>,
    sort: SortQuery,
) -> Result<Response, AppError> {
    let (day, export) = Export::for_lists(&day);
    let period = Period::parse_day(day).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if let Some(export) = export {
        return export_period(&state, period, export).await;
    }
    render_period(&state, &viewer, period, FeedSort::trending(sort)?).await
}

pub async fn show_week(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(week): Path<String>,
    sort: SortQuery,
) -> Result<Response, AppError> {
    let (week, export) = Export::for_lists(&week);
    let period = Period::parse_week(week).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if let Some(export) = export {
        return export_period(&state, period, export).await;
    }
    render_period(&state, &viewer, period, FeedSort::trending(sort)?).await
}

pub async fn show_month(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(month): Path<String>,
    sort: SortQuery,
) -> Result<Response, AppError> {
    let (month, export) = Export::for_lists(&month);
    let period = Period::parse_month(month).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if let Some(export) = export {
        return export_period(&state, period, export).await;
    }
    render_period(&state, &viewer, period, FeedSort::trending(sort)?).await
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
    viewer: &Viewer,
    period: Period,
    trending: bool,
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
    if trending {
        // The documented score (paperfeed_core::trending_score) as of now; each paper page
        // shows its terms.
        paperfeed_core::sort_trending(&mut entries, chrono::Utc::now());
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
    let mut cards = entries
        .iter()
        .map(|e| CardView::new(&e.paper, e.day, !is_day))
        .collect::<Vec<_>>();
    crate::saved::add_save_buttons(state, viewer, &mut cards, &period_href(period)).await?;
    let page = FeedPage {
        title: format!("{heading} · Daily Papers"),
        subheading: format!(
            "{subheading} · {} {}",
            cards.len(),
            if cards.len() == 1 { "paper" } else { "papers" }
        ),
        heading,
        canonical: period_href(period),
        views,
        prev,
        next,
        cards,
        trending,
    };
    Ok(Html(page.render().map_err(render_error)?).into_response())
}
