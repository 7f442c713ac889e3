//! RSS and Atom feeds: the daily feed, trending, and any search.
//!
//! `/feed.xml` and `/feed.atom` follow the daily feed (the last week of featured days, newest
//! first); with `?q=…` (also at `/papers/feed.xml`) they follow a search instead, newest first
//! unless `sort=` says otherwise, so a reader subscribed to a query sees new matches on top.
//! `/trending/feed.xml|atom` lists the week's papers by trending score.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperfeed_core::Paper;
use paperfeed_search::{KeywordQuery, SortOrder};

use crate::error::AppError;
use crate::query::encode;
use crate::search_params::{parse_mode, parse_sort};
use crate::state::AppState;
use crate::syndication::{Feed, FeedFormat, FeedItem, base_url, respond};

/// Items per feed: a week of the daily feed is about 100 papers.
const FEED_ITEMS: usize = 100;
/// Days of featured papers the daily and trending feeds cover, ending at the latest day.
const FEED_DAYS: i64 = 7;

/// A search feed takes the search page's parameters (`page` has no meaning in a feed).
type FeedParams = crate::search_params::SearchParams;

pub async fn daily_rss(
    state: State<AppState>,
    headers: HeaderMap,
    params: Result<Query<FeedParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    daily_or_search(state, headers, params, FeedFormat::Rss).await
}

pub async fn daily_atom(
    state: State<AppState>,
    headers: HeaderMap,
    params: Result<Query<FeedParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    daily_or_search(state, headers, params, FeedFormat::Atom).await
}

pub async fn trending_rss(
    state: State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    trending(state, headers, FeedFormat::Rss).await
}

pub async fn trending_atom(
    state: State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    trending(state, headers, FeedFormat::Atom).await
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn item(base: &str, paper: &Paper, day: Option<NaiveDate>) -> FeedItem {
    let published = day
        .map(midnight)
        .or(paper.published_at)
        .unwrap_or(DateTime::UNIX_EPOCH);
    FeedItem::for_paper(base, paper, published)
}

/// The featured entries of the last [`FEED_DAYS`] days up to the latest featured day.
async fn recent_week(state: &AppState) -> Result<Vec<paperfeed_store::FeedEntry>, AppError> {
    let Some(latest) = state.store.latest_featured_day().await? else {
        return Ok(Vec::new());
    };
    Ok(state
        .store
        .featured_between(latest - Duration::days(FEED_DAYS - 1), latest)
        .await?)
}

fn newest(items: &[FeedItem]) -> DateTime<Utc> {
    items
        .iter()
        .map(|i| i.published)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

async fn daily_or_search(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<FeedParams>, axum::extract::rejection::QueryRejection>,
    format: FeedFormat,
) -> Result<Response, AppError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let base = base_url(&state, &headers);
    if !params.q.trim().is_empty() {
        return search_feed(&state, &base, &params, format).await;
    }
    let items: Vec<FeedItem> = recent_week(&state)
        .await?
        .iter()
        .take(FEED_ITEMS)
        .map(|e| item(&base, &e.paper, Some(e.day)))
        .collect();
    let feed = Feed {
        title: "Daily Papers · paperfeed".into(),
        description: "Papers featured on the daily feed by the research community".into(),
        html_url: format!("{base}/"),
        self_url: format!("{base}/feed.{}", format.extension()),
        updated: newest(&items),
        items,
    };
    Ok(respond(&feed, format))
}

async fn search_feed(
    state: &AppState,
    base: &str,
    params: &FeedParams,
    format: FeedFormat,
) -> Result<Response, AppError> {
    let mode = parse_mode(&params.mode)?;
    let mut query = KeywordQuery::parse(&params.q)
        .map_err(|e| AppError::BadRequest(format!("q={:?}: {e}", params.q)))?;
    query.sort = if params.sort.trim().is_empty() {
        SortOrder::Newest
    } else {
        parse_sort(&params.sort)?
    };
    query.limit = FEED_ITEMS.min(50);
    query.offset = 0;
    let found =
        paperfeed_app::search::search(state.search.clone(), &*state.store, query, mode).await?;
    let items: Vec<FeedItem> = found
        .papers
        .iter()
        // Dated by arXiv publication, the order `newest` sorts by.
        .map(|(_, paper)| item(base, paper, None))
        .collect();
    let mut self_url = format!("{base}/feed.{}?q={}", format.extension(), encode(&params.q));
    let mut html_url = format!("{base}/papers?q={}", encode(&params.q));
    for (name, value) in [("mode", &params.mode), ("sort", &params.sort)] {
        if !value.trim().is_empty() {
            let pair = format!("&{name}={}", encode(value));
            self_url.push_str(&pair);
            html_url.push_str(&pair);
        }
    }
    let feed = Feed {
        title: format!("“{}” · paperfeed search", params.q.trim()),
        description: format!("Papers matching “{}”", params.q.trim()),
        html_url,
        self_url,
        updated: newest(&items),
        items,
    };
    Ok(respond(&feed, format))
}

async fn trending(
    State(state): State<AppState>,
    headers: HeaderMap,
    format: FeedFormat,
) -> Result<Response, AppError> {
    let base = base_url(&state, &headers);
    let clock = crate::trending_clock::now(&state).await?;
    let entries = paperfeed_core::trending(recent_week(&state).await?, clock.as_of);
    let items: Vec<FeedItem> = entries
        .iter()
        .take(FEED_ITEMS / 2)
        .map(|e| item(&base, &e.paper, Some(e.day)))
        .collect();
    let feed = Feed {
        title: "Trending papers · paperfeed".into(),
        description: format!(
            "The trending papers of the last {FEED_DAYS} featured days (upvotes and comments, decayed by age)"
        ),
        html_url: format!("{base}/"),
        self_url: format!("{base}/trending/feed.{}", format.extension()),
        updated: newest(&items),
        items,
    };
    Ok(respond(&feed, format))
}
