//! `GET /api/daily_papers`: the daily feed as Hugging Face serves it.

use axum::Json;
use axum::extract::State;
use paperfeed_core::Period;
use paperfeed_store::{FeedOrder, FeedQuery};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::error::{ApiError, ApiQuery, ErrorJson};
use crate::api::json::DailyPaperJson;
use crate::api::params::{self, given};

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
    /// A featured day, YYYY-MM-DD. At most one of `date`, `week` and `month`; with none, the
    /// latest featured papers across days.
    #[param(value_type = Option<String>, example = "2026-08-21")]
    date: Option<String>,
    /// An ISO week, YYYY-Www.
    #[param(value_type = Option<String>, example = "2026-W34")]
    week: Option<String>,
    /// A month, YYYY-MM.
    #[param(value_type = Option<String>, example = "2026-08")]
    month: Option<String>,
    /// Only papers put on the feed by this user name.
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

impl DailyPapersParams {
    /// The featured-day span asked for: at most one of `date`, `week`, `month`.
    fn period(&self) -> Result<Option<Period>, ApiError> {
        type Parse = fn(&str) -> Result<Period, paperfeed_core::PeriodError>;
        let kinds: [(&str, &Option<String>, Parse); 3] = [
            ("date", &self.date, Period::parse_day),
            ("week", &self.week, Period::parse_week),
            ("month", &self.month, Period::parse_month),
        ];
        let mut found: Option<(&str, Period)> = None;
        for (name, value, parse) in kinds {
            let Some(value) = given(value) else { continue };
            if let Some((first, _)) = found {
                return Err(ApiError::bad_parameter(
                    name,
                    format!("{first} and {name} cannot be combined: give one of date, week, month"),
                ));
            }
            let period = parse(value).map_err(|e| ApiError::bad_parameter(name, e.to_string()))?;
            found = Some((name, period));
        }
        Ok(found.map(|(_, p)| p))
    }

    fn order(&self) -> Result<FeedOrder, ApiError> {
        match given(&self.sort) {
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

    fn query(&self) -> Result<FeedQuery, ApiError> {
        let period = self.period()?;
        let order = self.order()?;
        let limit = params::limit(&self.limit)?;
        let page = params::page(&self.p)?;
        Ok(FeedQuery {
            days: period.map(Period::bounds),
            submitter: given(&self.submitter).map(str::to_owned),
            order,
            offset: page.saturating_mul(limit),
            limit,
        })
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
    )
)]
pub async fn list_daily_papers(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<DailyPapersParams>,
) -> Result<Json<Vec<DailyPaperJson>>, ApiError> {
    let mut query = params.query()?;
    let entries = if query.order == FeedOrder::MostUpvoted {
        let (offset, limit) = (query.offset, query.limit);
        query.order = FeedOrder::Newest;
        query.offset = 0;
        query.limit = TRENDING_WINDOW;
        let mut all = state.store.featured_page(query).await?;
        crate::community::sort_trending(&mut all, chrono::Utc::now());
        all.into_iter().skip(offset).take(limit).collect()
    } else {
        state.store.featured_page(query).await?
    };
    Ok(Json(
        entries
            .iter()
            .map(|e| DailyPaperJson::new(&e.paper, Some(e.day)))
            .collect(),
    ))
}
