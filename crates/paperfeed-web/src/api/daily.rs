//! `GET /api/daily_papers`: the daily feed as Hugging Face serves it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::NaiveDate;
use paperfeed_store::{FeedOrder, FeedQuery};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::error::{ApiError, ApiQuery, ErrorJson};
use crate::api::json::DailyPaperJson;
use crate::api::params::{self, given};
use crate::page_cache::Shows;
use crate::state::AppState;

/// Entries ranked for `sort=trending`: the newest this many of the period.
const TRENDING_WINDOW: usize = 1000;

/// The orders HF's client may ask for.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "documents the accepted values of `sort`; parsed by hand"
)]
pub enum DailySort {
    #[schema(rename = "publishedAt")]
    PublishedAt,
    #[schema(rename = "trending")]
    Trending,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyPapersParams {
    /// A featured day, YYYY-MM-DD (a day the calendar lacks gets a 404). `date`, `week` and
    /// `month` may be combined: the days in all of them are listed (none when they do not
    /// overlap); with none of them, the latest featured papers across days.
    #[param(value_type = Option<String>, example = "2026-08-21")]
    date: Option<String>,
    /// An ISO week, YYYY-Www (week 53 of a year that has 52 gets a 404).
    #[param(value_type = Option<String>, example = "2026-W34")]
    week: Option<String>,
    /// A month, YYYY-MM.
    #[param(value_type = Option<String>, example = "2026-08")]
    month: Option<String>,
    /// Only papers put on the feed by this user name (empty: anyone's).
    #[param(value_type = Option<String>, example = "akhaliq")]
    submitter: Option<String>,
    /// `publishedAt` (default): newest featured day first, then most upvoted. `trending`: by
    /// trending score, (upvotes + 2·comments + ln(1 + stars)) / (hours since featured + 2)^1.5,
    /// over the newest 1000 entries of the period.
    #[param(value_type = Option<DailySort>)]
    sort: Option<String>,
    /// The page, from 0.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000)]
    p: Option<String>,
    /// Entries per page, 1 to 100 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// The featured days a request selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Days {
    /// No period given: every day.
    All,
    /// From the first to the last day, both included.
    Between(NaiveDate, NaiveDate),
    /// Periods given that do not overlap.
    NoneOf,
}

impl Days {
    /// The days both in `self` and in `start..=end`.
    fn within(self, start: NaiveDate, end: NaiveDate) -> Self {
        let (from, to) = match self {
            Days::All => (start, end),
            Days::Between(s, e) => (s.max(start), e.min(end)),
            Days::NoneOf => return Days::NoneOf,
        };
        if from <= to {
            Days::Between(from, to)
        } else {
            Days::NoneOf
        }
    }
}

impl DailyPapersParams {
    /// The featured days asked for: those in every one of `date`, `week` and `month` that is
    /// given (so `date=2026-08-21&month=2026-08` is that day, and periods that do not overlap
    /// select nothing), all days when none is.
    fn days(&self) -> Result<Days, ApiError> {
        let mut days = Days::All;
        for (name, value) in [
            ("date", &self.date),
            ("week", &self.week),
            ("month", &self.month),
        ] {
            if let Some(value) = value {
                let (start, end) = params::period(name, value)?.bounds();
                days = days.within(start, end);
            }
        }
        Ok(days)
    }

    fn order(&self) -> Result<FeedOrder, ApiError> {
        match self.sort.as_deref() {
            None | Some("publishedAt") => Ok(FeedOrder::Newest),
            // Ranked by trending score in `list_daily_papers`, over the newest entries.
            Some("trending") => Ok(FeedOrder::MostUpvoted),
            Some(other) => Err(ApiError::bad_parameter(
                "sort",
                format!(
                    "sort={:?} is not an order: use publishedAt or trending",
                    other.chars().take(40).collect::<String>()
                ),
            )),
        }
    }

    /// The store's query, `None` when the periods asked for do not overlap.
    fn query(&self) -> Result<Option<FeedQuery>, ApiError> {
        // Every parameter is checked, even when the periods already select nothing.
        let days = self.days()?;
        let order = self.order()?;
        let limit = params::limit(&self.limit)?;
        let page = params::page(&self.p)?;
        let days = match days {
            Days::All => None,
            Days::Between(start, end) => Some((start, end)),
            Days::NoneOf => return Ok(None),
        };
        Ok(Some(FeedQuery {
            days,
            submitter: given(&self.submitter).map(str::to_owned),
            order,
            offset: page.saturating_mul(limit),
            limit,
        }))
    }
}

/// Daily papers: one day, ISO week or month, or the latest across days.
#[utoipa::path(
    get,
    path = "/api/daily_papers",
    tag = "papers",
    params(DailyPapersParams),
    responses(
        (status = 200, description = "Featured entries, one per paper and featured day", body = Vec<DailyPaperJson>),
        (status = 400, description = "A parameter is malformed; `parameter` names it", body = ErrorJson),
        (status = 404, description = "`date` or `week` has the right shape but the calendar has no such day or week; `parameter` names it", body = ErrorJson),
    )
)]
pub async fn list_daily_papers(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<DailyPapersParams>,
) -> Result<Response, ApiError> {
    let Some(mut query) = params.query()? else {
        // Periods that do not overlap: nothing, whatever changes.
        return Ok((
            Extension(Shows::papers([])),
            Json(Vec::<DailyPaperJson>::new()),
        )
            .into_response());
    };
    // What the page cache drops it for: a change to a paper featured on the days asked for
    // (every page of them: a vote may move a paper between pages). Without days (the latest
    // across all days), any change.
    let shows = query
        .days
        .map(|(first, last)| Shows::days(first, Some(last)));
    let entries = if query.order == FeedOrder::MostUpvoted {
        let (offset, limit) = (query.offset, query.limit);
        query.order = FeedOrder::Newest;
        query.offset = 0;
        query.limit = TRENDING_WINDOW;
        let mut all = state.store.featured_page(query).await?;
        paperfeed_core::sort_trending(&mut all, crate::trending_clock::now(&state).await?.as_of);
        all.into_iter().skip(offset).take(limit).collect()
    } else {
        state.store.featured_page(query).await?
    };
    let body = Json(
        entries
            .iter()
            .map(|e| DailyPaperJson::new(&e.paper, Some(e.day)))
            .collect::<Vec<_>>(),
    );
    Ok(match shows {
        Some(shows) => (Extension(shows), body).into_response(),
        None => body.into_response(),
    })
}
